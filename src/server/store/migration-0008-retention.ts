// Migration 0008, for retention (src/server/retention/):
// - `prebuild_event_totals`: what retention carried out of `prebuild_events` before deleting old rows — per
//   preset and event type, how many events are gone. Readers of all-time event counts (the claims and
//   resource-replacement counters, the presets' `claimReplacements`) add it to the rows still there, so
//   pruning never makes a total shown to anyone drop. Rows go with their preset, as its events do.
// - an index on (created_at, id) of each table pruned by age that had none on its time (pool_history has one
//   since 0003): retention's batches walk it in that order from where the previous batch ended, instead of
//   scanning and sorting the whole table.
import type { Kysely, Migration } from "kysely";
import type { Dialect } from "./dialect.js";
import { columnTypes } from "./migration-helpers.js";

export function retentionMigration(dialect: Dialect): Migration {
  const types = columnTypes(dialect);
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("prebuild_event_totals")
        .addColumn("preset_id", "text", (c) => c.notNull().references("presets.id").onDelete("cascade"))
        .addColumn("event_type", "text", (c) => c.notNull())
        /** Events of this preset and type deleted so far. */
        .addColumn("total", types.bigint, (c) => c.notNull())
        .addPrimaryKeyConstraint("prebuild_event_totals_pkey", ["preset_id", "event_type"])
        .execute();
      for (const table of ["provisioner_job_logs", "workspace_agent_logs", "prebuild_events"]) {
        await db.schema.createIndex(`${table}_created_idx`).on(table).columns(["created_at", "id"]).execute();
      }
    },
  };
}
