// The test coder provider under real terraform: the mirror from scripts/coder-provider.mjs, then
// `terraform init/plan/apply/destroy` on a Coder-style template through a prebuild's life (created as a
// prebuild, claimed with its running agent token, a ForceNew change, destroyed), asserting on
// `terraform show -json`; and provider diagnostics as terraform reports them.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { skipUnless } from "../../support/requirements.js";
import {
  agentScript,
  changeOf,
  coderTemplate,
  installCoderProvider,
  resourceIn,
  type ShowJson,
  sha256,
  terraform,
  terraformOk,
} from "./coder-provider-fixtures.js";
import { sessionDir, TempDirs, terraformAvailable, terraformMissing } from "./runtime-fixtures.js";

const temp = new TempDirs();
after(() => temp.cleanup());

const skip = skipUnless(terraformAvailable, terraformMissing);
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let cliConfig = "";
before(async () => {
  if (skip) return;
  cliConfig = await installCoderProvider(await temp.make("coder-provider"));
});

const workspaceId = randomUUID();
const build = (extra: Record<string, string>) => ({
  CODER_AGENT_URL: "https://coder.example.com:8443/some/path?x=1",
  CODER_WORKSPACE_TRANSITION: "start",
  CODER_WORKSPACE_NAME: "dev",
  CODER_WORKSPACE_ID: workspaceId,
  CODER_WORKSPACE_BUILD_ID: randomUUID(),
  CODER_WORKSPACE_TEMPLATE_ID: "0b9e5b6a-3a43-4a0a-9d4c-7b9f4a9a1c01",
  CODER_WORKSPACE_TEMPLATE_NAME: "docker",
  CODER_WORKSPACE_TEMPLATE_VERSION: "v1",
  CODER_AGENT_SCRIPT_linux_amd64: agentScript,
  [`CODER_PARAMETER_${sha256("size")}`]: "4",
  ...extra,
});

const show = async (dir: string, args: string[]): Promise<ShowJson> =>
  JSON.parse(await terraformOk(dir, ["show", "-json", ...args], { cliConfig })) as ShowJson;

describe("coder test provider under terraform: a prebuild's life", { skip, timeout: 90_000 }, () => {
  let dir = "";
  let prebuildToken = "";

  before(async () => {
    if (skip) return;
    dir = await sessionDir(temp, coderTemplate());
    await terraformOk(dir, ["init", "-input=false", "-no-color"], { cliConfig });
  });

  test("GIVEN a prebuild build WHEN planned THEN data sources read the environment and the agent's computed values are unknown", async () => {
    const env = build({ CODER_WORKSPACE_OWNER: "prebuilds", CODER_WORKSPACE_IS_PREBUILD: "true" });
    await terraformOk(dir, ["plan", "-input=false", "-no-color", "-out=tfplan"], { cliConfig, env });
    const plan = await show(dir, ["tfplan"]);
    const data = plan.prior_state?.values?.root_module?.resources;

    const workspace = resourceIn(data, "data.coder_workspace.me");
    assert.deepEqual(
      [workspace.is_prebuild, workspace.prebuild_count, workspace.is_prebuild_claim, workspace.start_count],
      [true, 1, false, 1],
    );
    assert.deepEqual(
      [workspace.id, workspace.name, workspace.template_name, workspace.transition],
      [workspaceId, "dev", "docker", "start"],
    );
    assert.deepEqual(
      [workspace.access_url, workspace.access_port],
      ["https://coder.example.com:8443/some/path?x=1", 8443],
    );
    assert.equal(resourceIn(data, "data.coder_workspace_owner.me").name, "prebuilds");

    const size = resourceIn(data, "data.coder_parameter.size");
    assert.deepEqual(
      [size.value, size.type, size.form_type, size.optional, size.mutable],
      ["4", "number", "input", true, true],
    );
    assert.deepEqual(size.validation, [
      { min: 1, min_disabled: false, max: 8, max_disabled: false, monotonic: null, regex: null, error: null },
    ]);
    const region = resourceIn(data, "data.coder_parameter.region");
    assert.deepEqual([region.value, region.form_type], ["eu", "radio"]);

    const preset = resourceIn(data, "data.coder_workspace_preset.big");
    assert.deepEqual(
      [preset.id, preset.name, preset.default, preset.description, preset.parameters],
      ["big", "big", true, "Big machines", { size: "8", region: "us" }],
    );
    assert.deepEqual(preset.prebuilds, [
      {
        instances: 2,
        expiration_policy: [{ ttl: 86400 }],
        scheduling: [{ timezone: "Europe/Berlin", schedule: [{ cron: "* 8-18 * * 1-5", instances: 3 }] }],
      },
    ]);

    const agent = changeOf(plan, "coder_agent.main[0]");
    assert.deepEqual(agent.actions, ["create"]);
    for (const name of ["id", "token", "init_script", "display_apps"]) {
      assert.equal(agent.after_unknown[name], true, `${name} is known only after apply`);
    }
    assert.deepEqual(
      [agent.after?.auth, agent.after?.connection_timeout, agent.after?.env, agent.after?.api_key_scope],
      ["token", 120, { SIZE: "4" }, "all"],
    );
  });

  test("GIVEN that plan WHEN applied THEN the agent has a token, the substituted init script and default display apps", async () => {
    const env = build({ CODER_WORKSPACE_OWNER: "prebuilds", CODER_WORKSPACE_IS_PREBUILD: "true" });
    await terraformOk(dir, ["apply", "-input=false", "-no-color", "-auto-approve", "tfplan"], {
      cliConfig,
      env,
    });
    const state = (await show(dir, [])).values?.root_module?.resources;
    const agent = resourceIn(state, "coder_agent.main[0]");
    assert.match(String(agent.id), uuid);
    assert.match(String(agent.token), uuid);
    // ${ACCESS_URL} is the URL's origin plus "/", ${AUTH_TYPE} the agent's auth.
    assert.equal(
      agent.init_script,
      "#!/bin/sh\ncurl -fsSL https://coder.example.com:8443/bin/agent | CODER_AUTH=token sh\n",
    );
    assert.deepEqual(agent.display_apps, [
      {
        vscode: true,
        vscode_insiders: false,
        web_terminal: true,
        ssh_helper: true,
        port_forwarding_helper: true,
      },
    ]);
    assert.deepEqual(resourceIn(state, "terraform_data.machine[0]").output, {
      token: agent.token,
      init: agent.init_script,
    });
    assert.equal(await readFile(join(dir, "local-exec.out"), "utf8"), "prebuilds\ntrue\n4\n");
    prebuildToken = String(agent.token);
  });

  test("GIVEN the prebuild WHEN claimed with its running agent's token THEN nothing is replaced and the token is kept", async () => {
    const env = build({
      CODER_WORKSPACE_OWNER: "alice",
      CODER_WORKSPACE_IS_PREBUILD_CLAIM: "true",
      [`CODER_RUNNING_WORKSPACE_AGENT_TOKEN_${sha256("")}`]: prebuildToken,
    });
    await terraformOk(dir, ["plan", "-input=false", "-no-color", "-out=tfplan"], { cliConfig, env });
    const plan = await show(dir, ["tfplan"]);
    const workspace = resourceIn(plan.prior_state?.values?.root_module?.resources, "data.coder_workspace.me");
    assert.deepEqual(
      [workspace.is_prebuild, workspace.is_prebuild_claim, workspace.prebuild_count],
      [false, true, 0],
    );
    assert.deepEqual(changeOf(plan, "coder_agent.main[0]").actions, ["no-op"]);
    assert.deepEqual(changeOf(plan, "terraform_data.machine[0]").actions, ["no-op"]);

    await terraformOk(dir, ["apply", "-input=false", "-no-color", "-auto-approve", "tfplan"], {
      cliConfig,
      env,
    });
    const agent = resourceIn((await show(dir, [])).values?.root_module?.resources, "coder_agent.main[0]");
    assert.equal(agent.token, prebuildToken);
  });

  test("GIVEN a ForceNew attribute changes (arch) WHEN planned THEN the agent is replaced and its computed values are unknown again", async () => {
    await writeFile(join(dir, "main.tf"), coderTemplate("arm64")["main.tf"]!);
    const env = build({ CODER_WORKSPACE_OWNER: "alice" });
    await terraformOk(dir, ["plan", "-input=false", "-no-color", "-out=tfplan"], { cliConfig, env });
    const agent = changeOf(await show(dir, ["tfplan"]), "coder_agent.main[0]");
    assert.deepEqual(agent.actions, ["delete", "create"]);
    assert.ok(
      agent.replace_paths?.some((p) => JSON.stringify(p) === '["arch"]'),
      JSON.stringify(agent.replace_paths),
    );
    assert.equal(agent.after_unknown.token, true);
    assert.equal(agent.after_unknown.id, true);
  });

  test("GIVEN the workspace WHEN destroyed THEN no resources are left in the state", async () => {
    const env = build({ CODER_WORKSPACE_OWNER: "alice", CODER_WORKSPACE_TRANSITION: "destroy" });
    await terraformOk(dir, ["destroy", "-input=false", "-no-color", "-auto-approve"], { cliConfig, env });
    const state = await show(dir, []);
    assert.deepEqual(
      (state.values?.root_module?.resources ?? []).filter((r) => !r.address.startsWith("data.")),
      [],
    );
  });
});

describe("coder test provider under terraform: diagnostics", { skip, timeout: 90_000 }, () => {
  const agentOnly = (os: string) => ({
    "main.tf": `terraform {
  required_providers {
    coder = { source = "coder/coder" }
  }
}
resource "coder_agent" "main" {
  os   = "${os}"
  arch = "amd64"
}
`,
  });

  test("GIVEN an agent with an unsupported os WHEN validated THEN terraform reports the provider's message at the attribute", async () => {
    const dir = await sessionDir(temp, agentOnly("plan9"));
    await terraformOk(dir, ["init", "-input=false", "-no-color"], { cliConfig });
    const r = await terraform(dir, ["validate", "-json", "-no-color"], { cliConfig });
    assert.equal(r.code, 1);
    const out = JSON.parse(r.stdout) as {
      diagnostics: { severity: string; summary: string; range?: { start: { line: number } } }[];
    };
    assert.deepEqual(
      out.diagnostics.map((d) => [d.severity, d.summary, d.range?.start.line]),
      [["error", 'expected os to be one of ["linux" "darwin" "windows"], got plan9', 7]],
    );
  });

  test("GIVEN a parameter value outside its validation WHEN planned THEN the plan fails with the provider's error", async () => {
    const dir = await sessionDir(temp, coderTemplate());
    await terraformOk(dir, ["init", "-input=false", "-no-color"], { cliConfig });
    const r = await terraform(dir, ["plan", "-input=false", "-no-color"], {
      cliConfig,
      env: build({ [`CODER_PARAMETER_${sha256("size")}`]: "9" }),
    });
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /Invalid parameter value according to 'validation' block/);
    assert.match(r.stderr, /value 9 is more than the maximum 8/);
    assert.match(r.stderr, /data\.coder_parameter\.size/);
  });
});
