// The terraform provisioner's pure parts and small I/O helpers: environment allow-list, log and timing
// parsing, version checks, static template parse, module manifest, command runner, plugin-cache lock.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import {
  LogLevel,
  MetadataSchema,
  PrebuiltWorkspaceBuildStage,
  TimingState,
  WorkspaceTransition,
} from "../../../src/gen/provisioner/provisioner_pb.js";
import {
  baseEnv,
  coderEnv,
  describeTfSettings,
  parseOperatorEnvEntries,
  TerraformEnvError,
  validateOperatorEnv,
} from "../../../src/provisioners/terraform/env.js";
import { logForPlainOutput, logsForJsonOutput } from "../../../src/provisioners/terraform/logs.js";
import { modulesFromManifest } from "../../../src/provisioners/terraform/modules.js";
import { parseTemplate, TemplateParseError } from "../../../src/provisioners/terraform/parse.js";
import { withPluginCacheLock } from "../../../src/provisioners/terraform/plugin-cache.js";
import {
  runCommand,
  TerraformCanceledError,
  TerraformCommandError,
} from "../../../src/provisioners/terraform/runner.js";
import { syntheticTiming, TimingAggregator } from "../../../src/provisioners/terraform/timings.js";
import {
  checkVersion,
  parseVersionOutput,
  supportsPlanGraph,
  TerraformVersionError,
} from "../../../src/provisioners/terraform/version.js";
import { sessionDir, TempDirs } from "./runtime-fixtures.js";

const temp = new TempDirs();
after(() => temp.cleanup());

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

describe("terraform environment", () => {
  const daemonEnv = {
    PATH: "/usr/bin:/bin",
    HOME: "/home/prewarm",
    PREWARM_PSK: "secret",
    AWS_SECRET_ACCESS_KEY: "secret",
    CODER_AGENT_TOKEN: "secret",
    TF_LOG: "info",
    TF_TOKEN_app_terraform_io: "tf-cloud-token",
  };

  test("GIVEN the daemon's environment WHEN building the base env THEN only PATH, HOME and TF_* pass", () => {
    const env = baseEnv({ processEnv: daemonEnv, operatorEnv: { TF_LOG: "debug" } });
    assert.deepEqual(env, {
      PATH: "/usr/bin:/bin",
      HOME: "/home/prewarm",
      TF_LOG: "debug", // the operator's setting wins over the daemon's
      TF_TOKEN_app_terraform_io: "tf-cloud-token",
    });
  });

  test("GIVEN a plugin cache WHEN building the base env THEN terraform is pointed at it", () => {
    const env = baseEnv({ processEnv: {}, operatorEnv: {}, pluginCacheDir: "/var/cache/tf" });
    assert.equal(env.TF_PLUGIN_CACHE_DIR, "/var/cache/tf");
    assert.equal(env.TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE, "true");
  });

  test("GIVEN operator settings WHEN one is not TF_* THEN it is rejected", () => {
    assert.deepEqual(validateOperatorEnv({ TF_LOG: "info" }), { TF_LOG: "info" });
    assert.throws(() => validateOperatorEnv({ TF_LOG: "info", AWS_PROFILE: "x" }), TerraformEnvError);
  });

  test("GIVEN NAME=VALUE entries WHEN parsed THEN each splits at its first = and a later NAME wins", () => {
    assert.deepEqual(
      parseOperatorEnvEntries(["TF_LOG=info", "TF_VAR_my-var=a=b", "TF_INPUT=", "TF_LOG=debug"]),
      { TF_LOG: "debug", "TF_VAR_my-var": "a=b", TF_INPUT: "" },
    );
  });

  const badEntries: { entry: string; error: RegExp }[] = [
    { entry: "AWS_PROFILE=prod-value", error: /only TF_\* settings may be configured, got "AWS_PROFILE"$/ },
    { entry: "=prod-value", error: /only TF_\* settings may be configured, got ""$/ },
    { entry: "TF_TOKEN_prod-value", error: /expected NAME=VALUE, got an entry without "="$/ },
    { entry: "TF_=prod-value", error: /"TF_" is not a valid name/ },
    { entry: "TF_A.B=prod-value", error: /"TF_A.B" is not a valid name/ },
  ];
  for (const { entry, error } of badEntries) {
    test(`GIVEN the entry ${JSON.stringify(entry)} WHEN parsed THEN a TerraformEnvError names it without its value`, () => {
      assert.throws(
        () => parseOperatorEnvEntries(["TF_LOG=info", entry]),
        (err: unknown) => {
          assert.ok(err instanceof TerraformEnvError);
          assert.match(err.message, error);
          assert.ok(!err.message.includes("prod-value"), err.message);
          return true;
        },
      );
    });
  }

  test("GIVEN TF_* settings WHEN described for the log THEN values are redacted except harmless ones", () => {
    assert.deepEqual(describeTfSettings({ PATH: "/bin", TF_VAR_password: "hunter2", TF_LOG: "info" }), [
      "terraform environment variable: TF_LOG=info",
      "terraform environment variable: TF_VAR_password=<value redacted>",
    ]);
  });

  test("GIVEN full metadata WHEN building the coder env THEN every field the provider reads is set", () => {
    const env = coderEnv({
      metadata: create(MetadataSchema, {
        coderUrl: "http://127.0.0.1:7080",
        workspaceTransition: WorkspaceTransition.STOP,
        workspaceName: "dev",
        workspaceId: "w-1",
        workspaceOwner: "alice",
        workspaceOwnerId: "u-1",
        workspaceOwnerEmail: "alice@example.com",
        workspaceOwnerName: "Alice",
        workspaceOwnerGroups: ["devs", "ops"],
        workspaceOwnerSessionToken: "session",
        workspaceOwnerOidcAccessToken: "oidc",
        workspaceOwnerSshPublicKey: "ssh-ed25519 AAA",
        workspaceOwnerSshPrivateKey: "PRIVATE",
        workspaceOwnerLoginType: "password",
        workspaceOwnerRbacRoles: [
          { name: "member", orgId: "" },
          { name: "admin", orgId: "o-1" },
        ],
        templateId: "t-1",
        templateName: "tpl",
        templateVersion: "v3",
        workspaceBuildId: "b-9",
      }),
      agentScriptEnv: { CODER_AGENT_SCRIPT_linux_amd64: "#!/bin/sh" },
    });
    assert.deepEqual(env, {
      CODER_AGENT_URL: "http://127.0.0.1:7080",
      CODER_WORKSPACE_TRANSITION: "stop",
      CODER_WORKSPACE_NAME: "dev",
      CODER_WORKSPACE_ID: "w-1",
      CODER_WORKSPACE_OWNER: "alice",
      CODER_WORKSPACE_OWNER_ID: "u-1",
      CODER_WORKSPACE_OWNER_EMAIL: "alice@example.com",
      CODER_WORKSPACE_OWNER_NAME: "Alice",
      CODER_WORKSPACE_OWNER_GROUPS: '["devs","ops"]',
      CODER_WORKSPACE_OWNER_OIDC_ACCESS_TOKEN: "oidc",
      CODER_WORKSPACE_OWNER_SESSION_TOKEN: "session",
      CODER_WORKSPACE_OWNER_SSH_PUBLIC_KEY: "ssh-ed25519 AAA",
      CODER_WORKSPACE_OWNER_SSH_PRIVATE_KEY: "PRIVATE",
      CODER_WORKSPACE_OWNER_LOGIN_TYPE: "password",
      CODER_WORKSPACE_OWNER_RBAC_ROLES: '[{"name":"member"},{"name":"admin","org_id":"o-1"}]',
      CODER_WORKSPACE_TEMPLATE_ID: "t-1",
      CODER_WORKSPACE_TEMPLATE_NAME: "tpl",
      CODER_WORKSPACE_TEMPLATE_VERSION: "v3",
      CODER_WORKSPACE_BUILD_ID: "b-9",
      CODER_AGENT_SCRIPT_linux_amd64: "#!/bin/sh",
    });
  });

  const stages = [
    { stage: PrebuiltWorkspaceBuildStage.NONE, prebuild: undefined, claim: undefined },
    { stage: PrebuiltWorkspaceBuildStage.CREATE, prebuild: "true", claim: undefined },
    { stage: PrebuiltWorkspaceBuildStage.CLAIM, prebuild: undefined, claim: "true" },
  ];
  for (const { stage, prebuild, claim } of stages) {
    test(`GIVEN prebuild stage ${PrebuiltWorkspaceBuildStage[stage]} WHEN building the coder env THEN the prebuild flags match`, () => {
      const env = coderEnv({ metadata: create(MetadataSchema, { prebuiltWorkspaceBuildStage: stage }) });
      assert.equal(env.CODER_WORKSPACE_IS_PREBUILD, prebuild);
      assert.equal(env.CODER_WORKSPACE_IS_PREBUILD_CLAIM, claim);
    });
  }

  test("GIVEN one running agent token WHEN claiming THEN it goes under sha256 of the empty agent id", () => {
    const env = coderEnv({
      metadata: create(MetadataSchema, { runningAgentAuthTokens: [{ agentId: "a-1", token: "tok-1" }] }),
    });
    assert.equal(env[`CODER_RUNNING_WORKSPACE_AGENT_TOKEN_${sha256("")}`], "tok-1");
  });

  test("GIVEN several running agent tokens WHEN claiming THEN each goes under sha256 of its agent id", () => {
    const env = coderEnv({
      metadata: create(MetadataSchema, {
        runningAgentAuthTokens: [
          { agentId: "a-1", token: "tok-1" },
          { agentId: "a-2", token: "tok-2" },
        ],
      }),
    });
    assert.equal(env[`CODER_RUNNING_WORKSPACE_AGENT_TOKEN_${sha256("a-1")}`], "tok-1");
    assert.equal(env[`CODER_RUNNING_WORKSPACE_AGENT_TOKEN_${sha256("a-2")}`], "tok-2");
  });

  test("GIVEN parameters and external auth WHEN building the coder env THEN they use the provider's names", () => {
    const env = coderEnv({
      richParameterValues: [{ name: "Region name", value: "eu" }],
      previousParameterValues: [{ name: "Region name", value: "us" }],
      externalAuthProviders: [{ id: "github", accessToken: "gho_x" }],
    });
    assert.deepEqual(env, {
      [`CODER_PARAMETER_${sha256("Region name")}`]: "eu",
      [`CODER_PARAMETER_PREVIOUS_${sha256("Region name")}`]: "us",
      CODER_EXTERNAL_AUTH_ACCESS_TOKEN_github: "gho_x",
      CODER_GIT_AUTH_ACCESS_TOKEN_github: "gho_x",
    });
  });
});

describe("terraform log lines", () => {
  const line = (level: string, message: string) =>
    JSON.stringify({
      "@level": level,
      "@message": message,
      "@timestamp": "2026-01-05T10:00:00.000000Z",
      type: "log",
    });

  const levels: [string, LogLevel][] = [
    ["trace", LogLevel.TRACE],
    ["debug", LogLevel.DEBUG],
    ["info", LogLevel.INFO],
    ["warn", LogLevel.WARN],
    ["Warning", LogLevel.WARN],
    ["ERROR", LogLevel.ERROR],
  ];
  for (const [name, level] of levels) {
    test(`GIVEN a JSON line at "${name}" WHEN parsed THEN the log has level ${LogLevel[level]}`, () => {
      assert.deepEqual(logsForJsonOutput(line(name, "hello")), [{ level, output: "hello" }]);
    });
  }

  test("GIVEN an unknown level WHEN parsed THEN a warning says so and the message is INFO", () => {
    assert.deepEqual(logsForJsonOutput(line("loud", "hello")), [
      { level: LogLevel.WARN, output: "unable to convert log level loud" },
      { level: LogLevel.INFO, output: "hello" },
    ]);
  });

  test("GIVEN non-JSON and blank lines WHEN parsed THEN text is INFO verbatim and blanks are dropped", () => {
    assert.deepEqual(logsForJsonOutput("Acquiring state lock. This may take a few moments..."), [
      { level: LogLevel.INFO, output: "Acquiring state lock. This may take a few moments..." },
    ]);
    assert.deepEqual(logsForJsonOutput("   "), []);
  });

  test("GIVEN a diagnostic WHEN parsed THEN it is expanded with file, line, code, values and detail", () => {
    const diagnostic = {
      "@level": "error",
      "@message": "Error: Invalid value for variable",
      type: "diagnostic",
      diagnostic: {
        severity: "error",
        summary: "Invalid value for variable",
        detail: "Size must be small or large.\nSee the docs.",
        range: { filename: "main.tf", start: { line: 12, column: 3 } },
        snippet: {
          context: 'variable "size"',
          code: "  validation {",
          start_line: 12,
          values: [{ traversal: "var.size", statement: 'is "huge"' }],
        },
      },
    };
    assert.deepEqual(
      logsForJsonOutput(JSON.stringify(diagnostic)).map((e) => [e.level, e.output]),
      [
        [LogLevel.ERROR, "Error: Invalid value for variable"],
        [LogLevel.ERROR, '  on main.tf line 12, in variable "size":'],
        [LogLevel.ERROR, "    12:   validation {"],
        [LogLevel.ERROR, "    ├────────────────"],
        [LogLevel.ERROR, '    │ var.size is "huge"'],
        [LogLevel.ERROR, ""],
        [LogLevel.ERROR, "Size must be small or large."],
        [LogLevel.ERROR, "See the docs."],
      ],
    );
  });

  test("GIVEN plain command output WHEN logged THEN JSON lines are re-levelled, INFO demoted, TRACE dropped", () => {
    assert.deepEqual(logForPlainOutput("Initializing the backend...", LogLevel.DEBUG), {
      level: LogLevel.DEBUG,
      output: "Initializing the backend...",
    });
    assert.deepEqual(logForPlainOutput(line("info", "x"), LogLevel.ERROR), {
      level: LogLevel.DEBUG,
      output: "x",
    });
    assert.deepEqual(logForPlainOutput(line("warn", "y"), LogLevel.ERROR), {
      level: LogLevel.WARN,
      output: "y",
    });
    assert.equal(logForPlainOutput(line("trace", "z"), LogLevel.ERROR), undefined);
  });
});

describe("terraform timings", () => {
  const hook = (type: string, at: string, addr = "terraform_data.w", action = "create") => ({
    "@timestamp": at,
    type,
    hook: { action, resource: { addr, implied_provider: "terraform" } },
  });

  test("GIVEN start and complete events WHEN aggregated THEN one COMPLETED span with microsecond times", () => {
    const agg = new TimingAggregator("apply");
    agg.ingest(hook("apply_start", "2026-01-05T10:00:00.123456Z"));
    agg.ingest({ type: "log", "@timestamp": "2026-01-05T10:00:00.5Z" });
    agg.ingest(hook("apply_complete", "2026-01-05T10:00:02.000001+00:00"));
    const [timing, ...rest] = agg.timings();
    assert.equal(rest.length, 0);
    assert.equal(timing?.stage, "apply");
    assert.equal(timing?.state, TimingState.COMPLETED);
    assert.equal(timing?.action, "create");
    assert.equal(timing?.source, "terraform");
    assert.equal(timing?.resource, "terraform_data.w");
    assert.equal(timing?.start?.seconds, BigInt(Date.parse("2026-01-05T10:00:00Z") / 1000));
    assert.equal(timing?.start?.nanos, 123_456_000);
    assert.equal(timing?.end?.nanos, 1_000);
  });

  test("GIVEN an errored span, an unmatched complete and a span never closed WHEN aggregated THEN only the errored one is FAILED", () => {
    const agg = new TimingAggregator("apply");
    agg.ingest(hook("apply_start", "2026-01-05T10:00:00Z", "a.x"));
    agg.ingest(hook("apply_errored", "2026-01-05T10:00:01Z", "a.x"));
    agg.ingest(hook("apply_complete", "2026-01-05T10:00:01Z", "b.y"));
    agg.ingest(hook("apply_start", "2026-01-05T10:00:01Z", "c.z"));
    assert.deepEqual(
      agg.timings().map((t) => [t.resource, t.state]),
      [["a.x", TimingState.FAILED]],
    );
  });

  test("GIVEN refresh events without an action WHEN aggregated THEN the action is 'state refresh' in the plan stage", () => {
    const agg = new TimingAggregator("plan");
    agg.ingest(hook("refresh_start", "2026-01-05T10:00:00Z", "a.x", ""));
    agg.ingest(hook("refresh_complete", "2026-01-05T10:00:01Z", "a.x", ""));
    assert.deepEqual(
      agg.timings().map((t) => [t.stage, t.action]),
      [["plan", "state refresh"]],
    );
  });

  test("GIVEN a synthetic init span WHEN built THEN it names terraform and the state file", () => {
    const t = syntheticTiming(
      "init",
      new Date("2026-01-05T10:00:00Z"),
      new Date("2026-01-05T10:00:01.5Z"),
      true,
    );
    assert.deepEqual(
      [t.stage, t.action, t.source, t.resource, t.state, t.end?.nanos],
      ["init", "initializing terraform", "terraform", "state file", TimingState.FAILED, 500_000_000],
    );
  });
});

describe("terraform version", () => {
  test("GIVEN version -json output WHEN checked THEN old versions fail with what is required", () => {
    assert.equal(checkVersion(parseVersionOutput('{"terraform_version":"1.11.4"}')), "1.11.4");
    assert.throws(() => checkVersion("0.15.5"), /terraform version "0.15.5" is too old. required >= "1.0.0"/);
    assert.throws(() => parseVersionOutput("Terraform v1.5.0"), TerraformVersionError);
  });

  test("GIVEN versions around 1.7 WHEN choosing the graph command THEN -type=plan only from 1.7.0", () => {
    assert.deepEqual(["1.6.6", "1.7.0", "1.11.4"].map(supportsPlanGraph), [false, true, true]);
  });
});

describe("terraform template parse", () => {
  test("GIVEN variables in two files WHEN parsed THEN they come in file/line order with their attributes", async () => {
    const dir = await sessionDir(temp, {
      "b.tf": `variable "zeta" {
  type    = map(string)
  default = { a = "b" }
}
`,
      "a.tf": `# comment
variable "region" {
  description = "Where"
  type        = string
  default     = "eu"
}

variable "count_of" {
  type      = number
  default   = 3
  sensitive = true
}

variable "token" {}
`,
    });
    const parsed = await parseTemplate(dir);
    assert.deepEqual(
      parsed.variables.map((v) => [v.name, v.description, v.type, v.defaultValue, v.required, v.sensitive]),
      [
        ["region", "Where", "string", "eu", false, false],
        ["count_of", "", "number", "3", false, true],
        ["token", "", "", "", true, false],
        ["zeta", "", "map(string)", '{"a":"b"}', false, false],
      ],
    );
  });

  test("GIVEN coder_workspace_tags WHEN parsed THEN each tag maps to its value expression's source", async () => {
    const dir = await sessionDir(temp, {
      "main.tf": `data "coder_workspace_tags" "custom" {
  tags = {
    "cluster" = var.region
    zone      = "us-\${var.zone}"
    static    = "fixed"
    count     = 2
  }
}
`,
    });
    assert.deepEqual((await parseTemplate(dir)).workspaceTags, {
      cluster: "var.region",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: HCL interpolation source text, not a JS template
      zone: '"us-${var.zone}"',
      static: '"fixed"',
      count: "2",
    });
  });

  test("GIVEN a counted coder_workspace_tags block WHEN parsed THEN its count is folded into each value", async () => {
    // Coder's recipe "dedicated daemons for prebuild jobs": the tag is set only when the owner is the prebuilds user.
    const dir = await sessionDir(temp, {
      "main.tf": `data "coder_workspace_owner" "me" {}
data "coder_workspace_tags" "prebuilds" {
  count = data.coder_workspace_owner.me.name == "prebuilds" ? 1 : 0
  tags = {
    "is_prebuild" = "true"
  }
}
`,
    });
    assert.deepEqual((await parseTemplate(dir)).workspaceTags, {
      is_prebuild: '(data.coder_workspace_owner.me.name == "prebuilds" ? 1 : 0) > 0 ? ("true") : null',
    });
  });

  const broken: [string, string, RegExp][] = [
    [
      "an HCL syntax error",
      `variable "x" {\n  type = \n}\n`,
      /^main\.tf:2: Invalid expression: Expected the start/,
    ],
    ["an unclosed block", `resource "a" "b" {\n  x = 1\n`, /^main\.tf:1: Unclosed configuration block/],
    [
      "tags that are not a map",
      `data "coder_workspace_tags" "t" {\n  tags = var.x\n}\n`,
      /expected to be a key-value map/,
    ],
    ["tags missing", `data "coder_workspace_tags" "t" {\n}\n`, /"tags" attribute is required/],
    [
      "a variable declared twice",
      `variable "a" {}\nvariable "a" {}\n`,
      /duplicate variable declaration: "a"/,
    ],
  ];
  for (const [name, text, message] of broken) {
    test(`GIVEN ${name} WHEN parsed THEN a TemplateParseError names the problem`, async () => {
      const dir = await sessionDir(temp, { "main.tf": text });
      await assert.rejects(parseTemplate(dir), (err: unknown) => {
        assert.ok(err instanceof TemplateParseError);
        assert.match(err.message, message);
        return true;
      });
    });
  }
});

describe("terraform module manifest", () => {
  test("GIVEN modules.json WHEN read THEN modules with a source are listed", () => {
    const manifest = {
      Modules: [
        { Key: "", Source: "", Dir: "." },
        {
          Key: "agent",
          Source: "registry.coder.com/coder/agent/coder",
          Version: "1.0.0",
          Dir: ".terraform/modules/agent",
        },
      ],
    };
    assert.deepEqual(
      modulesFromManifest(manifest).map((m) => [m.key, m.source, m.version, m.dir]),
      [["agent", "registry.coder.com/coder/agent/coder", "1.0.0", ".terraform/modules/agent"]],
    );
    assert.deepEqual(modulesFromManifest(null), []);
  });
});

describe("terraform command runner", () => {
  const node = (script: string) => ({
    binary: process.execPath,
    args: ["-e", script],
    env: {},
    exitTimeoutMs: 5_000,
  });

  test("GIVEN output split across writes WHEN run THEN whole lines arrive in order, stdout and stderr interleaved", async () => {
    const cwd = await temp.make("runner");
    const lines: string[] = [];
    await runCommand({
      ...node(
        `process.stdout.write("a1\\na"); setTimeout(() => { process.stdout.write("2\\n"); process.stderr.write("e1\\n"); setTimeout(() => process.stdout.write("a3"), 20); }, 20);`,
      ),
      cwd,
      onStdoutLine: (l) => lines.push(`out:${l}`),
      onStderrLine: (l) => lines.push(`err:${l}`),
    });
    assert.deepEqual(lines, ["out:a1", "out:a2", "err:e1", "out:a3"]);
  });

  test("GIVEN a failing command WHEN run THEN the error gives its exit status", async () => {
    const cwd = await temp.make("runner");
    await assert.rejects(runCommand({ ...node("process.exit(3)"), cwd }), (err: unknown) => {
      assert.ok(err instanceof TerraformCommandError);
      assert.equal(err.message, "exit status 3");
      return true;
    });
  });

  test("GIVEN an already cancelled request WHEN a command would start THEN it does not and says canceled", async () => {
    const cwd = await temp.make("runner");
    const cancel = new AbortController();
    cancel.abort();
    await assert.rejects(runCommand({ ...node("1"), cwd, signal: cancel.signal }), TerraformCanceledError);
  });

  test("GIVEN a missing binary WHEN run THEN the error says it could not start", async () => {
    const cwd = await temp.make("runner");
    await assert.rejects(
      runCommand({ binary: join(cwd, "no-such-terraform"), args: [], cwd, env: {}, exitTimeoutMs: 1_000 }),
      /^TerraformCommandError: start .*no-such-terraform: spawn .* ENOENT/,
    );
  });

  test("GIVEN a command WHEN run THEN it sees exactly the given environment", async () => {
    const cwd = await temp.make("runner");
    const { stdout } = await runCommand({
      ...node("process.stdout.write(JSON.stringify(process.env))"),
      env: { ONLY_THIS: "1" },
      cwd,
      captureStdout: true,
    });
    assert.deepEqual(JSON.parse(stdout.toString()), { ONLY_THIS: "1" });
  });
});

describe("plugin cache lock", () => {
  test("GIVEN two inits sharing a cache WHEN run concurrently THEN the second waits for the first", async () => {
    const cache = await temp.make("cache");
    const events: string[] = [];
    let firstStarted!: () => void;
    const started = new Promise<void>((r) => {
      firstStarted = r;
    });
    let releaseFirst!: () => void;
    const firstHolds = new Promise<void>((r) => {
      releaseFirst = r;
    });
    const first = withPluginCacheLock(cache, async () => {
      events.push("first:start");
      firstStarted();
      await firstHolds;
      events.push("first:end");
    });
    const second = withPluginCacheLock(cache, async () => {
      events.push("second:start");
    });
    await started;
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    assert.deepEqual(
      events,
      ["first:start"],
      "the second init must not start while the first holds the lock",
    );
    releaseFirst();
    await Promise.all([first, second]);
    assert.deepEqual(events, ["first:start", "first:end", "second:start"]);
  });

  test("GIVEN a lock file held by another running process WHEN that process dies THEN the lock is taken over", {
    timeout: 20_000,
  }, async () => {
    const cache = await temp.make("cache");
    const owner = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
    await writeFile(join(cache, ".prewarm-init.lock"), String(owner.pid));
    let ran = false;
    const locked = withPluginCacheLock(cache, async () => {
      ran = true;
    });
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    assert.equal(ran, false, "waits while the owner runs");
    const exited = new Promise((r) => owner.once("exit", r));
    owner.kill("SIGKILL");
    await exited;
    await locked;
    assert.equal(ran, true);
  });

  test("GIVEN a lock file left by a dead process WHEN locking THEN it is taken over", async () => {
    const cache = await temp.make("cache");
    const dead = spawnSync(process.execPath, ["-e", "0"]).pid;
    await writeFile(join(cache, ".prewarm-init.lock"), String(dead));
    const ran = await withPluginCacheLock(cache, async () => {
      assert.equal(await readFile(join(cache, ".prewarm-init.lock"), "utf8"), String(process.pid));
      return "ran";
    });
    assert.equal(ran, "ran");
  });
});
