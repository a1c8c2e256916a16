// Liveness and readiness probes, build info and the OpenAPI document. (/metrics: ../../metrics-endpoint.ts.)

import { routes } from "../../../contract/api.js";
import { version } from "../../../version.js";
import { readiness } from "../../probes.js";
import type { App } from "../app.js";
import type { ApiDeps } from "../deps.js";
import { servedDocument } from "../openapi.js";

export function registerMetaRoutes(app: App, { ctx, reconciler }: ApiDeps): void {
  app.route({ ...routes.healthz, handler: async () => ({ status: "ok" as const }) });

  app.route({
    ...routes.readyz,
    handler: async (_request, reply) => {
      const body = await readiness(ctx.store, reconciler());
      return reply.status(body.status === "ok" ? 200 : 503).send(body);
    },
  });

  app.route({
    ...routes.buildInfo,
    handler: async () => ({ version, nodeVersion: process.version, database: ctx.store.dialect }),
  });

  app.route({ ...routes.openapi, handler: async () => servedDocument(app.swagger(), ctx.accessUrl) });
}
