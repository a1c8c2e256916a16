// The server side of DaemonService (proto/prewarm/daemon/v1/daemon.proto): acquire (long poll), update (logs,
// parse results, heartbeat), complete and fail (each with the job's last log lines). Every call must carry the
// pre-shared key. Results are written
// through the job queue's transactional complete/fail, so a job's outcome lands whole or not at all. A job the
// calling daemon no longer holds is answered with LOST_JOB_CODES (mapJobErrors). Waits use the server's Clock.
import { timingSafeEqual } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import { PSK_HEADER } from "../../contract/daemon.js";
import {
  AcquireJobResponseSchema,
  type CompleteJobRequest,
  type DaemonIdentity,
  DaemonService,
  type FailJobRequest,
  type JobLog,
  LogSource,
  type UpdateJobRequest,
  UpdateJobResponseSchema,
} from "../../gen/prewarm/daemon/v1/daemon_pb.js";
import type { ServerContext } from "../context.js";
import { acquireJob, failJob, heartbeatJob, JobStateError } from "../jobs/queue.js";
import { STORAGE_UNAVAILABLE_ERROR_CODE } from "../jobs/reaper.js";
import { InvalidTagsError, mutateTags, type Tags, validateTags } from "../jobs/tags.js";
import { completeRehearsal } from "../prebuilds/rehearsal.js";
import { logLevelName } from "../provisioner-results.js";
import type { DaemonApiObserver } from "../server-metrics.js";
import { upsertDaemon } from "../store/daemons.js";
import { storageFault } from "../store/errors.js";
import { getJob, insertJobLogs, type ProvisionerJob } from "../store/jobs.js";
import { channels, publishQuietly } from "../store/pubsub.js";
import { completeTemplateImport, recordParseResult } from "../templates/import-results.js";
import { completeWorkspaceBuild, failWorkspaceBuild } from "../workspaces/build-results.js";
import { acquiredTransition, buildAcquiredJob } from "./acquired-job.js";
import { ArchiveCache } from "./archive-cache.js";
import { RecentRegistrations } from "./recent-registrations.js";

/** Longest a single acquire request waits on the server (a daemon simply asks again). */
const MAX_WAIT_MS = 30_000;
/** A waiting acquire looks again this often even without a "job posted" hint. */
const REPOLL_MS = 5_000;
/** How often an unchanged daemon's row is rewritten by its acquires (recent-registrations.ts says why). */
const REGISTRATION_REFRESH_MS = 10_000;

export interface DaemonApiOptions {
  psk: string;
  /** Told of daemons calling and of jobs handed out and ended (server-metrics.ts). */
  observer?: DaemonApiObserver;
}

export function registerDaemonService(router: ConnectRouter, ctx: ServerContext, options: DaemonApiOptions) {
  const expected = Buffer.from(options.psk);
  const authenticate = (hc: HandlerContext) => {
    const given = Buffer.from(hc.requestHeader.get(PSK_HEADER) ?? "");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new ConnectError("invalid or missing provisioner daemon key", Code.Unauthenticated);
    }
  };

  const observer = options.observer;
  const registrations = new RecentRegistrations(REGISTRATION_REFRESH_MS);
  const archives = new ArchiveCache();
  router.service(DaemonService, {
    async acquireJob(req, hc) {
      authenticate(hc);
      const identity = req.daemon;
      if (!identity?.name) throw new ConnectError("daemon name is required", Code.InvalidArgument);
      const tags = daemonTags(identity.tags);
      const daemonId = await registerDaemon(ctx, registrations, identity, tags);
      observer?.daemonSeen(daemonId);
      // The long poll ends on a timer of the server's clock rather than at a `now()` deadline, so a request
      // waits its `waitMs` however the wall clock moves (and a test's clock decides when it is over).
      const over = deadlineSignal(ctx, Math.min(Math.max(req.waitMs, 0), MAX_WAIT_MS), hc.signal);
      try {
        for (;;) {
          const job = await acquireJob(ctx.store, {
            daemonId,
            provisionerTypes: identity.provisionerTypes,
            tags,
            now: ctx.clock.now(),
          });
          if (job) {
            try {
              const acquired = await buildAcquiredJob(
                ctx.store.db,
                job,
                ctx.accessUrl,
                ctx.clock.now(),
                archives,
              );
              if (hc.signal.aborted) throw new Error("connection to provisioner daemon broken");
              observer?.jobAcquired(job, acquiredTransition(acquired));
              return create(AcquireJobResponseSchema, {
                job: acquired,
                daemonId,
                outcomeTakesLogs: true,
              });
            } catch (err) {
              // A database that went away is the infrastructure's failure, not the template's (no backoff).
              await failJob(ctx.store, job.id, null, ctx.clock.now(), {
                error: (err as Error).message,
                ...(storageFault(err) ? { errorCode: STORAGE_UNAVAILABLE_ERROR_CODE } : {}),
              });
              afterJobFinished(ctx, job);
              continue;
            }
          }
          if (over.signal.aborted) return create(AcquireJobResponseSchema, { daemonId });
          await waitForJobPosted(ctx, REPOLL_MS, over.signal);
        }
      } finally {
        over.dispose();
      }
    },

    async updateJob(req, hc) {
      authenticate(hc);
      observer?.daemonSeen(req.daemonId);
      return mapJobErrors(req.jobId, () => updateJob(ctx, req));
    },

    async completeJob(req, hc) {
      authenticate(hc);
      observer?.daemonSeen(req.daemonId);
      observer?.jobEnded(await mapJobErrors(req.jobId, () => complete(ctx, req)));
      return {};
    },

    async failJob(req, hc) {
      authenticate(hc);
      observer?.daemonSeen(req.daemonId);
      observer?.jobEnded(await mapJobErrors(req.jobId, () => fail(ctx, req)));
      return {};
    },
  });
}

/** The daemon's id: its row upserted by name, unless this process wrote the same registration lately. */
async function registerDaemon(
  ctx: ServerContext,
  registrations: RecentRegistrations,
  identity: DaemonIdentity,
  tags: Tags,
): Promise<string> {
  const now = ctx.clock.now();
  const registration = {
    name: identity.name,
    identityKey: JSON.stringify([identity.provisionerTypes, tags, identity.version]),
  };
  const recent = registrations.fresh(registration, now.getTime());
  if (recent) return recent;
  const daemon = await upsertDaemon(ctx.store.db, {
    name: identity.name,
    provisioners: identity.provisionerTypes,
    tags,
    version: identity.version,
    now,
  });
  registrations.remember(registration, daemon.id, now.getTime());
  return daemon.id;
}

/** A daemon's tags, checked and mutated as Coder does (jobs/tags.ts; no `scope=user`, see there). */
function daemonTags(given: Record<string, string>): Tags {
  try {
    return mutateTags("", validateTags(given));
  } catch (err) {
    if (err instanceof InvalidTagsError) throw new ConnectError(err.message, Code.InvalidArgument);
    throw err;
  }
}

/** A signal that aborts `ms` from now on the server's clock (at once for 0) or when `parent` aborts. */
function deadlineSignal(ctx: ServerContext, ms: number, parent: AbortSignal) {
  const controller = new AbortController();
  const abort = () => controller.abort();
  const timer = ctx.clock.setTimeout(abort, ms);
  parent.addEventListener("abort", abort, { once: true });
  if (ms === 0 || parent.aborted) abort();
  return {
    signal: controller.signal,
    dispose: () => {
      timer.cancel();
      parent.removeEventListener("abort", abort);
    },
  };
}

/**
 * Resolves when a job is posted, after `ms` (pub/sub is only a hint: a missed one costs at most `ms`), or when
 * `signal` aborts (the wait is over or the request is gone).
 */
function waitForJobPosted(ctx: ServerContext, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    let unsubscribe: () => void = () => {};
    const done = () => {
      timer.cancel();
      unsubscribe();
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = ctx.clock.setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    unsubscribe = ctx.store.pubsub.subscribe(channels.jobPosted, done);
  });
}

async function mapJobErrors<T>(jobId: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof JobStateError) {
      const code = err.kind === "not_found" ? Code.NotFound : Code.FailedPrecondition;
      throw new ConnectError(err.message, code);
    }
    if (err instanceof ConnectError) throw err;
    throw new ConnectError(`job ${jobId}: ${(err as Error).message}`, Code.Internal);
  }
}

async function updateJob(ctx: ServerContext, req: UpdateJobRequest) {
  const now = ctx.clock.now();
  const { canceled } = await heartbeatJob(ctx.store.db, req.jobId, req.daemonId, now);
  await storeLogs(ctx, req.jobId, req.logs, now);
  const response = create(UpdateJobResponseSchema, { canceled });
  if (req.parseResult) {
    const job = await getJob(ctx.store.db, req.jobId);
    if (job?.type !== "template_version_import") {
      throw new ConnectError("a parse result is only accepted for template imports", Code.InvalidArgument);
    }
    const values = await recordParseResult(ctx, job, req.parseResult);
    response.variableValues = values.map((v) => ({
      $typeName: "provisioner.VariableValue",
      name: v.name,
      value: v.value,
      sensitive: v.sensitive,
    }));
  }
  return response;
}

/** Completes the job with the daemon's result; returns the job as its completing transaction left it. */
async function complete(ctx: ServerContext, req: CompleteJobRequest): Promise<ProvisionerJob> {
  const job = await getJob(ctx.store.db, req.jobId);
  if (!job) throw new JobStateError("not_found", req.jobId, "no such job");
  await storeOutcomeLogs(ctx, job, req);
  const result = req.type;
  let ended: ProvisionerJob;
  if (job.type === "template_version_import" && result.case === "templateImport") {
    ended = await completeTemplateImport(ctx, job, req.daemonId, result.value);
  } else if (job.type === "workspace_build" && result.case === "workspaceBuild") {
    ended = await completeWorkspaceBuild(ctx, job, req.daemonId, result.value);
  } else if (job.type === "claim_rehearsal" && result.case === "claimRehearsal") {
    ended = await completeRehearsal(ctx, job, req.daemonId, result.value);
  } else {
    throw new ConnectError(
      `job ${job.id} is a ${job.type}; got a ${String(result.case)} result`,
      Code.InvalidArgument,
    );
  }
  afterJobFinished(ctx, job);
  return ended;
}

/** Fails the job as the daemon reported; returns the job as its failing transaction left it. */
async function fail(ctx: ServerContext, req: FailJobRequest): Promise<ProvisionerJob> {
  const job = await getJob(ctx.store.db, req.jobId);
  if (!job) throw new JobStateError("not_found", req.jobId, "no such job");
  await storeOutcomeLogs(ctx, job, req);
  const error = req.error || "the provisioner daemon failed the job without saying why";
  const ended =
    job.type === "workspace_build"
      ? await failWorkspaceBuild(
          ctx,
          job,
          req.daemonId,
          { error, errorCode: req.errorCode },
          req.workspaceBuild,
        )
      : await failJob(ctx.store, job.id, req.daemonId, ctx.clock.now(), {
          error,
          errorCode: req.errorCode || null,
        });
  afterJobFinished(ctx, job);
  return ended;
}

/** Stores a batch of a job's log lines and tells the job's log followers. */
async function storeLogs(ctx: ServerContext, jobId: string, logs: readonly JobLog[], now: Date) {
  if (logs.length === 0) return;
  const ids = await insertJobLogs(
    ctx.store.db,
    jobId,
    logs.map((l) => ({
      createdAt: new Date(Number(l.createdAtMs) || now.getTime()),
      source: l.source === LogSource.PROVISIONER ? "provisioner" : "provisioner_daemon",
      level: logLevelName(l.level),
      stage: l.stage.slice(0, 128),
      output: l.output.slice(0, 4096),
    })),
  );
  await publishQuietly(
    ctx.store.pubsub,
    channels.jobLogs(jobId),
    JSON.stringify({ afterId: (ids[0] ?? 1) - 1 }),
  );
}

/**
 * The last lines that came with CompleteJob or FailJob, stored before the outcome is (followers see them
 * before the job ends) — only while the job is the caller's to end: a report the outcome's transaction will
 * refuse stores nothing, as an UpdateJob for that job would have been refused. (A job reaped between this
 * read and that transaction keeps the lines, as it would keep those of an UpdateJob answered just before.)
 */
async function storeOutcomeLogs(
  ctx: ServerContext,
  job: ProvisionerJob,
  req: { daemonId: string; logs: readonly JobLog[] },
) {
  if (req.logs.length === 0) return;
  if (job.workerId !== req.daemonId || job.startedAt === null || job.completedAt !== null) return;
  await storeLogs(ctx, job.id, req.logs, ctx.clock.now());
}

/** The reconciler reacts soon to a finished prebuild build (ARCHITECTURE §5 rule 11). */
function afterJobFinished(ctx: ServerContext, job: ProvisionerJob) {
  if (job.isPrebuild) ctx.events.reconcileSoon("prebuild build finished");
}
