// Migration 0005: claims that deliver what they promise.
// - `provisioner_jobs.type` may also be `claim_rehearsal`: a plan-only run of a prebuild as if it were claimed.
//   A CHECK cannot be altered in SQLite, so there the table is rebuilt by the documented procedure (foreign
//   keys off, a copy under the new definition taken from sqlite_master itself, so every column added since 0001
//   survives, indexes re-created, `foreign_key_check`, all in one transaction); PostgreSQL swaps the constraint.
// - `workspace_builds.resource_replacements`: what the build's plan replaced (JSON `[{resource, paths}]`);
//   `workspace_builds.usable_at`: when the build's workspace became usable (set once: agents ready, or the
//   start build done for agent-less templates).
// - `claim_rehearsals`: one row per preset (a preset belongs to one version): the rehearsal's job and result.
// - workspace leases (`lease_seconds`, `lease_on_expiry`, `lease_deadline`) and the template's default and
//   maximum lease; `workspace_create_keys` remembers `Idempotency-Key`s of creates.
// - build reasons become the documented enum-like values (`prebuild expired` → `prebuild_expired`).
import { type Kysely, type Migration, sql } from "kysely";
import type { Dialect } from "./dialect.js";

const OLD_TYPES = "'template_version_import', 'workspace_build')";
const NEW_TYPES = "'template_version_import', 'workspace_build', 'claim_rehearsal')";

async function allowRehearsalJobsSqlite(db: Kysely<unknown>): Promise<void> {
  // Kysely runs SQLite migrations outside a transaction (no transactional DDL), which is what lets this
  // switch foreign keys off: the pragma is a no-op inside a transaction.
  await sql`pragma foreign_keys = off`.execute(db);
  try {
    await sql`begin immediate`.execute(db);
    try {
      const { rows } = await sql<{ sql: string }>`
        select sql from sqlite_master where type = 'table' and name = 'provisioner_jobs'`.execute(db);
      const definition = rows[0]?.sql ?? "";
      if (!definition.includes(OLD_TYPES)) throw new Error("provisioner_jobs: unexpected type check");
      const replaced = definition
        .replace(OLD_TYPES, NEW_TYPES)
        .replace(/^create table\s+("?)provisioner_jobs\1/i, 'create table "provisioner_jobs_new"');
      const { rows: indexes } = await sql<{ sql: string }>`
        select sql from sqlite_master where type = 'index' and tbl_name = 'provisioner_jobs' and sql is not null`.execute(
        db,
      );
      await sql.raw(replaced).execute(db);
      await sql`insert into provisioner_jobs_new select * from provisioner_jobs`.execute(db);
      await sql`drop table provisioner_jobs`.execute(db);
      await sql`alter table provisioner_jobs_new rename to provisioner_jobs`.execute(db);
      for (const index of indexes) await sql.raw(index.sql).execute(db);
      const { rows: broken } = await sql`pragma foreign_key_check`.execute(db);
      if (broken.length > 0) throw new Error(`foreign keys broken by the rebuild: ${JSON.stringify(broken)}`);
      await sql`commit`.execute(db);
    } catch (err) {
      await sql`rollback`.execute(db);
      throw err;
    }
  } finally {
    await sql`pragma foreign_keys = on`.execute(db);
  }
}

export function claimsMigration(dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      if (dialect === "postgres") {
        await sql`alter table provisioner_jobs drop constraint provisioner_jobs_type_check`.execute(db);
        await sql`alter table provisioner_jobs add constraint provisioner_jobs_type_check
          check (type in ('template_version_import', 'workspace_build', 'claim_rehearsal'))`.execute(db);
      } else {
        await allowRehearsalJobsSqlite(db);
      }

      await db.schema
        .alterTable("workspace_builds")
        .addColumn("resource_replacements", "text", (c) => c.notNull().defaultTo("[]"))
        .execute();
      await db.schema.alterTable("workspace_builds").addColumn("usable_at", "bigint").execute();

      await db.schema
        .createTable("claim_rehearsals")
        .addColumn("preset_id", "text", (c) => c.primaryKey().references("presets.id").onDelete("cascade"))
        .addColumn("workspace_id", "text", (c) => c.notNull())
        .addColumn("job_id", "text", (c) => c.notNull().references("provisioner_jobs.id"))
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("replacements", "text", (c) => c.notNull())
        .addColumn("error", "text")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("completed_at", "bigint")
        .addCheckConstraint(
          "claim_rehearsals_status_check",
          sql`status in ('pending', 'clean', 'replacements', 'failed')`,
        )
        .execute();
      await db.schema
        .createIndex("claim_rehearsals_job_idx")
        .on("claim_rehearsals")
        .column("job_id")
        .execute();

      await db.schema.alterTable("workspaces").addColumn("lease_seconds", "integer").execute();
      await db.schema.alterTable("workspaces").addColumn("lease_on_expiry", "text").execute();
      await db.schema.alterTable("workspaces").addColumn("lease_deadline", "bigint").execute();
      await db.schema
        .createIndex("workspaces_lease_deadline_idx")
        .on("workspaces")
        .column("lease_deadline")
        .where(sql.raw<boolean>("lease_deadline is not null and deleted = 0"))
        .execute();
      await db.schema.alterTable("templates").addColumn("default_lease_seconds", "integer").execute();
      await db.schema.alterTable("templates").addColumn("max_lease_seconds", "integer").execute();

      await db.schema
        .createTable("workspace_create_keys")
        .addColumn("owner_id", "text", (c) => c.notNull().references("users.id"))
        .addColumn("key", "text", (c) => c.notNull())
        .addColumn("workspace_id", "text", (c) => c.notNull().references("workspaces.id"))
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("workspace_create_keys_pkey", ["owner_id", "key"])
        .execute();

      await sql`update workspace_builds set reason = replace(reason, 'prebuild ', 'prebuild_')
        where reason like 'prebuild %'`.execute(db);
    },
  };
}
