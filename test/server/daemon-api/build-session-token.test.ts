// The owner's session token a start build hands its provisioner (Metadata.workspace_owner_session_token):
// minted when a daemon acquires the job, a working API token of the owner while the build runs, revoked when
// the job ends — completed, failed by the daemon, or failed by the hung-job reaper — and never minted for a
// stop build. The test plays the daemon over the real DaemonService; its builds are routed to it by a
// workspace tag, so the server's own (untagged) daemon only imports.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { JobT, WorkspaceT } from "../../../src/contract/api.js";
import type { AcquiredJob } from "../../../src/gen/prewarm/daemon/v1/daemon_pb.js";
import type { DaemonClient } from "../../../src/provisionerd/api.js";
import { reapHungJobs } from "../../../src/server/jobs/reaper.js";
import { buildSessionTokenName } from "../../../src/server/store/users.js";
import { type Client, call, type TestServer, waitForJob } from "../api/support.js";
import { type ManualLane, startManualLane } from "./manual-lane.js";

const PSK = "session-token-test-psk";

describe("build session tokens", { timeout: 120_000 }, () => {
  let server: TestServer;
  let admin: Client;
  let daemon: DaemonClient;

  let acquireNext: ManualLane["acquire"];

  before(async () => {
    ({ server, admin, daemon, acquire: acquireNext } = await startManualLane(PSK));
  });
  after(() => server.close());

  /** Acquires the next lane=manual job as the test's daemon. */
  const acquire = async (): Promise<{ job: AcquiredJob; daemonId: string }> => {
    const answer = await acquireNext();
    return { job: answer.job, daemonId: answer.daemonId };
  };
  const metadataOf = (job: AcquiredJob) => {
    assert.equal(job.type.case, "workspaceBuild");
    return job.type.value.metadata!;
  };
  const whoIs = async (token: string) =>
    call<{ username: string }>(server.url, "GET", "/api/v1/users/me", { token });
  const storedTokens = (jobId: string) =>
    server.server.store.db
      .selectFrom("api_tokens")
      .select(["expires_at"])
      .where("name", "=", buildSessionTokenName(jobId))
      .execute();

  test("GIVEN a start build WHEN a daemon acquires it THEN its Metadata carries a working token of the owner, revoked once the job completes", async () => {
    // GIVEN a workspace created by the admin
    const ws = await admin.post<WorkspaceT>("/api/v1/workspaces", { name: "one", template: "manual" });
    assert.equal(ws.status, 201, JSON.stringify(ws.body));

    // WHEN the daemon acquires its build
    const { job, daemonId } = await acquire();
    const token = metadataOf(job).workspaceOwnerSessionToken;

    // THEN the token is the owner's, short-lived, and works while the build runs
    assert.notEqual(token, "");
    assert.equal(metadataOf(job).workspaceOwnerSshPublicKey, "", "prewarm has no SSH keys");
    const [stored] = await storedTokens(job.jobId);
    assert.ok(stored?.expires_at && Number(stored.expires_at) <= Date.now() + 3_600_000 + 1_000);
    const me = await whoIs(token);
    assert.equal(me.status, 200);
    assert.equal(me.body.username, "admin");

    // WHEN the job completes THEN the token is revoked
    await daemon.completeJob({
      daemonId,
      jobId: job.jobId,
      type: { case: "workspaceBuild", value: { state: new Uint8Array() } },
    });
    assert.equal((await waitForJob(admin, job.jobId)).status, "succeeded");
    assert.equal((await whoIs(token)).status, 401);
    assert.deepEqual(await storedTokens(job.jobId), []);

    // AND a stop build gets no token at all
    const stop = await admin.post<{ jobId: string }>(`/api/v1/workspaces/${ws.body.id}/builds`, {
      transition: "stop",
    });
    assert.equal(stop.status, 201, JSON.stringify(stop.body));
    const stopping = await acquire();
    assert.equal(metadataOf(stopping.job).workspaceOwnerSessionToken, "");
    await daemon.failJob({ daemonId: stopping.daemonId, jobId: stopping.job.jobId, error: "not needed" });
  });

  test("GIVEN a running build WHEN the daemon fails it THEN the token is revoked", async () => {
    await admin.post<WorkspaceT>("/api/v1/workspaces", { name: "two", template: "manual" });
    const { job, daemonId } = await acquire();
    const token = metadataOf(job).workspaceOwnerSessionToken;
    assert.equal((await whoIs(token)).status, 200);
    await daemon.failJob({ daemonId, jobId: job.jobId, error: "terraform apply: exit status 1" });
    assert.equal((await waitForJob(admin, job.jobId)).status, "failed");
    assert.equal((await whoIs(token)).status, 401);
  });

  test("GIVEN a running build whose daemon went silent WHEN the reaper fails it THEN the token is revoked", async () => {
    await admin.post<WorkspaceT>("/api/v1/workspaces", { name: "three", template: "manual" });
    const { job } = await acquire();
    const token = metadataOf(job).workspaceOwnerSessionToken;
    assert.equal((await whoIs(token)).status, 200);
    const reaped = await reapHungJobs(server.server.store, new Date(Date.now() + 60_000), {
      runningTimeoutMs: 1_000,
    });
    assert.ok(
      reaped.some((r) => r.id === job.jobId),
      JSON.stringify(reaped),
    );
    assert.equal((await admin.get<JobT>(`/api/v1/jobs/${job.jobId}`)).body.status, "failed");
    assert.equal((await whoIs(token)).status, 401);
  });
});
