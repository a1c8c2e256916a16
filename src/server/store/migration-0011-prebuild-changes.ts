// Migration 0011: `prebuild_changes`, the change feed behind the reconciler's incremental snapshot
// (prebuilds/snapshot-reader.ts). Every write that can change what the snapshot reads about a template — its
// presets, schedules, settings, rehearsals and events, its prebuild workspaces, their builds, jobs, resources
// and agents — appends the template's id here, from a database trigger. Triggers rather than the services'
// own code because the feed must be complete: a write path that forgot to record a change would make the
// incremental cycle plan from stale rows, and a trigger cannot be forgotten (FK cascades and manual SQL fire
// them too).
//
// `seq` orders the feed so a reader can ask "what changed since my last read":
// - SQLite: an AUTOINCREMENT rowid. One writer at a time commits in seq order, so "seq ≥ (max seen) + 1" is
//   exactly what the last read did not see.
// - PostgreSQL: the writing transaction's id (`pg_current_xact_id()`). Transactions do not commit in id
//   order, so the reader's watermark is its snapshot's xmin: every transaction below it had finished when the
//   reader looked (its rows were seen), everything from it on is read again next time (a few rows twice,
//   never one missed).
// `created_at` (the database's clock, ms) lets the reader prune rows nobody can need any more. Also an index on
// presets' version: the scoped re-read reaches a template's builds through its presets.
//
// What fires a row, and why (the snapshot's queries in queries.ts and demand-queries.ts read these columns):
// - workspaces owned by the prebuilds user, on insert and on every update (claim = owner change, delete);
// - workspace_builds of a prebuild workspace, on insert (the latest build, its preset, creations);
// - provisioner_jobs of a workspace build or a template import, when a column that decides its status
//   changes (not on heartbeats: `updated_at` counts only once the job has ended);
// - workspace_resources on insert (costs, agents), workspace_agents on insert and on lifecycle/ready changes;
// - presets, preset_schedules, claim_rehearsals, preset_settings on insert, update and delete;
// - templates and template_versions on update (activation, deprecation, deletion, names);
// - prebuild_events on insert (hard-limit events, claim history). Retention's deletes of old events fire
//   nothing: it never deletes what the snapshot reads (the latest `hard_limited` event is kept, claim history
//   is read for 4 weeks and kept for at least 28 days).
import { type Kysely, type Migration, sql } from "kysely";
import { PREBUILDS_USER_ID } from "../prebuilds/system-user.js";
import type { Dialect } from "./dialect.js";

interface ChangeTrigger {
  name: string;
  table: string;
  event: "INSERT" | "UPDATE" | "DELETE";
  /** Fires only when this holds (NEW/OLD columns; `changed(col)` is a null-safe difference). */
  when?: (changed: (column: string) => string) => string;
  /** A SELECT of the template ids the row belongs to (NEW/OLD references). */
  templates: string;
}

const PB = `'${PREBUILDS_USER_ID}'`;
const templateOfPreset = (row: "NEW" | "OLD") =>
  `SELECT v.template_id FROM presets p JOIN template_versions v ON v.id = p.template_version_id WHERE p.id = ${row}.preset_id`;
const templateOfJob = (job: string) =>
  `SELECT w.template_id FROM workspace_builds b JOIN workspaces w ON w.id = b.workspace_id WHERE b.job_id = ${job}
   UNION ALL SELECT v.template_id FROM template_versions v WHERE v.job_id = ${job}`;
const templateOfResource = (resourceId: string) =>
  `SELECT w.template_id FROM workspace_resources r JOIN workspace_builds b ON b.job_id = r.job_id
   JOIN workspaces w ON w.id = b.workspace_id WHERE r.id = ${resourceId}`;

const TRIGGERS: ChangeTrigger[] = [
  {
    name: "workspace_insert",
    table: "workspaces",
    event: "INSERT",
    when: () => `NEW.owner_id = ${PB}`,
    templates: "SELECT NEW.template_id",
  },
  {
    name: "workspace_update",
    table: "workspaces",
    event: "UPDATE",
    when: () => `OLD.owner_id = ${PB} OR NEW.owner_id = ${PB}`,
    templates: "SELECT NEW.template_id",
  },
  {
    name: "build_insert",
    table: "workspace_builds",
    event: "INSERT",
    templates: `SELECT w.template_id FROM workspaces w WHERE w.id = NEW.workspace_id AND w.owner_id = ${PB}`,
  },
  {
    name: "job_update",
    table: "provisioner_jobs",
    event: "UPDATE",
    when: (changed) =>
      [
        ...["started_at", "completed_at", "canceled_at", "error", "error_code", "worker_id"].map(changed),
        `(NEW.completed_at IS NOT NULL AND ${changed("updated_at")})`,
      ].join(" OR "),
    templates: templateOfJob("NEW.id"),
  },
  {
    name: "resource_insert",
    table: "workspace_resources",
    event: "INSERT",
    templates: templateOfJob("NEW.job_id"),
  },
  {
    name: "agent_insert",
    table: "workspace_agents",
    event: "INSERT",
    templates: templateOfResource("NEW.resource_id"),
  },
  {
    name: "agent_update",
    table: "workspace_agents",
    event: "UPDATE",
    when: (changed) => `${changed("lifecycle_state")} OR ${changed("ready_at")}`,
    templates: templateOfResource("NEW.resource_id"),
  },
  ...(["INSERT", "UPDATE", "DELETE"] as const).flatMap((event): ChangeTrigger[] => {
    const row = event === "DELETE" ? "OLD" : "NEW";
    const suffix = event.toLowerCase();
    return [
      {
        name: `preset_${suffix}`,
        table: "presets",
        event,
        templates: `SELECT v.template_id FROM template_versions v WHERE v.id = ${row}.template_version_id`,
      },
      { name: `schedule_${suffix}`, table: "preset_schedules", event, templates: templateOfPreset(row) },
      { name: `rehearsal_${suffix}`, table: "claim_rehearsals", event, templates: templateOfPreset(row) },
      { name: `settings_${suffix}`, table: "preset_settings", event, templates: `SELECT ${row}.template_id` },
    ];
  }),
  { name: "template_update", table: "templates", event: "UPDATE", templates: "SELECT NEW.id" },
  {
    name: "version_update",
    table: "template_versions",
    event: "UPDATE",
    templates: "SELECT NEW.template_id",
  },
  { name: "event_insert", table: "prebuild_events", event: "INSERT", templates: templateOfPreset("NEW") },
];

function sqliteStatements(): string[] {
  const changed = (c: string) => `OLD.${c} IS NOT NEW.${c}`;
  return [
    `CREATE TABLE prebuild_changes (
       seq INTEGER PRIMARY KEY AUTOINCREMENT,
       template_id TEXT NOT NULL,
       created_at INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)))`,
    ...TRIGGERS.map(
      (t) => `CREATE TRIGGER prebuild_changes_${t.name} AFTER ${t.event} ON ${t.table} FOR EACH ROW
        ${t.when ? `WHEN ${t.when(changed)}` : ""}
        BEGIN INSERT INTO prebuild_changes (template_id) ${t.templates}; END`,
    ),
  ];
}

function postgresStatements(): string[] {
  const changed = (c: string) => `OLD.${c} IS DISTINCT FROM NEW.${c}`;
  return [
    `CREATE TABLE prebuild_changes (
       seq bigint NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
       template_id text NOT NULL,
       created_at bigint NOT NULL DEFAULT ((extract(epoch from clock_timestamp()) * 1000)::bigint))`,
    "CREATE INDEX prebuild_changes_seq_idx ON prebuild_changes (seq)",
    ...TRIGGERS.flatMap((t) => [
      `CREATE FUNCTION prebuild_changes_${t.name}() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN INSERT INTO prebuild_changes (template_id) ${t.templates}; RETURN NULL; END $$`,
      `CREATE TRIGGER prebuild_changes_${t.name} AFTER ${t.event} ON ${t.table} FOR EACH ROW
       ${t.when ? `WHEN (${t.when(changed)})` : ""} EXECUTE FUNCTION prebuild_changes_${t.name}()`,
    ]),
  ];
}

export function prebuildChangesMigration(dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      const statements = dialect === "sqlite" ? sqliteStatements() : postgresStatements();
      for (const statement of statements) await sql.raw(statement).execute(db);
      // A scoped re-read finds a template's presets (and through them its builds) by index.
      await db.schema
        .createIndex("presets_version_idx")
        .on("presets")
        .column("template_version_id")
        .execute();
    },
  };
}
