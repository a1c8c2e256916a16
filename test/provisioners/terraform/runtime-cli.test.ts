// `prewarm provisioner serve --type terraform` as a real process, driven over gRPC by the SDK client. The
// daemon's own TF_* variables (here TF_CLI_CONFIG_FILE) reach terraform; its other variables do not.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { WorkspaceTransition } from "../../../src/gen/provisioner/provisioner_pb.js";
import { connectProvisioner, type ProvisionerClient } from "../../../src/provisionersdk/index.js";
import { startCli, stopChild } from "../../support/cli.js";
import { skipUnless } from "../../support/requirements.js";
import {
  archiveOf,
  emptyCliConfig,
  TempDirs,
  terraformAvailable,
  terraformLocalExample,
  terraformMissing,
} from "./runtime-fixtures.js";

const temp = new TempDirs();

describe("prewarm provisioner serve --type terraform", () => {
  let child: ChildProcess;
  let client: ProvisionerClient;

  before(async () => {
    const started = await startCli(
      ["provisioner", "serve", "--type", "terraform", "--listen", "127.0.0.1:0"],
      /listening on (\S+)/,
      { env: { TF_CLI_CONFIG_FILE: await emptyCliConfig(temp) } },
    );
    child = started.child;
    client = connectProvisioner(started.match[1]!);
  });
  after(async () => {
    client?.close();
    if (child) await stopChild(child, "SIGTERM");
    await temp.cleanup();
  });

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
