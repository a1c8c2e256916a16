// The agent-facing API (src/contract/agent.ts): `prewarm agent` fetches its manifest, reports lifecycle, logs,
// metadata and heartbeats, and listens for the claim hand-over; plus the public agent bundle and the
// user-facing route that reveals an agent's token (for starting an agent by hand).
//
// Authentication: app.ts resolves the bearer token to the newest agent row carrying it (a claim build keeps
// the token, so after a claim the token means the claim build's agent). A token authenticates only while its
// workspace exists: a deleted workspace's agent gets 401 and stops.
import type { FastifyRequest } from "fastify";
import { bootstrapScript, bootstrapTargets, renderInitScript } from "../../../agent/bootstrap.js";
import { buildAgentBundle } from "../../../agent/bundle.js";
import { type AgentManifestT, agentRoutes, workspaceAgentTokenRoute } from "../../../contract/agent.js";
import { streamAgentEvents } from "../../agents/events-stream.js";
import { ownerOfBuild } from "../../agents/owner.js";
import { decideLifecycleReport, effectiveConnectionTimeoutSeconds } from "../../agents/rules.js";
import type { ServerContext } from "../../context.js";
import { conflict, notFound } from "../../domain-errors.js";
import {
  appendAgentLogs,
  markAgentConnected,
  setAgentLifecycle,
  upsertAgentMetadata,
} from "../../store/agent-reports.js";
import {
  type Agent,
  getAgentTokensOfJob,
  getAgentWithDetails,
  getNewestAgentIdSharingToken,
} from "../../store/resources.js";
import { getBuildByJobId, getLatestBuild, getWorkspace } from "../../store/workspaces.js";
import { notifyWorkspace } from "../../workspaces/build-results.js";
import { workspaceForUser } from "../../workspaces/service.js";
import { noteIfUsable } from "../../workspaces/usable.js";
import type { App } from "../app.js";
import type { ApiDeps } from "../deps.js";
import { unauthorized } from "../errors.js";
import { callerOf } from "./caller.js";

export interface AgentRouteOptions {
  /** `: keepalive` interval of the events stream (default 10 s; the contract promises ≤ 15 s). */
  eventsKeepaliveMs?: number;
}

/** The calling agent with its build and workspace; 401 when the workspace is gone. */
async function liveAgent(ctx: ServerContext, request: FastifyRequest) {
  const caller = request.agent;
  if (!caller) throw unauthorized("an agent token is required");
  const db = ctx.store.db;
  const build = await getBuildByJobId(db, caller.jobId);
  const workspace = build ? await getWorkspace(db, build.workspaceId) : undefined;
  if (!build || !workspace || workspace.deleted)
    throw unauthorized("this agent's workspace no longer exists");
  return { agent: caller.agent, build, workspace };
}

function manifestScripts(agent: Agent): AgentManifestT["scripts"] {
  return agent.scripts.map((s) => ({
    displayName: s.displayName,
    script: s.script,
    runOnStart: s.runOnStart,
    runOnStop: s.runOnStop,
    startBlocksLogin: s.startBlocksLogin,
    timeoutSeconds: s.timeoutSeconds,
    logPath: s.logPath,
    cron: s.cron,
  }));
}

export function registerAgentRoutes(app: App, { ctx }: ApiDeps, options: AgentRouteOptions = {}): void {
  const db = ctx.store.db;

  app.route({
    ...agentRoutes.agentManifest,
    handler: async (request) => {
      const { agent, build, workspace } = await liveAgent(ctx, request);
      const full = await getAgentWithDetails(db, agent.id);
      if (!full) throw unauthorized("this agent no longer exists");
      await markAgentConnected(db, agent.id, ctx.clock.now());
      return {
        agentId: full.id,
        name: full.name,
        workspaceId: workspace.id,
        workspaceName: workspace.name,
        ownerName: await ownerOfBuild(db, workspace, build),
        directory: full.directory,
        env: full.env,
        scripts: manifestScripts(full),
        metadata: full.metadata
          .filter((m) => m.script !== "")
          .map((m) => ({
            key: m.key,
            displayName: m.displayName,
            script: m.script,
            intervalSeconds: m.intervalSeconds,
            timeoutSeconds: m.timeoutSeconds,
          })),
        connectionTimeoutSeconds: effectiveConnectionTimeoutSeconds(full.connectionTimeoutSeconds),
        motdFile: full.motdFile,
      } satisfies AgentManifestT;
    },
  });

  app.route({
    ...agentRoutes.agentLifecycle,
    handler: async (request, reply) => {
      const { agent, workspace } = await liveAgent(ctx, request);
      const report = { state: request.body.state, changedAt: new Date(request.body.changedAt) };
      const now = ctx.clock.now();
      const decision = decideLifecycleReport(
        { state: agent.lifecycleState, changedAt: agent.lifecycleChangedAt },
        report,
      );
      if (decision.kind !== "apply") {
        // Refused or repeated, the report still shows the agent is alive.
        await markAgentConnected(db, agent.id, now);
        if (decision.kind === "refuse")
          throw conflict("lifecycle report refused", { detail: decision.reason });
        return reply.status(204).send(null);
      }
      await setAgentLifecycle(db, agent.id, report, now);
      if (request.body.detail) {
        await appendAgentLogs(db, agent.id, [
          { createdAt: report.changedAt, level: "error", output: request.body.detail, source: "agent" },
        ]);
      }
      // An agent becoming ready may make its workspace usable (a lease starts counting, a claim's wait ends)
      // and a prebuild eligible (plan again soon).
      if (report.state === "ready") {
        await noteIfUsable(ctx, workspace.id);
        ctx.events.reconcileSoon("agent ready");
      }
      await notifyWorkspace(ctx, workspace.id);
      return reply.status(204).send(null);
    },
  });

  app.route({
    ...agentRoutes.agentLogs,
    handler: async (request, reply) => {
      const { agent } = await liveAgent(ctx, request);
      await appendAgentLogs(
        db,
        agent.id,
        request.body.logs.map((l) => ({ ...l, createdAt: new Date(l.createdAt) })),
      );
      await markAgentConnected(db, agent.id, ctx.clock.now());
      return reply.status(204).send(null);
    },
  });

  app.route({
    ...agentRoutes.agentMetadata,
    handler: async (request, reply) => {
      const { agent } = await liveAgent(ctx, request);
      await upsertAgentMetadata(
        db,
        agent.id,
        request.body.results.map((r) => ({ ...r, collectedAt: new Date(r.collectedAt) })),
      );
      await markAgentConnected(db, agent.id, ctx.clock.now());
      return reply.status(204).send(null);
    },
  });

  app.route({
    ...agentRoutes.agentHeartbeat,
    handler: async (request, reply) => {
      const { agent } = await liveAgent(ctx, request);
      await markAgentConnected(db, agent.id, ctx.clock.now());
      return reply.status(204).send(null);
    },
  });

  app.route({
    ...agentRoutes.agentEvents,
    handler: async (request, reply) => {
      const { agent, workspace } = await liveAgent(ctx, request);
      await markAgentConnected(db, agent.id, ctx.clock.now());
      reply.hijack();
      await streamAgentEvents(
        ctx,
        reply.raw,
        {
          workspaceId: workspace.id,
          knownOwner: request.query.knownOwner,
          knownAgent: request.query.knownAgent,
          currentAgentId: () => getNewestAgentIdSharingToken(db, agent.id),
        },
        { keepaliveMs: options.eventsKeepaliveMs },
      );
    },
  });

  app.route({
    ...agentRoutes.agentBundle,
    handler: async (_request, reply) => {
      const bundle = await buildAgentBundle();
      return reply
        .header("content-type", "application/javascript; charset=utf-8")
        .header("cache-control", "no-cache")
        .send(bundle);
    },
  });

  app.route({
    ...agentRoutes.agentBootstrap,
    handler: async (request, reply) => {
      const { os, arch } = request.params;
      if (!bootstrapTargets.some((t) => t.os === os && t.arch === arch)) {
        throw notFound(
          `bootstrap for ${os}/${arch} (available: ${bootstrapTargets.map((t) => `${t.os}/${t.arch}`).join(", ")})`,
        );
      }
      const script = renderInitScript(bootstrapScript(os, arch, ctx.accessUrl), ctx.accessUrl);
      return reply.header("content-type", "text/x-shellscript; charset=utf-8").send(script);
    },
  });

  app.route({
    ...workspaceAgentTokenRoute,
    handler: async (request) => {
      const workspace = await workspaceForUser(db, callerOf(request), request.params.id);
      const latest = await getLatestBuild(db, workspace.id);
      const found = latest
        ? (await getAgentTokensOfJob(db, latest.jobId)).find((t) => t.agentId === request.params.agentId)
        : undefined;
      if (!found) throw notFound(`agent ${request.params.agentId} of workspace ${workspace.name}`);
      return { agentId: found.agentId, agentName: found.agentName, token: found.token };
    },
  });
}
