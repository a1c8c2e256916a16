// A fake prewarm HTTP server for CLI tests: node:http on 127.0.0.1:0, answering contract routes with canned
// data and recording every request.
//
// How it differs from the real server: nothing persists (each handler returns what the test gives it), there
// is no authentication unless a test checks the recorded Authorization header itself, no validation beyond
// the contract's schemas, and SSE streams are scripted. What it does check, against the contract itself
// (src/contract/api.ts): every request body the CLI sends and every reply a test scripts. A mismatch
// answers 500 and is recorded in `violations`, so a test fails when the CLI or a fixture leaves the contract.
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { FormatRegistry, type TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import type { RouteDef } from "../../../src/contract/api.js";

if (!FormatRegistry.Has("date-time")) {
  FormatRegistry.Set("date-time", (v) =>
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(v),
  );
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  params: Record<string, string>;
  headers: IncomingMessage["headers"];
  body: Buffer;
}

export type Reply =
  | { status: number; body?: unknown }
  /** Full control of the response (SSE streams, malformed answers). */
  | { raw: (res: ServerResponse) => void | Promise<void> };

type Handler = (req: RecordedRequest) => Reply | Promise<Reply>;

interface Registered {
  route: RouteDef;
  pattern: RegExp;
  keys: string[];
  handler: Handler;
}

function compile(url: string): { pattern: RegExp; keys: string[] } {
  const keys: string[] = [];
  const source = url.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/:([A-Za-z]+)/g, (_, key: string) => {
    keys.push(key);
    return "([^/]+)";
  });
  return { pattern: new RegExp(`^${source}$`), keys };
}

function describeErrors(schema: TSchema, value: unknown): string {
  return [...Value.Errors(schema, value)]
    .slice(0, 3)
    .map((e) => `${e.path || "/"}: ${e.message}`)
    .join("; ");
}

export class FakeApi {
  readonly requests: RecordedRequest[] = [];
  readonly violations: string[] = [];
  private readonly handlers: Registered[] = [];

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<FakeApi> {
    const server = createServer();
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const { port } = server.address() as AddressInfo;
    const fake = new FakeApi(server, `http://127.0.0.1:${port}`);
    server.on("request", (req, res) => {
      fake.handle(req, res).catch((err: Error) => {
        fake.violations.push(`handler error: ${err.message}`);
        if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ message: `fake: ${err.message}` }));
      });
    });
    return fake;
  }

  /** Answers `route` with `handler` (replacing an earlier handler for the same route). */
  on(route: RouteDef, handler: Handler | Reply): this {
    const { pattern, keys } = compile(route.url);
    const index = this.handlers.findIndex((h) => h.route === route);
    const entry = { route, pattern, keys, handler: typeof handler === "function" ? handler : () => handler };
    if (index >= 0) this.handlers[index] = entry;
    else this.handlers.push(entry);
    return this;
  }

  /** Recorded requests to `route`. */
  calls(route: RouteDef): RecordedRequest[] {
    const { pattern } = compile(route.url);
    return this.requests.filter((r) => r.method === route.method && pattern.test(r.path));
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, "close");
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? "/", this.url);
    const recorded: RecordedRequest = {
      method: req.method ?? "GET",
      path: url.pathname,
      query: url.searchParams,
      params: {},
      headers: req.headers,
      body: Buffer.concat(chunks),
    };
    this.requests.push(recorded);
    for (const h of this.handlers) {
      const m = h.pattern.exec(url.pathname);
      if (h.route.method !== recorded.method || !m) continue;
      h.keys.forEach((key, i) => {
        recorded.params[key] = decodeURIComponent(m[i + 1]!);
      });
      const bodySchema = h.route.schema.body;
      if (bodySchema) {
        let json: unknown;
        try {
          json = JSON.parse(recorded.body.toString("utf8"));
        } catch {
          return this.violation(res, `${h.route.method} ${h.route.url}: request body is not JSON`);
        }
        if (!Value.Check(bodySchema, json)) {
          return this.violation(
            res,
            `${h.route.method} ${h.route.url}: request body ${describeErrors(bodySchema, json)}`,
          );
        }
      }
      const reply = await h.handler(recorded);
      if ("raw" in reply) return void (await reply.raw(res));
      const schema = h.route.schema.response[reply.status];
      if (!schema)
        return this.violation(res, `${h.route.url}: status ${reply.status} is not in the contract`);
      if (reply.status !== 204 && !Value.Check(schema, reply.body)) {
        return this.violation(
          res,
          `${h.route.url}: scripted ${reply.status} reply ${describeErrors(schema, reply.body)}`,
        );
      }
      if (reply.status === 204) {
        res.writeHead(204).end();
        return;
      }
      res.writeHead(reply.status, { "content-type": "application/json" });
      res.end(JSON.stringify(reply.body));
      return;
    }
    res.writeHead(404, { "content-type": "application/json" });
    res.end(JSON.stringify({ message: `fake: no route for ${recorded.method} ${url.pathname}` }));
  }

  private violation(res: ServerResponse, message: string): void {
    this.violations.push(message);
    res.writeHead(500, { "content-type": "application/json" });
    res.end(JSON.stringify({ message: `fake contract violation: ${message}` }));
  }
}

/** Formats one SSE event as the contract specifies (`event`, optional `id`, one `data` line of JSON). */
export function sseEvent(event: string, data: unknown, id?: number): string {
  return `event: ${event}\n${id === undefined ? "" : `id: ${id}\n`}data: ${JSON.stringify(data)}\n\n`;
}
