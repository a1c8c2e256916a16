// What the API's route modules are given: the server context and the pieces created beside it. Its own module
// so that routes.ts (which registers every route module) and the route modules (which take these) do not
// import each other.
import type { LoginThrottle } from "../auth/login-throttle.js";
import type { TokenLifetimes } from "../auth/token-lifetime.js";
import type { ServerContext } from "../context.js";
import type { PrebuildMetrics } from "../prebuilds/metrics.js";
import type { Reconciler } from "../prebuilds/reconciler.js";
import type { TemplateSettings } from "../templates/service.js";

export interface ApiDeps {
  ctx: ServerContext;
  metrics: PrebuildMetrics;
  templates: TemplateSettings;
  auth: AuthSettings;
  /** Lazy: the reconciler is created after the routes are registered. */
  reconciler: () => Reconciler;
}

/** Sign-in and token rules, shared by the API and the dashboard. */
export interface AuthSettings {
  /** One per server: the API's login and the dashboard's sign-in count failures together. */
  throttle: LoginThrottle;
  tokenLifetimes: TokenLifetimes;
}
