// provisioner_jobs rows as domain objects, plus job logs and timings. The queue operations (enqueue,
// acquire, heartbeat, complete, fail, cancel, reap) are in src/server/jobs/.
import type { Selectable } from "kysely";
import { type JobStatus, jobStatus } from "./job-status.js";
import { parseJsonColumn, toBool, toDate, toDateOrNull, toMillis } from "./rows.js";
import type { JobType, LogLevel, LogSource, ProvisionerJobsTable } from "./schema.js";
import type { Executor } from "./store.js";
import { revokeBuildSessionToken } from "./users.js";

export interface TemplateImportJobInput {
  templateVersionId: string;
  /** Values for template variables supplied by the user at push time. */
  userVariableValues?: Record<string, string>;
  /** Make the version the template's active version when the import succeeds (`templates push --activate`). */
  activate?: boolean;
}

export interface WorkspaceBuildJobInput {
  workspaceBuildId: string;
  /** Provisioner log level for this build ("" or absent = everything). */
  logLevel?: string;
}

/** A plan-only run of an eligible prebuild as if it were claimed (prebuilds/rehearsal.ts). */
export interface ClaimRehearsalJobInput {
  presetId: string;
  /** The prebuild whose state the rehearsal plans from. */
  workspaceId: string;
}

export type JobTypeAndInput =
  | { type: "template_version_import"; input: TemplateImportJobInput }
  | { type: "workspace_build"; input: WorkspaceBuildJobInput }
  | { type: "claim_rehearsal"; input: ClaimRehearsalJobInput };

export interface JobBase {
  id: string;
  provisioner: string;
  fileId: string;
  tags: Record<string, string>;
  initiatorId: string;
  isPrebuild: boolean;
  workerId: string | null;
  createdAt: Date;
  updatedAt: Date;
  startedAt: Date | null;
  completedAt: Date | null;
  canceledAt: Date | null;
  error: string | null;
  errorCode: string | null;
  /** Derived by jobStatus(); never stored. */
  status: JobStatus;
}

export type ProvisionerJob = JobBase & JobTypeAndInput;

export type ProvisionerJobRow = Selectable<ProvisionerJobsTable>;

export function jobFromRow(row: ProvisionerJobRow): ProvisionerJob {
  const base = {
    id: row.id,
    provisioner: row.provisioner,
    fileId: row.file_id,
    tags: parseJsonColumn<Record<string, string>>(row.tags, "provisioner_jobs.tags"),
    initiatorId: row.initiator_id,
    isPrebuild: toBool(row.is_prebuild),
    workerId: row.worker_id,
    createdAt: toDate(row.created_at),
    updatedAt: toDate(row.updated_at),
    startedAt: toDateOrNull(row.started_at),
    completedAt: toDateOrNull(row.completed_at),
    canceledAt: toDateOrNull(row.canceled_at),
    error: row.error,
    errorCode: row.error_code,
  };
  const status = jobStatus(base);
  const input = parseJsonColumn<never>(row.input, "provisioner_jobs.input");
  return { ...base, status, type: row.type as JobType, input } as ProvisionerJob;
}

/**
 * Writes a job's final failed state — the one place that does (a daemon's failure, the server's, the hung-job
 * reaper's): completed now with the error, `started_at` kept or set to now (a job that never started still
 * has a start for its duration), its build session token revoked. The caller holds the job's row lock and
 * checked it may fail it.
 */
export async function writeJobFailed(
  tx: Executor,
  job: { id: string; startedAt: Date | number | null },
  now: Date | number,
  failure: { error: string; errorCode: string | null },
): Promise<ProvisionerJob> {
  const ms = (t: Date | number) => (typeof t === "number" ? t : toMillis(t));
  const at = ms(now);
  const row = await tx
    .updateTable("provisioner_jobs")
    .set({
      completed_at: at,
      updated_at: at,
      started_at: job.startedAt === null ? at : ms(job.startedAt),
      error: failure.error,
      error_code: failure.errorCode,
    })
    .where("id", "=", job.id)
    .returningAll()
    .executeTakeFirstOrThrow();
  await revokeBuildSessionToken(tx, job.id);
  return jobFromRow(row);
}

export async function getJob(db: Executor, id: string): Promise<ProvisionerJob | undefined> {
  const row = await db.selectFrom("provisioner_jobs").selectAll().where("id", "=", id).executeTakeFirst();
  return row ? jobFromRow(row) : undefined;
}

export async function getJobs(db: Executor, ids: readonly string[]): Promise<ProvisionerJob[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .selectFrom("provisioner_jobs")
    .selectAll()
    .where("id", "in", [...ids])
    .execute();
  return rows.map(jobFromRow);
}

// ---- logs ----------------------------------------------------------------------------------------------

export interface JobLogInput {
  createdAt: Date;
  source: LogSource;
  level: LogLevel;
  stage: string;
  output: string;
}

export interface JobLog extends JobLogInput {
  id: number;
  jobId: string;
}

/** Inserts log lines in order; returns their ids (ascending). */
export async function insertJobLogs(
  db: Executor,
  jobId: string,
  logs: readonly JobLogInput[],
): Promise<number[]> {
  if (logs.length === 0) return [];
  const rows = await db
    .insertInto("provisioner_job_logs")
    .values(
      logs.map((l) => ({
        job_id: jobId,
        created_at: toMillis(l.createdAt),
        source: l.source,
        level: l.level,
        stage: l.stage,
        output: l.output,
      })),
    )
    .returning("id")
    .execute();
  return rows.map((r) => r.id).sort((a, b) => a - b);
}

/** Log lines of a job in order, optionally only those after `afterId` (for streaming). */
export async function listJobLogs(
  db: Executor,
  jobId: string,
  options: { afterId?: number; limit?: number } = {},
): Promise<JobLog[]> {
  let query = db.selectFrom("provisioner_job_logs").selectAll().where("job_id", "=", jobId);
  if (options.afterId !== undefined) query = query.where("id", ">", options.afterId);
  const rows = await query
    .orderBy("id")
    .limit(options.limit ?? 10_000)
    .execute();
  return rows.map((r) => ({
    id: r.id,
    jobId: r.job_id,
    createdAt: toDate(r.created_at),
    source: r.source,
    level: r.level,
    stage: r.stage,
    output: r.output,
  }));
}

// ---- timings -------------------------------------------------------------------------------------------

export interface JobTimingInput {
  startedAt: Date;
  endedAt: Date;
  stage: string;
  source: string;
  action: string;
  resource: string;
}

export interface JobTiming extends JobTimingInput {
  jobId: string;
}

export async function insertJobTimings(
  db: Executor,
  jobId: string,
  timings: readonly JobTimingInput[],
): Promise<void> {
  if (timings.length === 0) return;
  await db
    .insertInto("provisioner_job_timings")
    .values(
      timings.map((t) => ({
        job_id: jobId,
        started_at: toMillis(t.startedAt),
        ended_at: toMillis(t.endedAt),
        stage: t.stage,
        source: t.source,
        action: t.action,
        resource: t.resource,
      })),
    )
    .execute();
}

export async function listJobTimings(db: Executor, jobId: string): Promise<JobTiming[]> {
  const rows = await db
    .selectFrom("provisioner_job_timings")
    .selectAll()
    .where("job_id", "=", jobId)
    .orderBy("started_at")
    .orderBy("id")
    .execute();
  return rows.map((r) => ({
    jobId: r.job_id,
    startedAt: toDate(r.started_at),
    endedAt: toDate(r.ended_at),
    stage: r.stage,
    source: r.source,
    action: r.action,
    resource: r.resource,
  }));
}
