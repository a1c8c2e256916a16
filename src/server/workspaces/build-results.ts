// A workspace build's results: the new provisioner state, the resources the apply produced, the timings and what
// its plan replaced, written in the job's completing transaction — with the usable mark when the build made its
// workspace usable at once (usable.ts). A delete build that succeeds marks the workspace deleted. A failed build keeps whatever state the provisioner returned with its error (nothing is
// lost); without one, the state carried forward from the previous build stays.
//
// A CLAIM build whose plan replaced resources did not hand infrastructure over — it rebuilt it, so the claim
// was not instant (Coder's most common prebuild problem: a resource that depends on the owner). That is said
// where the people concerned look: a warning line per replaced resource in the build log, a `replacement`
// prebuild event (the metric and the dashboard count it), and the build's `resourceReplacements`.
import type {
  CompleteJobRequest_WorkspaceBuild,
  FailJobRequest_WorkspaceBuildFailure,
} from "../../gen/prewarm/daemon/v1/daemon_pb.js";
import { keepsRunningAgentTokens } from "../agents/rules.js";
import type { ServerContext } from "../context.js";
import { completeJob, failJob, JobStateError } from "../jobs/queue.js";
import { insertPrebuildEvent } from "../prebuilds/queries.js";
import { resourcesFromProto, timingsFromProto } from "../provisioner-results.js";
import { insertJobLogs, insertJobTimings, type JobLogInput, type ProvisionerJob } from "../store/jobs.js";
import { getPresetLabels } from "../store/presets.js";
import { channels, publishQuietly } from "../store/pubsub.js";
import { getAgentTokensOfJob, insertResources, type NewResource } from "../store/resources.js";
import type { Executor } from "../store/store.js";
import {
  getBuildByJobId,
  getLatestSucceededBuildBefore,
  type ResourceReplacementRecord,
  setBuildProvisionerState,
  setBuildResourceReplacements,
  softDeleteWorkspace,
  type WorkspaceBuild,
} from "../store/workspaces.js";
import { markUsableOnCompletion } from "./usable.js";

async function buildOf(db: Executor, job: ProvisionerJob) {
  const build = await getBuildByJobId(db, job.id);
  if (!build) throw new JobStateError("not_found", job.id, "no workspace build for this job");
  return build;
}

export async function completeWorkspaceBuild(
  ctx: ServerContext,
  job: ProvisionerJob,
  daemonId: string,
  result: CompleteJobRequest_WorkspaceBuild,
): Promise<ProvisionerJob> {
  const now = ctx.clock.now();
  const build = await buildOf(ctx.store.db, job);
  const replacements = result.resourceReplacements.map((r) => ({
    resource: r.resource,
    paths: [...r.paths],
  }));
  const claim = build.prebuildStage === "claim";
  // Read before the commit, so the claim's duration is observed before anyone can see the build finished.
  const labels = claim && build.presetId ? await getPresetLabels(ctx.store.db, build.presetId) : undefined;
  let usableAt = null as Date | null;
  const completed = await completeJob(ctx.store, job.id, daemonId, now, async (tx, completedJob) => {
    await setBuildProvisionerState(tx, build.id, result.state, now);
    let resources = resourcesFromProto(result.resources);
    resources = await keepRunningAgentTokens(tx, build, resources);
    await insertResources(tx, { jobId: job.id, transition: build.transition, resources, now });
    await insertJobTimings(tx, job.id, timingsFromProto(result.timings));
    if (replacements.length > 0) await setBuildResourceReplacements(tx, build.id, replacements, now);
    if (claim && replacements.length > 0) {
      await insertJobLogs(
        tx,
        job.id,
        replacements.map((r) => replacementWarning(r, now)),
      );
      if (build.presetId) await insertPrebuildEvent(tx, build.presetId, "replacement", now.getTime());
    }
    if (build.transition === "delete") await softDeleteWorkspace(tx, build.workspaceId, now);
    const hasAgents = resources.some((r) => (r.agents?.length ?? 0) > 0);
    usableAt = await markUsableOnCompletion(tx, build, completedJob, hasAgents);
  });
  if (labels) {
    ctx.events.claimBuilt(labels, (now.getTime() - build.createdAt.getTime()) / 1000);
    // From the claim (the create request's transaction) to usable: what the person waited for.
    if (usableAt) ctx.events.claimUsable(labels, (usableAt.getTime() - build.createdAt.getTime()) / 1000);
    if (replacements.length > 0) {
      ctx.logger.warn(
        { workspaceId: build.workspaceId, resources: replacements.map((r) => r.resource) },
        "a prebuild claim replaced resources: the claimed infrastructure was rebuilt, not handed over",
      );
    }
  }
  ctx.logger.info(buildFields(build, now), "workspace build succeeded");
  await afterBuildEnded(ctx, job, build);
  return completed;
}

/** What a build's log line says about it: which workspace, which build, what kind, how long since queued. */
function buildFields(build: WorkspaceBuild, now: Date) {
  return {
    workspaceId: build.workspaceId,
    build: build.buildNumber,
    transition: build.transition,
    reason: build.reason,
    ...(build.prebuildStage === "none" ? {} : { prebuildStage: build.prebuildStage }),
    jobId: build.jobId,
    durationMs: now.getTime() - build.createdAt.getTime(),
  };
}

/** The build-log line for one resource a claim replaced. */
export function replacementWarning(r: ResourceReplacementRecord, at: Date): JobLogInput {
  const paths = r.paths.length > 0 ? r.paths.join(", ") : "unknown attributes";
  return {
    createdAt: at,
    source: "provisioner_daemon",
    level: "warn",
    stage: "Claiming prebuilt workspace",
    output: `claim replaced ${r.resource} (changed: ${paths}): this resource was destroyed and re-created instead of being handed over; add its changing attributes to lifecycle { ignore_changes = [...] } (docs/terraform-templates.md, "Preventing replacement on claim")`,
  };
}

/**
 * A claim build, or a start build of a running workspace, hands its running agents over (rules.ts
 * keepsRunningAgentTokens): an agent the provisioner returned without a token (echo templates; terraform
 * returns the token it was given in `running_agent_auth_tokens`) keeps the token of the previous build's agent
 * of the same name, so the agent process already running with it stays authenticated.
 */
async function keepRunningAgentTokens(
  db: Executor,
  build: WorkspaceBuild,
  resources: NewResource[],
): Promise<NewResource[]> {
  const running = await getLatestSucceededBuildBefore(db, build.workspaceId, build.buildNumber);
  if (!running || !keepsRunningAgentTokens(build, running)) return resources;
  const tokens = new Map((await getAgentTokensOfJob(db, running.jobId)).map((t) => [t.agentName, t.token]));
  return resources.map((r) => ({
    ...r,
    agents: r.agents?.map((a) => (a.authToken ? a : { ...a, authToken: tokens.get(a.name) })),
  }));
}

export async function failWorkspaceBuild(
  ctx: ServerContext,
  job: ProvisionerJob,
  daemonId: string | null,
  failure: { error: string; errorCode?: string },
  partial: FailJobRequest_WorkspaceBuildFailure | undefined,
): Promise<ProvisionerJob> {
  const now = ctx.clock.now();
  const build = await buildOf(ctx.store.db, job);
  const failed = await failJob(ctx.store, job.id, daemonId, now, {
    error: failure.error,
    errorCode: failure.errorCode || null,
    writePartial: async (tx) => {
      if (partial && partial.state.length > 0)
        await setBuildProvisionerState(tx, build.id, partial.state, now);
      if (partial) await insertJobTimings(tx, job.id, timingsFromProto(partial.timings));
    },
  });
  // warn, not info: a failed build is something to look at (a template's fault, a provisioner's, a cloud's).
  ctx.logger.warn({ ...buildFields(build, now), error: failure.error }, "workspace build failed");
  await afterBuildEnded(ctx, job, build);
  return failed;
}

/**
 * Tells the workspace's watchers, and the reconciler when a person's build of an unclaimed prebuild ended (an
 * admin stopping or deleting one changes its pool as much as the reconciler's own builds, which wake it from
 * the daemon API: daemon-api/service.ts afterJobFinished). Without this the pool waited for the next periodic
 * cycle.
 */
async function afterBuildEnded(
  ctx: ServerContext,
  job: ProvisionerJob,
  build: WorkspaceBuild,
): Promise<void> {
  await notifyWorkspace(ctx, build.workspaceId);
  if (!job.isPrebuild && build.prebuildStage === "create")
    ctx.events.reconcileSoon("prebuild changed by a person");
}

export function notifyWorkspace(ctx: ServerContext, workspaceId: string): Promise<void> {
  return publishQuietly(ctx.store.pubsub, channels.workspace, workspaceId);
}
