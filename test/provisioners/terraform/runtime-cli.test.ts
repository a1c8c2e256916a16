// `prewarm provisioner serve --type terraform` as a real process, driven over gRPC by the SDK client. The
// daemon's own TF_* variables (here TF_CLI_CONFIG_FILE) reach terraform; its other variables do not. The
// `--tf-env`, `--terraform-plugin-cache` and `--terraform-exit-timeout` flags reach the provisioner; bad ones
// are one-line usage errors that never echo a value.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { stat, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Log, WorkspaceTransition } from "../../../src/gen/provisioner/provisioner_pb.js";
import { connectProvisioner, type ProvisionerClient } from "../../../src/provisionersdk/index.js";
import { repoRoot, runCli, startCli, stopChild } from "../../support/cli.js";
import { skipUnless } from "../../support/requirements.js";
import {
  archiveOf,
  emptyCliConfig,
  fakeTerraform,
  TempDirs,
  terraformAvailable,
  terraformLocalExample,
  terraformMissing,
} from "./runtime-fixtures.js";

const temp = new TempDirs();
after(() => temp.cleanup());

/** A running `prewarm provisioner serve --type terraform …extra` and a client connected to it. */
interface Served {
  child: ChildProcess;
  client: ProvisionerClient;
  /** Everything the process printed so far. */
  output: () => string;
}

async function serveTerraform(extra: string[], env?: NodeJS.ProcessEnv): Promise<Served> {
  const started = await startCli(
    ["provisioner", "serve", "--type", "terraform", "--listen", "127.0.0.1:0", ...extra],
    /listening on (\S+)/,
    env ? { env } : {},
  );
  return { child: started.child, client: connectProvisioner(started.match[1]!), output: started.output };
}

async function stopServed(served: Served | undefined): Promise<void> {
  served?.client.close();
  if (served) await stopChild(served.child, "SIGTERM");
}

describe("prewarm provisioner serve --type terraform", () => {
  let served: Served;
  let client: ProvisionerClient;

  before(async () => {
    served = await serveTerraform([], { TF_CLI_CONFIG_FILE: await emptyCliConfig(temp) });
    client = served.client;
  });
  after(() => stopServed(served));

  test("GIVEN the terraform-local archive WHEN parsed THEN its variable and README come back", {
    timeout: 30_000,
  }, async () => {
    const session = await client.openSession({
      templateSourceArchive: await archiveOf(terraformLocalExample),
    });
    const parsed = await session.parse();
    await session.close();
    assert.equal(parsed.error, "");
    assert.deepEqual(
      parsed.templateVariables.map((v) => v.name),
      ["base_dir"],
    );
    assert.ok(parsed.readme.length > 0);
  });

  test("GIVEN the terraform-local archive WHEN planned THEN terraform ran offline with the daemon's TF_* settings", {
    skip: skipUnless(terraformAvailable, terraformMissing),
    timeout: 60_000,
  }, async () => {
    const logs: string[] = [];
    const session = await client.openSession(
      { templateSourceArchive: await archiveOf(terraformLocalExample) },
      { onLog: (log) => logs.push(log.output) },
    );
    const plan = await session.plan({
      metadata: { workspaceTransition: WorkspaceTransition.START, workspaceId: "cli-ws" },
      variableValues: [{ name: "base_dir", value: await temp.make("workspaces") }],
    });
    await session.close();
    assert.equal(plan.error, "", logs.join("\n"));
    assert.deepEqual(
      plan.resources.map((r) => r.type),
      ["terraform_data"],
    );
    assert.ok(logs.some((l) => l.startsWith("terraform environment variable: TF_CLI_CONFIG_FILE=")));
  });
});

/** A template whose apply prints one TF_* variable from a local-exec, as a workspace script would see it. */
async function printsMarkerTemplate(): Promise<string> {
  const dir = await temp.make("prints-marker");
  await writeFile(
    join(dir, "main.tf"),
    `resource "terraform_data" "env" {
  provisioner "local-exec" {
    command = "echo \\"local-exec sees marker=$TF_PREWARM_MARKER\\""
  }
}
`,
  );
  return dir;
}

describe("prewarm provisioner serve --type terraform with --tf-env and --terraform-plugin-cache", () => {
  const markerValue = "marker-value-must-not-be-logged-7731";
  let served: Served;
  let cacheDir: string;

  before(async () => {
    // A directory that does not exist yet, given relative to the CLI's working directory.
    cacheDir = join(await temp.make("plugin-cache"), "providers");
    served = await serveTerraform([
      "--tf-env",
      `TF_CLI_CONFIG_FILE=${await emptyCliConfig(temp)}`,
      "--tf-env",
      `TF_PREWARM_MARKER=${markerValue}`,
      "--terraform-plugin-cache",
      relative(repoRoot, cacheDir),
    ]);
  });
  after(() => stopServed(served));

  test("GIVEN a TF_* setting and a relative plugin cache WHEN a local-exec prints it THEN terraform ran with both and the value was only in the local-exec output", {
    skip: skipUnless(terraformAvailable, terraformMissing),
    timeout: 90_000,
  }, async () => {
    const logs: string[] = [];
    const session = await served.client.openSession(
      { templateSourceArchive: await archiveOf(await printsMarkerTemplate()) },
      { onLog: (log: Log) => logs.push(log.output) },
    );
    const metadata = { workspaceTransition: WorkspaceTransition.START, workspaceId: "cli-tf-env" };
    const plan = await session.plan({ metadata });
    assert.equal(plan.error, "", logs.join("\n"));
    const applied = await session.apply({ metadata });
    await session.close();
    assert.equal(applied.error, "", logs.join("\n"));

    assert.ok(
      logs.some((l) => l.includes(`local-exec sees marker=${markerValue}`)),
      logs.join("\n"),
    );
    assert.ok(logs.includes("terraform environment variable: TF_PREWARM_MARKER=<value redacted>"));
    assert.ok(logs.includes(`terraform environment variable: TF_PLUGIN_CACHE_DIR=${cacheDir}`));
    assert.ok((await stat(cacheDir)).isDirectory(), "init created the cache directory");
    assert.ok(!served.output().includes(markerValue), "the daemon's own output never shows the value");
  });
});

describe("prewarm provisioner serve --type terraform --terraform-exit-timeout", () => {
  test("GIVEN a terraform that ignores SIGINT and a 1s exit timeout WHEN the plan is cancelled THEN it is killed well before the 3-minute default", {
    timeout: 40_000,
  }, async (t) => {
    const fake = await fakeTerraform(temp, "ignore-sigint");
    const served = await serveTerraform(["--terraform-exit-timeout", "1s"], {
      PATH: `${dirname(fake)}:${process.env.PATH ?? ""}`,
    });
    t.after(() => stopServed(served));
    let running!: () => void;
    const fakeRunning = new Promise<void>((r) => {
      running = r;
    });
    const session = await served.client.openSession(
      { templateSourceArchive: await archiveOf(await printsMarkerTemplate()) },
      { onLog: (log: Log) => log.output.includes("fake terraform running") && running() },
    );
    const planning = session.plan({ metadata: { workspaceTransition: WorkspaceTransition.START } });
    await fakeRunning;
    session.cancel();
    const plan = await planning;
    await session.close();
    assert.match(plan.error, /^terraform plan: signal: killed/);
  });
});

describe("prewarm provisioner serve: bad terraform flags", () => {
  const secret = "s3cret-value-0042";
  const cases: { name: string; args: string[]; error: RegExp }[] = [
    {
      name: "a --tf-env name outside TF_*",
      args: ["--type", "terraform", "--tf-env", `PATH=${secret}`],
      error: /^prewarm: --tf-env: .*only TF_\* settings may be configured, got "PATH"$/,
    },
    {
      name: "a --tf-env entry without =",
      args: ["--type", "terraform", "--tf-env", `TF_TOKEN_${secret}`],
      error: /^prewarm: --tf-env: .*expected NAME=VALUE, got an entry without "="$/,
    },
    {
      name: "a --tf-env name with a character no setting has",
      args: ["--type", "terraform", "--tf-env", `TF_LOG PATH=${secret}`],
      error: /^prewarm: --tf-env: .*"TF_LOG PATH" is not a valid name/,
    },
    {
      name: "a --terraform-exit-timeout that is no duration",
      args: ["--type", "terraform", "--terraform-exit-timeout", "soon"],
      error: /^prewarm: --terraform-exit-timeout: invalid duration "soon"/,
    },
    {
      name: "terraform flags with --type echo",
      args: ["--type", "echo", "--tf-env", `TF_LOG=${secret}`, "--terraform-plugin-cache", "/tmp/x"],
      error: /^prewarm: --terraform-plugin-cache, --tf-env: only for --type terraform$/,
    },
  ];
  for (const c of cases) {
    test(`GIVEN ${c.name} WHEN serve starts THEN it exits 2 with one line that does not show the value`, {
      timeout: 30_000,
    }, async () => {
      const result = await runCli(["provisioner", "serve", ...c.args, "--listen", "127.0.0.1:0"], {
        timeoutMs: 25_000,
      });
      assert.equal(result.code, 2, result.stderr);
      assert.equal(result.stdout, "", "it never started listening");
      const lines = result.stderr.trimEnd().split("\n");
      assert.equal(lines.length, 1, result.stderr);
      assert.match(lines[0]!, c.error);
      assert.ok(!result.stderr.includes(secret), "the value is not echoed");
    });
  }
});
