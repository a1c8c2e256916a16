// The reconciler with a fake executor (records what it is asked to do) on real databases and the shared
// FakeClock (time and timers): pause, the hard limit (set once, resumable), validation failures, error
// isolation, the in-flight cap, the trigger debounce, the views agreeing with the executor, and leadership
// between two reconcilers on one database.
import assert from "node:assert/strict";
import { describe } from "node:test";
import type { DeleteReason } from "../../../src/planning/plan.js";
import { presetPlanToJson } from "../../../src/planning/snapshot-format.js";
import {
  invalidatePresets,
  requestReconcile,
  resumePreset,
  setPaused,
} from "../../../src/server/prebuilds/operations.js";
import {
  type CycleReport,
  type PrebuildExecutor,
  Reconciler,
  type ReconcilerOptions,
} from "../../../src/server/prebuilds/reconciler.js";
import { poolStatuses, readCyclePlan } from "../../../src/server/prebuilds/status.js";
import { updatePresetSettings } from "../../../src/server/store/preset-settings.js";
import { openStore } from "../../../src/server/store/store.js";
import { forEachDialect } from "../../support/db.js";
import { FakeClock } from "../../support/fake-clock.js";
import { at, HOUR, MINUTE, PoolFixture } from "./pool-fixtures.js";

const NOW = at(2 * HOUR);
/** The owner the operations are recorded as (the audit log; no user row is needed). */
const BY_OWNER = { actor: { id: "owner-id", username: "admin" }, now: NOW };

/** Records every call; per-preset behaviour can be overridden. */
class FakeExecutor implements PrebuildExecutor {
  creates: { presetId: string; count: number }[] = [];
  deletes: { workspaceId: string; reason: DeleteReason }[] = [];
  cancels: string[] = [];
  createBehaviour = new Map<string, (count: number) => Promise<{ created: number; invalid?: string }>>();
  deleteBehaviour = new Map<string, () => Promise<boolean>>();

  async createPrebuilds(presetId: string, count: number) {
    this.creates.push({ presetId, count });
    const behaviour = this.createBehaviour.get(presetId);
    return behaviour ? behaviour(count) : { created: count };
  }
  async deletePrebuild(workspaceId: string, reason: DeleteReason) {
    this.deletes.push({ workspaceId, reason });
    const behaviour = this.deleteBehaviour.get(workspaceId);
    return behaviour ? behaviour() : true;
  }
  async cancelPendingPrebuildJobs(presetId: string) {
    this.cancels.push(presetId);
    return 1;
  }
  rehearsals: { presetId: string; prebuildId: string }[] = [];
  async rehearseClaim(presetId: string, prebuildId: string) {
    this.rehearsals.push({ presetId, prebuildId });
    return true;
  }
  createdFor(presetId: string): number {
    return this.creates.filter((c) => c.presetId === presetId).reduce((n, c) => n + c.count, 0);
  }
}

/**
 * A FakeExecutor whose createPrebuilds blocks until `gate.release()`; `gate.inside` resolves once a call is
 * blocked. `rearm()` closes the gate again (with a fresh `inside`).
 */
function gatedExecutor(created: number) {
  const gate = { release: () => {}, entered: () => {}, open: Promise.resolve(), inside: Promise.resolve() };
  const rearm = () => {
    gate.open = new Promise<void>((resolve) => {
      gate.release = resolve;
    });
    gate.inside = new Promise<void>((resolve) => {
      gate.entered = resolve;
    });
  };
  rearm();
  const executor = new FakeExecutor();
  executor.createPrebuilds = async () => {
    gate.entered();
    await gate.open;
    return { created };
  };
  return { executor, gate, rearm };
}

/** The shared FakeClock, plus a hook called whenever a timer is set (lets a test wait for an asynchronous trigger). */
class HookedClock extends FakeClock {
  onSet: () => void = () => {};
  override setTimeout(...args: Parameters<FakeClock["setTimeout"]>): ReturnType<FakeClock["setTimeout"]> {
    const handle = super.setTimeout(...args);
    this.onSet();
    return handle;
  }
}

/** Advances the clock (firing what came due) and waits for any cycle that started to finish. */
async function step(clock: FakeClock, r: Reconciler, ms: number): Promise<void> {
  await clock.advance(ms);
  await r.whenIdle();
}

function reconciler(
  options: Partial<ReconcilerOptions> & Pick<ReconcilerOptions, "store" | "executor">,
): Reconciler {
  return new Reconciler({ maxInFlightJobs: 100, clock: new FakeClock(NOW), listen: false, ...options });
}

describe("reconciler", () => {
  forEachDialect(
    "executes the plan: expired and outdated deletions, cancels, creations",
    async ({ store }) => {
      // GIVEN an active preset with one expired prebuild and an old version's preset with a prebuild and a pending job
      const f = await PoolFixture.create(store);
      const t = await f.template("dev");
      const old = await f.preset(t.versionId, { name: "small" });
      const outdated = await f.prebuild(old, { createdAt: at(1) });
      await f.prebuild(old, { createdAt: at(2), outcome: "pending" });
      const v2 = await f.version(t.templateId, { activate: true });
      const current = await f.preset(v2, { name: "small", desiredInstances: 2, ttlSeconds: 3600 });
      const expired = await f.prebuild(current, { createdAt: at(0) });
      // (rollout replace: the old version's pool goes at once; the default, surge, is tested below)
      await updatePresetSettings(store.db, t.templateId, "small", { rollout: "replace" }, NOW);
      const executor = new FakeExecutor();

      // WHEN a cycle runs
      const report = await reconciler({ store, executor }).runCycle();

      // THEN
      assert.equal(report.outcome, "ran");
      assert.deepEqual(executor.cancels, [old]);
      assert.deepEqual(
        executor.deletes.sort((a, b) => a.reason.localeCompare(b.reason)),
        [
          { workspaceId: expired, reason: "expired" },
          { workspaceId: outdated, reason: "outdated" },
        ],
      );
      assert.deepEqual(executor.creates, [{ presetId: current, count: 2 }]);
      assert.equal(report.created, 2);
      assert.equal(report.deleted, 2);
      assert.equal(report.canceled, 1);
      assert.ok(report.queryCount > 0);
    },
  );

  forEachDialect("pause stops every action and resume restarts them", async ({ store }) => {
    const f = await PoolFixture.create(store);
    const t = await f.template("dev");
    const p = await f.preset(t.versionId, { name: "small", desiredInstances: 2 });
    const executor = new FakeExecutor();
    const r = reconciler({ store, executor });

    await setPaused(store, true, BY_OWNER);
    const paused = await r.runCycle();
    assert.equal(paused.outcome, "paused");
    assert.deepEqual(executor.creates, []);

    await setPaused(store, false, BY_OWNER);
    const resumed = await r.runCycle();
    assert.equal(resumed.outcome, "ran");
    assert.equal(executor.createdFor(p), 2);
  });

  forEachDialect(
    "the hard limit is set once, blocks creation, and resume-preset lifts it",
    async ({ store }) => {
      // GIVEN a preset whose last three creations failed
      const f = await PoolFixture.create(store);
      const t = await f.template("dev");
      const p = await f.preset(t.versionId, { name: "small", desiredInstances: 1 });
      for (let i = 0; i < 3; i++)
        await f.prebuild(p, { createdAt: at(i * MINUTE), outcome: "failed", endedAt: at(i * MINUTE + 1) });
      const executor = new FakeExecutor();
      const r = reconciler({ store, executor });
      const status = async () =>
        (await store.db.selectFrom("presets").select("status").where("id", "=", p).executeTakeFirstOrThrow())
          .status;
      const events = async () =>
        (
          await store.db
            .selectFrom("prebuild_events")
            .select("event_type")
            .where("preset_id", "=", p)
            .execute()
        ).map((e) => e.event_type);

      // WHEN two cycles run
      const first = await r.runCycle();
      const second = await r.runCycle();

      // THEN the preset was marked once, and nothing was created
      assert.deepEqual(first.hardLimited, [p]);
      assert.deepEqual(second.hardLimited, []);
      assert.equal(await status(), "hard_limited");
      assert.deepEqual(await events(), ["hard_limited"]);
      assert.deepEqual(executor.creates, []);

      // WHEN an admin resumes it THEN the next cycle creates again (the old failures no longer count)
      assert.equal(
        await resumePreset(store, p, { ...BY_OWNER, template: "dev", preset: "small" }),
        "hard_limited",
      );
      assert.equal(await status(), "healthy");
      const third = await r.runCycle();
      assert.deepEqual(third.hardLimited, []);
      assert.equal(executor.createdFor(p), 1);
    },
  );

  forEachDialect("an invalid creation marks the preset validation_failed once", async ({ store }) => {
    const f = await PoolFixture.create(store);
    const t = await f.template("dev");
    const p = await f.preset(t.versionId, { name: "small", desiredInstances: 2 });
    const executor = new FakeExecutor();
    executor.createBehaviour.set(p, async () => ({ created: 0, invalid: 'parameter "region": required' }));
    const r = reconciler({ store, executor });

    const first = await r.runCycle();
    assert.deepEqual(first.validationFailed, [p]);
    const second = await r.runCycle();
    assert.deepEqual(second.validationFailed, []);
    assert.equal(executor.creates.length, 1, "the second cycle is blocked");
    const preset = await store.db
      .selectFrom("presets")
      .select("status")
      .where("id", "=", p)
      .executeTakeFirstOrThrow();
    assert.equal(preset.status, "validation_failed");
  });

  forEachDialect("an error in one preset never stops the others", async ({ store }) => {
    // GIVEN two presets; creating for the first throws, and one of its deletions throws too
    const f = await PoolFixture.create(store);
    const t = await f.template("dev");
    const broken = await f.preset(t.versionId, { name: "broken", desiredInstances: 3, ttlSeconds: 3600 });
    const expiredA = await f.prebuild(broken, { createdAt: at(0) });
    const expiredB = await f.prebuild(broken, { createdAt: at(1) });
    const fine = await f.preset(t.versionId, { name: "fine", desiredInstances: 1 });
    const executor = new FakeExecutor();
    executor.createBehaviour.set(broken, async () => {
      throw new Error("database on fire");
    });
    executor.deleteBehaviour.set(expiredA, async () => {
      throw new Error("cannot delete");
    });

    // WHEN a cycle runs
    const report = await reconciler({ store, executor, concurrency: 1 }).runCycle();

    // THEN the other deletion and the other preset's creation still happened, and both errors are reported
    assert.equal(report.outcome, "ran");
    assert.deepEqual(
      executor.deletes.map((d) => d.workspaceId),
      [expiredA, expiredB],
    );
    assert.equal(report.deleted, 1);
    assert.equal(executor.createdFor(fine), 1);
    assert.deepEqual(
      report.errors.map((e) => [e.preset, e.action]),
      [
        ["broken", "delete"],
        ["broken", "create"],
      ],
    );
    assert.match(
      report.errors[1]?.message ?? "",
      /create for preset "broken" of template "dev": database on fire/,
    );
  });

  forEachDialect("a deletion refused because of a claim is counted, not an error", async ({ store }) => {
    const f = await PoolFixture.create(store);
    const t = await f.template("dev");
    const p = await f.preset(t.versionId, { name: "small", desiredInstances: 0 });
    const w = await f.prebuild(p, { createdAt: at(0) });
    const executor = new FakeExecutor();
    executor.deleteBehaviour.set(w, async () => false);
    const report = await reconciler({ store, executor }).runCycle();
    assert.equal(report.deleteSkipped, 1);
    assert.equal(report.deleted, 0);
    assert.deepEqual(report.errors, []);
  });

  forEachDialect("the in-flight cap defers creations, deletions first", async ({ store }) => {
    // GIVEN a cap of 4 with one prebuild job in flight, one extraneous prebuild to delete, and two presets
    // wanting 3 and 2 new prebuilds
    const f = await PoolFixture.create(store);
    const t = await f.template("dev");
    const a = await f.preset(t.versionId, { name: "a", desiredInstances: 4 });
    await f.prebuild(a, { createdAt: at(0), outcome: "running" });
    const b = await f.preset(t.versionId, { name: "b", desiredInstances: 2 });
    const c = await f.preset(t.versionId, { name: "c", desiredInstances: 0 });
    await f.prebuild(c, { createdAt: at(0) });
    const executor = new FakeExecutor();

    // WHEN a cycle runs
    const report = await reconciler({ store, executor, maxInFlightJobs: 4 }).runCycle();

    // THEN budget = 4 − 1 in flight − 1 deletion = 2, shared one each; the rest is deferred
    assert.equal(executor.deletes.length, 1);
    assert.equal(executor.createdFor(a), 1);
    assert.equal(executor.createdFor(b), 1);
    assert.equal(report.deferred, 3);
  });

  forEachDialect("triggers are debounced into one cycle; the interval keeps ticking", async ({ store }) => {
    const f = await PoolFixture.create(store);
    const t = await f.template("dev");
    await f.preset(t.versionId, { name: "small", desiredInstances: 0 });
    const clock = new HookedClock(NOW);
    const cycles: CycleReport[] = [];
    const r = reconciler({
      store,
      executor: new FakeExecutor(),
      clock,
      intervalMs: 15_000,
      debounceMs: 250,
      onCycle: (report) => cycles.push(report),
    });
    try {
      // GIVEN a started reconciler (its start trigger has run)
      r.start();
      await step(clock, r, 250);
      assert.equal(cycles.length, 1, "start runs a first cycle after the debounce");

      // WHEN five triggers arrive within 100 ms
      for (let i = 0; i < 5; i++) {
        r.trigger(`claim ${i}`);
        await step(clock, r, 20);
      }
      assert.equal(cycles.length, 1, "nothing runs before the debounce delay");
      await step(clock, r, 250);
      // THEN exactly one cycle ran for the burst, within the debounce delay of the first trigger
      assert.equal(cycles.length, 2);
      assert.ok(cycles[1] && cycles[1].startedAt.getTime() - NOW.getTime() <= 250 + 250);

      // WHEN the interval passes THEN a periodic cycle runs
      await step(clock, r, 15_000);
      assert.equal(cycles.length, 3);
    } finally {
      await r.stop();
    }
    assert.equal(clock.pendingTimers, 0, "stop clears every timer");
  });

  forEachDialect("a trigger during a directly run cycle gets a cycle of its own", async ({ store }) => {
    // GIVEN a started reconciler whose executor blocks inside a cycle until released
    const f = await PoolFixture.create(store);
    const t = await f.template("dev");
    await f.preset(t.versionId, { name: "small", desiredInstances: 1 });
    const clock = new HookedClock(NOW);
    const cycles: CycleReport[] = [];
    const { executor, gate, rearm } = gatedExecutor(0);
    const r = reconciler({
      store,
      executor,
      clock,
      debounceMs: 250,
      onCycle: (report) => cycles.push(report),
    });
    try {
      r.start();
      gate.release(); // the start cycle passes the gate
      await step(clock, r, 250);
      rearm();
      // WHEN a cycle is run directly (not from a timer) and a trigger arrives while it runs
      const direct = r.runCycle();
      await gate.inside;
      r.trigger("build finished");
      gate.release();
      await direct;
      // THEN the trigger is not lost: a cycle follows within the debounce delay (not at the next interval)
      const before = cycles.length;
      await step(clock, r, 250);
      assert.ok(cycles.length > before, "a coalesced trigger runs a cycle");
    } finally {
      gate.release();
      await r.stop();
    }
  });

  forEachDialect(
    "two reconcilers on one database never run a cycle at the same time",
    async ({ store, dialect, location }) => {
      // GIVEN a preset to fill and an executor that blocks until released
      const f = await PoolFixture.create(store);
      const t = await f.template("dev");
      await f.preset(t.versionId, { name: "small", desiredInstances: 1 });
      const { executor: blocking, gate } = gatedExecutor(1);
      // A second replica: its own Store on PostgreSQL, the same process (and Store) on SQLite.
      const otherStore = dialect === "postgres" ? await openStore(location) : store;
      try {
        const first = reconciler({ store, executor: blocking });
        const second = reconciler({ store: otherStore, executor: new FakeExecutor() });

        // WHEN the first is in the middle of its cycle and the second tries one
        const running = first.runCycle();
        await gate.inside;
        const meanwhile = await second.runCycle();

        // THEN the second skips; once the first is done, the second can lead
        assert.equal(meanwhile.outcome, "not_leader");
        gate.release();
        assert.equal((await running).outcome, "ran");
        assert.equal((await second.runCycle()).outcome, "ran");
      } finally {
        gate.release();
        if (otherStore !== store) await otherStore.close();
      }
    },
  );

  forEachDialect("a trigger published on pub/sub starts a cycle", async ({ store }) => {
    const clock = new HookedClock(NOW);
    const cycles: CycleReport[] = [];
    const r = reconciler({
      store,
      executor: new FakeExecutor(),
      clock,
      listen: true,
      onCycle: (c) => cycles.push(c),
    });
    try {
      r.start();
      await r.whenListening(); // a NOTIFY sent before LISTEN is acknowledged is lost
      await step(clock, r, 250); // the start cycle
      // WHEN another replica asks for a cycle
      const armed = new Promise<void>((resolve) => {
        clock.onSet = resolve;
      });
      await requestReconcile(store, "prebuild claimed");
      await armed;
      await step(clock, r, 250);
      // THEN this reconciler ran one
      assert.equal(cycles.length, 2);
    } finally {
      await r.stop();
    }
  });

  forEachDialect(
    "the status page, the live plan and the executor agree on a cycle that hard-limits and rations",
    async ({ store }) => {
      // GIVEN a cap of 3 with one prebuild job in flight; preset "failing" (healthy, but its last three
      // creations failed: this cycle hard-limits it), "big" wanting 3 more and "small" wanting 2
      const f = await PoolFixture.create(store);
      const t = await f.template("dev");
      const failing = await f.preset(t.versionId, { name: "failing", desiredInstances: 1 });
      for (let i = 0; i < 3; i++)
        await f.prebuild(failing, {
          createdAt: at(i * MINUTE),
          outcome: "failed",
          endedAt: at(i * MINUTE + 1),
        });
      const big = await f.preset(t.versionId, { name: "big", desiredInstances: 4 });
      await f.prebuild(big, { createdAt: at(HOUR), outcome: "running" });
      const small = await f.preset(t.versionId, { name: "small", desiredInstances: 2 });
      const executor = new FakeExecutor();
      const r = reconciler({ store, executor, maxInFlightJobs: 3 });

      // WHEN the views read the next cycle's plan (what GET /prebuilds/status and /prebuilds/plan serve)
      const seen = await readCyclePlan(store, NOW, r.planConfig);
      const status = new Map(poolStatuses(seen).map((p) => [p.preset, p.status]));
      const plan = new Map(seen.presets.map((p) => [p.preset.presetName, presetPlanToJson(p, seen).actions]));

      // THEN the status page already shows the hard limit the cycle will set
      assert.equal(status.get("failing"), "hard_limited");
      // AND the live plan shows the status change and the rationed creations: budget 3 − 1 in flight = 2
      assert.deepEqual(plan.get("failing"), [
        { type: "set_status", status: "hard_limited" },
        { type: "blocked", reason: "hard_limited" },
      ]);
      assert.deepEqual(plan.get("big"), [{ type: "create", count: 1, wanted: 3, granted: 1 }]);
      assert.deepEqual(plan.get("small"), [{ type: "create", count: 1, wanted: 2, granted: 1 }]);
      assert.equal(seen.budget, 2);

      // WHEN the cycle runs
      const report = await r.runCycle();

      // THEN the executor did exactly that, and its plan is the one the views showed
      assert.deepEqual(report.hardLimited, [failing]);
      assert.equal(executor.createdFor(failing), 0);
      assert.equal(executor.createdFor(big), 1);
      assert.equal(executor.createdFor(small), 1);
      assert.equal(report.deferred, 3);
      assert.deepEqual(
        report.plan?.presets.map((p) => [p.preset.presetName, p.status, presetPlanToJson(p, seen).actions]),
        seen.presets.map((p) => [p.preset.presetName, p.status, presetPlanToJson(p, seen).actions]),
      );
      // AND afterwards the persisted status matches what was shown
      const after = await readCyclePlan(store, NOW, r.planConfig);
      assert.equal(poolStatuses(after).find((p) => p.preset === "failing")?.status, "hard_limited");
      assert.deepEqual(after.presets.find((p) => p.preset.presetName === "failing")?.actions, [
        { type: "blocked", reason: "hard_limited" },
      ]);
    },
  );

  forEachDialect("invalidation, live plan and status", async ({ store }) => {
    // GIVEN a full pool of two ready prebuilds
    const f = await PoolFixture.create(store);
    const t = await f.template("dev");
    const p = await f.preset(t.versionId, { name: "small", desiredInstances: 2, ttlSeconds: 86_400 });
    const a = await f.prebuild(p, { createdAt: at(0), agents: ["ready"] });
    const b = await f.prebuild(p, { createdAt: at(1), agents: ["ready"] });
    const r = reconciler({ store, executor: new FakeExecutor() });
    const read = () => readCyclePlan(store, NOW, r.planConfig);
    const before = await read();
    assert.deepEqual(
      poolStatuses(before).map((s) => [s.template, s.preset, s.prebuilds]),
      [["dev", "small", { desired: 2, running: 2, eligible: 2, expired: 0, starting: 0 }]],
    );
    // (a full pool of a preset never rehearsed: the next cycle rehearses a claim of its newest prebuild)
    assert.deepEqual(
      before.presets.map((x) => [x.preset.templateName, x.preset.presetName, x.actions]),
      [["dev", "small", [{ type: "rehearse_claim", prebuildId: b }]]],
    );

    // WHEN the template is invalidated
    const touched = await invalidatePresets(store, { id: t.templateId, name: "dev" }, BY_OWNER);
    assert.deepEqual(
      touched.map((x) => x.presetId),
      [p],
    );

    // THEN both prebuilds are expired, the plan replaces them, and a cycle does
    const after = await read();
    assert.deepEqual(poolStatuses(after)[0]?.prebuilds, {
      desired: 2,
      running: 2,
      eligible: 0,
      expired: 2,
      starting: 0,
    });
    assert.deepEqual(after.presets[0]?.actions, [
      { type: "delete", reason: "expired", ids: [a, b] },
      { type: "create", count: 2, wanted: 2, granted: 2 },
    ]);
    const executor = new FakeExecutor();
    await reconciler({ store, executor }).runCycle();
    assert.deepEqual(executor.deletes, [
      { workspaceId: a, reason: "expired" },
      { workspaceId: b, reason: "expired" },
    ]);
    assert.equal(executor.createdFor(p), 2);
  });
});
