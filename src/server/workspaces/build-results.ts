// A workspace build's results: the new provisioner state, the resources the apply produced and the timings,
// written in the job's completing transaction. A delete build that succeeds marks the workspace deleted. A
// failed build keeps whatever state the provisioner returned with its error (nothing is lost); without one,
// the state carried forward from the previous build stays.
import type {
  CompleteJobRequest_WorkspaceBuild,
  FailJobRequest_WorkspaceBuildFailure,
} from "../../gen/prewarm/daemon/v1/daemon_pb.js";
import type { ServerContext } from "../context.js";
import { completeJob, failJob, JobStateError } from "../jobs/queue.js";
import { resourcesFromProto, timingsFromProto } from "../provisioner-results.js";
import { insertJobTimings, type ProvisionerJob } from "../store/jobs.js";
import { channels, publishQuietly } from "../store/pubsub.js";
import { getAgentTokensOfJob, insertResources, type NewResource } from "../store/resources.js";
import type { Executor } from "../store/store.js";
import {
  getBuildByJobId,
  getBuildByNumber,
  setBuildProvisionerState,
  softDeleteWorkspace,
  type WorkspaceBuild,
} from "../store/workspaces.js";

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
): Promise<void> {
  const now = ctx.clock.now();
  const build = await buildOf(ctx.store.db, job);
  await completeJob(ctx.store, job.id, daemonId, now, async (tx) => {
    await setBuildProvisionerState(tx, build.id, result.state, now);
    let resources = resourcesFromProto(result.resources);
    if (build.prebuildStage === "claim") resources = await keepRunningAgentTokens(tx, build, resources);
    await insertResources(tx, { jobId: job.id, transition: build.transition, resources, now });
    await insertJobTimings(tx, job.id, timingsFromProto(result.timings));
    if (build.transition === "delete") await softDeleteWorkspace(tx, build.workspaceId, now);
  });
  await notifyWorkspace(ctx, build.workspaceId);
}

/**
 * A claim build hands its running agents over: an agent the provisioner returned without a token (echo
 * templates; terraform returns the token it was given in `running_agent_auth_tokens`) keeps the token of the
 * previous build's agent of the same name, so the agent process already running with it stays authenticated.
 */
async function keepRunningAgentTokens(
  db: Executor,
  build: WorkspaceBuild,
  resources: NewResource[],
): Promise<NewResource[]> {
  const previous = await getBuildByNumber(db, build.workspaceId, build.buildNumber - 1);
  if (!previous) return resources;
  const tokens = new Map((await getAgentTokensOfJob(db, previous.jobId)).map((t) => [t.agentName, t.token]));
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
): Promise<void> {
  const now = ctx.clock.now();
  const build = await buildOf(ctx.store.db, job);
  await failJob(ctx.store, job.id, daemonId, now, {
    error: failure.error,
    errorCode: failure.errorCode || null,
    writePartial: async (tx) => {
      if (partial && partial.state.length > 0)
        await setBuildProvisionerState(tx, build.id, partial.state, now);
      if (partial) await insertJobTimings(tx, job.id, timingsFromProto(partial.timings));
    },
  });
  await notifyWorkspace(ctx, build.workspaceId);
}

export function notifyWorkspace(ctx: ServerContext, workspaceId: string): Promise<void> {
  return publishQuietly(ctx.store.pubsub, channels.workspace, workspaceId);
}
