import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { acquireJob, heartbeatJob, JobStateError } from "../../../src/server/jobs/queue.js";
import {
  goDuration,
  HUNG_ERROR_CODE,
  PENDING_TIMEOUT_ERROR_CODE,
  type ReapedJob,
  reapHungJobs,
  startReaper,
} from "../../../src/server/jobs/reaper.js";
import { getJob, listJobLogs } from "../../../src/server/store/jobs.js";
import { forEachDialect } from "../../support/db.js";
import { FakeClock } from "../../support/fake-clock.js";
import { echoDaemon, queueFixture, T0 } from "./fixtures.js";

const MINUTE = 60_000;

describe("goDuration", () => {
  for (const [ms, text] of [
    [300_000, "5m0s"],
    [1_800_000, "30m0s"],
    [5_400_000, "1h30m0s"],
    [90_500, "1m30.5s"],
    [1_500, "1.5s"],
    [250, "250ms"],
  ] as const) {
    test(`${ms} ms → ${text}`, () => assert.equal(goDuration(ms), text));
  }
});

describe("hung-job reaper", () => {
  forEachDialect(
    "fails a running job after 5 minutes without a heartbeat, not a millisecond earlier",
    async ({ store }) => {
      // GIVEN a running job whose daemon last sent a heartbeat at T0 + 1m (the daemon was then killed)
      const clock = new FakeClock(T0);
      const f = await queueFixture(store);
      const job = await f.enqueue({ createdAt: clock.now() });
      await acquireJob(store, echoDaemon("d1", clock.now()));
      await clock.advance(MINUTE);
      await heartbeatJob(store.db, job.id, "d1", clock.now());

      // WHEN the reaper runs exactly 5 minutes after that heartbeat
      await clock.advance(5 * MINUTE);
      // THEN the job is left alone
      assert.deepEqual(await reapHungJobs(store, clock.now()), []);

      // WHEN it runs one millisecond later
      await clock.advance(1);
      const reaped = await reapHungJobs(store, clock.now());

      // THEN the job is failed with an error saying why, also as an ERROR log line
      assert.deepEqual(reaped, [
        { id: job.id, type: "workspace_build", kind: "hung", error: "job hung: no heartbeat for 5m0s" },
      ]);
      const stored = await getJob(store.db, job.id);
      assert.equal(stored?.status, "failed");
      assert.equal(stored?.errorCode, HUNG_ERROR_CODE);
      assert.deepEqual(stored?.completedAt, clock.now());
      const logs = await listJobLogs(store.db, job.id);
      assert.deepEqual(
        logs.map((l) => [l.level, l.output]),
        [["error", "job hung: no heartbeat for 5m0s"]],
      );
      // AND the daemon, should it come back, is told the job is over
      await assert.rejects(
        heartbeatJob(store.db, job.id, "d1", clock.now()),
        (err) => err instanceof JobStateError && err.kind === "completed",
      );
      // AND a second pass finds nothing more
      assert.deepEqual(await reapHungJobs(store, clock.now()), []);
    },
  );

  forEachDialect("fails a job pending for 30 minutes without a daemon", async ({ store }) => {
    // GIVEN a job for a provisioner type no daemon serves
    const clock = new FakeClock(T0);
    const f = await queueFixture(store);
    const job = await f.enqueue({ createdAt: clock.now(), provisioner: "nobody-runs-this" });

    await clock.advance(30 * MINUTE);
    assert.deepEqual(await reapHungJobs(store, clock.now()), []);
    await clock.advance(1);
    const reaped = await reapHungJobs(store, clock.now());

    assert.deepEqual(
      reaped.map((r) => [r.id, r.kind, r.error]),
      [[job.id, "pending", "job hung: pending for 30m0s without a daemon"]],
    );
    const stored = await getJob(store.db, job.id);
    assert.equal(stored?.status, "failed");
    assert.equal(stored?.errorCode, PENDING_TIMEOUT_ERROR_CODE);
    assert.deepEqual(
      stored?.startedAt,
      clock.now(),
      "a reaped pending job gets a start time so durations make sense",
    );
  });

  forEachDialect(
    "honours shortened timeouts and leaves healthy and finished jobs alone",
    async ({ store }) => {
      // GIVEN one hung running job, one running job with a fresh heartbeat, and one pending job
      const clock = new FakeClock(T0);
      const f = await queueFixture(store);
      const hung = await f.enqueue({ createdAt: clock.now() });
      const healthy = await f.enqueue({ createdAt: new Date(clock.now().getTime() + 1) });
      await acquireJob(store, echoDaemon("d-hung", clock.now()));
      await acquireJob(store, echoDaemon("d-ok", clock.now()));
      const waiting = await f.enqueue({ createdAt: clock.now() });

      // WHEN 3 s pass, with only the healthy daemon sending heartbeats, and the reaper uses 2 s / 10 s timeouts
      await clock.advance(1_500);
      await heartbeatJob(store.db, healthy.id, "d-ok", clock.now());
      await clock.advance(1_500);
      const reaped = await reapHungJobs(store, clock.now(), {
        runningTimeoutMs: 2_000,
        pendingTimeoutMs: 10_000,
      });

      // THEN only the hung job is reaped, with the shortened timeout in its message
      assert.deepEqual(
        reaped.map((r) => [r.id, r.error]),
        [[hung.id, "job hung: no heartbeat for 2s"]],
      );
      assert.equal((await getJob(store.db, healthy.id))?.status, "running");
      assert.equal((await getJob(store.db, waiting.id))?.status, "pending");
    },
  );

  forEachDialect(
    "GIVEN heartbeats could not be recorded until a moment (a start, a storage outage) THEN the timeouts count from it",
    async ({ store }) => {
      // GIVEN a running job last heard of at T0 and a pending one created at T0
      const clock = new FakeClock(T0);
      const f = await queueFixture(store);
      const running = await f.enqueue({ createdAt: clock.now() });
      await acquireJob(store, echoDaemon("d1", clock.now()));
      const pending = await f.enqueue({ createdAt: clock.now() });
      const options = { runningTimeoutMs: MINUTE, pendingTimeoutMs: 2 * MINUTE };

      // WHEN the database was away until T0 + 5m, and the reaper runs a minute after that
      const since = T0.getTime() + 5 * MINUTE;
      const at = (ms: number) => new Date(since + ms);
      // THEN neither is overdue yet: their silence is the outage's
      assert.deepEqual(await reapHungJobs(store, at(MINUTE), { ...options, heartbeatsSince: since }), []);
      // WHEN a timeout passes after it with no heartbeat THEN the running job is reaped, the pending one later
      const first = await reapHungJobs(store, at(MINUTE + 1), { ...options, heartbeatsSince: since });
      assert.deepEqual(
        first.map((r) => [r.id, r.kind]),
        [[running.id, "hung"]],
      );
      const second = await reapHungJobs(store, at(2 * MINUTE + 1), { ...options, heartbeatsSince: since });
      assert.deepEqual(
        second.map((r) => [r.id, r.kind]),
        [[pending.id, "pending"]],
      );
    },
  );

  forEachDialect(
    "startReaper: a pass runs on each interval of its clock, at that clock's now, counting from its start, until stopped",
    async ({ store }) => {
      // GIVEN a running job whose daemon went silent at T0, the reaper started then (1 min timeout, 30 s passes)
      const clock = new FakeClock(T0);
      const f = await queueFixture(store);
      const job = await f.enqueue({ createdAt: clock.now() });
      await acquireJob(store, echoDaemon("d1", clock.now()));
      const passes: ReapedJob[][] = [];
      let reapedOne: () => void = () => {};
      const reapedSignal = new Promise<void>((resolve) => {
        reapedOne = resolve;
      });
      const reaper = startReaper({
        store,
        clock,
        intervalMs: 30_000,
        runningTimeoutMs: MINUTE,
        onReaped: (reaped) => {
          passes.push(reaped);
          reapedOne();
        },
        onError: (err) => assert.fail(String(err)),
      });
      try {
        // WHEN the passes at 30 s and 60 s run, the job is not overdue yet (exactly a minute is not more)
        await clock.advance(60_000);
        assert.equal((await getJob(store.db, job.id))?.status, "running");
        // WHEN the pass at 90 s runs
        await clock.advance(30_000);
        await reapedSignal;

        // THEN that pass reaped the job at the clock's now
        assert.deepEqual(
          passes.map((p) => p.map((r) => r.id)),
          [[job.id]],
        );
        const stored = await getJob(store.db, job.id);
        assert.equal(stored?.status, "failed");
        assert.deepEqual(stored?.completedAt, clock.now());
      } finally {
        await reaper.stop();
      }
      // AND once stopped it has no timer left
      assert.equal(clock.pendingTimers, 0);
    },
  );
});
