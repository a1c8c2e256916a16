// The agent-facing API (./agent-contract.ts), authenticated by the agent's token (app.ts puts the agent on the
// request). Only the lifecycle report is served so far; the manifest, logs, metadata, heartbeat, events and
// bundle routes come with the agent work.

import { updateAgentLifecycle } from "../../store/resources.js";
import { getBuildByJobId, getWorkspace } from "../../store/workspaces.js";
import { notifyWorkspace } from "../../workspaces/build-results.js";
import { agentRoutes } from "../agent-contract.js";
import type { App } from "../app.js";
import { unauthorized } from "../errors.js";
import type { ApiDeps } from "../routes.js";

export function registerAgentRoutes(app: App, { ctx }: ApiDeps): void {
  const db = ctx.store.db;

  app.route({
    ...agentRoutes.agentLifecycle,
    handler: async (request, reply) => {
      const caller = request.agent;
      if (!caller) throw unauthorized("an agent token is required");
      // The token stays valid for as long as its workspace exists (a claim build carries it over); a deleted
      // workspace's agent is told to stop (401 makes the agent exit).
      const build = await getBuildByJobId(db, caller.jobId);
      const workspace = build ? await getWorkspace(db, build.workspaceId) : undefined;
      if (!build || !workspace || workspace.deleted)
        throw unauthorized("this agent's workspace no longer exists");
      const { state } = request.body;
      // Reports are idempotent: the same state again only refreshes the connection timestamps.
      await updateAgentLifecycle(db, caller.agent.id, state, ctx.clock.now());
      await notifyWorkspace(ctx, workspace.id);
      // An agent becoming ready may make a prebuild eligible (or a claimed workspace usable): plan again soon.
      if (state === "ready" && caller.agent.lifecycleState !== "ready")
        ctx.events.reconcileSoon("agent ready");
      return reply.status(204).send(null);
    },
  });
}
