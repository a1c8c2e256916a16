// Retention's executor: carries out a plan (contract/retention.ts) against the database in small batches.
// Each batch is one DELETE of at most `batchSize` rows in its own short transaction, so a claim (or any write)
// waits behind at most one batch on SQLite's single writer; the event loop gets a turn between batches; a run
// stops after `maxBatches` and leaves the rest to the next run. A batch takes the next `batchSize` rows older
// than the cutoff in (time, key) order — a walk of the table's time index from where the previous batch
// ended — and deletes those of them no rule keeps (`mayGoSql`), so its work is bounded by its size whatever
// the planner's statistics and however many old rows are kept (each is walked past once a run). A rule that
// carries totals counts the rows it deleted (from RETURNING, so exactly those) into prebuild_event_totals in
// the same transaction, so no reader ever sees a total drop.
//
// Several replicas (PostgreSQL): every batch takes the `retention` advisory lock in its transaction; a replica
// that does not get it ends its run (another one is pruning) instead of waiting.
import { type RawBuilder, sql } from "kysely";
import type { KeepCondition, RetentionTask } from "../../contract/retention.js";
import { tryAdvisoryXactLock } from "../store/locks.js";
import type { PrebuildEventType } from "../store/schema.js";
import type { Executor, Store } from "../store/store.js";

export interface PruneOptions {
  /** Old rows a batch looks at, so at most deletes (default 1,000). */
  batchSize?: number;
  /** Batches per run (default 100: at most 100,000 rows a run). */
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

/**
 * SQL true when the build job `jobRef` is the latest build of a workspace that is not deleted. Correlated, so a
 * candidate row costs index lookups (workspace_builds by job_id, then by workspace and number) whatever the
 * number of workspaces.
 */
const latestBuildOfLiveWorkspace = (jobRef: RawBuilder<unknown>) => sql`exists (
  select 1 from workspace_builds b join workspaces w on w.id = b.workspace_id
  where b.job_id = ${jobRef} and w.deleted = 0
    and b.build_number = (select max(x.build_number) from workspace_builds x where x.workspace_id = b.workspace_id))`;

/** SQL true for a row of `table` (aliased `t`) that the condition does not keep. */
function mayGoSql(table: string, keep: KeepCondition): RawBuilder<unknown> {
  switch (keep) {
    case "unfinishedJobs":
      return sql`exists (select 1 from provisioner_jobs j where j.id = t.job_id and j.completed_at is not null)`;
    case "latestBuildOfLiveWorkspace":
      if (table === "provisioner_job_logs")
        return sql`not ${latestBuildOfLiveWorkspace(sql.ref("t.job_id"))}`;
      if (table === "workspace_agent_logs")
        return sql`not exists (select 1 from workspace_agents a join workspace_resources r on r.id = a.resource_id
          where a.id = t.agent_id and ${latestBuildOfLiveWorkspace(sql.ref("r.job_id"))})`;
      throw new Error(`retention: keep "${keep}" does not apply to ${table}`);
    case "latestUnhealthyEvent":
      // A later event of the same preset and type exists (ties broken by id): this one is not the latest.
      return sql`(t.event_type not in ('hard_limited', 'validation_failed') or exists (
        select 1 from prebuild_events n where n.preset_id = t.preset_id and n.event_type = t.event_type
          and (n.created_at > t.created_at or (n.created_at = t.created_at and n.id > t.id))))`;
  }
}

/** Where a task's walk has got to: the time and key of the last row a batch looked at. */
interface Cursor {
  time: unknown;
  key: readonly unknown[];
}

/** `(t.time, t.key…)` and the cursor's values, for row-value comparison (keyset order). */
function position(task: RetentionTask) {
  const { rule } = task;
  return sql.join([sql.ref(`t.${rule.timeColumn}`), ...rule.key.map((k) => sql.ref(`t.${k}`))]);
}
const cursorValues = (c: Cursor) => sql.join([c.time, ...c.key].map((v) => sql`${v}`));

/** Rows past `from` (all rows: none) and up to `upto`, older than the cutoff; the time bounds are indexable. */
function windowSql(task: RetentionTask, from: Cursor | undefined, upto?: Cursor): RawBuilder<unknown> {
  const time = sql.ref(`t.${task.rule.timeColumn}`);
  const conditions = [sql`${time} < ${task.beforeMs}`];
  if (from) conditions.push(sql`${time} >= ${from.time}`, sql`(${position(task)}) > (${cursorValues(from)})`);
  if (upto)
    conditions.push(sql`${time} <= ${upto.time}`, sql`(${position(task)}) <= (${cursorValues(upto)})`);
  return sql.join(conditions, sql` and `);
}

/**
 * A batch's window: the next `batchSize` rows older than the cutoff after the cursor, in (time, key) order —
 * a plain walk of the time index, whatever the rows a rule keeps (those are judged on the window only, so a
 * batch's work is bounded by its size however many old rows are kept).
 */
function windowRowsSql(task: RetentionTask, from: Cursor | undefined, batchSize: number) {
  const { rule } = task;
  const columns = sql.join([
    sql`${sql.ref(`t.${rule.timeColumn}`)} as time_ms`,
    ...rule.key.map((k, n) => sql`${sql.ref(`t.${k}`)} as ${sql.ref(`k${n}`)}`),
  ]);
  return sql<Record<string, unknown>>`select ${columns} from ${sql.table(rule.table)} t
    where ${windowSql(task, from)} order by ${position(task)} limit ${batchSize}`;
}

/** What a batch's DELETE returns: for a carrying rule, what it counts. */
interface DeletedRow {
  preset_id: string;
  event_type: PrebuildEventType;
}

/** The DELETE of a window's rows (from the cursor up to its last row) that no rule keeps. */
function deleteWindowSql(
  task: RetentionTask,
  from: Cursor | undefined,
  upto: Cursor,
): RawBuilder<DeletedRow> {
  const { rule } = task;
  const table = sql.table(rule.table);
  const keys = sql.join(rule.key.map((k) => sql.ref(k)));
  const keysOfT = sql.join(rule.key.map((k) => sql.ref(`t.${k}`)));
  const conditions = [windowSql(task, from, upto), ...rule.keep.map((k) => mayGoSql(rule.table, k))];
  const returning = rule.carry ? sql` returning preset_id, event_type` : sql``;
  return sql<DeletedRow>`delete from ${table} where (${keys}) in (
    select ${keysOfT} from ${table} t where ${sql.join(conditions, sql` and `)})${returning}`;
}

/** Adds the deleted events to prebuild_event_totals, one row per (preset, type). */
async function carryEventTotals(tx: Executor, rows: readonly DeletedRow[]): Promise<void> {
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
    let from: Cursor | undefined;
    for (;;) {
      if (report.batches >= maxBatches) return { ...report, cut: "max batches" };
      if (options.stopping?.()) return { ...report, cut: "stopping" };
      if (report.batches > 0) await nextTurn();
      const batch = await store.transaction(async (tx) => {
        if (!(await tryAdvisoryXactLock(tx, store.dialect, "retention"))) return null;
        const { rows: window } = await windowRowsSql(task, from, batchSize).execute(tx);
        const last = window.at(-1);
        if (!last) return { scanned: 0, deleted: 0, upto: undefined };
        const upto: Cursor = { time: last.time_ms, key: task.rule.key.map((_, n) => last[`k${n}`]) };
        const result = await deleteWindowSql(task, from, upto).execute(tx);
        let deleted = Number(result.numAffectedRows ?? 0);
        if (task.rule.carry === "prebuildEventTotals") {
          await carryEventTotals(tx, result.rows);
          deleted = result.rows.length;
        }
        return { scanned: window.length, deleted, upto };
      });
      if (batch === null) return { ...report, cut: "another replica is pruning" };
      if (batch.scanned === 0) break;
      report.batches += 1;
      if (batch.deleted > 0)
        report.deleted[task.rule.table] = (report.deleted[task.rule.table] ?? 0) + batch.deleted;
      if (batch.scanned < batchSize) break;
      from = batch.upto;
    }
  }
  return report;
}
