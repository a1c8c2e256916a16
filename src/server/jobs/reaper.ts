// The hung-job reaper: fails jobs nobody is working on, so their builds (and the pools that wait on them)
// move on. A running job whose daemon sent no heartbeat for `runningTimeoutMs` (default 5 min; the daemon was
// killed or lost its connection), or a pending job no daemon picked up for `pendingTimeoutMs` (default 30 min;
// no daemon with matching type/tags), is failed with an error saying which, plus the same text as an ERROR log
// line so `prewarm logs` shows it. Builds keep the provisioner state they were created with (the previous
// build's), so the next build still knows what exists.
//
// Safe with several replicas: candidates are re-checked under a row lock (PostgreSQL: FOR UPDATE SKIP LOCKED,
// a job another replica is reaping is skipped); on SQLite the transaction is exclusive.
//
// `startReaper` runs it periodically (periodic.ts: never two passes at once), reading `now` from the clock.
// The timeouts count from the later of a job's last sign of life and the moment this process could record one
// again: its start, and the end of a storage outage. A heartbeat cannot reach a server that is down or be written to a database that is away, so
// without that, every job a daemon is still running would be reaped the moment the server or the database
// came back from an outage longer than the timeout (and counted as the template's failure).
import { sql } from "kysely";
import type { Clock } from "../../clock.js";
import { startPeriodic } from "../periodic.js";
import { storageFault } from "../store/errors.js";
import { insertJobLogs, type ProvisionerJobRow, writeJobFailed } from "../store/jobs.js";
import type { JobType } from "../store/schema.js";
import type { Executor, Store } from "../store/store.js";
import { publishEndOfLogs } from "./queue.js";

export interface ReaperOptions {
  runningTimeoutMs?: number;
  pendingTimeoutMs?: number;
  /** At most this many jobs per call (the rest wait for the next tick). Default 100. */
  limit?: number;
  /**
   * Epoch ms before which no heartbeat or acquisition could be recorded (the process's start, the end of a
   * storage outage): the timeouts count from it for jobs last heard of earlier. Default: none.
   */
  heartbeatsSince?: number;
}

export const DEFAULT_RUNNING_TIMEOUT_MS = 5 * 60_000;
export const DEFAULT_PENDING_TIMEOUT_MS = 30 * 60_000;
export const HUNG_ERROR_CODE = "JOB_HUNG";
export const PENDING_TIMEOUT_ERROR_CODE = "JOB_PENDING_TIMEOUT";
/** The job's daemon ran inside a server process that ended (crash, kill): failed at that server's restart. */
export const SERVER_RESTARTED_ERROR_CODE = "SERVER_RESTARTED";
/** The database went away while the job was being handed to its daemon (daemon-api/service.ts). */
export const STORAGE_UNAVAILABLE_ERROR_CODE = "STORAGE_UNAVAILABLE";

export interface ReapedJob {
  id: string;
  type: JobType;
  kind: "hung" | "pending";
  error: string;
}

/** Go-style duration for messages: 300000 → "5m0s", 1800000 → "30m0s", 5400000 → "1h30m0s", 1500 → "1.5s". */
export function goDuration(ms: number): string {
  if (ms < 1_000) return `${ms}ms`;
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const seconds = (ms % 60_000) / 1_000;
  const s = `${Number(seconds.toFixed(3))}s`;
  if (hours > 0) return `${hours}h${minutes}m${s}`;
  if (minutes > 0) return `${minutes}m${s}`;
  return s;
}

/** The reaper's decision for one job, pure: why it is to be reaped, or null. */
export function reapReason(
  job: { startedAt: number | null; completedAt: number | null; updatedAt: number; createdAt: number },
  now: number,
  runningTimeoutMs: number,
  pendingTimeoutMs: number,
  heartbeatsSince = Number.NEGATIVE_INFINITY,
): { kind: "hung" | "pending"; error: string } | null {
  if (job.completedAt !== null) return null;
  if (job.startedAt !== null) {
    return now - Math.max(job.updatedAt, heartbeatsSince) > runningTimeoutMs
      ? { kind: "hung", error: `job hung: no heartbeat for ${goDuration(runningTimeoutMs)}` }
      : null;
  }
  return now - Math.max(job.createdAt, heartbeatsSince) > pendingTimeoutMs
    ? { kind: "pending", error: `job hung: pending for ${goDuration(pendingTimeoutMs)} without a daemon` }
    : null;
}

export async function reapHungJobs(
  store: Store,
  now: Date,
  options: ReaperOptions = {},
): Promise<ReapedJob[]> {
  const running = options.runningTimeoutMs ?? DEFAULT_RUNNING_TIMEOUT_MS;
  const pending = options.pendingTimeoutMs ?? DEFAULT_PENDING_TIMEOUT_MS;
  const at = now.getTime();
  const since = options.heartbeatsSince ?? Number.NEGATIVE_INFINITY;
  // Within a timeout of `since` nothing of that kind can be overdue: leave it out of the query.
  const kinds = [
    ...(at - since > running ? (["running"] as const) : []),
    ...(at - since > pending ? (["pending"] as const) : []),
  ];
  if (kinds.length === 0) return [];
  const candidates = await store.db
    .selectFrom("provisioner_jobs")
    .select("id")
    .where("completed_at", "is", null)
    .where((eb) =>
      eb.or(
        kinds.map((kind) =>
          kind === "running"
            ? eb.and([eb("started_at", "is not", null), eb("updated_at", "<", at - running)])
            : eb.and([eb("started_at", "is", null), eb("created_at", "<", at - pending)]),
        ),
      ),
    )
    .orderBy("created_at")
    .limit(options.limit ?? 100)
    .execute();

  const reaped: ReapedJob[] = [];
  for (const { id } of candidates) {
    const result = await store.transaction((tx) => reapOne(tx, store, id, at, running, pending, since));
    if (result) {
      reaped.push(result);
      await publishEndOfLogs(store, id);
    }
  }
  return reaped;
}

export interface ReaperLoopOptions extends ReaperOptions {
  store: Store;
  clock: Clock;
  intervalMs: number;
  /** After a pass that reaped something. */
  onReaped?: (reaped: ReapedJob[]) => void;
  onError?: (err: unknown) => void;
  /** After a pass that did not fail. */
  onSuccess?: () => void;
}

export interface ReaperLoop {
  /** Stops the interval and waits for a pass under way (so the store can close after it). */
  stop(): Promise<void>;
}

export function startReaper(options: ReaperLoopOptions): ReaperLoop {
  const { store, clock } = options;
  // Heartbeats can be recorded from this process's start on, and again after each storage outage.
  let heartbeatsSince = clock.now().getTime();
  const periodic = startPeriodic(clock, options.intervalMs, async () => {
    try {
      const reaped = await reapHungJobs(store, clock.now(), { ...options, heartbeatsSince });
      if (reaped.length > 0) options.onReaped?.(reaped);
      options.onSuccess?.();
    } catch (err) {
      if (storageFault(err)) heartbeatsSince = clock.now().getTime();
      options.onError?.(err);
    }
  });
  return { stop: () => periodic.stop() };
}

async function reapOne(
  tx: Executor,
  store: Store,
  id: string,
  at: number,
  running: number,
  pending: number,
  since: number,
): Promise<ReapedJob | null> {
  const row = await lockJob(tx, store, id);
  if (!row) return null; // gone, or being reaped by another replica
  const reason = reapReason(
    {
      startedAt: row.started_at,
      completedAt: row.completed_at,
      updatedAt: row.updated_at,
      createdAt: row.created_at,
    },
    at,
    running,
    pending,
    since,
  );
  if (!reason) return null; // a heartbeat or an acquire got there first
  const code = reason.kind === "hung" ? HUNG_ERROR_CODE : PENDING_TIMEOUT_ERROR_CODE;
  const type = await failWithLogLine(tx, row, at, reason.error, code);
  return { id, type, kind: reason.kind, error: reason.error };
}

/** The job's row under a row lock (PostgreSQL: skipped when another replica holds it); undefined if gone. */
async function lockJob(tx: Executor, store: Store, id: string): Promise<ProvisionerJobRow | undefined> {
  const lock = store.dialect === "postgres" ? sql` for update skip locked` : sql``;
  const { rows } =
    await sql<ProvisionerJobRow>`select * from provisioner_jobs where id = ${id}${lock}`.execute(tx);
  return rows[0];
}

/** Fails the job with `error`, also as an ERROR log line in the stage it was in, so `prewarm logs` shows it. */
async function failWithLogLine(
  tx: Executor,
  row: ProvisionerJobRow,
  at: number,
  error: string,
  errorCode: string,
): Promise<JobType> {
  const last = await tx
    .selectFrom("provisioner_job_logs")
    .select("stage")
    .where("job_id", "=", row.id)
    .orderBy("id", "desc")
    .limit(1)
    .executeTakeFirst();
  await insertJobLogs(tx, row.id, [
    {
      createdAt: new Date(at),
      source: "provisioner_daemon",
      level: "error",
      stage: last?.stage ?? "Unknown",
      output: error,
    },
  ]);
  const updated = await writeJobFailed(tx, { id: row.id, startedAt: row.started_at }, at, {
    error,
    errorCode,
  });
  return updated.type;
}

/**
 * At start-up, before this server's in-process daemons start: jobs its previous process's in-process daemons
 * held (named `${namePrefix}…`) died with that process, so they are failed at once — with a log line saying
 * so, and SERVER_RESTARTED, which counts toward neither backoff nor the hard limit — instead of waiting out
 * the hang timeout. External daemons' jobs keep the timeout: those daemons may still be running them.
 */
export async function failJobsOfDeadProcess(
  store: Store,
  now: Date,
  namePrefix: string,
): Promise<ReapedJob[]> {
  const at = now.getTime();
  const error =
    "server restarted: the in-process daemon running this job ended with the previous server process";
  const candidates = await store.db
    .selectFrom("provisioner_jobs as j")
    .innerJoin("provisioner_daemons as d", "d.id", "j.worker_id")
    .select(["j.id", "d.name"])
    .where("j.completed_at", "is", null)
    .where("j.started_at", "is not", null)
    .execute();
  const failed: ReapedJob[] = [];
  for (const { id } of candidates.filter((c) => c.name.startsWith(namePrefix))) {
    const result = await store.transaction(async (tx) => {
      const row = await lockJob(tx, store, id);
      if (!row || row.completed_at !== null) return null;
      const type = await failWithLogLine(tx, row, at, error, SERVER_RESTARTED_ERROR_CODE);
      return { id, type, kind: "hung" as const, error };
    });
    if (result) {
      failed.push(result);
      await publishEndOfLogs(store, id);
    }
  }
  return failed;
}
