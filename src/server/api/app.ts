// The HTTP server: one port for the JSON API (/api/v1), the OpenAPI document (openapi.ts), the daemon API
// (ConnectRPC) and the dashboard; plain HTTP or TLS, optionally behind a trusted proxy and under a base path
// (base-path.ts), every answer timed for the metrics. Authentication is declared per route (`config.auth` in
// the contract) and enforced here once; every error leaves as the contract's { message, detail?, field? }
// body, domain errors with the status of their kind (errors.ts).
import { fastifyConnectPlugin } from "@connectrpc/connect-fastify";
import fastifySwagger from "@fastify/swagger";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Ajv, type Options as AjvOptions } from "ajv";
import addFormats from "ajv-formats";
import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from "fastify";
import type { AuthKind } from "../../contract/api.js";
import type { ServerContext } from "../context.js";
import { registerDaemonService } from "../daemon-api/service.js";
import type { ServerMetrics } from "../server-metrics.js";
import { type Agent, getAgentByToken } from "../store/resources.js";
import { authenticateApiToken, type User } from "../store/users.js";
import { prefixAnswers, stripBasePath } from "./base-path.js";
import { ApiError, type ErrorBody, httpError } from "./errors.js";
import { openapiOptions } from "./openapi.js";
import { auditRefusal } from "./refusals.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The authenticated user (routes with auth "user" or "owner"). */
    user?: User;
    /** The authenticated workspace agent (routes with auth "agent"). */
    agent?: { agent: Agent; jobId: string };
    /** A 4xx answer's message, for the request log line. */
    errorMessage?: string;
  }
  interface FastifyContextConfig {
    auth?: AuthKind;
  }
}

export type App = FastifyInstance<
  import("node:http").Server,
  import("node:http").IncomingMessage,
  import("node:http").ServerResponse,
  import("fastify").FastifyBaseLogger,
  TypeBoxTypeProvider
>;

export interface AppOptions {
  ctx: ServerContext;
  /** Pre-shared key of the provisioner daemons. */
  psk: string;
  /** Largest request body (template archive uploads). */
  bodyLimit: number;
  version: string;
  /** `--trust-proxy`: honour X-Forwarded-For/-Proto/-Host (so cookies get `Secure` behind a TLS proxy). */
  trustProxy?: boolean;
  /** `--base-path` (normalized: "" or "/x"): every route answers under it (base-path.ts). */
  basePath?: string;
  /** `--tls-cert`/`--tls-key`: serve HTTPS. */
  tls?: { cert: Buffer; key: Buffer };
  /** Request timings and daemon API observations (server-metrics.ts). */
  metrics?: ServerMetrics;
}

/**
 * Request validation. A JSON body is taken as it is: `{"name": 1}` or `"template": ["pool10"]` is a 400, not
 * a string made up by coercion (Fastify's default Ajv coerces every part). Path parameters and query strings
 * can only arrive as text, so there, and only there, a value is coerced to the number or boolean its schema
 * asks for. Otherwise Fastify's defaults: defaults filled in, one error at a time (allErrors invites
 * denial-of-service), standard formats.
 */
function requestValidators(): { body: Ajv; text: Ajv } {
  const make = (coerceTypes: AjvOptions["coerceTypes"]) => {
    // verbose: an error carries its schema, so a pattern's failure can be told in the words of its
    // description instead of the regular expression (the error handler below).
    const ajv = new Ajv({
      coerceTypes,
      useDefaults: true,
      removeAdditional: true,
      allErrors: false,
      verbose: true,
    });
    addFormats.default(ajv);
    return ajv;
  };
  return { body: make(false), text: make("array") };
}

function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match?.[1];
}

export async function buildApp(options: AppOptions): Promise<App> {
  const { ctx } = options;
  const basePath = options.basePath ?? "";
  // With `https` Fastify's types switch to an https server; the instance is the same to every route.
  const app = (
    Fastify({
      // Fastify's own logger stays off (it would log two lines per request at info); the request log is the
      // one line at debug of the onResponse hook below, through the server's logger.
      logger: false,
      bodyLimit: options.bodyLimit,
      // Long-polling daemons and log followers keep requests open.
      requestTimeout: 0,
      forceCloseConnections: true,
      trustProxy: options.trustProxy ?? false,
      ...(options.tls ? { https: { cert: options.tls.cert, key: options.tls.key } } : {}),
      ...(basePath ? { rewriteUrl: (req: { url?: string }) => stripBasePath(basePath, req.url ?? "/") } : {}),
    }) as unknown as FastifyInstance
  ).withTypeProvider<TypeBoxTypeProvider>();
  if (basePath) prefixAnswers(app as unknown as FastifyInstance, basePath);
  const validators = requestValidators();
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === "body" ? validators.body : validators.text).compile(schema),
  );
  options.metrics?.instrument(app as unknown as FastifyInstance);

  // One line per request at debug: the request id, the route (its pattern, so ids do not make every line
  // unique), the status and how long it took. The query string is left out: it may carry a token. A user
  // error's message comes along (the error handler below leaves it on the request), never its stack.
  const httpLog = ctx.logger.child({ component: "http" });
  app.addHook("onResponse", async (request, reply) => {
    if (!httpLog.isLevelEnabled("debug")) return;
    httpLog.debug(
      {
        reqId: request.id,
        method: request.method,
        route: request.routeOptions.url ?? null,
        path: request.url.split("?")[0],
        status: reply.statusCode,
        durationMs: Math.round(reply.elapsedTime * 10) / 10,
        ...(request.errorMessage === undefined ? {} : { error: request.errorMessage }),
      },
      "request",
    );
  });

  // Template archives arrive as raw bytes.
  app.addContentTypeParser(
    ["application/x-tar", "application/octet-stream"],
    { parseAs: "buffer" },
    (_req, body, done) => done(null, body),
  );

  await app.register(fastifySwagger, openapiOptions(options.version));

  app.addHook("preHandler", async (request) => {
    const auth = request.routeOptions.config?.auth;
    if (!auth || auth === "none") return;
    const token = bearer(request);
    if (!token)
      throw new ApiError(401, "authentication required: pass a token as `Authorization: Bearer <token>`");
    if (auth === "agent") {
      const found = await getAgentByToken(ctx.store.db, token);
      if (!found) throw new ApiError(401, "invalid agent token");
      request.agent = found;
      return;
    }
    const user = await authenticateApiToken(ctx.store.db, token, ctx.clock.now());
    if (!user) throw new ApiError(401, "invalid or expired token");
    if (auth === "owner" && user.role !== "owner") {
      await auditRefusal(ctx, request, user);
      throw new ApiError(403, "this needs the owner role");
    }
    request.user = user;
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    let status = 500;
    let body: ErrorBody = { message: "internal server error" };
    const known = httpError(error);
    if (known) {
      ({ status, body } = known);
      if (known.retryAfterSeconds !== undefined) reply.header("retry-after", String(known.retryAfterSeconds));
    } else if (error.validation) {
      const first = error.validation[0];
      const field =
        (first?.instancePath ?? "").replace(/^\//, "").replaceAll("/", ".") ||
        (first?.params as { missingProperty?: string } | undefined)?.missingProperty;
      const described = (first as { parentSchema?: { description?: unknown } } | undefined)?.parentSchema
        ?.description;
      const reason =
        first?.keyword === "pattern" && typeof described === "string"
          ? `must be ${described}`
          : (first?.message ?? error.message);
      status = 400;
      body = {
        message: `invalid request ${error.validationContext ?? ""}: ${field ? `${field} ` : ""}${reason}`
          .replace(/\s+/g, " ")
          .trim(),
        ...(field ? { field } : {}),
      };
    } else if (error.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
      status = 413;
      body = { message: `request body is larger than the limit of ${options.bodyLimit} bytes` };
    } else if (error.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") {
      status = 415;
      body = { message: `unsupported content type ${request.headers["content-type"] ?? "(none)"}` };
    } else if (
      error.code === "FST_ERR_CTP_EMPTY_JSON_BODY" ||
      error.code === "FST_ERR_CTP_INVALID_JSON_BODY"
    ) {
      status = 400;
      body = { message: "the request body is not valid JSON" };
    } else if (typeof error.statusCode === "number" && error.statusCode >= 400 && error.statusCode < 500) {
      status = error.statusCode;
      body = { message: error.message };
    }
    if (known?.retryAfterSeconds !== undefined) {
      // A storage fault: the outage is logged once by the loops (outage-log.ts), not once per request.
      request.errorMessage = body.message;
    } else if (status >= 500) {
      httpLog.error(
        { err: error, reqId: request.id, route: request.routeOptions.url, method: request.method },
        "request failed",
      );
    } else request.errorMessage = body.message;
    return reply.status(status).send(body);
  });

  app.setNotFoundHandler((request, reply) =>
    reply
      .status(404)
      .send({ message: `no such route: ${request.method} ${request.originalUrl.split("?")[0]}` }),
  );

  await app.register(fastifyConnectPlugin, {
    routes: (router) => registerDaemonService(router, ctx, { psk: options.psk, observer: options.metrics }),
    shutdownTimeoutMs: 1_000,
  });

  return app;
}
