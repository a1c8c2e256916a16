// Migration 0007: `audit_log`, one row per owner or security-relevant action (issue 16, item 8): when, who
// (the user's id and, as a snapshot, their username, so an entry outlives a rename or a deletion: no foreign
// key), what was done to what, and whether it succeeded. Rows are written in the transaction of the action they
// record (src/server/audit.ts) and never updated. Read newest first, by keyset on (time, id).
import { type Kysely, type Migration, sql } from "kysely";
import type { Dialect } from "./dialect.js";
import { columnTypes, oneOf, serialId } from "./migration-helpers.js";

export function auditLogMigration(dialect: Dialect): Migration {
  const types = columnTypes(dialect);
  return {
    async up(db: Kysely<unknown>) {
      await serialId(db.schema.createTable("audit_log"), dialect)
        .addColumn("time", types.bigint, (c) => c.notNull())
        .addColumn("actor_id", "text")
        .addColumn("actor_name", "text")
        .addColumn("action", "text", (c) => c.notNull())
        .addColumn("target", "text", (c) => c.notNull())
        .addColumn("outcome", "text", (c) => c.notNull().check(oneOf("outcome", ["success", "failure"])))
        /** JSON object. */
        .addColumn("detail", "text", (c) => c.notNull())
        /** The client address of the request, when there was one. */
        .addColumn("remote_address", "text")
        .execute();
      // Pages: newest first, keyset on (time, id); the filters narrow that walk.
      await db.schema.createIndex("audit_log_time_idx").on("audit_log").columns(["time", "id"]).execute();
      await db.schema
        .createIndex("audit_log_action_time_idx")
        .on("audit_log")
        .columns(["action", "time", "id"])
        .execute();
      // The actor filter is case-insensitive, as usernames are.
      await sql`create index audit_log_actor_time_idx on audit_log (lower(actor_name), time, id)`.execute(db);
    },
  };
}
