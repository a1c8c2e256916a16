// The HTTP API's handlers: every route of the contract (./contract.ts) registered verbatim with
// `app.route({ ...routes.x, handler })`, grouped by area under ./routes/. Authentication is enforced by
// app.ts from each route's `config.auth`; handlers only decide what the authenticated caller may see.
import type { App } from "./app.js";
import type { ApiDeps } from "./deps.js";
import { registerAgentRoutes } from "./routes/agent.js";
import { registerAuditRoutes } from "./routes/audit.js";
import { registerJobRoutes } from "./routes/jobs.js";
import { registerMetaRoutes } from "./routes/meta.js";
import { registerPrebuildRoutes } from "./routes/prebuilds.js";
import { registerTemplateRoutes } from "./routes/templates.js";
import { registerUserRoutes } from "./routes/users.js";
import { registerWorkspaceRoutes } from "./routes/workspaces.js";

export function registerApiRoutes(app: App, deps: ApiDeps): void {
  registerMetaRoutes(app, deps);
  registerUserRoutes(app, deps);
  registerTemplateRoutes(app, deps);
  registerJobRoutes(app, deps);
  registerWorkspaceRoutes(app, deps);
  registerPrebuildRoutes(app, deps);
  registerAgentRoutes(app, deps);
  registerAuditRoutes(app, deps);
}
