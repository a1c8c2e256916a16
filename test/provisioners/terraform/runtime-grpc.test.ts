// The terraform provisioner served over real gRPC and driven by the SDK client, as a daemon would: the
// terraform-local example archived, extracted by the Session, parsed, planned and applied; then destroyed
// from its state in a new Session; and a Cancel sent over the wire during a long apply.
import assert from "node:assert/strict";
import { stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Log, WorkspaceTransition } from "../../../src/gen/provisioner/provisioner_pb.js";
import { createTerraformProvisioner } from "../../../src/provisioners/terraform/index.js";
import {
  connectProvisioner,
  type ProvisionerClient,
  type ProvisionerServer,
  serve,
} from "../../../src/provisionersdk/index.js";
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
const skip = skipUnless(terraformAvailable, terraformMissing);

const metadata = (workspaceTransition: WorkspaceTransition) => ({
  workspaceTransition,
  workspaceId: "grpc-ws",
  workspaceName: "grpc",
  workspaceOwner: "bob",
});

describe("terraform provisioner over gRPC", { skip }, () => {
  let server: ProvisionerServer;
  let client: ProvisionerClient;

  before(async () => {
    const provisioner = createTerraformProvisioner({
      extraEnv: { TF_CLI_CONFIG_FILE: await emptyCliConfig(temp) },
    });
    server = await serve(provisioner, { listen: "127.0.0.1:0", workDirectory: await temp.make("sessions") });
    client = connectProvisioner(server.address);
  });
  after(async () => {
    client?.close();
    await server?.close({ deadlineMs: 5_000 });
    await temp.cleanup();
  });

  test("GIVEN the terraform-local archive WHEN parsed, planned, applied and then destroyed from its state THEN the workspace directory comes and goes", {
    timeout: 90_000,
  }, async () => {
    const baseDir = await temp.make("workspaces");
    const archive = await archiveOf(terraformLocalExample);
    const variableValues = [{ name: "base_dir", value: baseDir }];

    const session = await client.openSession({ templateSourceArchive: archive });
    const parsed = await session.parse();
    assert.equal(parsed.error, "");
    assert.match(new TextDecoder().decode(parsed.readme), /^# terraform-local/);
    const plan = await session.plan({ metadata: metadata(WorkspaceTransition.START), variableValues });
    assert.equal(plan.error, "");
    const applied = await session.apply({ metadata: metadata(WorkspaceTransition.START) });
    assert.equal(applied.error, "");
    await session.close();
    assert.ok((await stat(join(baseDir, "grpc-ws", "WORKSPACE"))).isFile());

    const destroying = await client.openSession({ templateSourceArchive: archive, state: applied.state });
    const destroyPlan = await destroying.plan({
      metadata: metadata(WorkspaceTransition.DESTROY),
      variableValues,
    });
    assert.equal(destroyPlan.error, "");
    const destroyed = await destroying.apply({ metadata: metadata(WorkspaceTransition.DESTROY) });
    assert.equal(destroyed.error, "");
    await destroying.close();
    assert.equal(await stat(join(baseDir, "grpc-ws")).catch(() => undefined), undefined);
  });

  test("GIVEN a long apply WHEN Cancel is sent over the stream THEN the ApplyComplete still arrives, with an error", {
    timeout: 60_000,
  }, async () => {
    const dir = await temp.make("slow-template");
    await writeFile(
      join(dir, "main.tf"),
      `resource "terraform_data" "slow" {
  provisioner "local-exec" {
    command = "echo grpc-slow-started; sleep 57.3"
  }
}
`,
    );
    let started!: () => void;
    const startedLog = new Promise<void>((r) => {
      started = r;
    });
    const onLog = (log: Log) => {
      if (log.output.includes("grpc-slow-started")) started();
    };
    const session = await client.openSession({ templateSourceArchive: await archiveOf(dir) }, { onLog });
    assert.equal((await session.plan({ metadata: metadata(WorkspaceTransition.START) })).error, "");
    const applying = session.apply({ metadata: metadata(WorkspaceTransition.START) });
    await startedLog;
    session.cancel();
    const applied = await applying;
    assert.match(applied.error, /^terraform apply: exit status 1$/);
    await session.close();
  });
});
