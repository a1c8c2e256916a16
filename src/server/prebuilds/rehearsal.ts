// Claim rehearsal: once a preset of the active version has its first eligible prebuild, the reconciler plans
// (cycle.ts `rehearse_claim`) ONE plan-only job for it, as if the prebuild were claimed — stage CLAIM, a
// synthetic owner, nothing applied, nothing changed — and this module records which resources the real claim
// would replace, so an operator learns about a template that rebuilds on claim before any user hits it. No
// other system does this. The job is a prebuild job (initiated by the prebuilds user: acquired after human
// builds, counted by the in-flight cap) and never blocks a claim: it locks nothing, and a claim may take the
// rehearsed prebuild meanwhile (the plan ran against a copy of its state).
//
// Lifecycle of a `claim_rehearsals` row (one per preset; a preset belongs to one version):
//   (none) ──reconciler──▶ pending ──job completes──▶ clean | replacements
// A job that fails or is canceled — by its daemon, the server, the hung-job reaper — leaves the row pending; its
// status reads as `failed` (with the job's error) because it is derived from the job on every read, so no
// failure path needs to know about rehearsals.
import type { CompleteJobRequest_ClaimRehearsal } from "../../gen/prewarm/daemon/v1/daemon_pb.js";
import type { ServerContext } from "../context.js";
import { completeJob, enqueueJob, notifyJobPosted } from "../jobs/queue.js";
import { jobStatus } from "../store/job-status.js";
import { getJob, type ProvisionerJob } from "../store/jobs.js";
import { getPreset } from "../store/presets.js";
import type { RehearsalStatus } from "../store/schema.js";
import type { Executor } from "../store/store.js";
import { getTemplateVersion } from "../store/templates.js";
import { getLatestBuild, type ResourceReplacementRecord } from "../store/workspaces.js";
import { finishRehearsal, insertPendingRehearsal, type RehearsalRow, selectRehearsals } from "./queries.js";
import { PREBUILDS_USER_ID } from "./system-user.js";

export interface ClaimRehearsal {
  status: RehearsalStatus;
  replacements: ResourceReplacementRecord[];
  /** When it was started (pending) or finished. */
  at: Date;
  error: string | null;
}

export function rehearsalFromRow(row: RehearsalRow): ClaimRehearsal {
  const job = jobStatus({
    startedAt: row.job_started_at,
    completedAt: row.job_completed_at,
    canceledAt: row.job_canceled_at,
    error: row.job_error,
  });
  const failed = job === "failed" || job === "canceled";
  return {
    status: failed ? "failed" : row.status,
    replacements: JSON.parse(row.replacements) as ResourceReplacementRecord[],
    at: new Date(Number(row.completed_at ?? row.job_completed_at ?? row.created_at)),
    error: failed ? (row.job_error ?? "canceled") : null,
  };
}

/** The rehearsals of the given presets (absent: not run yet), in one query. */
export async function claimRehearsals(
  db: Executor,
  presetIds: readonly string[],
): Promise<Map<string, ClaimRehearsal>> {
  const rows = await selectRehearsals(db, presetIds);
  return new Map(rows.map((r) => [r.preset_id, rehearsalFromRow(r)]));
}

/**
 * The executor's `rehearse_claim`: enqueues the plan-only job for `workspaceId` (an eligible prebuild of the
 * preset) and records it as pending, in one transaction; at most once per preset, whichever replica gets
 * there first. False when the preset already has a rehearsal or the prebuild is gone.
 */
export async function startRehearsal(
  ctx: ServerContext,
  presetId: string,
  workspaceId: string,
): Promise<boolean> {
  const { store } = ctx;
  const job = await store
    .transaction(async (tx) => {
      const preset = await getPreset(tx, presetId);
      const build = await getLatestBuild(tx, workspaceId);
      const version = preset ? await getTemplateVersion(tx, preset.templateVersionId) : undefined;
      if (!preset || !build || !version) return null;
      const now = ctx.clock.now();
      const queued = await enqueueJob(tx, {
        type: "claim_rehearsal",
        input: { presetId, workspaceId },
        provisioner: version.provisioner,
        fileId: version.fileId,
        // On the daemons that built the prebuild (its tags say where its template's resources are reachable).
        tags: (await getJob(tx, build.jobId))?.tags,
        initiatorId: PREBUILDS_USER_ID,
        now,
      });
      // The job and its row commit together or not at all; a second replica's insert finds the row and rolls
      // its own job back with it.
      if (!(await insertPendingRehearsal(tx, { presetId, workspaceId, jobId: queued.id, now }))) {
        throw new RehearsalExists();
      }
      return queued;
    })
    .catch((err) => {
      if (err instanceof RehearsalExists) return null;
      throw err;
    });
  if (!job) return false;
  await notifyJobPosted(store, job);
  return true;
}

class RehearsalExists extends Error {}

/** The daemon's result: what the claim would replace. */
export async function completeRehearsal(
  ctx: ServerContext,
  job: ProvisionerJob,
  daemonId: string,
  result: CompleteJobRequest_ClaimRehearsal,
): Promise<ProvisionerJob> {
  const replacements = result.resourceReplacements.map((r) => ({
    resource: r.resource,
    paths: [...r.paths],
  }));
  const now = ctx.clock.now();
  const completed = await completeJob(ctx.store, job.id, daemonId, now, (tx) =>
    finishRehearsal(tx, job.id, {
      status: replacements.length > 0 ? "replacements" : "clean",
      replacements,
      now,
    }),
  );
  if (replacements.length > 0) {
    ctx.logger.warn(
      { jobId: job.id, resources: replacements.map((r) => r.resource) },
      "claim rehearsal: claiming this preset's prebuilds would replace resources (see `prewarm presets list`)",
    );
  }
  return completed;
}
