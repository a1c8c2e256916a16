// A provisioner job's status is never stored: it is derived from its timestamps and error, here (and in the
// equivalent SQL expression below, for queries that filter or group by status). Same rules as Coder:
//
//   completed_at set:  error → failed;  canceled_at → canceled;  else succeeded
//   not completed:     error → failed;  canceled_at → canceling; started_at unset → pending; else running
//
// So a running job that is cancelled and then fails ends "failed" (canceled_at stays set), and a pending job
// cancelled by a user is completed at once ("canceled").
import { type RawBuilder, sql } from "kysely";

export type JobStatus = "pending" | "running" | "succeeded" | "failed" | "canceling" | "canceled";

export const JOB_STATUSES: readonly JobStatus[] = [
  "pending",
  "running",
  "succeeded",
  "failed",
  "canceling",
  "canceled",
];

type Stamp = Date | number | null;

export interface JobStatusFields {
  startedAt: Stamp;
  completedAt: Stamp;
  canceledAt: Stamp;
  error: string | null;
}

export function jobStatus(job: JobStatusFields): JobStatus {
  const failed = job.error !== null && job.error !== "";
  if (job.completedAt !== null) {
    if (failed) return "failed";
    return job.canceledAt !== null ? "canceled" : "succeeded";
  }
  if (failed) return "failed";
  if (job.canceledAt !== null) return "canceling";
  return job.startedAt === null ? "pending" : "running";
}

/** Whether a job in this status will not change any more. */
export const isTerminal = (status: JobStatus): boolean =>
  status === "succeeded" || status === "failed" || status === "canceled";

/**
 * The same derivation as SQL (both dialects), over the provisioner_jobs columns of `alias`:
 * `select ${jobStatusSql("j")} as status from provisioner_jobs j`.
 */
export function jobStatusSql(alias: string): RawBuilder<JobStatus> {
  const c = (column: string) => sql.ref(`${alias}.${column}`);
  return sql<JobStatus>`(case
    when ${c("completed_at")} is not null then
      case when coalesce(${c("error")}, '') <> '' then 'failed'
           when ${c("canceled_at")} is not null then 'canceled'
           else 'succeeded' end
    when coalesce(${c("error")}, '') <> '' then 'failed'
    when ${c("canceled_at")} is not null then 'canceling'
    when ${c("started_at")} is null then 'pending'
    else 'running' end)`;
}
