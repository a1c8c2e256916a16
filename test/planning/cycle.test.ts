// planCycle: the hard-limit promotion as data, rationing by the in-flight cap, pause, and the totals every view
// reads. plan.test.ts covers the per-preset rules; these tests cover what the cycle adds on top.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type CycleSnapshot, planCycle } from "../../src/planning/cycle.js";
import { defaultPlanSettings, type PresetSnapshot } from "../../src/planning/plan.js";
import { ago, berlinOfficeHours, HOUR, MINUTE, NOW, preset, running } from "./fixtures.js";

function snapshot(presets: PresetSnapshot[], over: Partial<CycleSnapshot> = {}): CycleSnapshot {
  return { now: NOW, paused: false, inFlight: 0, presets, ...over };
}

const NO_CAP = { maxInFlight: null };

/** Granted creations per preset id. */
function granted(plan: ReturnType<typeof planCycle>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of plan.presets)
    for (const a of p.actions) if (a.type === "create") out[p.id] = (out[p.id] ?? 0) + a.granted;
  return out;
}

const eligibleFor = (n: number, prefix: string) =>
  Array.from({ length: n }, (_, i) => running(`${prefix}${i}`, ago(MINUTE + i)));

describe("planCycle: fair share of the creations", () => {
  test("GIVEN a budget THEN the least full pool gets creations first, whatever its size or place", () => {
    // big: 8 of 10 eligible (wants 2); small: 0 of 2 (wants 2). Two slots: both go to the empty pool.
    const big = preset({ id: "big", desiredInstances: 10, prebuilds: eligibleFor(8, "b") });
    const small = preset({ id: "small", desiredInstances: 2 });
    assert.deepEqual(granted(planCycle(snapshot([big, small]), defaultPlanSettings, { maxInFlight: 2 })), {
      big: 0,
      small: 2,
    });
    // Three slots: small reaches 1/2 = 0.5 < 0.8 after one, then 2/2 = 1.0 > 0.8, so big gets the third.
    assert.deepEqual(granted(planCycle(snapshot([big, small]), defaultPlanSettings, { maxInFlight: 3 })), {
      big: 1,
      small: 2,
    });
  });

  test("GIVEN equally full pools THEN ties rotate with the cursor instead of going to the first every cycle", () => {
    const pools = ["a", "b", "c"].map((id) => preset({ id, desiredInstances: 1 }));
    const winners = [0, 1, 2, 3, 5].map((rotation) => {
      const g = granted(planCycle(snapshot(pools, { rotation }), defaultPlanSettings, { maxInFlight: 1 }));
      return Object.keys(g).find((id) => g[id] === 1);
    });
    assert.deepEqual(winners, ["a", "b", "c", "a", "c"]);
  });

  test("GIVEN replace-ahead creations and a pool to refill THEN the refill goes first", () => {
    // ahead: 2 running but not yet ready, both expiring within the lead (fullness 0/2, but nothing is missing);
    // refill: 1 of 2 eligible (fullness 0.5). One slot: the pool that lacks a prebuild gets it.
    const ahead = preset({
      id: "ahead",
      desiredInstances: 2,
      ttlSeconds: 3600,
      replaceAheadSeconds: 600,
      prebuilds: [running("x1", ago(HOUR - MINUTE), false), running("x2", ago(HOUR - MINUTE), false)],
    });
    const refill = preset({ id: "refill", desiredInstances: 2, prebuilds: eligibleFor(1, "r") });
    const plan = planCycle(snapshot([ahead, refill]), defaultPlanSettings, { maxInFlight: 1 });
    assert.deepEqual(granted(plan), { ahead: 0, refill: 1 });
    // With budget to spare, the replace-ahead creations follow.
    const roomy = planCycle(snapshot([ahead, refill]), defaultPlanSettings, { maxInFlight: 5 });
    assert.deepEqual(granted(roomy), { ahead: 2, refill: 1 });
  });

  test("GIVEN a churning big pool first in order and a small cap THEN every pool has an eligible prebuild within three cycles", () => {
    // The soak that starved a pool: "churn" (30 instances, a TTL shorter than a cycle, so every prebuild is
    // expired at the next cycle) and two pools of 10, with 6 of the 8 slots busy every cycle. A granted
    // creation is eligible at the next cycle. Under round-robin in snapshot order "churn" and "p1" took both
    // free slots every cycle and "p2" stayed empty.
    const ids = ["churn", "p1", "p2"] as const;
    const held: Record<string, number> = { churn: 0, p1: 0, p2: 0 };
    const firstEligible: Record<string, number> = {};
    for (let cycle = 1; cycle <= 3; cycle++) {
      const now = new Date(NOW.getTime() + cycle * MINUTE);
      const pools = ids.map((id) =>
        preset({
          id,
          desiredInstances: id === "churn" ? 30 : 10,
          ttlSeconds: id === "churn" ? 30 : 0,
          prebuilds: Array.from({ length: held[id]! }, (_, i) =>
            running(`${id}-${cycle}-${i}`, new Date(now.getTime() - MINUTE)),
          ),
        }),
      );
      const plan = planCycle(snapshot(pools, { now, inFlight: 6, rotation: cycle }), defaultPlanSettings, {
        maxInFlight: 8,
      });
      const g = granted(plan);
      for (const id of ids) {
        if (id === "churn")
          held[id] = g[id] ?? 0; // its older prebuilds expired and are deleted
        else held[id] = held[id]! + (g[id] ?? 0);
        if (held[id]! > 0 && firstEligible[id] === undefined) firstEligible[id] = cycle + 1;
      }
    }
    assert.deepEqual(Object.keys(firstEligible).sort(), ["churn", "p1", "p2"]);
    for (const id of ids)
      assert.ok(firstEligible[id]! <= 3, `${id} first eligible at cycle ${firstEligible[id]}`);
  });
});

describe("planCycle", () => {
  test("GIVEN a healthy active preset whose last creations all failed THEN it is hard-limited as data", () => {
    const plan = planCycle(snapshot([preset({ hardLimitReached: true })]), defaultPlanSettings, NO_CAP);
    const p = plan.presets[0];
    assert.equal(p?.status, "hard_limited");
    assert.deepEqual(p?.actions, [
      { type: "set_status", status: "hard_limited" },
      { type: "blocked", reason: "hard_limited" },
    ]);
    assert.equal(plan.totals.wanted, 0, "a blocked preset wants nothing this cycle");
  });

  test("GIVEN the limit is reached on a preset that is not healthy or not active THEN its status stays", () => {
    const cases: [PresetSnapshot, string][] = [
      [preset({ hardLimitReached: true, status: "validation_failed" }), "validation_failed"],
      [preset({ hardLimitReached: true, status: "hard_limited" }), "hard_limited"],
      [preset({ hardLimitReached: true, active: false }), "healthy"],
    ];
    for (const [given, status] of cases) {
      const p = planCycle(snapshot([given]), defaultPlanSettings, NO_CAP).presets[0];
      assert.equal(p?.status, status);
      assert.ok(!p?.actions.some((a) => a.type === "set_status"), JSON.stringify(p?.actions));
    }
  });

  test("GIVEN no cap THEN every creation is granted and nothing is deferred", () => {
    const plan = planCycle(
      snapshot([preset({ id: "a", desiredInstances: 3 }), preset({ id: "b", desiredInstances: 2 })], {
        inFlight: 50,
      }),
      defaultPlanSettings,
      NO_CAP,
    );
    assert.equal(plan.budget, null);
    assert.deepEqual(
      plan.presets.map((p) => p.actions),
      [
        [{ type: "create", count: 3, wanted: 3, granted: 3 }],
        [{ type: "create", count: 2, wanted: 2, granted: 2 }],
      ],
    );
    assert.deepEqual(plan.totals, { deletions: 0, wanted: 5, granted: 5, deferred: 0 });
  });

  test("GIVEN a cap THEN jobs in flight and planned deletions come off the budget first", () => {
    // a: 1 expired prebuild to delete and 2 to create; b: 2 to create. cap 4 − 1 in flight − 1 deletion = 2.
    const a = preset({
      id: "a",
      desiredInstances: 2,
      ttlSeconds: 3600,
      prebuilds: [running("w1", ago(2 * HOUR))],
    });
    const b = preset({ id: "b", desiredInstances: 2 });
    const plan = planCycle(snapshot([a, b], { inFlight: 1 }), defaultPlanSettings, { maxInFlight: 4 });
    assert.equal(plan.budget, 2);
    assert.deepEqual(plan.presets[0]?.actions, [
      { type: "delete", reason: "expired", ids: ["w1"] },
      { type: "create", count: 1, wanted: 2, granted: 1 },
    ]);
    assert.deepEqual(plan.presets[1]?.actions, [{ type: "create", count: 1, wanted: 2, granted: 1 }]);
    assert.deepEqual(plan.totals, { deletions: 1, wanted: 4, granted: 2, deferred: 2 });
  });

  test("GIVEN the cap is used up THEN the create stays with count 0, so every view shows the deferral", () => {
    const plan = planCycle(
      snapshot([preset({ desiredInstances: 2 })], { inFlight: 9 }),
      defaultPlanSettings,
      {
        maxInFlight: 4,
      },
    );
    assert.equal(plan.budget, 0);
    assert.deepEqual(plan.presets[0]?.actions, [{ type: "create", count: 0, wanted: 2, granted: 0 }]);
  });

  test("GIVEN the reconciler is paused THEN the plan is still computed and marked paused", () => {
    const plan = planCycle(
      snapshot([preset({ desiredInstances: 1 })], { paused: true }),
      defaultPlanSettings,
      NO_CAP,
    );
    assert.equal(plan.paused, true);
    assert.deepEqual(plan.presets[0]?.actions, [{ type: "create", count: 1, wanted: 1, granted: 1 }]);
  });

  test("GIVEN a preset in backoff THEN backoffUntil is reported with the plan", () => {
    const plan = planCycle(
      snapshot([preset({ backoff: { numFailed: 2, lastFailedAt: ago(60_000) } })]),
      defaultPlanSettings,
      NO_CAP,
    );
    assert.deepEqual(plan.presets[0]?.backoffUntil, new Date(NOW.getTime() + 60_000));
    assert.equal(plan.presets[0]?.actions[0]?.type, "backoff");
  });

  test("GIVEN a preset never rehearsed with eligible prebuilds THEN its newest kept one is rehearsed first", () => {
    // w-old and w-new eligible, w-late not ready, w-gone expired: the rehearsal takes w-new (claims take w-old).
    const given = preset({
      desiredInstances: 4,
      ttlSeconds: 3600,
      needsClaimRehearsal: true,
      prebuilds: [
        running("w-old", ago(30 * 60_000)),
        running("w-new", ago(10 * 60_000)),
        running("w-late", ago(60_000), false),
        running("w-gone", ago(2 * HOUR)),
      ],
    });
    const plan = planCycle(snapshot([given]), defaultPlanSettings, { maxInFlight: 2 });
    assert.deepEqual(plan.presets[0]?.actions, [
      { type: "rehearse_claim", prebuildId: "w-new" },
      { type: "delete", reason: "expired", ids: ["w-gone"] },
      // cap 2 − 1 deletion − 1 rehearsal = 0 creations this cycle
      { type: "create", count: 0, wanted: 1, granted: 0 },
    ]);
  });

  test("GIVEN an empty pool asking for its first prebuild THEN rehearsals wait; once it has one starting THEN they go", () => {
    const rehearse = preset({ id: "r", needsClaimRehearsal: true, prebuilds: [running("w1", ago(60_000))] });
    const empty = preset({ id: "e", desiredInstances: 1 });
    const waiting = planCycle(snapshot([rehearse, empty]), defaultPlanSettings, { maxInFlight: 4 });
    const actionsOf = (plan: typeof waiting, id: string) => plan.presets.find((p) => p.id === id)?.actions;
    assert.ok(!actionsOf(waiting, "r")?.some((a) => a.type === "rehearse_claim"), "the rehearsal waits");
    assert.deepEqual(actionsOf(waiting, "e"), [{ type: "create", count: 1, wanted: 1, granted: 1 }]);

    // WHEN the empty pool's first prebuild is starting THEN the rehearsal takes its slot
    const starting = preset({ id: "e", desiredInstances: 1, inProgress: { start: 1, stop: 0, delete: 0 } });
    const next = planCycle(snapshot([rehearse, starting], { inFlight: 1 }), defaultPlanSettings, {
      maxInFlight: 4,
    });
    assert.deepEqual(actionsOf(next, "r"), [{ type: "rehearse_claim", prebuildId: "w1" }]);
  });

  test("GIVEN no eligible prebuild, a rehearsal done, an inactive preset or no budget THEN no rehearsal", () => {
    const eligible = [running("w1", ago(60_000))];
    const cases: [string, PresetSnapshot, number | null, number][] = [
      [
        "not ready yet",
        preset({ needsClaimRehearsal: true, prebuilds: [running("w1", ago(1), false)] }),
        null,
        0,
      ],
      ["already rehearsed", preset({ prebuilds: eligible }), null, 0],
      ["inactive", preset({ needsClaimRehearsal: true, active: false, prebuilds: eligible }), null, 0],
      [
        "being deleted",
        preset({ needsClaimRehearsal: true, desiredInstances: 0, prebuilds: eligible }),
        null,
        0,
      ],
      ["no budget", preset({ needsClaimRehearsal: true, prebuilds: eligible }), 1, 1],
    ];
    for (const [name, given, cap, inFlight] of cases) {
      const plan = planCycle(snapshot([given], { inFlight }), defaultPlanSettings, { maxInFlight: cap });
      assert.ok(!plan.presets[0]?.actions.some((a) => a.type === "rehearse_claim"), name);
    }
  });

  test("the same input always gives the same plan, and the input is not modified", () => {
    const given = snapshot([preset({ hardLimitReached: true }), preset({ id: "b", desiredInstances: 3 })]);
    const copy = structuredClone(given);
    const first = planCycle(given, defaultPlanSettings, { maxInFlight: 2 });
    const second = planCycle(given, defaultPlanSettings, { maxInFlight: 2 });
    assert.deepEqual(first, second);
    assert.deepEqual(given, copy);
  });
});

describe("planCycle: demand-driven pools (issue 13)", () => {
  const steadyClaims = (perMinute: number, minutes: number) =>
    Array.from(
      { length: perMinute * minutes },
      (_, i) => NOW.getTime() - (i + 0.5) * (60_000 / perMinute),
    ).reverse();

  test("GIVEN an autoscaled preset WHEN planned THEN the model's count is desired, with its reason", () => {
    const autoscaled = preset({
      id: "auto",
      desiredInstances: 1,
      autoscale: {
        policy: { min: 1, max: 6, targetHitRate: 0.95, timezone: null },
        demand: { claims: steadyClaims(6, 1), since: NOW.getTime() - 28 * 24 * HOUR },
      },
      buildDurationsMs: [30_000],
    });
    const plan = planCycle(snapshot([autoscaled, preset({ id: "static" })]), defaultPlanSettings, NO_CAP);
    const [a, s] = plan.presets;
    assert.equal(a?.state.desired, 4);
    assert.match(a?.desiredReason ?? "", /^burst of 6 claims in 5m: 1\.20 claims\/min × refill 1m/);
    assert.equal(a?.autoscale?.desired, 4);
    assert.deepEqual(a?.actions, [{ type: "create", count: 4, wanted: 4, granted: 4 }]);
    assert.equal(s?.desiredReason, "instances 1");
    assert.equal(s?.autoscale, null);
  });

  test("GIVEN schedules WHEN planned THEN the reason names the matching schedule", () => {
    const plan = planCycle(
      snapshot([preset({ scheduling: berlinOfficeHours }), preset({ id: "off", active: false })]),
      defaultPlanSettings,
      NO_CAP,
    );
    assert.equal(plan.presets[0]?.desiredReason, 'schedule "* 8-18 * * 1-5" (Europe/Berlin) → 3');
    assert.equal(plan.presets[1]?.desiredReason, "inactive version: 0");
  });

  const outdated = (id: string, successor: string, over: Partial<PresetSnapshot> = {}) =>
    preset({
      id,
      active: false,
      rollout: "surge",
      successor,
      prebuilds: [
        running(`${id}-a`, ago(3 * HOUR)),
        running(`${id}-b`, ago(2 * HOUR)),
        running(`${id}-c`, ago(HOUR)),
      ],
      ...over,
    });

  test("GIVEN a surge rollout WHEN the new pool fills THEN old prebuilds go one per new eligible one", () => {
    const table: { successor: PresetSnapshot; deleted: string[] }[] = [
      { successor: preset({ id: "new", desiredInstances: 2 }), deleted: ["old-a"] },
      {
        successor: preset({ id: "new", desiredInstances: 2, prebuilds: [running("n1", ago(MINUTE))] }),
        deleted: ["old-a", "old-b"],
      },
      {
        successor: preset({
          id: "new",
          desiredInstances: 2,
          prebuilds: [running("n1", ago(MINUTE)), running("n2", ago(MINUTE))],
        }),
        deleted: ["old-a", "old-b", "old-c"],
      },
      // A new prebuild running but not ready does not count: the old one stays.
      {
        successor: preset({ id: "new", desiredInstances: 2, prebuilds: [running("n1", ago(MINUTE), false)] }),
        deleted: ["old-a"],
      },
      // A successor that cannot build (hard-limited) would never fill: the old pool goes as with replace.
      {
        successor: preset({ id: "new", desiredInstances: 2, status: "hard_limited" }),
        deleted: ["old-a", "old-b", "old-c"],
      },
    ];
    for (const row of table) {
      const plan = planCycle(snapshot([outdated("old", "new"), row.successor]), defaultPlanSettings, NO_CAP);
      const old = plan.presets.find((p) => p.id === "old");
      assert.deepEqual(
        old?.actions.flatMap((a) => (a.type === "delete" ? a.ids : [])),
        row.deleted,
        JSON.stringify(row.successor.prebuilds),
      );
    }
  });

  test("GIVEN rollout replace or no successor WHEN planned THEN every outdated prebuild goes at once", () => {
    for (const old of [outdated("old", "new", { rollout: "replace" }), outdated("old", "gone")]) {
      const plan = planCycle(
        snapshot([old, preset({ id: "new", desiredInstances: 2 })]),
        defaultPlanSettings,
        NO_CAP,
      );
      assert.deepEqual(plan.presets[0]?.actions, [
        { type: "delete", reason: "outdated", ids: ["old-a", "old-b", "old-c"] },
      ]);
    }
  });

  test("GIVEN two outdated versions surging into one successor THEN the newest version's prebuilds stay first", () => {
    const plan = planCycle(
      snapshot([outdated("v1", "v3"), outdated("v2", "v3"), preset({ id: "v3", desiredInstances: 4 })]),
      defaultPlanSettings,
      NO_CAP,
    );
    const deleted = (id: string) =>
      plan.presets.find((p) => p.id === id)?.actions.flatMap((a) => (a.type === "delete" ? a.ids : []));
    // v3 lacks 4: v2 keeps its 3, v1 keeps the 1 left (its youngest).
    assert.deepEqual(deleted("v2"), []);
    assert.deepEqual(deleted("v1"), ["v1-a", "v1-b"]);
  });

  test("GIVEN a ceiling on prebuilds WHEN presets want more than fits THEN it is dealt round-robin and named", () => {
    const a = preset({
      id: "a",
      desiredInstances: 4,
      prebuilds: [running("a1", ago(HOUR)), running("a2", ago(HOUR))],
    });
    const b = preset({ id: "b", desiredInstances: 3, prebuilds: [running("b1", ago(HOUR))] });
    const plan = planCycle(snapshot([a, b]), defaultPlanSettings, { maxInFlight: null, maxPrebuilds: 5 });
    assert.deepEqual(plan.ceilings, {
      maxPrebuilds: 5,
      maxIdleCostPerDay: null,
      prebuilds: 3,
      idleCostPerDay: 0,
    });
    assert.deepEqual(plan.presets[0]?.actions, [
      { type: "create", count: 1, wanted: 2, granted: 1, limitedBy: "max_prebuilds" },
    ]);
    assert.deepEqual(plan.presets[1]?.actions, [
      { type: "create", count: 1, wanted: 2, granted: 1, limitedBy: "max_prebuilds" },
    ]);
  });

  test("GIVEN an idle-cost ceiling WHEN an expensive preset does not fit THEN a cheaper one still gets its prebuilds", () => {
    const gpu = preset({ id: "gpu", desiredInstances: 3, dailyCost: 10 });
    const small = preset({ id: "small", desiredInstances: 3, dailyCost: 1 });
    const plan = planCycle(snapshot([gpu, small]), defaultPlanSettings, {
      maxInFlight: null,
      maxIdleCostPerDay: 14,
    });
    assert.deepEqual(plan.presets[0]?.actions, [
      { type: "create", count: 1, wanted: 3, granted: 1, limitedBy: "max_idle_cost" },
    ]);
    assert.deepEqual(plan.presets[1]?.actions, [{ type: "create", count: 3, wanted: 3, granted: 3 }]);
  });

  test("GIVEN prebuilds this cycle deletes WHEN the ceiling is counted THEN they no longer hold a place", () => {
    const p = preset({
      desiredInstances: 2,
      ttlSeconds: 3600,
      prebuilds: [running("stale", ago(2 * HOUR)), running("ok", ago(MINUTE))],
    });
    const plan = planCycle(snapshot([p]), defaultPlanSettings, { maxInFlight: null, maxPrebuilds: 2 });
    assert.equal(plan.ceilings?.prebuilds, 1);
    assert.deepEqual(plan.presets[0]?.actions, [
      { type: "delete", reason: "expired", ids: ["stale"] },
      { type: "create", count: 1, wanted: 1, granted: 1 },
    ]);
  });

  test("GIVEN only the in-flight cap defers creations THEN no ceiling is named", () => {
    const plan = planCycle(snapshot([preset({ desiredInstances: 3 })]), defaultPlanSettings, {
      maxInFlight: 1,
      maxPrebuilds: 10,
    });
    assert.deepEqual(plan.presets[0]?.actions, [{ type: "create", count: 1, wanted: 3, granted: 1 }]);
  });
});
