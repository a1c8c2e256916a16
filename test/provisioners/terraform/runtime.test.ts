// The terraform provisioner against the real terraform binary (only built-in terraform_data + local-exec, an
// empty CLI config: nothing is downloaded), plus a fake terraform where real terraform cannot be made to
// misbehave. Handlers are called directly with a recording Session.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import {
  ApplyRequestSchema,
  LogLevel,
  MetadataSchema,
  ParseRequestSchema,
  PlanRequestSchema,
  PrebuiltWorkspaceBuildStage,
  TimingState,
  WorkspaceTransition,
} from "../../../src/gen/provisioner/provisioner_pb.js";
import { createTerraformProvisioner, detectTerraform } from "../../../src/provisioners/terraform/index.js";
import { skipUnless } from "../../support/requirements.js";
import {
  cancelOnLog,
  emptyCliConfig,
  fakeTerraform,
  recordingSession,
  sessionDir,
  TempDirs,
  terraformAvailable,
  terraformLocalExample,
  terraformMissing,
} from "./runtime-fixtures.js";

const temp = new TempDirs();
after(() => temp.cleanup());

const never = new AbortController().signal;
const skipNoTerraform = skipUnless(terraformAvailable, terraformMissing);

const metadata = (transition: WorkspaceTransition, extra: Record<string, unknown> = {}) =>
  create(MetadataSchema, {
    workspaceTransition: transition,
    workspaceId: "ws-0001",
    workspaceName: "dev",
    workspaceOwner: "alice",
    templateName: "terraform-local",
    templateVersion: "v1",
    ...extra,
  });

async function realProvisioner(options: { exitTimeoutMs?: number } = {}) {
  return createTerraformProvisioner({
    extraEnv: { TF_CLI_CONFIG_FILE: await emptyCliConfig(temp), TF_IN_AUTOMATION: "1" },
    ...options,
  });
}

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

/** Plan + Apply of one transition in a fresh session holding `state`; returns the new state. */
async function build(
  provisioner: Awaited<ReturnType<typeof realProvisioner>>,
  transition: WorkspaceTransition,
  baseDir: string,
  state: Uint8Array,
): Promise<Uint8Array> {
  const session = recordingSession(await sessionDir(temp, terraformLocalExample), state);
  const plan = await provisioner.plan(
    session,
    create(PlanRequestSchema, {
      metadata: metadata(transition),
      variableValues: [{ name: "base_dir", value: baseDir }],
    }),
    never,
  );
  assert.equal(plan.error, "", session.text());
  const applied = await provisioner.apply(
    session,
    create(ApplyRequestSchema, { metadata: metadata(transition) }),
    never,
  );
  assert.equal(applied.error, "", session.text());
  return applied.state;
}

describe("terraform provisioner with real terraform: terraform-local example", () => {
  test("GIVEN the example WHEN Parse → Plan → Apply (start) THEN the workspace directory and file exist, with timings", {
    skip: skipNoTerraform,
    timeout: 60_000,
  }, async () => {
    const provisioner = await realProvisioner();
    const baseDir = await temp.make("workspaces");
    const session = recordingSession(await sessionDir(temp, terraformLocalExample));

    const parsed = await provisioner.parse(session, create(ParseRequestSchema), never);
    assert.equal(parsed.error, "");
    assert.deepEqual(
      parsed.templateVariables.map((v) => [v.name, v.type, v.defaultValue, v.required]),
      [["base_dir", "string", "/tmp/prewarm-workspaces", false]],
    );

    const plan = await provisioner.plan(
      session,
      create(PlanRequestSchema, {
        metadata: metadata(WorkspaceTransition.START),
        variableValues: [{ name: "base_dir", value: baseDir }],
      }),
      never,
    );
    assert.equal(plan.error, "", session.text());
    assert.deepEqual(
      plan.resources.map((r) => [r.type, r.name]),
      [["terraform_data", "workspace"]],
    );
    const planJson = JSON.parse(new TextDecoder().decode(plan.plan)) as { planned_values?: unknown };
    assert.ok(planJson.planned_values, "PlanComplete.plan holds the plan JSON");
    assert.deepEqual(plan.timings.map((t) => t.stage).sort(), ["graph", "init"]);

    const applied = await provisioner.apply(
      session,
      create(ApplyRequestSchema, { metadata: metadata(WorkspaceTransition.START) }),
      never,
    );
    assert.equal(applied.error, "", session.text());
    assert.ok(applied.state.length > 0, "the state is returned");
    assert.deepEqual(
      applied.resources.map((r) => [r.type, r.name]),
      [["terraform_data", "workspace"]],
    );
    const file = await readFile(join(baseDir, "ws-0001", "WORKSPACE"), "utf8");
    assert.match(file, /^workspace: dev$/m);
    assert.match(file, /^owner: alice$/m);
    const applyTiming = applied.timings.find(
      (t) => t.resource === "terraform_data.workspace" && t.action === "create",
    );
    assert.equal(applyTiming?.stage, "apply");
    assert.equal(applyTiming?.state, TimingState.COMPLETED);
  });

  for (const transition of [WorkspaceTransition.STOP, WorkspaceTransition.DESTROY]) {
    test(`GIVEN a started workspace WHEN a new session plans and applies ${WorkspaceTransition[transition]} with its state THEN the directory is gone`, {
      skip: skipNoTerraform,
      timeout: 90_000,
    }, async () => {
      const provisioner = await realProvisioner();
      const baseDir = await temp.make("workspaces");
      const started = await build(provisioner, WorkspaceTransition.START, baseDir, new Uint8Array());
      assert.ok(await isDirectory(join(baseDir, "ws-0001")));

      await build(provisioner, transition, baseDir, started);

      assert.equal(await isDirectory(join(baseDir, "ws-0001")), false);
    });
  }

  test("GIVEN a started workspace with a user's file WHEN it is started again THEN the file is still there", {
    skip: skipNoTerraform,
    timeout: 90_000,
  }, async () => {
    const provisioner = await realProvisioner();
    const baseDir = await temp.make("workspaces");
    const started = await build(provisioner, WorkspaceTransition.START, baseDir, new Uint8Array());
    await writeFile(join(baseDir, "ws-0001", "notes.txt"), "keep me");

    await build(provisioner, WorkspaceTransition.START, baseDir, started);

    assert.equal(await readFile(join(baseDir, "ws-0001", "notes.txt"), "utf8"), "keep me");
    assert.match(await readFile(join(baseDir, "ws-0001", "WORKSPACE"), "utf8"), /^workspace: dev$/m);
  });

  test("GIVEN no state WHEN Plan and Apply DESTROY THEN both succeed with nothing to do", {
    skip: skipNoTerraform,
    timeout: 30_000,
  }, async () => {
    const provisioner = await realProvisioner();
    const session = recordingSession(await sessionDir(temp, terraformLocalExample));
    const request = { metadata: metadata(WorkspaceTransition.DESTROY) };
    const plan = await provisioner.plan(session, create(PlanRequestSchema, request), never);
    assert.equal(plan.error, "");
    assert.deepEqual(plan.resources, []);
    const applied = await provisioner.apply(session, create(ApplyRequestSchema, request), never);
    assert.equal(applied.error, "");
    assert.equal(applied.state.length, 0);
    assert.match(session.text(), /nothing to do/);
  });
});

const longRunning = (marker: string) => ({
  "main.tf": `resource "terraform_data" "slow" {
  provisioner "local-exec" {
    command = "echo slow-step-started; sleep ${marker}; echo finished"
  }
}
`,
});

function processRunning(pattern: string): boolean {
  return spawnSync("pgrep", ["-f", pattern]).status === 0;
}

describe("terraform provisioner with real terraform: cancellation and environment", () => {
  test("GIVEN an apply running a long local-exec WHEN the request is cancelled THEN Apply completes with an error and no child is left", {
    skip: skipNoTerraform,
    timeout: 60_000,
  }, async () => {
    // The exit timeout is far longer than the test's own timeout: finishing at all shows terraform exited
    // on SIGINT well within it.
    const provisioner = await realProvisioner({ exitTimeoutMs: 10 * 60_000 });
    const marker = "58.7123";
    const session = recordingSession(await sessionDir(temp, longRunning(marker)));
    const plan = await provisioner.plan(
      session,
      create(PlanRequestSchema, { metadata: metadata(WorkspaceTransition.START) }),
      never,
    );
    assert.equal(plan.error, "", session.text());

    const applied = await provisioner.apply(
      session,
      create(ApplyRequestSchema, { metadata: metadata(WorkspaceTransition.START) }),
      cancelOnLog(session, "slow-step-started"),
    );

    assert.match(applied.error, /^terraform apply: exit status 1$/);
    assert.match(session.text(), /Interrupt received/);
    assert.equal(processRunning(`sleep ${marker}`), false, "the local-exec child was reaped");
  });

  test("GIVEN daemon secrets in process.env WHEN a local-exec prints its environment THEN only allow-listed variables are there", {
    skip: skipNoTerraform,
    timeout: 60_000,
  }, async (t) => {
    const secrets = {
      PREWARM_PSK: "psk-must-not-leak-0001",
      AWS_SECRET_ACCESS_KEY: "aws-must-not-leak-0002",
      CODER_SESSION_TOKEN: "coder-must-not-leak-0003",
    };
    const saved = Object.fromEntries(Object.keys(secrets).map((k) => [k, process.env[k]]));
    Object.assign(process.env, secrets);
    t.after(() => {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    });
    const provisioner = await realProvisioner();
    const session = recordingSession(
      await sessionDir(temp, {
        "main.tf": `resource "terraform_data" "env" {
  provisioner "local-exec" {
    command = "env | sed 's/^/ENV: /'"
  }
}
`,
      }),
    );
    const md = metadata(WorkspaceTransition.START, {
      prebuiltWorkspaceBuildStage: PrebuiltWorkspaceBuildStage.CREATE,
      workspaceOwnerSessionToken: "owner-session-token",
    });
    const plan = await provisioner.plan(session, create(PlanRequestSchema, { metadata: md }), never);
    assert.equal(plan.error, "", session.text());
    const applied = await provisioner.apply(session, create(ApplyRequestSchema, { metadata: md }), never);
    assert.equal(applied.error, "", session.text());

    const printed = session.logs
      .map((l) => /\(local-exec\): ENV: ([A-Z0-9_]+)=(.*)$/.exec(l.output))
      .filter((m) => m !== null)
      .map((m) => [m[1]!, m[2]!] as const);
    const env = new Map(printed);
    assert.ok(env.size > 0, "the environment was printed");
    for (const [name, value] of Object.entries(secrets)) {
      assert.equal(env.has(name), false, `${name} leaked`);
      assert.equal(session.text().includes(value), false, `the value of ${name} leaked`);
    }
    assert.equal(env.get("CODER_WORKSPACE_NAME"), "dev");
    assert.equal(env.get("CODER_WORKSPACE_ID"), "ws-0001");
    assert.equal(env.get("CODER_WORKSPACE_OWNER"), "alice");
    assert.equal(env.get("CODER_WORKSPACE_TRANSITION"), "start");
    assert.equal(env.get("CODER_WORKSPACE_IS_PREBUILD"), "true");
    assert.equal(env.get("CODER_WORKSPACE_OWNER_SESSION_TOKEN"), "owner-session-token");
    assert.ok(env.has("PATH"));
    // Every variable is one terraform or the shell sets itself, or on the allow-list.
    const shellOwn = new Set(["PWD", "SHLVL", "_", "OLDPWD", "BASE_DIR"]);
    for (const name of env.keys()) {
      assert.ok(
        name.startsWith("CODER_") ||
          name.startsWith("TF_") ||
          ["PATH", "HOME"].includes(name) ||
          shellOwn.has(name),
        `unexpected variable ${name}`,
      );
    }
  });
});

describe("terraform provisioner with a fake terraform", () => {
  const unusable: [string, () => Promise<string>, RegExp][] = [
    [
      "a missing binary",
      async () => join(await temp.make("nothing"), "terraform"),
      /^terraform version: start .*terraform: spawn .*ENOENT \(is terraform installed and on PATH\?\)$/,
    ],
    [
      "terraform 0.15",
      () => fakeTerraform(temp, "print-env", "0.15.5"),
      /^terraform version: terraform version "0.15.5" is too old. required >= "1.0.0"$/,
    ],
  ];
  test("GIVEN a fake terraform 1.11 and a missing binary WHEN detected THEN the version, or why not", async () => {
    assert.deepEqual(await detectTerraform(await fakeTerraform(temp, "print-env")), { version: "1.11.0" });
    const missing = await detectTerraform(join(await temp.make("nothing"), "terraform"));
    assert.equal(missing.version, undefined);
    assert.match(missing.reason ?? "", /^terraform version: start .*ENOENT/);
  });

  for (const [name, binary, message] of unusable) {
    test(`GIVEN ${name} WHEN planning and applying THEN both complete with an error saying so`, async () => {
      const provisioner = createTerraformProvisioner({ binary: await binary() });
      const session = recordingSession(await sessionDir(temp, { "main.tf": "" }));
      const request = { metadata: metadata(WorkspaceTransition.START) };
      assert.match(
        (await provisioner.plan(session, create(PlanRequestSchema, request), never)).error,
        message,
      );
      assert.match(
        (await provisioner.apply(session, create(ApplyRequestSchema, request), never)).error,
        message,
      );
    });
  }

  test("GIVEN terraform ignores SIGINT WHEN the plan is cancelled THEN it is killed after the exit timeout", {
    timeout: 30_000,
  }, async () => {
    const provisioner = createTerraformProvisioner({
      binary: await fakeTerraform(temp, "ignore-sigint"),
      exitTimeoutMs: 300,
    });
    const session = recordingSession(await sessionDir(temp, { "main.tf": "" }));
    const plan = await provisioner.plan(
      session,
      create(PlanRequestSchema, { metadata: metadata(WorkspaceTransition.START) }),
      cancelOnLog(session, "fake terraform running"),
    );

    assert.match(plan.error, /^terraform plan: signal: killed/);
    assert.equal(processRunning("sleep 59.4"), false, "the fake's child was killed with it");
  });

  test("GIVEN rich parameters and external auth WHEN planning THEN terraform gets them as the coder provider reads them, and no secrets", async (t) => {
    process.env.PREWARM_PSK = "psk-must-not-leak-0004";
    t.after(() => {
      delete process.env.PREWARM_PSK;
    });
    const provisioner = createTerraformProvisioner({
      binary: await fakeTerraform(temp, "print-env"),
      extraEnv: { TF_VAR_secret: "tf-var-value" },
    });
    const session = recordingSession(await sessionDir(temp, { "main.tf": "" }));
    const plan = await provisioner.plan(
      session,
      create(PlanRequestSchema, {
        metadata: metadata(WorkspaceTransition.START, {
          prebuiltWorkspaceBuildStage: PrebuiltWorkspaceBuildStage.CLAIM,
          runningAgentAuthTokens: [{ agentId: "agent-1", token: "running-token" }],
        }),
        richParameterValues: [{ name: "region", value: "eu-west" }],
        previousParameterValues: [{ name: "region", value: "us-east" }],
        externalAuthProviders: [{ id: "github", accessToken: "gh-token" }],
      }),
      never,
    );
    // The fake prints no plan file, so `show` fails after the plan ran: only the environment matters here.
    assert.match(plan.error, /^plan resources: /);
    const lines = new Set(session.logs.filter((l) => l.level === LogLevel.INFO).map((l) => l.output));
    const regionHash = createHash("sha256").update("region").digest("hex");
    const expected = [
      `CODER_PARAMETER_${regionHash}=eu-west`,
      `CODER_PARAMETER_PREVIOUS_${regionHash}=us-east`,
      "CODER_EXTERNAL_AUTH_ACCESS_TOKEN_github=gh-token",
      "CODER_GIT_AUTH_ACCESS_TOKEN_github=gh-token",
      "CODER_WORKSPACE_IS_PREBUILD_CLAIM=true",
      // A single running agent's token goes under sha256("") — the name the provider looks up.
      "CODER_RUNNING_WORKSPACE_AGENT_TOKEN_e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855=running-token",
    ];
    for (const needle of expected) {
      assert.ok(lines.has(needle), `missing ${needle}`);
    }
    assert.ok(lines.has("TF_VAR_secret=tf-var-value"));
    assert.ok(![...lines].some((l) => l.startsWith("PREWARM_PSK=")), "PREWARM_PSK leaked");
    // TF_* values are redacted when the provisioner itself logs them.
    assert.ok(
      session.logs.some((l) => l.output === "terraform environment variable: TF_VAR_secret=<value redacted>"),
    );
  });
});
