// The pool history time series (table `pool_history`, migration 0003): one row per preset per recording of its
// pool counts. Written by the dashboard's recorder (src/server/web/pool-history.ts, which decides when to
// record), read by the pools page's charts, pruned by retention (src/server/retention/, rule pool_history).
import type { Executor } from "./store.js";

export interface PoolHistoryTable {
  preset_id: string;
  recorded_at: number;
  desired: number;
  running: number;
  eligible: number;
  starting: number;
  expired: number;
}

// The table is typed here rather than in schema.ts: nothing but this module reads or writes it.
const historyDb = (db: Executor) => db.withTables<{ pool_history: PoolHistoryTable }>();

export interface PoolCountsSample {
  desired: number;
  running: number;
  eligible: number;
  starting: number;
  expired: number;
}

export interface PoolSample extends PoolCountsSample {
  at: Date;
}

/** One statement for all rows; a row already recorded for (preset, instant) is kept as it is. */
export async function insertPoolSamples(
  db: Executor,
  rows: { presetId: string; sample: PoolSample }[],
): Promise<void> {
  if (rows.length === 0) return;
  await historyDb(db)
    .insertInto("pool_history")
    .values(
      rows.map(({ presetId, sample }) => ({
        preset_id: presetId,
        recorded_at: sample.at.getTime(),
        desired: sample.desired,
        running: sample.running,
        eligible: sample.eligible,
        starting: sample.starting,
        expired: sample.expired,
      })),
    )
    .onConflict((oc) => oc.columns(["preset_id", "recorded_at"]).doNothing())
    .execute();
}

/** Samples of the given presets since `since`, oldest first, in one query. */
export async function readPoolHistory(
  db: Executor,
  presetIds: readonly string[],
  since: Date,
): Promise<Map<string, PoolSample[]>> {
  const out = new Map<string, PoolSample[]>(presetIds.map((id) => [id, []]));
  if (presetIds.length === 0) return out;
  const rows = await historyDb(db)
    .selectFrom("pool_history")
    .selectAll()
    .where("preset_id", "in", [...presetIds])
    .where("recorded_at", ">=", since.getTime())
    .orderBy("recorded_at")
    .execute();
  for (const r of rows) {
    out.get(r.preset_id)?.push({
      at: new Date(Number(r.recorded_at)),
      desired: r.desired,
      running: r.running,
      eligible: r.eligible,
      starting: r.starting,
      expired: r.expired,
    });
  }
  return out;
}
