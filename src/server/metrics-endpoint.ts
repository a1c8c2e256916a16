// GET /metrics (Prometheus text, no token: scrapers are not users), on the main port by default or on its own
// address with `--metrics-listen` (then the main port does not serve it). Not part of the JSON API, so it is
// hidden from the OpenAPI document.
import Fastify, { type FastifyInstance } from "fastify";
import type { Registry } from "prom-client";

interface RouteHost {
  route: FastifyInstance["route"];
}

export function registerMetricsRoute(app: RouteHost, registry: Registry): void {
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

/** A server of its own for /metrics (`--metrics-listen host:port`); resolves once it listens. */
export async function startMetricsServer(
  registry: Registry,
  host: string,
  port: number,
): Promise<{ url: string; close(): Promise<void> }> {
  const app = Fastify({ logger: false, forceCloseConnections: true });
  registerMetricsRoute(app, registry);
  await app.listen({ host, port });
  const address = app.server.address();
  const bound = typeof address === "object" && address ? address.port : port;
  const shown = host.includes(":") ? `[${host}]` : host;
  return { url: `http://${shown === "0.0.0.0" ? "127.0.0.1" : shown}:${bound}`, close: () => app.close() };
}
