// Liveness, build info, the OpenAPI document and Prometheus metrics.

import { routes } from "../../../contract/api.js";
import { version } from "../../../version.js";
import type { App } from "../app.js";
import type { ApiDeps } from "../deps.js";
import { servedDocument } from "../openapi.js";

export function registerMetaRoutes(app: App, { ctx, registry }: ApiDeps): void {
  app.route({ ...routes.healthz, handler: async () => ({ status: "ok" as const }) });

  app.route({
    ...routes.buildInfo,
    handler: async () => ({ version, nodeVersion: process.version, database: ctx.store.dialect }),
  });

  app.route({ ...routes.openapi, handler: async () => servedDocument(app.swagger(), ctx.accessUrl) });

  // Not part of the JSON API (and hidden from the OpenAPI document): Prometheus scrapes it without a token.
  app.route({
    method: "GET",
    url: "/metrics",
    config: { auth: "none" },
    schema: { hide: true },
    handler: async (_request, reply) => {
      const text = await registry.metrics();
      return reply.type(registry.contentType).send(text);
    },
  });
}
