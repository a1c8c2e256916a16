// When a workspace is USABLE — the one definition: its latest build is a successful `start` and every agent of
// that build reports `ready` (a template without agents: as soon as the build succeeded). What happens at that
// moment, once per build (`workspace_builds.usable_at` is set by a conditional update, so replicas and
// duplicate reports cannot do it twice): a pending lease starts counting, and for a claimed prebuild the
// claim-to-ready time is observed. Checked inside the transaction that completes a build (a template without
// agents is usable then, and the mark commits with the completion) and after an agent reports ready.
import type { ServerContext } from "../context.js";
import { getJob, type ProvisionerJob } from "../store/jobs.js";
import { getPresetLabels } from "../store/presets.js";
import { listAgentReadiness } from "../store/resources.js";
import type { Executor } from "../store/store.js";
import {
  getLatestBuild,
  markBuildUsable,
  startLeaseCountdown,
  type WorkspaceBuild,
} from "../store/workspaces.js";

/** Pure: the instant the build made its workspace usable, or null while it has not (or never will). */
export function usableSince(
  build: Pick<WorkspaceBuild, "transition">,
  job: { status: string; completedAt: Date | null },
  agents: readonly { lifecycleState: string; readyAt: Date | null }[],
): Date | null {
  if (build.transition !== "start" || job.status !== "succeeded" || !job.completedAt) return null;
  let at = job.completedAt;
  for (const agent of agents) {
    if (agent.lifecycleState !== "ready" || !agent.readyAt) return null;
    if (agent.readyAt > at) at = agent.readyAt;
  }
  return at;
}

/** Records the moment the workspace's latest build made it usable, if it just did (see the header). */
export async function noteIfUsable(ctx: ServerContext, workspaceId: string): Promise<void> {
  const db = ctx.store.db;
  const build = await getLatestBuild(db, workspaceId);
  if (!build || build.usableAt) return;
  const job = await getJob(db, build.jobId);
  if (!job) return;
  const at = usableSince(build, job, await listAgentReadiness(db, build.jobId));
  if (!at) return;
  const labels =
    build.prebuildStage === "claim" && build.presetId ? await getPresetLabels(db, build.presetId) : undefined;
  const marked = await ctx.store.transaction((tx) => markUsable(tx, build, at));
  // From the claim (the create request's transaction) to usable: what the person waited for.
  if (marked && labels) ctx.events.claimUsable(labels, (at.getTime() - build.createdAt.getTime()) / 1000);
}

/**
 * Inside the transaction that completes `build`'s job (`job` as completed there): records the moment the build
 * made its workspace usable, if it did — the same rule as noteIfUsable, with what the transaction already
 * holds instead of reading it back. `hasAgents`: the build's resources have agents (only then are they read:
 * an agent that must still report ready makes it usable later, through noteIfUsable). Returns that moment, or
 * null; the caller observes a claim's claim-to-ready time after the commit.
 */
export async function markUsableOnCompletion(
  tx: Executor,
  build: WorkspaceBuild,
  job: ProvisionerJob,
  hasAgents: boolean,
): Promise<Date | null> {
  if (build.transition !== "start") return null;
  const latest = await getLatestBuild(tx, build.workspaceId);
  if (latest?.id !== build.id || latest.usableAt) return null;
  const at = usableSince(build, job, hasAgents ? await listAgentReadiness(tx, job.id) : []);
  return at && (await markUsable(tx, build, at)) ? at : null;
}

/** Usable and the lease's countdown commit together: a `?wait=ready` that sees one sees both. */
async function markUsable(tx: Executor, build: WorkspaceBuild, at: Date): Promise<boolean> {
  if (!(await markBuildUsable(tx, build.id, at))) return false;
  await startLeaseCountdown(tx, build.workspaceId, at);
  return true;
}
