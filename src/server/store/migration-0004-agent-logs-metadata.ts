// Migration 0004: what running agents report beyond their lifecycle.
// - `workspace_agents.lifecycle_changed_at`: when the agent says its current state began (the report's
//   `changedAt`), so a late duplicate is recognised and an out-of-order report refused.
// - `workspace_agent_metadata`: one row per (agent, key): the definition from the template (`coder_agent`
//   metadata blocks) and the latest reported value.
// - `workspace_agent_logs`: the agent's log lines (script output, the agent's own messages), pruned to the
//   newest lines per agent on every insert (store/agent-reports.ts), so the table stays bounded.
import type { Kysely, Migration } from "kysely";
import type { Dialect } from "./dialect.js";

export function agentLogsMetadataMigration(dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable("workspace_agents").addColumn("lifecycle_changed_at", "bigint").execute();

      await db.schema
        .createTable("workspace_agent_metadata")
        .addColumn("agent_id", "text", (c) =>
          c.notNull().references("workspace_agents.id").onDelete("cascade"),
        )
        .addColumn("key", "text", (c) => c.notNull())
        .addColumn("display_name", "text", (c) => c.notNull())
        .addColumn("script", "text", (c) => c.notNull())
        .addColumn("interval_seconds", "integer", (c) => c.notNull())
        .addColumn("timeout_seconds", "integer", (c) => c.notNull())
        .addColumn("display_order", "integer", (c) => c.notNull())
        .addColumn("value", "text", (c) => c.notNull())
        .addColumn("error", "text", (c) => c.notNull())
        .addColumn("collected_at", "bigint")
        .addPrimaryKeyConstraint("workspace_agent_metadata_pkey", ["agent_id", "key"])
        .execute();

      let logs = db.schema.createTable("workspace_agent_logs");
      logs =
        dialect === "postgres"
          ? logs.addColumn("id", "bigserial", (c) => c.primaryKey())
          : logs.addColumn("id", "integer", (c) => c.primaryKey().autoIncrement());
      await logs
        .addColumn("agent_id", "text", (c) =>
          c.notNull().references("workspace_agents.id").onDelete("cascade"),
        )
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("level", "text", (c) => c.notNull())
        .addColumn("output", "text", (c) => c.notNull())
        .addColumn("source", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("workspace_agent_logs_agent_idx")
        .on("workspace_agent_logs")
        .columns(["agent_id", "id"])
        .execute();
    },
  };
}
