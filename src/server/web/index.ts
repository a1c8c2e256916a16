// The web dashboard (issue 6): server-rendered HTML + htmx 2, on the API's port, registered by `registerWeb`.
//
// Access: every route declares `config.web` — "public" (sign-in, static assets), "user" or "owner". A request
// without a valid session cookie is sent to /login (GET) or refused with 401; a POST must carry the session's
// CSRF token (see session.ts); "owner" routes answer 403 to members. What a member may see inside a page is
// decided by the same services as the API (workspaceForUser: another user's workspace is "not found").
// Errors are mapped in one place, the error handler below: a DomainError gets the status the API gives its
// kind (api/errors.ts) and its message is shown on the error page. A browser asking for an unknown page gets
// that page too (a 404), while API paths and non-HTML clients keep the API's JSON 404.
// Actions call the API's services (workspaces/service.ts, prebuilds/operations.ts) under the same rules.
import fastifyCookie from "@fastify/cookie";
import fastifyFormbody from "@fastify/formbody";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { App } from "../api/app.js";
import type { AuthSettings } from "../api/deps.js";
import { ApiError, httpError } from "../api/errors.js";
import { streamJobLogs } from "../api/log-stream.js";
import { auditRefusal } from "../api/refusals.js";
import type { AuditStamp } from "../audit.js";
import type { ServerContext } from "../context.js";
import { DomainError, forbidden, invalid, notFound } from "../domain-errors.js";
import { setAutoscale } from "../prebuilds/demand-settings.js";
import { invalidatePresets, resumePreset, setPaused } from "../prebuilds/operations.js";
import type { Reconciler } from "../prebuilds/reconciler.js";
import { getBuildByNumber, getLatestBuild } from "../store/workspaces.js";
import { requireActivePreset, requireTemplate } from "../templates/service.js";
import { cancelJobFor, createWorkspace, startBuild, workspaceForUser } from "../workspaces/service.js";
import { clientScript, htmxScript, stylesheet } from "./assets.js";
import { type Html, html } from "./html.js";
import { type NavItem, page } from "./layout.js";
import { auditFilterOf, auditPage } from "./pages/audit.js";
import { createPage, errorsFrom, formFields, loadForm, parseCreateForm } from "./pages/create.js";
import { loginPage, safeNext } from "./pages/login.js";
import { loadPool, loadPools, poolPage, poolsSection } from "./pages/pools.js";
import { reconcilerPage } from "./pages/reconciler.js";
import { templatePage, templatesPage } from "./pages/templates.js";
import { detailPage, listPage, loadDetail, logSection, statusSection } from "./pages/workspaces.js";
import { parseSort } from "./pool-table.js";
import {
  checkCredentials,
  clearSessionCookie,
  closeSession,
  LOGIN_CSRF_COOKIE,
  newLoginCsrf,
  openSession,
  type Session,
  SignInError,
  sameSecret,
  sessionOf,
  setLoginCsrfCookie,
  setSessionCookie,
} from "./session.js";

export type WebAccess = "public" | "user" | "owner";

declare module "fastify" {
  interface FastifyContextConfig {
    web?: WebAccess;
  }
  interface FastifyRequest {
    webSession?: Session;
  }
}

export interface WebDeps {
  ctx: ServerContext;
  auth: AuthSettings;
  /** Lazy: the reconciler is created after the routes are registered. */
  reconciler: () => Reconciler;
}

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

/** Fixed confirmation messages, chosen by a code in the redirect URL (never text from the URL itself). */
const NOTICES: Record<string, string> = {
  invalidated: "Prebuilds invalidated: the reconciler replaces them now.",
  resumed: "Preset resumed: the reconciler creates prebuilds again.",
  autoscaled: "Autoscaling saved: the reconciler sizes the pool from its claim history.",
  unscaled: "Autoscaling off: instances and schedules decide again.",
  paused: "Reconciliation paused.",
  unpaused: "Reconciliation resumed.",
  created: "Workspace created.",
  claimed: "Workspace created from a ready prebuild.",
  build: "Build started.",
  canceled: "Cancel requested: a pending build ends now, a running one as soon as its provisioner stops.",
};

type Body = Record<string, unknown>;
const bodyOf = (request: FastifyRequest): Body =>
  request.body && typeof request.body === "object" ? (request.body as Body) : {};
const str = (v: unknown): string => (typeof v === "string" ? v : "");
const noticeOf = (request: FastifyRequest): string | undefined =>
  NOTICES[str((request.query as Record<string, unknown> | undefined)?.done)];

/**
 * Where a pool action returns: the form's `back` is a fixed code (never a URL): "pools" → the pools table,
 * "pool" → that pool's page (`preset_id`, or the preset acted on); otherwise `fallback` (the template page).
 */
function backTo(request: FastifyRequest, fallback: string, done: string, presetId?: string): string {
  const body = bodyOf(request);
  const back = str(body.back);
  const id = presetId ?? str(body.preset_id);
  if (back === "pools") return `/?done=${done}`;
  if (back === "pool" && id) return `/pools/${encodeURIComponent(id)}?done=${done}`;
  return `${fallback}?done=${done}`;
}

function sendHtml(reply: FastifyReply, status: number, body: Html): FastifyReply {
  return reply.code(status).type("text/html; charset=utf-8").send(body.value);
}

function sessionFor(request: FastifyRequest): Session {
  if (!request.webSession) throw new ApiError(401, "sign in first");
  return request.webSession;
}

export function registerWeb(app: App, deps: WebDeps): void {
  void app.register(async (web: FastifyInstance) => {
    await web.register(fastifyCookie);
    await web.register(fastifyFormbody);
    installGuards(web, deps);
    registerRoutes(web, deps);
  });
}

function installGuards(web: FastifyInstance, deps: WebDeps): void {
  const { ctx } = deps;

  web.addHook("preHandler", async (request, reply) => {
    const access = request.routeOptions.config?.web;
    if (!access || access === "public") return;
    const session = await sessionOf(ctx, request);
    if (!session) {
      if (request.method === "GET" && !request.headers["hx-request"]) {
        return reply.redirect(`/login?next=${encodeURIComponent(request.url)}`, 303);
      }
      throw new ApiError(401, "your session has ended: sign in again");
    }
    if (request.method !== "GET" && !sameSecret(str(bodyOf(request)._csrf), session.csrf)) {
      throw forbidden(
        "this form is missing its security token (CSRF) or it came from another site; reload the page and try again",
      );
    }
    if (access === "owner" && session.user.role !== "owner") {
      request.webSession = session;
      await auditRefusal(ctx, request, session.user);
      throw forbidden("this page is for owners only");
    }
    request.webSession = session;
  });

  web.addHook("onSend", async (_request, reply, payload) => {
    if (String(reply.getHeader("content-type") ?? "").startsWith("text/html")) {
      reply.header("content-security-policy", CSP);
      reply.header("cache-control", "no-store");
    }
    reply.header("x-content-type-options", "nosniff");
    reply.header("referrer-policy", "same-origin");
    reply.header("x-frame-options", "DENY");
    return payload;
  });

  web.setErrorHandler(async (error: FastifyError, request, reply) => {
    let status = 500;
    let message = "something went wrong on the server; the error was logged";
    const known = httpError(error);
    if (known) {
      status = known.status;
      message = known.body.message;
      if (known.retryAfterSeconds !== undefined) reply.header("retry-after", String(known.retryAfterSeconds));
    } else if (error.validation || (error.statusCode && error.statusCode >= 400 && error.statusCode < 500)) {
      status = error.statusCode ?? 400;
      message = error.message;
    } else {
      ctx.logger.error({ err: error, url: request.url }, "dashboard request failed");
    }
    const body = errorBody(status, message);
    if (request.headers["hx-request"]) return sendHtml(reply, status, body);
    return sendHtml(reply, status, page({ title: "Error", session: request.webSession, body }));
  });
}

function errorBody(status: number, message: string): Html {
  return html`<h1>${status === 404 ? "Not found" : status === 403 ? "Not allowed" : "Error"}</h1>
<p class="notice bad" role="alert" data-testid="error">${message}</p><p><a href="/">Back to the pools</a></p>`;
}

function registerRoutes(web: FastifyInstance, deps: WebDeps): void {
  const { ctx } = deps;
  /** The signed-in user and the time, for the audit log entry of an action. */
  const stampOf = (request: FastifyRequest): AuditStamp => {
    const { user } = sessionFor(request);
    return { actor: { id: user.id, username: user.username, address: request.ip }, now: ctx.clock.now() };
  };
  const db = ctx.store.db;
  const pub = { config: { web: "public" as const } };
  const user = { config: { web: "user" as const } };
  const owner = { config: { web: "owner" as const } };
  const render = (
    request: FastifyRequest,
    reply: FastifyReply,
    title: string,
    nav: NavItem,
    body: Html,
    status = 200,
  ) => sendHtml(reply, status, page({ title, session: request.webSession, nav, body }));

  // ---- static ------------------------------------------------------------------------------------------
  const asset = (type: string, body: () => string) => async (_req: FastifyRequest, reply: FastifyReply) =>
    reply.type(type).header("cache-control", "public, max-age=300").send(body());
  web.get(
    "/static/app.css",
    pub,
    asset("text/css; charset=utf-8", () => stylesheet),
  );
  web.get(
    "/static/app.js",
    pub,
    asset("text/javascript; charset=utf-8", () => clientScript),
  );
  web.get("/static/htmx.min.js", pub, asset("text/javascript; charset=utf-8", htmxScript));

  // ---- sign-in -----------------------------------------------------------------------------------------
  const showLogin = (
    request: FastifyRequest,
    reply: FastifyReply,
    status: number,
    options: { next: string; username?: string; error?: string },
  ) => {
    const csrf = request.cookies[LOGIN_CSRF_COOKIE] || newLoginCsrf();
    setLoginCsrfCookie(request, reply, csrf);
    return sendHtml(
      reply,
      status,
      page({ title: "Sign in", session: undefined, body: loginPage({ csrf, ...options }) }),
    );
  };

  web.get("/login", pub, async (request, reply) => {
    const next = safeNext((request.query as Record<string, unknown>).next);
    if (await sessionOf(ctx, request)) return reply.redirect(next, 303);
    return showLogin(request, reply, 200, { next });
  });

  web.post("/login", pub, async (request, reply) => {
    const body = bodyOf(request);
    const next = safeNext(body.next);
    const username = str(body.username);
    if (!sameSecret(str(body._csrf), request.cookies[LOGIN_CSRF_COOKIE])) {
      return showLogin(request, reply, 403, {
        next,
        username,
        error: "the sign-in form expired or came from another site; please try again",
      });
    }
    try {
      const signedIn = await checkCredentials(ctx, deps.auth, {
        username,
        password: str(body.password),
        token: str(body.token),
        address: request.ip,
      });
      setSessionCookie(request, reply, await openSession(ctx, signedIn, request.ip));
      return reply.redirect(next, 303);
    } catch (err) {
      if (err instanceof SignInError)
        return showLogin(request, reply, 401, { next, username, error: err.message });
      // Throttled: the form again, with the wait in words and in Retry-After (the status from api/errors.ts).
      const known = err instanceof DomainError && err.kind === "throttled" ? httpError(err) : undefined;
      if (!known) throw err;
      reply.header("retry-after", String(known.retryAfterSeconds));
      return showLogin(request, reply, known.status, { next, username, error: known.body.message });
    }
  });

  web.post("/logout", user, async (request, reply) => {
    const session = sessionFor(request);
    await closeSession(ctx, session.user, session.token);
    clearSessionCookie(request, reply);
    return reply.redirect("/login", 303);
  });

  // ---- pools -------------------------------------------------------------------------------------------
  const sortOf = (request: FastifyRequest) => parseSort(request.query as Record<string, unknown>);
  web.get("/", user, async (request, reply) => {
    const data = await loadPools(ctx, deps.reconciler());
    const notice = noticeOf(request);
    return render(
      request,
      reply,
      "Pools",
      "pools",
      html`<h1>Prebuild pools</h1>${notice && html`<p class="notice ok" role="status">${notice}</p>`}${poolsSection(data, sessionFor(request), sortOf(request))}`,
    );
  });
  web.get("/fragments/pools", user, async (request, reply) =>
    sendHtml(
      reply,
      200,
      poolsSection(await loadPools(ctx, deps.reconciler()), sessionFor(request), sortOf(request)),
    ),
  );
  web.get<{ Params: { id: string } }>("/pools/:id", user, async (request, reply) => {
    const found = await loadPool(ctx, deps.reconciler(), request.params.id);
    if (!found) throw notFound(`pool ${request.params.id}`);
    const { row, data, failed } = found;
    const body = poolPage(row, data, failed, sessionFor(request), noticeOf(request));
    return render(request, reply, `${row.status.template}/${row.status.preset}`, "pools", body);
  });

  // ---- templates ---------------------------------------------------------------------------------------
  web.get("/templates", user, async (request, reply) =>
    render(request, reply, "Templates", "templates", await templatesPage(ctx)),
  );
  web.get<{ Params: { name: string } }>("/templates/:name", user, async (request, reply) => {
    const template = await requireTemplate(ctx, request.params.name);
    const body = await templatePage(
      ctx,
      deps.reconciler().planConfig,
      template,
      sessionFor(request),
      noticeOf(request),
    );
    return render(request, reply, template.name, "templates", body);
  });
  web.post<{ Params: { name: string } }>("/templates/:name/invalidate", owner, async (request, reply) => {
    const template = await requireTemplate(ctx, request.params.name);
    const touched = await invalidatePresets(ctx.store, template, stampOf(request));
    ctx.logger.info(
      { template: template.name, presets: touched.length, via: "dashboard" },
      "prebuilds invalidated",
    );
    return reply.redirect(
      backTo(request, `/templates/${encodeURIComponent(template.name)}`, "invalidated"),
      303,
    );
  });
  web.post<{ Params: { name: string; preset: string } }>(
    "/templates/:name/presets/:preset/resume",
    owner,
    async (request, reply) => {
      const { name, preset } = request.params;
      const found = await requireActivePreset(ctx, name, preset);
      const before = await resumePreset(ctx.store, found.preset.id, {
        ...stampOf(request),
        template: found.template.name,
        preset: found.preset.name,
      });
      ctx.logger.info({ template: name, preset, was: before, via: "dashboard" }, "preset resumed");
      return reply.redirect(
        backTo(request, `/templates/${encodeURIComponent(name)}`, "resumed", found.preset.id),
        303,
      );
    },
  );

  web.post<{ Params: { name: string; preset: string } }>(
    "/templates/:name/presets/:preset/autoscale",
    owner,
    async (request, reply) => {
      const { name, preset } = request.params;
      const body = bodyOf(request);
      const off = str(body.action) === "off";
      const number = (field: string) => {
        const n = Number(str(body[field]));
        if (str(body[field]).trim() === "" || !Number.isFinite(n))
          throw invalid(`${field}: a number, please`, { field });
        return n;
      };
      await setAutoscale(
        ctx,
        stampOf(request).actor,
        name,
        preset,
        off
          ? null
          : { min: number("min"), max: number("max"), targetHitRate: number("target") / 100, timezone: null },
      );
      return reply.redirect(
        `/templates/${encodeURIComponent(name)}?done=${off ? "unscaled" : "autoscaled"}`,
        303,
      );
    },
  );

  // ---- workspaces --------------------------------------------------------------------------------------
  web.get("/workspaces", user, async (request, reply) => {
    const withPrebuilds = str((request.query as Record<string, unknown>).prebuilds) === "1";
    return render(
      request,
      reply,
      "Workspaces",
      "workspaces",
      await listPage(ctx, sessionFor(request).user, withPrebuilds),
    );
  });

  web.get("/workspaces/new", user, async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const model = await loadForm(ctx, deps.reconciler().planConfig, str(query.template));
    return render(request, reply, "New workspace", "new", createPage(model, sessionFor(request)));
  });

  web.post("/workspaces", user, async (request, reply) => {
    const session = sessionFor(request);
    const input = parseCreateForm(bodyOf(request));
    const model = await loadForm(ctx, deps.reconciler().planConfig, input.template);
    if (!model.template) {
      const errors = {
        template: `choose a template${input.template ? ` ("${input.template}" has no active version)` : ""}`,
      };
      return render(request, reply, "New workspace", "new", createPage(model, session, input, errors), 400);
    }
    try {
      const result = await createWorkspace(ctx, session.user, {
        name: input.name,
        template: model.template.name,
        preset: input.preset || null,
        parameters: input.parameters,
      });
      const done = result.claimedPrebuild ? "claimed" : "created";
      return reply.redirect(`/workspaces/${encodeURIComponent(result.workspace.id)}?done=${done}`, 303);
    } catch (err) {
      const errors = errorsFrom(err, formFields(model));
      if (!errors) throw err;
      const status = httpError(err)?.status ?? 400;
      return render(
        request,
        reply,
        "New workspace",
        "new",
        createPage(model, session, input, errors),
        status,
      );
    }
  });

  const buildQuery = (request: FastifyRequest): number | undefined => {
    const n = Number(str((request.query as Record<string, unknown>).build));
    return Number.isInteger(n) && n > 0 ? n : undefined;
  };

  web.get<{ Params: { id: string } }>("/workspaces/:id", user, async (request, reply) => {
    const session = sessionFor(request);
    const workspace = await workspaceForUser(db, session.user, request.params.id);
    const data = await loadDetail(ctx, workspace, buildQuery(request));
    const body = detailPage(data, session, ctx.clock.now(), noticeOf(request));
    return render(request, reply, workspace.name, "workspaces", body);
  });

  web.get<{ Params: { id: string } }>("/workspaces/:id/status", user, async (request, reply) => {
    const workspace = await workspaceForUser(db, sessionFor(request).user, request.params.id);
    return sendHtml(
      reply,
      200,
      statusSection(await loadDetail(ctx, workspace), sessionFor(request), ctx.clock.now()),
    );
  });

  // Cancels the latest build (the API's rule: owners, or the workspace's owner; an ended build is a conflict).
  web.post<{ Params: { id: string } }>("/workspaces/:id/cancel", user, async (request, reply) => {
    const session = sessionFor(request);
    const workspace = await workspaceForUser(db, session.user, request.params.id);
    const latest = await getLatestBuild(db, workspace.id);
    if (!latest) throw notFound(`a build of workspace ${workspace.name}`);
    await cancelJobFor(ctx, session.user, latest.jobId);
    return reply.redirect(`/workspaces/${encodeURIComponent(workspace.id)}?done=canceled#logs`, 303);
  });

  // The server-rendered log lines of one build (timestamps, stage durations): app.js swaps them in at its end.
  web.get<{ Params: { id: string; number: string } }>(
    "/workspaces/:id/builds/:number/log-lines",
    user,
    async (request, reply) => {
      const workspace = await workspaceForUser(db, sessionFor(request).user, request.params.id);
      const data = await loadDetail(ctx, workspace, Number(request.params.number));
      if (data.shown.number !== Number(request.params.number))
        throw notFound(`build #${request.params.number}`);
      return sendHtml(reply, 200, logSection(data));
    },
  );

  web.post<{ Params: { id: string } }>("/workspaces/:id/builds", user, async (request, reply) => {
    const session = sessionFor(request);
    const transition = str(bodyOf(request).transition);
    if (transition !== "start" && transition !== "stop" && transition !== "delete")
      throw invalid(`unknown transition "${transition}"`);
    const workspace = await workspaceForUser(db, session.user, request.params.id);
    await startBuild(ctx, session.user, workspace.id, transition, {}, { address: request.ip });
    return reply.redirect(`/workspaces/${encodeURIComponent(workspace.id)}?done=build#logs`, 303);
  });

  // Live logs of one build as server-sent events (the API's stream, authenticated by the session cookie).
  web.get<{ Params: { id: string; number: string } }>(
    "/workspaces/:id/builds/:number/logs",
    user,
    async (request, reply) => {
      const workspace = await workspaceForUser(db, sessionFor(request).user, request.params.id);
      const build = await getBuildByNumber(db, workspace.id, Number(request.params.number));
      if (!build) throw notFound(`build #${request.params.number}`);
      const header = request.headers["last-event-id"];
      const fromQuery = Number(str((request.query as Record<string, unknown>).after));
      const after = header !== undefined && /^\d+$/.test(String(header)) ? Number(header) : fromQuery;
      reply.hijack();
      await streamJobLogs(ctx, reply.raw, build.jobId, Number.isFinite(after) ? after : 0);
      return reply;
    },
  );

  // ---- unknown pages ------------------------------------------------------------------------------------
  // A browser asking for a page that does not exist gets an HTML 404 in the dashboard's shell (with the
  // navigation when signed in). The API's paths, and clients that do not ask for HTML, keep the API's JSON 404.
  // Registered routes always win over this wildcard.
  web.get("/*", pub, async (request, reply) => {
    const wantsHtml = (request.headers.accept ?? "").includes("text/html");
    if (request.url.startsWith("/api/") || !wantsHtml) return reply.callNotFound();
    const session = await sessionOf(ctx, request);
    const path = request.url.split("?")[0] ?? "";
    const body = errorBody(404, `there is no page at ${path}`);
    return sendHtml(reply, 404, page({ title: "Not found", session, body }));
  });

  // ---- audit log ---------------------------------------------------------------------------------------
  web.get("/audit", owner, async (request, reply) =>
    render(
      request,
      reply,
      "Audit log",
      "audit",
      await auditPage(ctx, auditFilterOf(request.query as Record<string, unknown>)),
    ),
  );

  // ---- reconciler --------------------------------------------------------------------------------------
  web.get("/reconciler", owner, async (request, reply) =>
    render(
      request,
      reply,
      "Reconciler",
      "reconciler",
      await reconcilerPage(ctx, deps.reconciler(), sessionFor(request), noticeOf(request)),
    ),
  );
  for (const [path, paused] of [
    ["/reconciler/pause", true],
    ["/reconciler/resume", false],
  ] as const) {
    web.post(path, owner, async (request, reply) => {
      await setPaused(ctx.store, paused, stampOf(request));
      ctx.logger.info({ via: "dashboard" }, `prebuilds reconciliation ${paused ? "paused" : "resumed"}`);
      return reply.redirect(`/reconciler?done=${paused ? "paused" : "unpaused"}`, 303);
    });
  }
}
