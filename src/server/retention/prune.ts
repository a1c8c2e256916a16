// Retention's executor: carries out a plan (rules.ts) against the database in small batches. Each batch is one
// DELETE of at most `batchSize` rows in its own short transaction, so a claim (or any write) waits behind at
// most one batch on SQLite's single writer; the event loop gets a turn between batches; a run stops after
// `maxBatches` and leaves the rest to the next run. Rows a rule keeps are excluded in SQL (`keepSql`); a rule
// that carries totals counts the rows it deleted (from RETURNING, so exactly those) into
// prebuild_event_totals in the same transaction, so no reader ever sees a total drop.
//
// Several replicas (PostgreSQL): every batch takes the `retention` advisory lock in its transaction; a replica
// that does not get it ends its run (another one is pruning) instead of waiting.
import { type RawBuilder, sql } from "kysely";
import { tryAdvisoryXactLock } from "../store/locks.js";
import type { PrebuildEventType } from "../store/schema.js";
import type { Executor, Store } from "../store/store.js";
import type { KeepCondition, RetentionTask } from "./rules.js";

export interface PruneOptions {
  /** Rows per DELETE (default 1,000). */
  batchSize?: number;
  /** DELETEs per run (default 100: at most 100,000 rows a run). */
  maxBatches?: number;
  /** Asked between batches; true ends the run (shutdown). */
  stopping?: () => boolean;
}

export const DEFAULT_BATCH_SIZE = 1_000;
export const DEFAULT_MAX_BATCHES = 100;

export interface PruneReport {
  /** Rows deleted per table (tables with none are absent). */
  deleted: Record<string, number>;
  batches: number;
  /** Why the run ended before every task was done, if it did. */
  cut?: "max batches" | "another replica is pruning" | "stopping";
}

/** The latest build of every workspace that is not deleted: the jobs whose logs stay. */
const LIVE_LATEST_BUILD_JOBS = sql`select b.job_id from workspaces w
  join workspace_builds b on b.workspace_id = w.id
   and b.build_number = (select max(x.build_number) from workspace_builds x where x.workspace_id = w.id)
  where w.deleted = 0`;

/** SQL true for a row of `table` (aliased `t`) that may go; uncorrelated subqueries are read once per batch. */
function keepSql(table: string, keep: KeepCondition): RawBuilder<unknown> {
  switch (keep) {
    case "unfinishedJobs":
      return sql`t.job_id in (select j.id from provisioner_jobs j where j.completed_at is not null)`;
    case "latestBuildOfLiveWorkspace":
      if (table === "provisioner_job_logs") return sql`t.job_id not in (${LIVE_LATEST_BUILD_JOBS})`;
      if (table === "workspace_agent_logs")
        return sql`t.agent_id not in (select a.id from workspace_agents a
          join workspace_resources r on r.id = a.resource_id where r.job_id in (${LIVE_LATEST_BUILD_JOBS}))`;
      throw new Error(`retention: keep "${keep}" does not apply to ${table}`);
    case "latestUnhealthyEvent":
      // A later event of the same preset and type exists (ties broken by id): this one is not the latest.
      return sql`(t.event_type not in ('hard_limited', 'validation_failed') or exists (
        select 1 from prebuild_events n where n.preset_id = t.preset_id and n.event_type = t.event_type
          and (n.created_at > t.created_at or (n.created_at = t.created_at and n.id > t.id))))`;
  }
}

/** One batch of a task: the DELETE, returning what a carrying rule counts. */
function deleteBatchSql(task: RetentionTask, batchSize: number): RawBuilder<EventRow> {
  const { rule, beforeMs } = task;
  const table = sql.table(rule.table);
  const keys = sql.join(rule.key.map((k) => sql.ref(k)));
  const keysOfT = sql.join(rule.key.map((k) => sql.ref(`t.${k}`)));
  const conditions = [
    sql`${sql.ref(`t.${rule.timeColumn}`)} < ${beforeMs}`,
    ...rule.keep.map((k) => keepSql(rule.table, k)),
  ];
  const returning = rule.carry ? sql` returning preset_id, event_type` : sql``;
  return sql<EventRow>`delete from ${table} where (${keys}) in (
    select ${keysOfT} from ${table} t where ${sql.join(conditions, sql` and `)}
    order by ${sql.ref(`t.${rule.timeColumn}`)} limit ${batchSize})${returning}`;
}

interface EventRow {
  preset_id: string;
  event_type: PrebuildEventType;
}

/** Adds the deleted events to prebuild_event_totals, one row per (preset, type). */
async function carryEventTotals(tx: Executor, rows: readonly EventRow[]): Promise<void> {
  const totals = new Map<string, { preset_id: string; event_type: PrebuildEventType; total: number }>();
  for (const r of rows) {
    const key = `${r.preset_id}\u0000${r.event_type}`;
    const entry = totals.get(key) ?? { preset_id: r.preset_id, event_type: r.event_type, total: 0 };
    entry.total += 1;
    totals.set(key, entry);
  }
  if (totals.size === 0) return;
  await tx
    .insertInto("prebuild_event_totals")
    .values([...totals.values()])
    .onConflict((oc) =>
      oc.columns(["preset_id", "event_type"]).doUpdateSet((eb) => ({
        total: eb("prebuild_event_totals.total", "+", eb.ref("excluded.total")),
      })),
    )
    .execute();
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Runs the tasks in order, each until its rows are gone or the run's batches are spent. */
export async function prune(
  store: Store,
  tasks: readonly RetentionTask[],
  options: PruneOptions = {},
): Promise<PruneReport> {
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  const maxBatches = options.maxBatches ?? DEFAULT_MAX_BATCHES;
  const report: PruneReport = { deleted: {}, batches: 0 };
  for (const task of tasks) {
    for (;;) {
      if (report.batches >= maxBatches) return { ...report, cut: "max batches" };
      if (options.stopping?.()) return { ...report, cut: "stopping" };
      if (report.batches > 0) await nextTurn();
      const deleted = await store.transaction(async (tx) => {
        if (!(await tryAdvisoryXactLock(tx, store.dialect, "retention"))) return null;
        const result = await deleteBatchSql(task, batchSize).execute(tx);
        if (task.rule.carry === "prebuildEventTotals") {
          await carryEventTotals(tx, result.rows);
          return result.rows.length;
        }
        return Number(result.numAffectedRows ?? 0);
      });
      if (deleted === null) return { ...report, cut: "another replica is pruning" };
      report.batches += 1;
      if (deleted > 0) report.deleted[task.rule.table] = (report.deleted[task.rule.table] ?? 0) + deleted;
      if (deleted < batchSize) break;
    }
  }
  return report;
}
