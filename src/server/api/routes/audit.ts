// The audit log over HTTP (owners only, app.ts enforces it): GET /audit, one page of entries newest first.
import { AUDIT_LIMIT_DEFAULT, routes } from "../../../contract/api.js";
import { presentAuditEntry, readAuditPage } from "../../audit.js";
import type { App } from "../app.js";
import type { ApiDeps } from "../deps.js";

export function registerAuditRoutes(app: App, { ctx }: ApiDeps): void {
  app.route({
    ...routes.listAudit,
    handler: async (request) => {
      const { action, actor, since, limit, cursor } = request.query;
      const page = await readAuditPage(ctx.store.db, ctx.clock.now(), {
        action,
        actor,
        since,
        limit: limit ?? AUDIT_LIMIT_DEFAULT,
        cursor,
      });
      return { entries: page.entries.map(presentAuditEntry), nextCursor: page.nextCursor };
    },
  });
}
