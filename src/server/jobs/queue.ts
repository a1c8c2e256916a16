// The provisioner job queue, stored in provisioner_jobs.
//
// Lifecycle (status is derived, see store/job-status.ts):
//
//   pending ──acquire──► running ──complete──► succeeded
//      │                    │  └────fail─────► failed
//      │                    └─cancel─► canceling ──complete/fail──► canceled / failed
//      └──cancel──► canceled            (the daemon learns of the cancel from its next heartbeat reply)
//   pending/running ──reaper (no heartbeat / no daemon)──► failed
//
// Every transition checks the state it starts from inside its transaction (row locked on PostgreSQL;
// SQLite transactions are BEGIN IMMEDIATE, i.e. exclusive), so two actors can never both win.
// Functions taking a Store publish on pub/sub after their commit (best effort); `enqueueJob` takes an
// executor so it can join the caller's transaction — the caller publishes `notifyJobPosted` after commit.
// `now` always comes from the caller's Clock.
import { randomUUID } from "node:crypto";
import { sql } from "kysely";
import { PREBUILDS_USER_ID } from "../prebuilds/system-user.js";
import {
  type JobTypeAndInput,
  jobFromRow,
  type ProvisionerJob,
  type ProvisionerJobRow,
  writeJobFailed,
} from "../store/jobs.js";
import { channels, publishQuietly } from "../store/pubsub.js";
import { toMillis } from "../store/rows.js";
import type { Database } from "../store/schema.js";
import type { Executor, Store } from "../store/store.js";
import { revokeBuildSessionToken } from "../store/users.js";
import { serializeTags, type Tags, UNTAGGED } from "./tags.js";

export type JobStateErrorKind = "not_found" | "not_owner" | "not_running" | "completed";

/** A job operation that does not fit the job's current state. `kind` lets the API pick a status code. */
export class JobStateError extends Error {
  override name = "JobStateError";
  constructor(
    readonly kind: JobStateErrorKind,
    readonly jobId: string,
    message: string,
  ) {
    super(`job ${jobId}: ${message}`);
  }
}

export type EnqueueJobInput = JobTypeAndInput & {
  /** Defaults to a random UUID (pass one when other rows must reference the job in the same transaction). */
  id?: string;
  provisioner: string;
  fileId: string;
  /** Already mutated (tags.ts); default UNTAGGED. */
  tags?: Tags;
  initiatorId: string;
  now: Date;
};

/** Inserts a pending job. Jobs initiated by the prebuilds user are marked `isPrebuild` (acquired last). */
export async function enqueueJob(db: Executor, input: EnqueueJobInput): Promise<ProvisionerJob> {
  const now = toMillis(input.now);
  const row = await db
    .insertInto("provisioner_jobs")
    .values({
      id: input.id ?? randomUUID(),
      type: input.type,
      provisioner: input.provisioner,
      file_id: input.fileId,
      input: JSON.stringify(input.input),
      tags: serializeTags(input.tags ?? UNTAGGED),
      initiator_id: input.initiatorId,
      is_prebuild: input.initiatorId === PREBUILDS_USER_ID ? 1 : 0,
      worker_id: null,
      created_at: now,
      updated_at: now,
      started_at: null,
      completed_at: null,
      canceled_at: null,
      error: null,
      error_code: null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return jobFromRow(row);
}

/** Tells waiting daemons (on every replica) that a job was posted. Call after the enqueueing commit. */
export async function notifyJobPosted(
  store: Store,
  job: Pick<ProvisionerJob, "provisioner" | "tags">,
): Promise<void> {
  await publishQuietly(
    store.pubsub,
    channels.jobPosted,
    JSON.stringify({ provisioner: job.provisioner, tags: job.tags }),
  );
}

export interface AcquireJobRequest {
  daemonId: string;
  provisionerTypes: readonly string[];
  tags: Tags;
  now: Date;
}

/**
 * Takes the next pending job this daemon may run, or null. Order: human jobs before prebuild jobs, then
 * oldest `created_at` first (ties by id). Tag rule: see tags.ts. One statement on both dialects:
 * `UPDATE … WHERE id = (SELECT … LIMIT 1) RETURNING *`; on PostgreSQL the subquery is `FOR UPDATE SKIP
 * LOCKED`, so concurrent acquirers never wait on each other nor get the same job. On SQLite the statement runs
 * on its own (autocommit): one statement is atomic, and the store's single connection is the only writer
 * (store.ts), so a BEGIN IMMEDIATE around it would only add two statements.
 */
export async function acquireJob(store: Store, request: AcquireJobRequest): Promise<ProvisionerJob | null> {
  if (request.provisionerTypes.length === 0) return null;
  const now = toMillis(request.now);
  const daemonTags = serializeTags(request.tags);
  const untagged = serializeTags(UNTAGGED);
  const types = [...request.provisionerTypes];
  const statement =
    store.dialect === "postgres"
      ? sql<ProvisionerJobRow>`update provisioner_jobs set started_at = ${now}, updated_at = ${now}, worker_id = ${request.daemonId}
          where id = (
            select id from provisioner_jobs
            where started_at is null and completed_at is null and canceled_at is null
              and provisioner = any(${types}::text[])
              and (case when tags::jsonb = ${untagged}::jsonb then ${daemonTags}::jsonb = ${untagged}::jsonb
                        else tags::jsonb <@ ${daemonTags}::jsonb end)
            order by is_prebuild, created_at, id
            for update skip locked
            limit 1)
          returning *`
      : sql<ProvisionerJobRow>`update provisioner_jobs set started_at = ${now}, updated_at = ${now}, worker_id = ${request.daemonId}
          where id = (
            select j.id from provisioner_jobs j
            where j.started_at is null and j.completed_at is null and j.canceled_at is null
              and j.provisioner in (${sql.join(types)})
              and (case when j.tags = ${untagged} then ${daemonTags} = ${untagged}
                        else not exists (
                          select 1 from json_each(j.tags) t
                          where not exists (
                            select 1 from json_each(${daemonTags}) d where d.key = t.key and d.value = t.value))
                   end)
            order by j.is_prebuild, j.created_at, j.id
            limit 1)
          returning *`;
  const row = (await statement.execute(store.db)).rows[0];
  return row ? jobFromRow(row) : null;
}

/** Reads and row-locks (PostgreSQL) a job inside a transaction. */
async function lockJob(tx: Executor, store: Store, jobId: string): Promise<ProvisionerJob> {
  let query = tx.selectFrom("provisioner_jobs").selectAll().where("id", "=", jobId);
  if (store.dialect === "postgres") query = query.forUpdate();
  const row = await query.executeTakeFirst();
  if (!row) throw new JobStateError("not_found", jobId, "no such job");
  return jobFromRow(row);
}

/** Throws unless `job` is running on `daemonId` (null = the server itself: any unfinished job). */
function assertRunningOn(job: ProvisionerJob, daemonId: string | null): void {
  if (job.completedAt !== null) throw new JobStateError("completed", job.id, "already completed");
  if (daemonId === null) return;
  if (job.startedAt === null) throw new JobStateError("not_running", job.id, "not running yet");
  if (job.workerId !== daemonId) throw new JobStateError("not_owner", job.id, "not running on this daemon");
}

/**
 * A daemon's liveness signal for its job: bumps `updated_at` (what the reaper watches). Replies whether the
 * job was cancelled, so the daemon can send Cancel to its Session. Rejects (JobStateError) when the job is
 * not running on that daemon any more — e.g. the reaper failed it — so the daemon stops working on it.
 */
export async function heartbeatJob(
  db: Executor,
  jobId: string,
  daemonId: string,
  now: Date,
): Promise<{ canceled: boolean }> {
  const row = await db
    .updateTable("provisioner_jobs")
    .set({ updated_at: toMillis(now) })
    .where("id", "=", jobId)
    .where("worker_id", "=", daemonId)
    .where("started_at", "is not", null)
    .where("completed_at", "is", null)
    .returning("canceled_at")
    .executeTakeFirst();
  if (row) return { canceled: row.canceled_at !== null };
  const job = await db.selectFrom("provisioner_jobs").selectAll().where("id", "=", jobId).executeTakeFirst();
  if (!job) throw new JobStateError("not_found", jobId, "no such job");
  assertRunningOn(jobFromRow(job), daemonId);
  throw new JobStateError("not_running", jobId, "not running"); // unreachable: the update would have matched
}

/**
 * Writes a job's results; runs inside the completing (or failing) transaction. `job` is the job as that
 * transaction leaves it (completed by completeJob; as locked, not yet failed, by failJob).
 */
export type WriteResults = (tx: Executor, job: ProvisionerJob) => Promise<void>;

/**
 * Completes a running job: `writeResults` and the completion commit together or not at all (a throwing
 * `writeResults` rolls everything back and the job stays running). A job cancelled meanwhile completes as
 * "canceled" (its results are still written: they describe what the provisioner really did).
 * The transition is one conditional UPDATE, first in the transaction (so the job row is locked, on PostgreSQL,
 * before anything else is written, as the reaper locks it); only a refused one reads the job, to say why.
 */
export async function completeJob(
  store: Store,
  jobId: string,
  daemonId: string,
  now: Date,
  writeResults: WriteResults = async () => {},
): Promise<ProvisionerJob> {
  const at = toMillis(now);
  const job = await store.transaction(async (tx) => {
    const row = await tx
      .updateTable("provisioner_jobs")
      .set({ completed_at: at, updated_at: at })
      .where("id", "=", jobId)
      .where("worker_id", "=", daemonId)
      .where("started_at", "is not", null)
      .where("completed_at", "is", null)
      .returningAll()
      .executeTakeFirst();
    if (!row) {
      assertRunningOn(await lockJob(tx, store, jobId), daemonId);
      throw new JobStateError("not_running", jobId, "not running"); // unreachable: the update would have matched
    }
    const completed = jobFromRow(row);
    await writeResults(tx, completed);
    await revokeBuildSessionToken(tx, jobId); // the build is over: so is its owner's session token
    return completed;
  });
  await publishEndOfLogs(store, jobId);
  return job;
}

export interface FailJobInput {
  error: string;
  errorCode?: string | null;
  /** Writes what the provisioner returned before failing (e.g. a build's partial state), in the same transaction. */
  writePartial?: WriteResults;
}

/**
 * Fails an unfinished job with `error`. `daemonId` must be the job's worker; null means the server fails it
 * (e.g. its input could not be prepared), which is allowed for pending jobs too.
 */
export async function failJob(
  store: Store,
  jobId: string,
  daemonId: string | null,
  now: Date,
  input: FailJobInput,
): Promise<ProvisionerJob> {
  if (input.error === "") throw new Error(`fail job ${jobId}: an error message is required`);
  const job = await store.transaction(async (tx) => {
    const current = await lockJob(tx, store, jobId);
    assertRunningOn(current, daemonId);
    await input.writePartial?.(tx, current);
    return writeJobFailed(tx, current, now, { error: input.error, errorCode: input.errorCode ?? null });
  });
  await publishEndOfLogs(store, jobId);
  return job;
}

export interface CancelResult {
  job: ProvisionerJob;
  /** "canceled": it was pending and is now finished; "canceling": its daemon learns at the next heartbeat. */
  outcome: "canceled" | "canceling";
}

/**
 * Inside the caller's transaction: cancels the job if it is still pending — nobody acquired it — by finishing
 * it at once as canceled (row-locked on PostgreSQL; acquisition skips locked rows). False when it was acquired,
 * cancelled or finished meanwhile. The caller publishes `publishEndOfLogs` after its commit.
 */
export async function cancelIfPending(
  tx: Executor,
  store: Store,
  jobId: string,
  now: Date,
): Promise<boolean> {
  const current = await lockJob(tx, store, jobId);
  if (current.startedAt !== null || current.workerId !== null) return false;
  if (current.completedAt !== null || current.canceledAt !== null) return false;
  const at = toMillis(now);
  await finish(tx, jobId, { canceled_at: at, completed_at: at, updated_at: at });
  return true;
}

/**
 * Cancels a job. Pending: finished at once (canceled_at = completed_at = now). Running: canceled_at is set
 * and the daemon is told by its next heartbeat reply. Cancelling a job already being cancelled changes
 * nothing. A finished job cannot be cancelled (JobStateError "completed").
 */
export async function cancelJob(store: Store, jobId: string, now: Date): Promise<CancelResult> {
  const result = await store.transaction(async (tx): Promise<CancelResult> => {
    const current = await lockJob(tx, store, jobId);
    if (current.completedAt !== null) throw new JobStateError("completed", jobId, "already completed");
    if (current.canceledAt !== null) return { job: current, outcome: "canceling" };
    const at = toMillis(now);
    if (current.startedAt === null) {
      const job = await finish(tx, jobId, { canceled_at: at, completed_at: at, updated_at: at });
      return { job, outcome: "canceled" };
    }
    const job = await finish(tx, jobId, { canceled_at: at, updated_at: at });
    return { job, outcome: "canceling" };
  });
  if (result.outcome === "canceled") await publishEndOfLogs(store, jobId);
  return result;
}

type JobUpdate = Partial<
  Pick<
    Database["provisioner_jobs"],
    "completed_at" | "updated_at" | "started_at" | "canceled_at" | "error" | "error_code"
  >
>;

async function finish(tx: Executor, jobId: string, set: JobUpdate): Promise<ProvisionerJob> {
  const row = await tx
    .updateTable("provisioner_jobs")
    .set(set)
    .where("id", "=", jobId)
    .returningAll()
    .executeTakeFirstOrThrow();
  return jobFromRow(row);
}

/** Called at every job's end: its log followers stop, and whoever waits for jobs to finish wakes. */
export async function publishEndOfLogs(store: Store, jobId: string): Promise<void> {
  await publishQuietly(store.pubsub, channels.jobLogs(jobId), JSON.stringify({ endOfLogs: true }));
  await publishQuietly(store.pubsub, channels.jobFinished, jobId);
}
