// Refused owner actions in the audit log: when a member calls an owner-only route that performs an audited
// action, the API's guard (app.ts) or the dashboard's (web/index.ts) records a failure entry (in its own small
// write; nothing else happened) before answering 403. This table says which action each such route of either
// performs and what its target is, from the request's parameters and body.
import type { FastifyRequest } from "fastify";
import { apiPrefix } from "../../contract/api.js";
import type { AuditAction } from "../../contract/audit.js";
import { audit, target } from "../audit.js";
import type { ServerContext } from "../context.js";
import type { User } from "../store/users.js";

type Input = Record<string, string | undefined>;
type Refusable = { action: AuditAction; target: (params: Input, body: Input) => string };

const T = (p: Input) => target.template(p.name ?? "");
const P = (p: Input) => target.preset(p.name ?? "", p.preset ?? "");

/** "METHOD url-pattern" (Fastify's pattern, as registered) → the audited action it performs. */
const REFUSABLE: Record<string, Refusable> = {
  [`POST ${apiPrefix}/users`]: { action: "user.create", target: (_p, b) => target.user(b.username ?? "") },
  [`PATCH ${apiPrefix}/users/:name`]: { action: "user.role", target: (p) => target.user(p.name ?? "") },
  [`DELETE ${apiPrefix}/users/:name/tokens/:id`]: {
    action: "token.revoke",
    target: (p) => target.token(p.id ?? ""),
  },
  [`POST ${apiPrefix}/templates/:name/versions`]: { action: "template.push", target: T },
  [`POST ${apiPrefix}/templates/:name/versions/:version/activate`]: {
    action: "template.activate",
    target: T,
  },
  [`PATCH ${apiPrefix}/templates/:name`]: { action: "template.deprecate", target: T },
  [`DELETE ${apiPrefix}/templates/:name`]: { action: "template.delete", target: T },
  [`POST ${apiPrefix}/prebuilds/pause`]: { action: "prebuilds.pause", target: target.prebuilds },
  [`POST ${apiPrefix}/prebuilds/resume`]: { action: "prebuilds.resume", target: target.prebuilds },
  [`POST ${apiPrefix}/templates/:name/prebuilds/invalidate`]: { action: "prebuilds.invalidate", target: T },
  [`POST ${apiPrefix}/templates/:name/presets/:preset/resume`]: { action: "preset.resume", target: P },
  [`PUT ${apiPrefix}/templates/:name/presets/:preset/autoscale`]: { action: "preset.settings", target: P },
  [`DELETE ${apiPrefix}/templates/:name/presets/:preset/autoscale`]: { action: "preset.settings", target: P },
  [`PATCH ${apiPrefix}/templates/:name/presets/:preset/settings`]: { action: "preset.settings", target: P },
  // The dashboard's forms.
  "POST /reconciler/pause": { action: "prebuilds.pause", target: target.prebuilds },
  "POST /reconciler/resume": { action: "prebuilds.resume", target: target.prebuilds },
  "POST /templates/:name/invalidate": { action: "prebuilds.invalidate", target: T },
  "POST /templates/:name/presets/:preset/resume": { action: "preset.resume", target: P },
  "POST /templates/:name/presets/:preset/autoscale": { action: "preset.settings", target: P },
};

/** Records the refusal when the route performs an audited action; other owner routes (reads) are not. */
export async function auditRefusal(ctx: ServerContext, request: FastifyRequest, user: User): Promise<void> {
  const refusable = REFUSABLE[`${request.method} ${request.routeOptions.url ?? ""}`];
  if (!refusable) return;
  const params = (request.params ?? {}) as Input;
  const body = (request.body && typeof request.body === "object" ? request.body : {}) as Input;
  await audit(ctx.store.db, ctx.clock.now(), {
    actor: { id: user.id, username: user.username, address: request.ip },
    action: refusable.action,
    target: refusable.target(params, body),
    outcome: "failure",
    detail: { reason: "needs the owner role" },
  });
}
