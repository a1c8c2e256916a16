// One full reconciliation cycle (leadership + snapshot + plan + dispatch) with 1,000 presets × 10 prebuilds,
// on SQLite and on PostgreSQL, against a floor measured in the same run.
//
//   node --import tsx bench/reconcile-cycle.ts [--templates 100] [--presets 10] [--prebuilds 10] [--rounds 9]
//
// The executor is a no-op (it answers instantly and writes nothing), so every round sees the same database and
// the figure is the reconciler's own cost; what the real executor's transactions cost is a property of the
// workspace service. Floor: one read transaction that selects every prebuild workspace row (id, created_at) —
// the least any reconciler must read. The printed ratio is the median of per-round cycle/floor ratios
// (floor and cycle alternate, so background load hits both alike). Also printed: statements per cycle.

import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { Reconciler } from "../src/server/prebuilds/reconciler.js";
import { PREBUILDS_USER_ID } from "../src/server/prebuilds/system-user.js";
import { FakeClock } from "../test/support/fake-clock.js";
import { type BenchDialect, median, openBenchStore, populate } from "./prebuild-fixtures.js";
import { record } from "./results.js";

const { values } = parseArgs({
  options: {
    templates: { type: "string", default: "100" },
    presets: { type: "string", default: "10" },
    prebuilds: { type: "string", default: "10" },
    rounds: { type: "string", default: "9" },
  },
});
const TEMPLATES = Number(values.templates);
const PRESETS_PER_TEMPLATE = Number(values.presets);
const PREBUILDS = Number(values.prebuilds);
const ROUNDS = Number(values.rounds);
const NOW = new Date("2026-01-05T10:00:00Z");

async function bench(dialect: BenchDialect): Promise<void> {
  const opened = await openBenchStore(dialect);
  if (!opened) {
    console.log(`  ${dialect}: skipped (no PostgreSQL server binaries)`);
    return;
  }
  const { store } = opened;
  try {
    const t0 = performance.now();
    await populate(store, {
      templates: TEMPLATES,
      presetsPerTemplate: PRESETS_PER_TEMPLATE,
      prebuildsPerPreset: PREBUILDS,
      now: NOW,
    });
    const loadMs = performance.now() - t0;
    const reconciler = new Reconciler({
      store,
      maxInFlightJobs: 1_000_000,
      clock: new FakeClock(NOW),
      listen: false,
      executor: {
        createPrebuilds: async (_presetId, count) => ({ created: count }),
        deletePrebuild: async () => true,
        cancelPendingPrebuildJobs: async () => 0,
        rehearseClaim: async () => true,
      },
    });
    const floor = () =>
      store.transaction(
        (tx) =>
          tx
            .selectFrom("workspaces")
            .select(["id", "created_at"])
            .where("owner_id", "=", PREBUILDS_USER_ID)
            .where("deleted", "=", 0)
            .execute(),
        { isolation: "repeatable read", readOnly: true },
      );
    for (let i = 0; i < 2; i++) {
      await floor();
      await reconciler.runCycle();
    }
    const floorTimes: number[] = [];
    const cycleTimes: number[] = [];
    const ratios: number[] = [];
    let report = await reconciler.runCycle();
    for (let i = 0; i < ROUNDS; i++) {
      let s = performance.now();
      const rows = await floor();
      const f = performance.now() - s;
      s = performance.now();
      report = await reconciler.runCycle();
      const c = performance.now() - s;
      if (report.outcome !== "ran")
        throw new Error(`bench: cycle outcome ${report.outcome} ${report.error ?? ""}`);
      if (rows.length === 0) throw new Error("bench: empty population");
      floorTimes.push(f);
      cycleTimes.push(c);
      ratios.push(c / f);
    }
    console.log(`  ${dialect}:`);
    console.log(
      `    population loaded in ${(loadMs / 1000).toFixed(1)} s; ${report.presets} presets in the snapshot`,
    );
    console.log(`    floor (read all prebuild rows):  ${median(floorTimes).toFixed(1)} ms`);
    console.log(`    full cycle:                      ${median(cycleTimes).toFixed(1)} ms`);
    console.log(`    ratio cycle/floor:               ${median(ratios).toFixed(1)}×`);
    record({
      measure: `reconcile cycle, ${report.presets} presets × ${PREBUILDS} prebuilds, ${dialect}`,
      value: median(cycleTimes),
      unit: "ms",
      floor: median(floorTimes),
      ratio: median(ratios),
      goal: "≤ 2",
    });
    console.log(
      `    statements per cycle:            ${report.queryCount} (snapshot) + 1 (leader lock, PostgreSQL only)`,
    );
    console.log(
      `    actions dispatched per cycle:    ${report.deleted} deletions, ${report.created} creations`,
    );
  } finally {
    await opened.close();
  }
}

console.log(
  `reconciliation cycle benchmark: ${(TEMPLATES * PRESETS_PER_TEMPLATE).toLocaleString("en-US")} presets × ${PREBUILDS} prebuilds (medians of ${ROUNDS} rounds, no-op executor)`,
);
for (const dialect of ["sqlite", "postgres"] as const) await bench(dialect);
