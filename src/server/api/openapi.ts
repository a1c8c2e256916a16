// The OpenAPI document of the JSON API: which routes it lists (only `/api/v1`; the dashboard, the probes,
// /metrics and the ConnectRPC daemon API are not part of it), each operation's id (the route's name in the
// contract), the error statuses every route can answer with beyond the ones its contract lists, named
// `components.schemas` (every titled contract schema, referenced by `$ref`) and real response descriptions.
// @fastify/swagger builds the document from the registered routes; this module only shapes it.
import type { FastifyDynamicSwaggerOptions } from "@fastify/swagger";
import type { FastifySchema, RouteOptions } from "fastify";
import { agentRoutes, workspaceAgentTokenRoute } from "../../contract/agent.js";
import { apiPrefix, ErrorBody, type RouteDef, routes } from "../../contract/api.js";

/**
 * "GET /api/v1/users/me" → "me": every contract route's name is its operationId (a route outside the contract
 * gets none, which test/server/api/openapi.test.ts catches).
 */
const operationIds = new Map<string, string>(
  Object.entries({
    ...routes,
    ...agentRoutes,
    workspaceAgentToken: workspaceAgentTokenRoute,
  } as Record<string, RouteDef>).map(([name, r]) => [`${r.method} ${r.url}`, name]),
);

/** Response descriptions by status, for responses whose schema does not carry its own. */
const statusDescriptions: Record<string, string> = {
  "200": "OK",
  "201": "Created",
  "202": "Accepted",
  "204": "No content",
  "400": "Invalid input (the body names the offending `field` when there is one)",
  "401": "No token, or an invalid or expired one",
  "403": "The caller may not do this (for example: it needs the owner role)",
  "404": "No such resource, or one the caller may not see",
  "409": "Conflicts with the current state",
  "413": "The request body is larger than the server's limit",
  "415": "Unsupported request content type",
  "500": "Internal server error (logged by the server)",
};

type Schema = FastifySchema & {
  hide?: boolean;
  operationId?: string;
  response?: Record<string, unknown>;
  headers?: unknown;
};

/**
 * The statuses a route answers with whatever its contract says: 400 when it validates input, 401 when it needs
 * a token, 403 when it needs the owner role, 415 when it takes a body, 500 always (the error handler in app.ts
 * produces all of them with the ErrorBody shape).
 */
function impliedErrorStatuses(route: RouteOptions, schema: Schema): number[] {
  const auth = authOf(route);
  const statuses: number[] = [500];
  if (schema.params || schema.querystring || schema.body || schema.headers) statuses.push(400);
  if (schema.body) statuses.push(415);
  if (auth !== "none") statuses.push(401);
  if (auth === "owner") statuses.push(403);
  return statuses;
}

/** Who may call the route (app.ts enforces it from the same `config.auth`). */
function authOf(route: RouteOptions): string {
  return (route.config as { auth?: string } | undefined)?.auth ?? "none";
}

function methodOf(route: RouteOptions): string {
  return Array.isArray(route.method) ? String(route.method[0]) : String(route.method);
}

const transform: NonNullable<FastifyDynamicSwaggerOptions["transform"]> = ({ schema, url, route }) => {
  const own = (schema ?? {}) as Schema;
  if (!url.startsWith(`${apiPrefix}/`)) return { schema: { ...own, hide: true } as FastifySchema, url };
  const response: Record<string, unknown> = { ...own.response };
  for (const status of impliedErrorStatuses(route, own)) response[status] ??= ErrorBody;
  const shaped: Schema = {
    ...own,
    // The document's default is a bearer token; routes anyone may call need none.
    ...(authOf(route) === "none" ? { security: [] } : {}),
    operationId: operationIds.get(`${methodOf(route)} ${url}`),
    response,
  };
  return { schema: shaped as FastifySchema, url };
};

type Json = unknown;

/**
 * Moves every schema with a `title` into `components.schemas` under that title and refers to it by `$ref`.
 * Two different schemas with one title would make a reference lie, so that is an error (a contract bug).
 */
function hoistTitledSchemas(document: Record<string, Json>): void {
  document.components ??= {};
  const components = document.components as Record<string, Json>;
  components.schemas ??= {};
  const named = components.schemas as Record<string, Json>;
  const seen = new Map<string, string>();
  const visit = (node: Json, inSchema: boolean): Json => {
    if (Array.isArray(node)) return node.map((item) => visit(item, inSchema));
    if (node === null || typeof node !== "object") return node;
    const object = node as Record<string, Json>;
    const out: Record<string, Json> = {};
    for (const [key, value] of Object.entries(object)) {
      // Only values under `schema` (and within schemas) are schemas; `properties` holds names, not schemas.
      out[key] = visit(value, inSchema || key === "schema");
    }
    const title = out.title;
    if (inSchema && typeof title === "string" && title !== "") {
      const text = JSON.stringify(out);
      const earlier = seen.get(title);
      if (earlier !== undefined && earlier !== text) {
        throw new Error(`openapi: two different schemas are titled "${title}"`);
      }
      seen.set(title, text);
      named[title] = out;
      return { $ref: `#/components/schemas/${encodeURIComponent(title)}` };
    }
    return out;
  };
  document.paths = visit(document.paths, false);
}

function describeResponses(document: Record<string, Json>): void {
  for (const operations of Object.values((document.paths ?? {}) as Record<string, Record<string, Json>>)) {
    for (const operation of Object.values(operations)) {
      const responses = (operation as { responses?: Record<string, { description?: string }> }).responses;
      for (const [status, response] of Object.entries(responses ?? {})) {
        if (!response.description || response.description === "Default Response") {
          response.description = statusDescriptions[status] ?? `HTTP ${status}`;
        }
      }
    }
  }
}

export function openapiOptions(version: string): FastifyDynamicSwaggerOptions {
  return {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "prewarm API",
        version,
        description:
          "The JSON API of a prewarm server. Every error answers with ErrorBody. The served document's `servers` entry is the server's access URL.",
      },
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
      security: [{ bearer: [] }],
    },
    // OpenAPI 3.1 has `const`; keep the contract's literals as they are.
    convertConstToEnum: false,
    transform,
    transformObject: (built) => {
      const source = "openapiObject" in built ? built.openapiObject : built.swaggerObject;
      const document = structuredClone(source) as Record<string, Json>;
      hoistTitledSchemas(document);
      describeResponses(document);
      return document;
    },
  };
}

/** The served document: the built one plus `servers` (the access URL is known only once the server listens). */
export function servedDocument(document: object, accessUrl: string): object {
  return { ...document, servers: [{ url: accessUrl || "/" }] };
}
