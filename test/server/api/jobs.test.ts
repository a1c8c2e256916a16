// Jobs over the real HTTP API: logs as JSON and as a live SSE stream that ends with the job, resuming with
// Last-Event-ID, cancelling a build whose apply never completes, and the daemon letting go of a job the
// reaper failed under it.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { JobLogT, JobT, WorkspaceT } from "../../../src/contract/api.js";
import { HUNG_ERROR_CODE, reapHungJobs } from "../../../src/server/jobs/reaper.js";
import { agentTemplate, hangingTemplate } from "./fixtures.js";
import {
  type Client,
  client,
  createMember,
  eventually,
  pushTemplate,
  readSse,
  startTestServer,
  type TestServer,
  waitForJob,
} from "./support.js";

describe("jobs API", { timeout: 120_000 }, () => {
  let server: TestServer;
  let admin: Client;

  before(async () => {
    server = await startTestServer();
    admin = client(server.url, server.adminToken);
    await pushTemplate(admin, "logs", agentTemplate());
    await pushTemplate(admin, "hang", hangingTemplate());
  });
  after(() => server.close());

  test("GIVEN a finished build WHEN its logs are read as JSON THEN they come in id order with the echo lines", async () => {
    const ws = await admin.post<WorkspaceT>("/api/v1/workspaces", { name: "logged", template: "logs" });
    const job = await waitForJob(admin, ws.body.latestBuild.jobId);
    assert.equal(job.status, "succeeded", `build failed: ${job.error}`);

    const logs = await admin.get<JobLogT[]>(`/api/v1/jobs/${job.id}/logs`);
    assert.equal(logs.status, 200);
    const outputs = logs.body.map((l) => l.output);
    assert.ok(outputs.includes("creating dev"), outputs.join(" | "));
    assert.ok(outputs.includes("dev is ready"));
    const ids = logs.body.map((l) => l.id);
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => a - b),
    );

    const cut = ids[1] as number;
    const later = await admin.get<JobLogT[]>(`/api/v1/jobs/${job.id}/logs?after=${cut}`);
    assert.deepEqual(
      later.body.map((l) => l.id),
      ids.filter((id) => id > cut),
    );
  });

  test("GIVEN a finished build WHEN its logs are followed over SSE THEN the stored logs come, then `end`, then the stream closes", async () => {
    const ws = await admin.post<WorkspaceT>("/api/v1/workspaces", {
      name: "streamed-done",
      template: "logs",
    });
    const job = await waitForJob(admin, ws.body.latestBuild.jobId);
    const stored = (await admin.get<JobLogT[]>(`/api/v1/jobs/${job.id}/logs`)).body;

    const viaFollow = await readSse(server.url, `/api/v1/jobs/${job.id}/logs?follow=true`, server.adminToken);
    const viaAccept = await readSse(server.url, `/api/v1/jobs/${job.id}/logs`, server.adminToken, {
      accept: "text/event-stream",
    });
    for (const stream of [viaFollow, viaAccept]) {
      assert.equal(stream.status, 200);
      assert.match(stream.contentType, /^text\/event-stream/);
      const logEvents = stream.events.filter((e) => e.event === "log");
      assert.deepEqual(
        logEvents.map((e) => Number(e.id)),
        stored.map((l) => l.id),
      );
      assert.deepEqual(JSON.parse(logEvents[0]?.data ?? "null"), stored[0]);
      const last = stream.events.at(-1);
      assert.equal(last?.event, "end");
      assert.equal((JSON.parse(last?.data ?? "{}") as JobT).status, "succeeded");
    }

    const resumeFrom = stored[1]?.id as number;
    const resumed = await readSse(
      server.url,
      `/api/v1/jobs/${job.id}/logs?follow=true&after=0`,
      server.adminToken,
      {
        "last-event-id": String(resumeFrom),
      },
    );
    assert.deepEqual(
      resumed.events.filter((e) => e.event === "log").map((e) => Number(e.id)),
      stored.filter((l) => l.id > resumeFrom).map((l) => l.id),
      "Last-Event-ID wins over ?after=",
    );
  });

  test("GIVEN a build whose apply never completes WHEN it is followed and then cancelled THEN the stream ends with `end` canceled", async () => {
    const ws = await admin.post<WorkspaceT>("/api/v1/workspaces", { name: "stuck", template: "hang" });
    const jobId = ws.body.latestBuild.jobId;
    // GIVEN the build is running (its apply is waiting): the log line echo streams before waiting is stored.
    await eventually("the apply to start", async () => {
      const logs = (await admin.get<JobLogT[]>(`/api/v1/jobs/${jobId}/logs`)).body;
      return logs.some((l) => l.output === "applying forever") ? true : undefined;
    });
    const stream = readSse(server.url, `/api/v1/jobs/${jobId}/logs?follow=true`, server.adminToken);

    const canceled = await admin.post<JobT>(`/api/v1/jobs/${jobId}/cancel`);
    assert.equal(canceled.status, 202, JSON.stringify(canceled.body));
    assert.ok(["canceling", "canceled"].includes(canceled.body.status), canceled.body.status);

    const { events } = await stream;
    const end = events.at(-1);
    assert.equal(end?.event, "end");
    const final = JSON.parse(end?.data ?? "{}") as JobT;
    // store/job-status.ts (as in Coder): a running job that was cancelled and then reported failed by its
    // daemon (the provisioner's Complete says "canceled") ends `failed` with canceledAt set.
    assert.notEqual(final.canceledAt, null);
    assert.ok(
      final.status === "canceled" || (final.status === "failed" && /cancel/.test(final.error ?? "")),
      `${final.status}: ${final.error}`,
    );
    assert.ok(events.some((e) => e.event === "log" && e.data.includes("applying forever")));

    const again = await admin.post<{ message: string }>(`/api/v1/jobs/${jobId}/cancel`);
    assert.equal(again.status, 409);
    assert.match(again.body.message, /ended/);
    const shown = await admin.get<WorkspaceT>(`/api/v1/workspaces/${ws.body.id}`);
    assert.equal(shown.body.latestBuild.status, final.status);
  });

  test("GIVEN a build whose apply never completes WHEN the reaper fails it under its daemon THEN the daemon cancels it, reports nothing and takes the next job", async () => {
    const ws = await admin.post<WorkspaceT>("/api/v1/workspaces", { name: "reaped", template: "hang" });
    const jobId = ws.body.latestBuild.jobId;
    await eventually("the apply to start", async () => {
      const logs = (await admin.get<JobLogT[]>(`/api/v1/jobs/${jobId}/logs`)).body;
      return logs.some((l) => l.output === "applying forever") ? true : undefined;
    });

    // WHEN the reaper runs as if the daemon had been silent for longer than the timeout (it was not: its
    // heartbeats are real, the reaper's "now" is a minute ahead)
    const reaped = await reapHungJobs(server.server.store, new Date(Date.now() + 60_000), {
      runningTimeoutMs: 30_000,
    });
    assert.deepEqual(
      reaped.map((r) => r.id),
      [jobId],
    );

    // THEN the only daemon is free again: its next heartbeat was answered "already completed", it canceled
    // the apply (which waits for Cancel) instead of keeping at it, and it builds the next workspace
    const next = await admin.post<WorkspaceT>("/api/v1/workspaces", { name: "after-reap", template: "logs" });
    assert.equal((await waitForJob(admin, next.body.latestBuild.jobId)).status, "succeeded");
    // AND the reaper's verdict stands: the daemon sent no outcome (nor logs) for the job it lost
    const job = (await admin.get<JobT>(`/api/v1/jobs/${jobId}`)).body;
    assert.equal(job.status, "failed");
    assert.equal(job.errorCode, HUNG_ERROR_CODE);
    const logs = (await admin.get<JobLogT[]>(`/api/v1/jobs/${jobId}/logs`)).body;
    assert.match(logs.at(-1)?.output ?? "", /^job hung/, "the reaper's line is the last one");
  });

  test("GIVEN a member WHEN cancelling a template import THEN 403; reading it is allowed", async () => {
    const { api } = await createMember(admin, server.url, "max");
    const upload = await admin.upload<{ hash: string }>(hangingTemplate());
    const version = await admin.post<{ job: JobT }>("/api/v1/templates/hang/versions", {
      fileHash: upload.body.hash,
      provisioner: "echo",
    });
    const jobId = version.body.job.id;
    assert.equal((await api.get(`/api/v1/jobs/${jobId}`)).status, 200);
    assert.equal((await api.post(`/api/v1/jobs/${jobId}/cancel`)).status, 403);
    await waitForJob(admin, jobId);
  });

  test("GIVEN a malformed Last-Event-ID THEN 400", async () => {
    const ws = (await admin.get<WorkspaceT[]>("/api/v1/workspaces")).body[0] as WorkspaceT;
    const answer = await admin.get<{ field?: string }>(`/api/v1/jobs/${ws.latestBuild.jobId}/logs`, {
      "last-event-id": "yesterday",
    });
    assert.equal(answer.status, 400);
    assert.equal(answer.body.field, "Last-Event-ID");
  });
});
