// The last log lines a daemon sends with its outcome (CompleteJobRequest.logs, FailJobRequest.logs; the server
// says it takes them with AcquireJobResponse.outcome_takes_logs): stored before the outcome, in order after the
// lines of the job's UpdateJobs — and not at all when the outcome is refused. The test plays the daemon over
// the real DaemonService; its builds are routed to it by a workspace tag, so the server's own (untagged)
// daemon only imports.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import type { WorkspaceT } from "../../../src/contract/api.js";
import { type AcquireJobResponse, LogSource } from "../../../src/gen/prewarm/daemon/v1/daemon_pb.js";
import { LogLevel } from "../../../src/gen/provisioner/provisioner_pb.js";
import type { DaemonClient } from "../../../src/provisionerd/api.js";
import { listJobLogs } from "../../../src/server/store/jobs.js";
import { type Client, type TestServer, waitForJob } from "../api/support.js";
import { type ManualLane, startManualLane } from "./manual-lane.js";

const PSK = "outcome-logs-test-psk";

const line = (output: string, level = LogLevel.INFO) => ({
  source: LogSource.PROVISIONER,
  level,
  createdAtMs: BigInt(Date.now()),
  stage: "Starting workspace",
  output,
});

describe("an outcome's log lines", { timeout: 120_000 }, () => {
  let server: TestServer;
  let admin: Client;
  let daemon: DaemonClient;

  let acquire: ManualLane["acquire"];

  before(async () => {
    ({ server, admin, daemon, acquire } = await startManualLane(PSK));
  });
  after(() => server.close());

  /** Creates a workspace and acquires its build as the test's daemon. */
  const startBuild = async (name: string): Promise<AcquireJobResponse & { jobId: string }> => {
    const ws = await admin.post<WorkspaceT>("/api/v1/workspaces", { name, template: "manual" });
    assert.equal(ws.status, 201, JSON.stringify(ws.body));
    const answer = await acquire();
    return Object.assign(answer, { jobId: answer.job.jobId });
  };
  const outputs = async (jobId: string) =>
    (await listJobLogs(server.server.store.db, jobId)).map((l) => l.output);

  test("GIVEN a running build WHEN the daemon completes it with its last lines THEN they are stored after the earlier ones, before the job ends", async () => {
    const { jobId, daemonId, outcomeTakesLogs } = await startBuild("one");
    assert.equal(outcomeTakesLogs, true, "the server says it takes them");
    await daemon.updateJob({ daemonId, jobId, logs: [line("planned")] });

    await daemon.completeJob({
      daemonId,
      jobId,
      type: { case: "workspaceBuild", value: { state: new Uint8Array() } },
      logs: [line("creating dev"), line("")],
    });

    assert.equal((await waitForJob(admin, jobId)).status, "succeeded");
    assert.deepEqual(await outputs(jobId), ["planned", "creating dev", ""]);
  });

  test("GIVEN a running build WHEN the daemon fails it with its last lines THEN they are stored, the error's among them", async () => {
    const { jobId, daemonId } = await startBuild("two");

    await daemon.failJob({
      daemonId,
      jobId,
      error: "quota exceeded",
      logs: [line("creating dev"), line("quota exceeded", LogLevel.ERROR)],
    });

    assert.equal((await waitForJob(admin, jobId)).status, "failed");
    const logs = await listJobLogs(server.server.store.db, jobId);
    assert.deepEqual(
      logs.map((l) => [l.output, l.level]),
      [
        ["creating dev", "info"],
        ["quota exceeded", "error"],
      ],
    );
  });

  test("GIVEN a refused outcome (another daemon's job, or one already ended) THEN its lines are not stored", async () => {
    const { jobId, daemonId } = await startBuild("three");

    // WHEN another daemon reports the outcome
    await assert.rejects(
      daemon.completeJob({
        daemonId: "someone-else",
        jobId,
        type: { case: "workspaceBuild", value: { state: new Uint8Array() } },
        logs: [line("not mine")],
      }),
      (err: unknown) => err instanceof ConnectError && err.code === Code.FailedPrecondition,
    );
    assert.deepEqual(await outputs(jobId), []);

    // WHEN the holder ends it, then reports again
    await daemon.failJob({ daemonId, jobId, error: "boom" });
    await assert.rejects(
      daemon.failJob({ daemonId, jobId, error: "again", logs: [line("too late")] }),
      (err: unknown) => err instanceof ConnectError && err.code === Code.FailedPrecondition,
    );
    assert.deepEqual(await outputs(jobId), []);
  });
});
