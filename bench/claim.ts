// Claim latency (p50 / p99) at concurrency 1, 16 and 64, on SQLite and PostgreSQL, against a floor measured in
// the same run on the same database: a transaction running one single-row `UPDATE workspaces … WHERE id = ?
// RETURNING id` (the least a claim must do: change one row and get it back).
//
//   node --import tsx bench/claim.ts [--claims-per-worker 20] [--min-claims 200]
//
// Each claim is its own transaction (claimPrebuild: pick the oldest eligible prebuild of the preset, take it,
// record the hit), as workspace creation runs it — without the CLAIM build the workspace service adds. The pool
// holds enough ready prebuilds that every claim hits: 100 presets, claims spread round-robin over them (each
// preset's pool ≈ 20 prebuilds, so 64 concurrent claimers still meet on the same preset). Floor and claims alternate per concurrency level.

import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { sql } from "kysely";
import { claimPrebuild } from "../src/server/prebuilds/claim.js";
import type { Store } from "../src/server/store/store.js";
import { type BenchDialect, openBenchStore, percentile, populate } from "./prebuild-fixtures.js";
import { record } from "./results.js";

const { values } = parseArgs({
  options: {
    "claims-per-worker": { type: "string", default: "20" },
    "min-claims": { type: "string", default: "200" },
  },
});
const PER_WORKER = Number(values["claims-per-worker"]);
const MIN_CLAIMS = Number(values["min-claims"]);
const LEVELS = [1, 16, 64];
const PRESETS = 100;
const NOW = new Date("2026-01-05T10:00:00Z");

const claimsAt = (concurrency: number) => Math.max(MIN_CLAIMS, concurrency * PER_WORKER);

/** Runs `total` operations on `concurrency` workers; returns each operation's latency in ms. */
async function run(concurrency: number, total: number, op: (i: number) => Promise<void>): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const start = performance.now();
        await op(i);
        latencies.push(performance.now() - start);
      }
    }),
  );
  return latencies;
}

async function bench(dialect: BenchDialect): Promise<void> {
  const opened = await openBenchStore(dialect, 80);
  if (!opened) {
    console.log(`  ${dialect}: skipped (no PostgreSQL server binaries)`);
    return;
  }
  const store: Store = opened.store;
  try {
    // Many presets with realistic pools, claims spread round-robin over them: what a claim must search is one
    // preset's pool, not every prebuild of the installation.
    const needed = LEVELS.reduce((n, c) => n + claimsAt(c), 0) + 16;
    const { presetIds, ownerId } = await populate(store, {
      templates: PRESETS / 10,
      presetsPerTemplate: 10,
      prebuildsPerPreset: Math.ceil((needed * 1.2) / PRESETS),
      now: NOW,
      ttlSeconds: 0,
      expiredEvery: 0,
    });
    const targets = (await store.db.selectFrom("workspaces").select("id").execute()).map((r) => r.id);
    let claimed = 0;
    let misses = 0;
    const claim = async (i: number) => {
      const presetId = presetIds[i % presetIds.length] as string;
      const got = await store.transaction((tx) =>
        claimPrebuild(tx, store.dialect, {
          presetIds: [presetId],
          newOwnerId: ownerId,
          newName: `claim-${randomUUID()}`,
          now: NOW,
        }),
      );
      if (got) claimed++;
      else misses++;
    };
    const floor = async (i: number) => {
      const id = targets[i % targets.length] as string;
      await store.transaction(async (tx) => {
        await sql`update workspaces set updated_at = ${NOW.getTime() + i} where id = ${id} returning id`.execute(
          tx,
        );
      });
    };
    await run(4, 16, claim); // warm-up
    await run(4, 16, floor);
    console.log(`  ${dialect}:`);
    console.log("    concurrency   claims   claim p50 / p99 ms     floor p50 / p99 ms     ratio p50 / p99");
    for (const concurrency of LEVELS) {
      const n = claimsAt(concurrency);
      const f = await run(concurrency, n, floor);
      const c = await run(concurrency, n, claim);
      const [c50, c99, f50, f99] = [
        percentile(c, 50),
        percentile(c, 99),
        percentile(f, 50),
        percentile(f, 99),
      ];
      console.log(
        `    ${String(concurrency).padStart(11)}   ${String(n).padStart(6)}   ${c50.toFixed(2).padStart(7)} / ${c99.toFixed(2).padEnd(9)}   ${f50.toFixed(2).padStart(7)} / ${f99.toFixed(2).padEnd(9)}   ${(c50 / f50).toFixed(1).padStart(5)}× / ${(c99 / f99).toFixed(1)}×`,
      );
      for (const [name, value, floorValue] of [
        ["p50", c50, f50],
        ["p99", c99, f99],
      ] as const)
        record({
          measure: `claim ${name}, ${concurrency} concurrent, ${dialect}`,
          value,
          unit: "ms",
          floor: floorValue,
          ratio: value / floorValue,
          goal: "≤ 2",
        });
    }
    if (misses > 0) console.log(`    (${misses} claims missed: the pool ran dry — increase the population)`);
    if (claimed === 0) throw new Error("bench: nothing was claimed");
  } finally {
    await opened.close();
  }
}

console.log(
  "claim latency benchmark (each claim its own transaction; floor = single-row UPDATE … RETURNING)",
);
for (const dialect of ["sqlite", "postgres"] as const) await bench(dialect);
