// A provisioner job's status is never stored: it is derived from its timestamps and error, here (and in the
// equivalent SQL expression below, for queries that filter or group by status):
//
//   completed_at set:  canceled_at → canceled;  error → failed;  else succeeded
//   not completed:     error → failed;  canceled_at → canceling; started_at unset → pending; else running
//
// Differs from Coder on purpose: Coder reports a running job that was cancelled and then ended with the
// provisioner's error ("canceled") as "failed". A cancelled build always ends with such an error, so users
// would never see "canceled" for a running build, and failure-driven logic (backoff, hard limit) would count
// a user's cancel as a broken template. Here a cancelled job ends "canceled"; the error text is kept.
import { type RawBuilder, sql } from "kysely";

export type JobStatus = "pending" | "running" | "succeeded" | "failed" | "canceling" | "canceled";

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
    if (job.canceledAt !== null) return "canceled";
    return failed ? "failed" : "succeeded";
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
      case when ${c("canceled_at")} is not null then 'canceled'
           when coalesce(${c("error")}, '') <> '' then 'failed'
           else 'succeeded' end
    when coalesce(${c("error")}, '') <> '' then 'failed'
    when ${c("canceled_at")} is not null then 'canceling'
    when ${c("started_at")} is null then 'pending'
    else 'running' end)`;
}
