// Migration 0003: `pool_history`, a compact, bounded time series of every prebuild pool (desired / running /
// eligible / starting / expired), one row per preset per recording. Written by the dashboard's recorder after
// reconciler cycles (src/server/web/pool-history.ts), which also prunes rows older than its retention, so the
// table stays small: about (retention / recording interval) rows per preset.
import type { Kysely, Migration } from "kysely";
import type { Dialect } from "./dialect.js";

// BIGINT holds millisecond timestamps on both dialects (INTEGER affinity on SQLite).
export function poolHistoryMigration(_dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("pool_history")
        .addColumn("preset_id", "text", (c) => c.notNull().references("presets.id").onDelete("cascade"))
        .addColumn("recorded_at", "bigint", (c) => c.notNull())
        .addColumn("desired", "integer", (c) => c.notNull())
        .addColumn("running", "integer", (c) => c.notNull())
        .addColumn("eligible", "integer", (c) => c.notNull())
        .addColumn("starting", "integer", (c) => c.notNull())
        .addColumn("expired", "integer", (c) => c.notNull())
        .addPrimaryKeyConstraint("pool_history_pkey", ["preset_id", "recorded_at"])
        .execute();
      // Pruning deletes by age across all presets.
      await db.schema
        .createIndex("pool_history_recorded_idx")
        .on("pool_history")
        .column("recorded_at")
        .execute();
    },
  };
}
