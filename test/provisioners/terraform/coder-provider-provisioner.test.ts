// prewarm's own terraform provisioner (src/provisioners/terraform) driving real terraform with the test
// coder provider from a filesystem mirror (TF_CLI_CONFIG_FILE through the operator's TF_* settings):
// Parse, then Plan and Apply of a prebuild and of its claim, checking what comes out — parameters, presets
// with their prebuild settings, the agent on its machine with apps, scripts and metadata, the agent token
// kept across the claim, and the init script the provider renders from prewarm's own bootstrap scripts.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { agentScriptEnv, renderInitScript } from "../../../src/agent/bootstrap.js";
import {
  ApplyRequestSchema,
  AppSharingLevel,
  MetadataSchema,
  ParameterFormType,
  ParseRequestSchema,
  PlanRequestSchema,
  PrebuiltWorkspaceBuildStage,
  type Resource,
  WorkspaceTransition,
} from "../../../src/gen/provisioner/provisioner_pb.js";
import { createTerraformProvisioner } from "../../../src/provisioners/terraform/index.js";
import { skipUnless } from "../../support/requirements.js";
import { coderTemplate, installCoderProvider } from "./coder-provider-fixtures.js";
import {
  recordingSession,
  sessionDir,
  TempDirs,
  terraformAvailable,
  terraformMissing,
} from "./runtime-fixtures.js";

const temp = new TempDirs();
after(() => temp.cleanup());

const skip = skipUnless(terraformAvailable, terraformMissing);
const never = new AbortController().signal;
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const serverUrl = "https://prewarm.example.com:7443/";

/** The shared template plus what Parse reads (a variable, workspace tags) and agent apps/scripts/metadata. */
const template = {
  ...coderTemplate(),
  "extra.tf": `variable "image" {
  type        = string
  default     = "ubuntu"
  description = "Base image"
}

data "coder_workspace_tags" "tags" {
  tags = {
    region = data.coder_parameter.region.value
    team   = "infra"
  }
}

resource "coder_app" "web" {
  count        = data.coder_workspace.me.start_count
  agent_id     = coder_agent.main[0].id
  slug         = "web"
  display_name = "Web"
  url          = "http://localhost:8080"
  share        = "authenticated"
}

resource "coder_script" "hello" {
  count        = data.coder_workspace.me.start_count
  agent_id     = coder_agent.main[0].id
  display_name = "Hello"
  script       = "echo hello"
  run_on_start = true
}

resource "coder_metadata" "machine" {
  count       = data.coder_workspace.me.start_count
  resource_id = terraform_data.machine[0].id
  item {
    key   = "image"
    value = var.image
  }
}
`,
};

const metadata = (
  stage: PrebuiltWorkspaceBuildStage,
  owner: string,
  tokens: { agentId: string; token: string }[] = [],
) =>
  create(MetadataSchema, {
    coderUrl: serverUrl,
    workspaceTransition: WorkspaceTransition.START,
    workspaceName: "dev",
    workspaceId: "6e8c1a44-8f2e-4f59-b7a2-8f1f2b8d0a11",
    workspaceOwner: owner,
    workspaceOwnerId: "0d7a4f0b-2a5c-4f5e-9c43-2b1e9f6f3a22",
    workspaceOwnerEmail: `${owner}@example.com`,
    templateId: "3c1f6a0e-5b9d-4c8e-a2f1-7d6e5c4b3a33",
    templateName: "docker",
    templateVersion: "v1",
    workspaceBuildId: "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c44",
    prebuiltWorkspaceBuildStage: stage,
    runningAgentAuthTokens: tokens,
  });

function machine(resources: readonly Resource[]): Resource {
  const r = resources.find((x) => x.type === "terraform_data" && x.name === "machine");
  assert.ok(r, JSON.stringify(resources.map((x) => `${x.type}.${x.name}`)));
  return r;
}

interface StateFile {
  resources: { type: string; instances: { attributes: Record<string, unknown> }[] }[];
}

describe("terraform provisioner + test coder provider (real terraform)", { skip, timeout: 90_000 }, () => {
  let provisioner: ReturnType<typeof createTerraformProvisioner>;
  let dir = "";
  let prebuildState: Uint8Array = new Uint8Array();
  let prebuildToken = "";
  const scripts = agentScriptEnv(serverUrl);

  before(async () => {
    if (skip) return;
    const cliConfig = await installCoderProvider(await temp.make("coder-provider"));
    provisioner = createTerraformProvisioner({
      extraEnv: { TF_CLI_CONFIG_FILE: cliConfig, TF_IN_AUTOMATION: "1" },
      agentScriptEnv: scripts,
      processEnv: { PATH: process.env.PATH, HOME: process.env.HOME },
    });
    dir = await sessionDir(temp, template);
  });

  test("GIVEN the template WHEN parsed THEN its variable and workspace tags come out", async () => {
    const parsed = await provisioner.parse(recordingSession(dir), create(ParseRequestSchema), never);
    assert.equal(parsed.error, "");
    assert.deepEqual(
      parsed.templateVariables.map((v) => [v.name, v.type, v.defaultValue, v.required, v.description]),
      [["image", "string", "ubuntu", false, "Base image"]],
    );
    assert.deepEqual(parsed.workspaceTags, { region: "data.coder_parameter.region.value", team: '"infra"' });
  });

  test("GIVEN a prebuild (stage CREATE) WHEN planned THEN parameters, presets and the agent on its machine come out", async () => {
    const session = recordingSession(dir);
    const plan = await provisioner.plan(
      session,
      create(PlanRequestSchema, {
        metadata: metadata(PrebuiltWorkspaceBuildStage.CREATE, "prebuilds"),
        richParameterValues: [{ name: "size", value: "4" }],
        variableValues: [{ name: "image", value: "debian" }],
      }),
      never,
    );
    assert.equal(plan.error, "", session.text());

    assert.deepEqual(
      plan.parameters.map((p) => [p.name, p.type, p.defaultValue, p.mutable, p.required, p.formType]),
      [
        ["region", "string", "eu", false, false, ParameterFormType.RADIO],
        ["size", "number", "2", true, false, ParameterFormType.INPUT],
      ],
    );
    const [region, size] = plan.parameters;
    assert.deepEqual(
      region!.options.map((o) => [o.name, o.value]),
      [
        ["Europe", "eu"],
        ["United States", "us"],
      ],
    );
    assert.deepEqual(
      [size!.displayName, size!.order, size!.validationMin, size!.validationMax],
      ["Size", 1, 1, 8],
    );

    assert.equal(plan.presets.length, 1);
    const preset = plan.presets[0]!;
    assert.deepEqual(
      [preset.name, preset.default, preset.description, preset.parameters.map((p) => [p.name, p.value])],
      [
        "big",
        true,
        "Big machines",
        [
          ["region", "us"],
          ["size", "8"],
        ],
      ],
    );
    assert.equal(preset.prebuild?.instances, 2);
    assert.equal(preset.prebuild?.expirationPolicy?.ttl, 86400);
    assert.equal(preset.prebuild?.scheduling?.timezone, "Europe/Berlin");
    assert.deepEqual(
      preset.prebuild?.scheduling?.schedule.map((s) => [s.cron, s.instances]),
      [["* 8-18 * * 1-5", 3]],
    );

    assert.deepEqual(
      plan.resources.map((r) => `${r.type}.${r.name}`),
      ["terraform_data.machine"],
    );
    const m = machine(plan.resources);
    assert.deepEqual(
      m.metadata.map((i) => [i.key, i.value]),
      [["image", "debian"]],
    );
    assert.equal(m.agents.length, 1);
    const agent = m.agents[0]!;
    assert.deepEqual(
      [agent.name, agent.operatingSystem, agent.architecture, agent.directory, agent.env],
      ["main", "linux", "amd64", "/home/coder", { SIZE: "4" }],
    );
    assert.equal(agent.auth.case, "token");
    assert.equal(agent.auth.value, "", "the token is known only after apply");
    assert.deepEqual(
      agent.metadata.map((x) => [x.key, x.script, x.interval]),
      [["load", "uptime", 10n]],
    );
    assert.deepEqual(
      agent.apps.map((a) => [a.slug, a.displayName, a.url, a.sharingLevel]),
      [["web", "Web", "http://localhost:8080", AppSharingLevel.AUTHENTICATED]],
    );
    assert.deepEqual(
      agent.scripts.map((s) => [s.displayName, s.script, s.runOnStart]),
      [["Hello", "echo hello", true]],
    );
    assert.deepEqual(plan.resourceReplacements, []);
  });

  test("GIVEN that plan WHEN applied THEN the agent has its token and the init script rendered from prewarm's bootstrap", async () => {
    const session = recordingSession(dir);
    const applied = await provisioner.apply(
      session,
      create(ApplyRequestSchema, { metadata: metadata(PrebuiltWorkspaceBuildStage.CREATE, "prebuilds") }),
      never,
    );
    assert.equal(applied.error, "", session.text());
    const agent = machine(applied.resources).agents[0]!;
    assert.equal(agent.auth.case, "token");
    assert.match(String(agent.auth.value), uuid);
    assert.match(agent.id, uuid);
    assert.deepEqual(
      agent.apps.map((a) => a.slug),
      ["web"],
    );

    const state = JSON.parse(new TextDecoder().decode(applied.state)) as StateFile;
    const attributes = state.resources.find((r) => r.type === "coder_agent")!.instances[0]!.attributes;
    assert.equal(
      attributes.init_script,
      renderInitScript(scripts.CODER_AGENT_SCRIPT_linux_amd64!, serverUrl),
    );
    // The local-exec saw the prebuild's data: owner, is_prebuild, the parameter value.
    assert.equal(await readFile(join(dir, "local-exec.out"), "utf8"), "prebuilds\ntrue\n4\n");
    prebuildState = applied.state;
    prebuildToken = String(agent.auth.value);
  });

  test("GIVEN the prebuild WHEN claimed (stage CLAIM, running agent token) THEN nothing is replaced and the agent keeps its token", async () => {
    const claimDir = await sessionDir(temp, template);
    const session = recordingSession(claimDir, prebuildState);
    const md = metadata(PrebuiltWorkspaceBuildStage.CLAIM, "alice", [{ agentId: "", token: prebuildToken }]);
    const plan = await provisioner.plan(
      session,
      create(PlanRequestSchema, {
        metadata: md,
        richParameterValues: [{ name: "size", value: "4" }],
        variableValues: [{ name: "image", value: "debian" }],
      }),
      never,
    );
    assert.equal(plan.error, "", session.text());
    assert.deepEqual(plan.resourceReplacements, []);
    const applied = await provisioner.apply(session, create(ApplyRequestSchema, { metadata: md }), never);
    assert.equal(applied.error, "", session.text());
    assert.equal(machine(applied.resources).agents[0]!.auth.value, prebuildToken);
  });
});
