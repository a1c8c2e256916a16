// Workspaces and their builds: create (claiming a prebuild when one is ready; idempotent with a key), list,
// show (and wait until usable, `?wait=ready`), start/stop/delete, leases, build history and agents. Members see
// and change only their own workspaces: another user's answers 404, as if it did not exist. Unclaimed prebuilds
// (owned by the `prebuilds` system user) are hidden from members.
import type { IncomingMessage } from "node:http";
import { routes, type WorkspaceT } from "../../../contract/api.js";
import { parseDuration } from "../../../util/duration.js";
import type { ServerContext } from "../../context.js";
import { forbidden, invalid, notFound } from "../../domain-errors.js";
import { PREBUILDS_USER_ID } from "../../prebuilds/system-user.js";
import { channels } from "../../store/pubsub.js";
import { listResourcesOfJobs } from "../../store/resources.js";
import { getTemplateById, getTemplateByName } from "../../store/templates.js";
import { getUserByUsername, type User } from "../../store/users.js";
import {
  getBuild,
  getBuildByNumber,
  getLatestBuild,
  getWorkspace,
  getWorkspaceByOwnerAndName,
  listBuilds,
  listWorkspaces,
  type Workspace,
  type WorkspaceBuild,
} from "../../store/workspaces.js";
import { requireImportedVersion, requireTemplate } from "../../templates/service.js";
import { createWorkspace, extendLease, startBuild, workspaceForUser } from "../../workspaces/service.js";
import type { App } from "../app.js";
import type { ApiDeps } from "../deps.js";
import { presentAgent } from "../presenters.js";
import { buildViews, buildWithTimingsView, workspaceView, workspaceViews } from "../views.js";
import { callerOf, isOwner } from "./caller.js";

/** A username or `me`; members may only name themselves (`onOther`: 403 or 404 for anyone else). */
async function resolveOwner(
  ctx: ServerContext,
  caller: User,
  name: string,
  onOther: "forbidden" | "not_found",
): Promise<User> {
  if (name === "me" || name.toLowerCase() === caller.username.toLowerCase()) return caller;
  if (!isOwner(caller)) {
    throw onOther === "forbidden"
      ? forbidden("members can only see their own workspaces")
      : notFound(`user "${name}"`);
  }
  const user = await getUserByUsername(ctx.store.db, name);
  if (!user)
    throw onOther === "forbidden"
      ? invalid(`no user named "${name}"`, { field: "owner" })
      : notFound(`user "${name}"`);
  return user;
}

/** A build the caller may see (its workspace may be deleted: a finished delete build stays readable). */
async function buildForUser(ctx: ServerContext, user: User, build: WorkspaceBuild | undefined, what: string) {
  const workspace = build ? await getWorkspace(ctx.store.db, build.workspaceId) : undefined;
  if (!build || !workspace || (!isOwner(user) && workspace.ownerId !== user.id)) throw notFound(what);
  return build;
}

const DEFAULT_WAIT_MS = 60_000;
const MAX_WAIT_MS = 10 * 60_000;

function waitTimeoutMs(text: string | undefined): number {
  if (text === undefined) return DEFAULT_WAIT_MS;
  try {
    return parseDuration(text);
  } catch (err) {
    throw invalid(`timeout: ${(err as Error).message}`, { field: "timeout" });
  }
}

/**
 * `?wait=ready`: answers as soon as the latest build made the workspace usable (workspaces/usable.ts), failed
 * or was canceled — re-checked on every change of the workspace (pub/sub), with a slow re-check because pub/sub
 * is only a hint — or, after `timeoutMs`, with the state as it is. The wait ends early when the client leaves.
 */
async function waitUntilUsable(
  ctx: ServerContext,
  workspace: Workspace,
  timeoutMs: number,
  client: IncomingMessage,
): Promise<WorkspaceT> {
  // Ends on the timer or when the client leaves (a timer, not clock arithmetic: the clock's time may be fake).
  const over = new AbortController();
  const timer = ctx.clock.setTimeout(() => over.abort(), timeoutMs);
  const leave = () => over.abort();
  client.once("close", leave);
  try {
    for (;;) {
      // Re-read every time: the lease's deadline starts with usable, in the same transaction.
      const current = (await getWorkspace(ctx.store.db, workspace.id)) ?? workspace;
      const view = await workspaceView(ctx, current);
      const b = view.latestBuild;
      const settled = b.usableAt !== null || b.status === "failed" || b.status === "canceled";
      if (settled || over.signal.aborted) return view;
      await changeOrTimeout(ctx, workspace.id, 2_000, over.signal);
    }
  } finally {
    timer.cancel();
    client.off("close", leave);
  }
}

function changeOrTimeout(
  ctx: ServerContext,
  workspaceId: string,
  ms: number,
  signal: AbortSignal,
): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      timer.cancel();
      unsubscribe();
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = ctx.clock.setTimeout(done, ms);
    const unsubscribe = ctx.store.pubsub.subscribe(channels.workspace, (id) => {
      if (id === workspaceId) done();
    });
    signal.addEventListener("abort", done, { once: true });
  });
}

export function registerWorkspaceRoutes(app: App, deps: ApiDeps): void {
  const { ctx } = deps;
  const db = ctx.store.db;

  app.route({
    ...routes.createWorkspace,
    handler: async (request, reply) => {
      const caller = callerOf(request);
      const body = request.body;
      const owner = body.owner ? await resolveOwner(ctx, caller, body.owner, "forbidden") : caller;
      if (owner.id === PREBUILDS_USER_ID)
        throw invalid("workspaces cannot be created for the prebuilds user", { field: "owner" });
      let templateVersionId: string | undefined;
      if (body.templateVersion) {
        const template = await requireTemplate(ctx, body.template);
        templateVersionId = (await requireImportedVersion(ctx, template, body.templateVersion)).id;
      }
      const key = request.headers["idempotency-key"];
      const result = await createWorkspace(ctx, owner, {
        name: body.name,
        template: body.template,
        preset: body.preset ?? null,
        parameters: body.parameters,
        templateVersionId,
        ...(body.lease ? { lease: body.lease } : {}),
        ...(typeof key === "string" ? { idempotencyKey: key } : {}),
      });
      return reply.status(result.replayed ? 200 : 201).send(await workspaceView(ctx, result.workspace));
    },
  });

  app.route({
    ...routes.listWorkspaces,
    handler: async (request) => {
      const caller = callerOf(request);
      const q = request.query;
      if ((q.all || q.prebuilds) && !isOwner(caller))
        throw forbidden("only owners may list other users' workspaces");
      if (q.prebuilds && !q.all)
        throw invalid("`prebuilds` only applies together with `all`", { field: "prebuilds" });
      let templateId: string | undefined;
      if (q.template) {
        const template = await getTemplateByName(db, q.template);
        if (!template) throw invalid(`no template named "${q.template}"`, { field: "template" });
        templateId = template.id;
      }
      const filter = q.all
        ? { excludeOwnerId: q.prebuilds ? undefined : PREBUILDS_USER_ID }
        : { ownerId: (await resolveOwner(ctx, caller, q.owner ?? "me", "forbidden")).id };
      return workspaceViews(ctx, await listWorkspaces(db, { ...filter, templateId }));
    },
  });

  app.route({
    ...routes.getWorkspace,
    handler: async (request) => {
      const workspace = await workspaceForUser(db, callerOf(request), request.params.id);
      if (request.query.wait !== "ready") return workspaceView(ctx, workspace);
      const timeoutMs = Math.min(waitTimeoutMs(request.query.timeout), MAX_WAIT_MS);
      return waitUntilUsable(ctx, workspace, timeoutMs, request.raw);
    },
  });

  app.route({
    ...routes.extendLease,
    handler: async (request) =>
      workspaceView(ctx, await extendLease(ctx, callerOf(request), request.params.id, request.body.seconds)),
  });

  app.route({
    ...routes.getWorkspaceByName,
    handler: async (request) => {
      const caller = callerOf(request);
      const { owner, name } = request.params;
      const user = await resolveOwner(ctx, caller, owner, "not_found");
      const workspace = await getWorkspaceByOwnerAndName(db, user.id, name);
      if (!workspace) throw notFound(`workspace "${owner}/${name}"`);
      return workspaceView(ctx, workspace);
    },
  });

  app.route({
    ...routes.createBuild,
    handler: async (request, reply) => {
      const caller = callerOf(request);
      const { transition, templateVersion, parameters } = request.body;
      const workspace = await workspaceForUser(db, caller, request.params.id);
      // Contract: a start builds the template's active version unless told otherwise; stop and delete keep
      // the latest build's version (the service's default).
      let templateVersionId: string | undefined;
      if (templateVersion || transition === "start") {
        const template = await requireWorkspaceTemplate(ctx, workspace.templateId);
        templateVersionId = templateVersion
          ? (await requireImportedVersion(ctx, template, templateVersion)).id
          : (template.activeVersionId ?? undefined);
      }
      const { view } = await startBuild(ctx, caller, workspace.id, transition, parameters, {
        templateVersionId,
        address: request.ip,
        present: async (tx, build) => (await buildViews(tx, [build]))[0],
      });
      if (!view) throw new Error("the new build has no view");
      return reply.status(201).send(view);
    },
  });

  app.route({
    ...routes.listBuilds,
    handler: async (request) => {
      const workspace = await workspaceForUser(db, callerOf(request), request.params.id);
      return buildViews(db, await listBuilds(db, workspace.id));
    },
  });

  app.route({
    ...routes.getBuildByNumber,
    handler: async (request) => {
      const { id, number } = request.params;
      const build = await buildForUser(
        ctx,
        callerOf(request),
        await getBuildByNumber(db, id, number),
        `build #${number} of workspace ${id}`,
      );
      return buildWithTimingsView(db, build);
    },
  });

  app.route({
    ...routes.getBuild,
    handler: async (request) => {
      const { id } = request.params;
      const build = await buildForUser(ctx, callerOf(request), await getBuild(db, id), `build ${id}`);
      return buildWithTimingsView(db, build);
    },
  });

  app.route({
    ...routes.listAgents,
    handler: async (request) => {
      const workspace = await workspaceForUser(db, callerOf(request), request.params.id);
      const latest = await getLatestBuild(db, workspace.id);
      if (!latest) return [];
      const now = ctx.clock.now();
      const resources = await listResourcesOfJobs(db, [latest.jobId]);
      return resources.flatMap((r) => r.agents.map((a) => presentAgent(a, now)));
    },
  });
}

async function requireWorkspaceTemplate(ctx: ServerContext, templateId: string) {
  const template = await getTemplateById(ctx.store.db, templateId);
  if (!template) throw notFound(`template ${templateId}`);
  return template;
}
