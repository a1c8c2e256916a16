// planCycle: the hard-limit promotion as data, rationing by the in-flight cap, pause, and the totals every view
// reads. plan.test.ts covers the per-preset rules; these tests cover what the cycle adds on top.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type CycleSnapshot, planCycle, rationCreations } from "../../src/planning/cycle.js";
import { defaultPlanSettings, type PresetSnapshot } from "../../src/planning/plan.js";
import { ago, HOUR, NOW, preset, running } from "./fixtures.js";

function snapshot(presets: PresetSnapshot[], over: Partial<CycleSnapshot> = {}): CycleSnapshot {
  return { now: NOW, paused: false, inFlight: 0, presets, ...over };
}

const NO_CAP = { maxInFlight: null };

describe("rationCreations", () => {
  test("shares a budget round-robin, one at a time, in the given order", () => {
    const table: { wanted: [string, number][]; budget: number; want: [string, number][] }[] = [
      {
        wanted: [
          ["a", 2],
          ["b", 2],
        ],
        budget: 10,
        want: [
          ["a", 2],
          ["b", 2],
        ],
      },
      {
        wanted: [
          ["a", 2],
          ["b", 2],
        ],
        budget: 3,
        want: [
          ["a", 2],
          ["b", 1],
        ],
      },
      {
        wanted: [
          ["a", 5],
          ["b", 1],
          ["c", 1],
        ],
        budget: 4,
        want: [
          ["a", 2],
          ["b", 1],
          ["c", 1],
        ],
      },
      { wanted: [["a", 2]], budget: 0, want: [["a", 0]] },
      { wanted: [["a", 2]], budget: -3, want: [["a", 0]] },
    ];
    for (const row of table) {
      assert.deepEqual([...rationCreations(new Map(row.wanted), row.budget)], row.want, JSON.stringify(row));
    }
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
