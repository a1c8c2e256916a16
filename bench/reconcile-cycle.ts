// Reconciliation cycles (leadership + snapshot + plan + dispatch) with 1,000 presets × 10 prebuilds, on SQLite
// and on PostgreSQL, against a floor measured in the same run. Three kinds of cycle:
// - full: the snapshot reads every template (what every cycle did before the incremental reader, and what the
//   reconciler still does every 60 s);
// - one template changed: one template is written to before the cycle (as a finished build or a claim does —
//   the wake-up of an event-driven cycle), so the incremental reader re-reads that template;
// - nothing changed: the incremental reader finds the change feed empty.
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
import { sql } from "kysely";
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

type CycleKind = "full" | "one template changed" | "nothing changed";

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
    const executor = {
      createPrebuilds: async (_presetId: string, count: number) => ({ created: count }),
      deletePrebuild: async () => true,
      cancelPendingPrebuildJobs: async () => 0,
      rehearseClaim: async () => true,
    };
    const reconciler = (fullSnapshotEveryMs: number) =>
      new Reconciler({
        store,
        maxInFlightJobs: 1_000_000,
        clock: new FakeClock(NOW),
        listen: false,
        executor,
        fullSnapshotEveryMs,
      });
    // Full: every cycle reads every template. Incremental: the cycle reads the change feed and re-reads what
    // it names — one template touched before each cycle (a build finishing, a claim: the usual wake-up), or none.
    const full = reconciler(0);
    const incremental = reconciler(3_600_000);
    const templateIds = (
      await sql<{ id: string }>`select id from templates order by id`.execute(store.db)
    ).rows.map((r) => r.id);
    let touched = 0;
    const touchOne = () =>
      sql`update templates set updated_at = updated_at + 1 where id = ${templateIds[touched++ % templateIds.length]}`.execute(
        store.db,
      );
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
      await full.runCycle();
      await incremental.runCycle();
    }
    const kinds: CycleKind[] = ["full", "one template changed", "nothing changed"];
    const times = new Map<CycleKind | "floor", number[]>([["floor", []]]);
    const ratios = new Map<CycleKind, number[]>();
    const statements = new Map<CycleKind, number>();
    let report = await full.runCycle();
    for (let i = 0; i < ROUNDS; i++) {
      for (const kind of kinds) {
        if (kind === "one template changed") await touchOne();
        let s = performance.now();
        const rows = await floor();
        const f = performance.now() - s;
        if (rows.length === 0) throw new Error("bench: empty population");
        s = performance.now();
        report = await (kind === "full" ? full : incremental).runCycle();
        const c = performance.now() - s;
        if (report.outcome !== "ran")
          throw new Error(`bench: cycle outcome ${report.outcome} ${report.error ?? ""}`);
        times.get("floor")!.push(f);
        times.set(kind, [...(times.get(kind) ?? []), c]);
        ratios.set(kind, [...(ratios.get(kind) ?? []), c / f]);
        statements.set(kind, report.queryCount);
      }
    }
    const presets = report.presets;
    console.log(`  ${dialect}:`);
    console.log(
      `    population loaded in ${(loadMs / 1000).toFixed(1)} s; ${presets} presets in the snapshot`,
    );
    console.log(`    floor (read all prebuild rows):  ${median(times.get("floor")!).toFixed(1)} ms`);
    for (const kind of kinds) {
      const label = `cycle, ${kind}:`.padEnd(33);
      console.log(
        `    ${label}${median(times.get(kind)!).toFixed(1)} ms, ${median(ratios.get(kind)!).toFixed(1)}× the floor, ${statements.get(kind)} statements`,
      );
      record({
        measure: `reconcile cycle (${kind}), ${presets} presets × ${PREBUILDS} prebuilds, ${dialect}`,
        value: median(times.get(kind)!),
        unit: "ms",
        floor: median(times.get("floor")!),
        ratio: median(ratios.get(kind)!),
        goal: kind === "full" ? "—" : "≤ 2",
      });
    }
    console.log(`    (statements: the snapshot's; PostgreSQL adds 1 for the leader lock)`);
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
