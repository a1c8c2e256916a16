// The pool history time series: when a sample is recorded (pure rule, table-driven) and the recorder against a
// real store on both dialects — one row per pool per recording, throttled, pruned by retention.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { planRetention, resolveRetentionAges } from "../../src/contract/retention.js";
import { defaultReconcilerSettings } from "../../src/server/prebuilds/settings.js";
import { readCyclePlan } from "../../src/server/prebuilds/status.js";
import { prune } from "../../src/server/retention/prune.js";
import { type PoolSample, readPoolHistory } from "../../src/server/store/pool-history.js";
import { PoolHistoryRecorder, shouldRecord } from "../../src/server/web/pool-history.js";
import { HOUR, MINUTE, PoolFixture, SECOND, T0 } from "../server/prebuilds/pool-fixtures.js";
import { forEachDialect } from "../support/db.js";
import { FakeClock } from "../support/fake-clock.js";

const options = { minIntervalMs: 60 * SECOND, minChangeIntervalMs: 2 * SECOND };
const sample = (offsetMs: number, eligible = 1): PoolSample => ({
  at: new Date(T0.getTime() + offsetMs),
  desired: 2,
  running: eligible,
  eligible,
  starting: 0,
  expired: 0,
});

describe("shouldRecord", () => {
  test("GIVEN the last sample THEN a new one is recorded when due or changed (not too often)", () => {
    const table: Array<{ name: string; last?: PoolSample; next: PoolSample; record: boolean }> = [
      { name: "first sample", next: sample(0), record: true },
      { name: "unchanged, too soon", last: sample(0), next: sample(59 * SECOND), record: false },
      { name: "unchanged, interval reached", last: sample(0), next: sample(60 * SECOND), record: true },
      {
        name: "changed, after the change interval",
        last: sample(0),
        next: sample(2 * SECOND, 2),
        record: true,
      },
      {
        name: "changed, but within the change interval",
        last: sample(0),
        next: sample(1_999, 2),
        record: false,
      },
      { name: "clock went backwards", last: sample(0), next: sample(-5 * SECOND), record: true },
    ];
    for (const row of table) assert.equal(shouldRecord(row.last, row.next, options), row.record, row.name);
  });
});

describe("PoolHistoryRecorder", () => {
  forEachDialect(
    "GIVEN a pool WHEN cycles run THEN samples are throttled, and retention prunes them to its age",
    async ({ store }) => {
      const fx = await PoolFixture.create(store);
      const t = await fx.template("demo");
      const presetId = await fx.preset(t.versionId, { name: "dev", desiredInstances: 2 });
      const clock = new FakeClock(T0);
      const recorder = new PoolHistoryRecorder({ store, history: options });
      // What the reconciler's cycle hands the recorder: its plan of the current snapshot.
      const cycle = () =>
        readCyclePlan(store, clock.now(), { settings: defaultReconcilerSettings, maxInFlightJobs: 4 });
      const rows = async () => (await readPoolHistory(store.db, [presetId], new Date(0))).get(presetId) ?? [];

      // WHEN the first cycle records, THEN one row with the pool's counts
      assert.equal(await recorder.record(await cycle()), 1);
      assert.deepEqual(
        (await rows()).map((r) => [r.desired, r.running, r.eligible]),
        [[2, 0, 0]],
      );
      // WHEN a cycle runs again soon with nothing changed THEN nothing is written
      await clock.advance(10 * SECOND);
      assert.equal(await recorder.record(await cycle()), 0);
      // WHEN a prebuild becomes ready THEN the change is recorded
      await fx.prebuild(presetId, { createdAt: clock.now(), outcome: "succeeded" });
      await clock.advance(2 * SECOND);
      assert.equal(await recorder.record(await cycle()), 1);
      assert.deepEqual(
        (await rows()).map((r) => r.eligible),
        [0, 1],
      );
      // WHEN more than the retention (default 6h) passes and retention runs THEN old rows go, the new one stays
      await clock.advance(6 * HOUR + MINUTE);
      assert.equal(await recorder.record(await cycle()), 1);
      assert.equal((await rows()).length, 3);
      await prune(store, planRetention(resolveRetentionAges(), clock.now()));
      const left = await rows();
      assert.equal(left.length, 1);
      assert.equal(left[0]?.at.getTime(), clock.now().getTime());
    },
  );

  test("GIVEN a cycle that did not plan (not the leader, or failed) THEN the hook records nothing", async () => {
    let reads = 0;
    const store = {
      get db(): never {
        reads++;
        throw new Error("must not be read");
      },
    } as never;
    const recorder = new PoolHistoryRecorder({ store });
    for (const outcome of ["not_leader", "failed"] as const) {
      recorder.onCycle({ outcome } as never);
      await recorder.idle();
    }
    assert.equal(reads, 0);
  });
});
