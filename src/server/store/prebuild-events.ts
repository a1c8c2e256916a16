// Prebuild events: claim hits and misses, hard limits, validation failures — persisted so metrics and
// `prebuilds status` survive restarts and agree across replicas.
import { toMillis } from "./rows.js";
import type { PrebuildEventType } from "./schema.js";
import type { Executor } from "./store.js";

export async function insertPrebuildEvent(
  db: Executor,
  presetId: string,
  type: PrebuildEventType,
  now: Date,
): Promise<void> {
  await db
    .insertInto("prebuild_events")
    .values({ preset_id: presetId, event_type: type, created_at: toMillis(now) })
    .execute();
}

/** Counts per preset and event type, optionally since `since`, in one query. */
export async function countPrebuildEvents(
  db: Executor,
  since?: Date,
): Promise<{ presetId: string; type: PrebuildEventType; count: number }[]> {
  let query = db
    .selectFrom("prebuild_events")
    .select((eb) => ["preset_id", "event_type", eb.fn.countAll<number>().as("n")])
    .groupBy(["preset_id", "event_type"]);
  if (since) query = query.where("created_at", ">=", toMillis(since));
  const rows = await query.orderBy("preset_id").orderBy("event_type").execute();
  return rows.map((r) => ({ presetId: r.preset_id, type: r.event_type, count: Number(r.n) }));
}
