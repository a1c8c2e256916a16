// The HTTP API's handlers: every route of the contract (./contract.ts) registered verbatim with
// `app.route({ ...routes.x, handler })`, grouped by area under ./routes/. Authentication is enforced by
// app.ts from each route's `config.auth`; handlers only decide what the authenticated caller may see.
import type { Registry } from "prom-client";
import type { ServerContext } from "../context.js";
import type { PrebuildMetrics } from "../prebuilds/metrics.js";
import type { Reconciler } from "../prebuilds/reconciler.js";
import type { TemplateSettings } from "../templates/service.js";
import type { App } from "./app.js";
import { registerAgentRoutes } from "./routes/agent.js";
import { registerJobRoutes } from "./routes/jobs.js";
import { registerMetaRoutes } from "./routes/meta.js";
import { registerPrebuildRoutes } from "./routes/prebuilds.js";
import { registerTemplateRoutes } from "./routes/templates.js";
import { registerUserRoutes } from "./routes/users.js";
import { registerWorkspaceRoutes } from "./routes/workspaces.js";

export interface ApiDeps {
  ctx: ServerContext;
  /** Served at GET /metrics (Prometheus text). */
  registry: Registry;
  metrics: PrebuildMetrics;
  templates: TemplateSettings;
  /** Lazy: the reconciler is created after the routes are registered. */
  reconciler: () => Reconciler;
}

export function registerApiRoutes(app: App, deps: ApiDeps): void {
  registerMetaRoutes(app, deps);
  registerUserRoutes(app, deps);
  registerTemplateRoutes(app, deps);
  registerJobRoutes(app, deps);
  registerWorkspaceRoutes(app, deps);
  registerPrebuildRoutes(app, deps);
  registerAgentRoutes(app, deps);
}
