// For tests that play a daemon over the real DaemonService: a server whose template "manual" routes its
// builds to lane=manual (a static coder_workspace_tags value), so only the test's daemon takes them and the
// server's own (untagged) daemon only imports.
import assert from "node:assert/strict";
import type { AcquireJobResponse } from "../../../src/gen/prewarm/daemon/v1/daemon_pb.js";
import { createDaemonClient, type DaemonClient } from "../../../src/provisionerd/api.js";
import { buildEchoArchive } from "../../../src/provisioners/echo/archive.js";
import { type Client, client, startTestServer, type TestServer, waitForJob } from "../api/support.js";

export interface ManualLane {
  server: TestServer;
  admin: Client;
  daemon: DaemonClient;
  /** Acquires the next lane=manual job as the test's daemon (fails when there is none). */
  acquire(): Promise<AcquireJobResponse & { job: NonNullable<AcquireJobResponse["job"]> }>;
}

/** Starts a server with the pre-shared key `psk` and pushes the lane=manual template "manual". */
export async function startManualLane(psk: string): Promise<ManualLane> {
  const server = await startTestServer({ provisionerPsk: psk });
  const admin = client(server.url, server.adminToken);
  const daemon = createDaemonClient(server.url, psk);
  const archive = buildEchoArchive({
    parse: [{ type: { case: "parse", value: { workspaceTags: { lane: '"manual"' } } } }],
  });
  const upload = await admin.upload<{ hash: string }>(archive);
  const created = await admin.post<{ job: { id: string } }>("/api/v1/templates/manual/versions", {
    fileHash: upload.body.hash,
    provisioner: "echo",
  });
  assert.equal((await waitForJob(admin, created.body.job.id)).status, "succeeded");
  const acquire = async () => {
    const answer = await daemon.acquireJob({
      daemon: { name: "manual", provisionerTypes: ["echo"], tags: { lane: "manual" }, version: "test" },
      waitMs: 10_000,
    });
    const job = answer.job;
    assert.ok(job, "no job to acquire");
    return Object.assign(answer, { job });
  };
  return { server, admin, daemon, acquire };
}
