// Migration 0012: `workspaces.claimable_preset_id`, the claim's index (issue 17: claims at the floor). Set to
// the preset of an unclaimed, live prebuild that a claim may take now — its latest build is a successful
// `start` of that preset and every agent of that build is ready — and null otherwise. A claim is then one
// statement: take the oldest row of a partial index on (claimable_preset_id, created_at, id)
// (prebuilds/queries.ts claimOldestPrebuild), instead of checking every prebuild's latest build, job and agents.
//
// Kept by database triggers that recompute the column from its definition (`CLAIMABLE_PRESET` below, the one
// place the rule is written) for the workspaces a write can affect. Triggers rather than the services' code
// for the reason migration 0011 gives: a write path that forgot to clear the column would hand out a
// workspace that is being deleted. What fires a recomputation, and why:
// - a new build of the workspace (a delete, stop or claim build is now the latest: not claimable);
// - a job's end (completed_at, canceled_at, error: the latest build succeeded — or not);
// - an agent inserted, or its lifecycle state changed (all ready — or one no longer);
// - the workspace's owner or `deleted` changed (an admin's transfer, a delete; a claim clears it itself).
// Each recomputation writes only when the value changes (`IS DISTINCT FROM`), so a trigger that changes
// nothing writes no page. On PostgreSQL a trigger first locks the prebuild's row and recomputes from a fresh
// snapshot (postgresFunctionBody says why); on SQLite the single writer already serialises them.
// What a claim still checks itself, because it moves without a write to these tables: expiry (time) and
// the preset's version being the active one (templates). The template and version of the prebuild follow
// from the preset (a preset belongs to one version).
// test/server/prebuilds/claimable.test.ts checks the column against the rule computed from scratch, over a
// seeded random walk of writes, on both dialects.
import { type Kysely, type Migration, sql } from "kysely";
import { PREBUILDS_USER_ID } from "../prebuilds/system-user.js";
import type { Dialect } from "./dialect.js";

const PB = `'${PREBUILDS_USER_ID}'`;

/**
 * The rule, as a scalar SQL expression over the workspaces row `w`: the preset its latest build started with
 * when that build's job succeeded (completed, not cancelled, no error: store/job-status.ts) and no agent of
 * that build is in a state other than ready (no agents at all: claimable), for an unclaimed, live prebuild;
 * otherwise null.
 */
const CLAIMABLE_PRESET = `(CASE WHEN w.owner_id = ${PB} AND w.deleted = 0 THEN (
    SELECT b.preset_id FROM workspace_builds b JOIN provisioner_jobs j ON j.id = b.job_id
    WHERE b.workspace_id = w.id
      AND b.build_number = (SELECT max(x.build_number) FROM workspace_builds x WHERE x.workspace_id = w.id)
      AND b.transition = 'start' AND b.preset_id IS NOT NULL
      AND j.completed_at IS NOT NULL AND j.canceled_at IS NULL AND coalesce(j.error, '') = ''
      AND NOT EXISTS (SELECT 1 FROM workspace_resources r JOIN workspace_agents a ON a.resource_id = r.id
                      WHERE r.job_id = j.id AND a.lifecycle_state <> 'ready'))
  END)`;

/**
 * Recomputes the column for the workspace `id` (a scalar SQL expression over NEW). `w.id = …` rather than
 * `w.id IN (SELECT …)`: inside a SQLite trigger the IN form cost a claim 100 µs (measured), the = form finds
 * the row by its key.
 */
const refresh = (id: string) =>
  `UPDATE workspaces AS w SET claimable_preset_id = ${CLAIMABLE_PRESET}
   WHERE w.id = ${id} AND w.claimable_preset_id IS DISTINCT FROM ${CLAIMABLE_PRESET}`;

// One build per job (workspace_builds_job_key), one job per resource: each is a single workspace or none.
const workspaceOfJob = (job: string) =>
  `(SELECT b.workspace_id FROM workspace_builds b WHERE b.job_id = ${job})`;
const workspaceOfResource = (resource: string) =>
  `(SELECT b.workspace_id FROM workspace_resources r JOIN workspace_builds b ON b.job_id = r.job_id
    WHERE r.id = ${resource})`;

interface ClaimableTrigger {
  name: string;
  table: string;
  event: "INSERT" | "UPDATE";
  /** Fires only when this holds (`changed(col)` is a null-safe difference of OLD and NEW). */
  when?: (changed: (column: string) => string) => string;
  /** The workspace to recompute (a scalar expression; null: none). */
  workspace: string;
}

const TRIGGERS: ClaimableTrigger[] = [
  { name: "build_insert", table: "workspace_builds", event: "INSERT", workspace: "NEW.workspace_id" },
  {
    name: "job_end",
    table: "provisioner_jobs",
    event: "UPDATE",
    when: (changed) => ["completed_at", "canceled_at", "error"].map(changed).join(" OR "),
    workspace: workspaceOfJob("NEW.id"),
  },
  {
    name: "agent_insert",
    table: "workspace_agents",
    event: "INSERT",
    workspace: workspaceOfResource("NEW.resource_id"),
  },
  {
    name: "agent_lifecycle",
    table: "workspace_agents",
    event: "UPDATE",
    when: (changed) => changed("lifecycle_state"),
    workspace: workspaceOfResource("NEW.resource_id"),
  },
  {
    name: "workspace_owner",
    table: "workspaces",
    event: "UPDATE",
    // Not when the column is already null and the row is no prebuild: a claim clears the column itself, so
    // its UPDATE runs no recomputation.
    when: (changed) =>
      `(${changed("owner_id")} OR ${changed("deleted")})
       AND (NEW.claimable_preset_id IS NOT NULL OR (NEW.owner_id = ${PB} AND NEW.deleted = 0))`,
    workspace: "NEW.id",
  },
];

function sqliteStatements(): string[] {
  const changed = (c: string) => `OLD.${c} IS NOT NEW.${c}`;
  return TRIGGERS.map(
    (t) => `CREATE TRIGGER claimable_${t.name} AFTER ${t.event} ON ${t.table} FOR EACH ROW
      ${t.when ? `WHEN ${t.when(changed)}` : ""}
      BEGIN ${refresh(t.workspace)}; END`,
  );
}

/**
 * PostgreSQL: lock the prebuild's row first, then recompute in a statement of its own. Under READ COMMITTED
 * each statement of a (volatile) trigger function reads a new snapshot, so the recomputation sees everything
 * committed before the lock was granted. Without the lock two concurrent writes of one workspace each judge
 * from a snapshot without the other's: two agents becoming ready at once each see the other not ready and
 * leave the column null for good; an agent becoming ready while a delete build is being queued sets it after
 * the delete committed (its UPDATE waits for the delete's row lock, then writes what its old snapshot
 * computed), and a claim hands out a workspace being deleted. Only live prebuilds are locked (other rows'
 * column stays null), and every writer that queues a build already holds that lock.
 */
function postgresFunctionBody(workspace: string): string {
  return `DECLARE ws text;
    BEGIN
      ws := ${workspace};
      IF ws IS NULL THEN RETURN NULL; END IF;
      PERFORM 1 FROM workspaces WHERE id = ws AND owner_id = ${PB} AND deleted = 0 FOR UPDATE;
      ${refresh("ws")};
      RETURN NULL;
    END`;
}

function postgresStatements(): string[] {
  const changed = (c: string) => `OLD.${c} IS DISTINCT FROM NEW.${c}`;
  return TRIGGERS.flatMap((t) => [
    `CREATE FUNCTION claimable_${t.name}() RETURNS trigger LANGUAGE plpgsql AS $$
     ${postgresFunctionBody(t.workspace)} $$`,
    `CREATE TRIGGER claimable_${t.name} AFTER ${t.event} ON ${t.table} FOR EACH ROW
     ${t.when ? `WHEN (${t.when(changed)})` : ""} EXECUTE FUNCTION claimable_${t.name}()`,
  ]);
}

export function claimablePrebuildsMigration(dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable("workspaces").addColumn("claimable_preset_id", "text").execute();
      // Oldest first within a preset, as a claim takes them; only claimable rows are in it.
      await sql
        .raw(
          `CREATE INDEX workspaces_claimable_idx ON workspaces (claimable_preset_id, created_at, id)
           WHERE claimable_preset_id IS NOT NULL`,
        )
        .execute(db);
      const statements = dialect === "sqlite" ? sqliteStatements() : postgresStatements();
      for (const statement of statements) await sql.raw(statement).execute(db);
      // Existing prebuilds: the same rule, once.
      await sql
        .raw(
          `UPDATE workspaces AS w SET claimable_preset_id = ${CLAIMABLE_PRESET}
           WHERE w.owner_id = ${PB} AND w.deleted = 0`,
        )
        .execute(db);
    },
  };
}
