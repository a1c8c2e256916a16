// Migration 0006: `preset_settings`, prewarm-side settings of a preset that its template cannot declare (issue
// 13): the autoscale policy, replace-ahead and the rollout strategy. Keyed by template and preset NAME, not by
// preset id, so a setting survives new template versions (each version has its own preset rows). A row exists
// once an owner changed a setting; a NULL column means "the default" (autoscale off, the server's
// replace-ahead, rollout surge). Rows go with their template.
import type { Kysely, Migration } from "kysely";
import type { Dialect } from "./dialect.js";
import { columnTypes } from "./migration-helpers.js";

export function presetSettingsMigration(dialect: Dialect): Migration {
  const types = columnTypes(dialect);
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("preset_settings")
        .addColumn("template_id", "text", (c) => c.notNull().references("templates.id").onDelete("cascade"))
        .addColumn("preset_name", "text", (c) => c.notNull())
        // Autoscale: all three set (on) or all NULL (off); min ≤ max, 0 < rate < 1 (checked by the service).
        .addColumn("autoscale_min", "integer")
        .addColumn("autoscale_max", "integer")
        .addColumn("autoscale_target_hit_rate", "double precision")
        /** The calendar's IANA timezone; NULL: the preset's scheduling timezone, else UTC. */
        .addColumn("autoscale_timezone", "text")
        /** 'auto' or a whole number of seconds ('0' = off); NULL: the server's --replace-ahead. */
        .addColumn("replace_ahead", "text")
        /** 'surge' or 'replace'; NULL: surge. */
        .addColumn("rollout", "text")
        .addColumn("updated_at", types.bigint, (c) => c.notNull())
        .addPrimaryKeyConstraint("preset_settings_pkey", ["template_id", "preset_name"])
        .execute();
    },
  };
}
