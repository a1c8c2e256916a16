// A small typed HTTP client for the API contract (src/contract/api.ts). Request and reply types come
// from the contract's route objects, so a contract change that breaks the CLI fails type-checking.
// Errors become one-line CliErrors: the server's `message` for error bodies, and a hint to start the server
// when it cannot be reached.
import {
  type JobLogT,
  type JobT,
  type RouteBody,
  type RouteDef,
  type RouteParams,
  type RouteQuery,
  type RouteReply,
  routes,
} from "../contract/api.js";
import { type Connection, configPath, readConfig, resolveConnection } from "./config.js";
import { CliError } from "./errors.js";
import { type HttpReply, type HttpRequest, send } from "./http.js";
import type { ApiOptions } from "./options.js";
import { type OutputFormat, parseOutputFormat } from "./output.js";
import { SseParser } from "./sse.js";

/** The server answered with a non-2xx status. `message` is the server's one-line message. */
export class ApiError extends CliError {
  constructor(
    message: string,
    readonly status: number,
    readonly field: string | undefined,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export interface CallOptions<R extends RouteDef> {
  params?: RouteParams<R>;
  query?: RouteQuery<R>;
  body?: RouteBody<R>;
  /** A raw body (e.g. a tar archive) instead of JSON. */
  raw?: { bytes: Uint8Array; contentType: string };
  /** Extra request headers (e.g. `idempotency-key`). */
  headers?: Record<string, string>;
}

/** Fills `:param` placeholders of a contract URL (each value URI-encoded). */
export function buildPath(url: string, params: Record<string, unknown> | undefined): string {
  return url.replace(/:([A-Za-z]+)/g, (_, key: string) => {
    const value = params?.[key];
    if (value === undefined || value === null || value === "") {
      throw new Error(`buildPath ${url}: missing parameter "${key}"`);
    }
    return encodeURIComponent(String(value));
  });
}

function queryString(query: Record<string, unknown> | undefined): string {
  if (!query) return "";
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null) search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/** Turns a non-2xx response into an ApiError with one line of text. */
async function errorFromResponse(res: HttpReply, connection: Connection): Promise<ApiError> {
  let message = `server answered ${res.status} ${res.statusText}`.trim();
  let field: string | undefined;
  try {
    const body = (await res.json()) as { message?: unknown; field?: unknown };
    if (typeof body.message === "string" && body.message.trim() !== "") message = body.message;
    if (typeof body.field === "string") field = body.field;
  } catch {
    // Not JSON (a proxy's error page, say): keep the status line.
  }
  message = message.split(/\r?\n/, 1)[0]!.trim();
  if (res.status === 401) {
    message +=
      connection.tokenSource === "none"
        ? " (not logged in: run `prewarm login`, or pass --token / set PREWARM_TOKEN)"
        : ` (the ${describeTokenSource(connection)} was rejected; run \`prewarm login\` again)`;
  }
  return new ApiError(message, res.status, field);
}

function describeTokenSource(connection: Connection): string {
  switch (connection.tokenSource) {
    case "flag":
      return "token from --token";
    case "env":
      return "token from PREWARM_TOKEN";
    default:
      return "saved token";
  }
}

/** Maps a request that got no HTTP answer at all to the one-line "cannot reach" error. */
export function unreachable(url: string, err: unknown): CliError {
  // node:http puts the errno code on the error itself; fetch put it on the error's cause.
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const cause = e.code ? { code: e.code } : e.cause;
  const reason =
    cause?.code === "ECONNREFUSED"
      ? "connection refused"
      : cause?.code
        ? `${cause.code}${cause.message ? ` ${cause.message}` : ""}`
        : (err as Error).message;
  return new CliError(
    `cannot reach the prewarm server at ${url}: ${reason} (is \`prewarm server\` running?)`,
  );
}

export interface FollowLogsOptions {
  after?: number;
  onLog?: (log: JobLogT) => void;
  onJob?: (job: JobT) => void;
  signal?: AbortSignal;
}

export class ApiClient {
  constructor(readonly connection: Connection) {}

  get url(): string {
    return this.connection.url;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    const headers: Record<string, string> = { accept: "application/json", ...extra };
    if (this.connection.token) headers.authorization = `Bearer ${this.connection.token}`;
    return headers;
  }

  private async send(path: string, init: HttpRequest): Promise<HttpReply> {
    let res: HttpReply;
    try {
      res = await send(`${this.connection.url}${path}`, init);
    } catch (err) {
      if ((err as Error).name === "AbortError") throw err;
      throw unreachable(this.connection.url, err);
    }
    if (!res.ok) throw await errorFromResponse(res, this.connection);
    return res;
  }

  /** Calls one contract route and returns its parsed 2xx reply. */
  async call<R extends RouteDef>(route: R, options: CallOptions<R> = {}): Promise<RouteReply<R>> {
    const path =
      buildPath(route.url, options.params as Record<string, unknown> | undefined) +
      queryString(options.query as Record<string, unknown> | undefined);
    const extra = options.headers ?? {};
    const init: HttpRequest = { method: route.method, headers: this.headers(extra) };
    if (options.raw) {
      init.headers = this.headers({ ...extra, "content-type": options.raw.contentType });
      init.body = options.raw.bytes;
    } else if (options.body !== undefined) {
      init.headers = this.headers({ ...extra, "content-type": "application/json" });
      init.body = JSON.stringify(options.body);
    }
    const res = await this.send(path, init);
    if (res.status === 204) return undefined as RouteReply<R>;
    try {
      return (await res.json()) as RouteReply<R>;
    } catch (err) {
      throw new CliError(
        `${route.method} ${path}: the server's reply is not JSON: ${(err as Error).message}`,
      );
    }
  }

  /**
   * Streams a job's logs over SSE until the job ends and returns the final job. Reconnects (resuming after
   * the last log id) when the stream drops before the `end` event.
   */
  async followJobLogs(jobId: string, options: FollowLogsOptions = {}): Promise<JobT> {
    let after = options.after ?? 0;
    const maxAttempts = 5;
    // Consecutive drops without any event in between; a stream that keeps delivering may drop any number of
    // times (a proxy's idle timeout on a long build), one that delivers nothing gives up after maxAttempts.
    let fruitless = 0;
    for (;;) {
      const path = `${buildPath(routes.getJobLogs.url, { id: jobId })}?follow=true${after ? `&after=${after}` : ""}`;
      const headers = this.headers({ accept: "text/event-stream" });
      if (after) headers["last-event-id"] = String(after);
      const res = await this.send(path, {
        method: "GET",
        headers,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      let delivered = false;
      const end = await this.readEvents(res, {
        onLog: (log) => {
          delivered = true;
          after = Math.max(after, log.id);
          options.onLog?.(log);
        },
        onJob: (job) => {
          delivered = true;
          options.onJob?.(job);
        },
      });
      if (end) return end;
      // The stream closed before `end` (a restart, a proxy): reconnect; an ended job answers `end` at once.
      fruitless = delivered ? 0 : fruitless + 1;
      if (fruitless >= maxAttempts) {
        throw new CliError(
          `follow logs of job ${jobId}: the log stream closed ${maxAttempts} times before the job ended`,
        );
      }
      await new Promise((r) => setTimeout(r, 200 * (fruitless + 1)));
    }
  }

  private async readEvents(
    res: HttpReply,
    handlers: { onLog: (log: JobLogT) => void; onJob: (job: JobT) => void },
  ): Promise<JobT | undefined> {
    const parser = new SseParser();
    const decoder = new TextDecoder();
    const chunks = readChunks(res.body);
    for await (const chunk of chunks) {
      for (const event of parser.push(decoder.decode(chunk, { stream: true }))) {
        const data = parseData(event.data, event.event);
        switch (event.event) {
          case "log":
            handlers.onLog(data as JobLogT);
            break;
          case "job":
            handlers.onJob(data as JobT);
            break;
          case "end":
            return data as JobT;
          case "error":
            throw new CliError(`log stream: ${(data as { message?: string }).message ?? "server error"}`);
          default:
            break; // unknown events are ignored, so the server may add some
        }
      }
    }
    return undefined;
  }
}

/** The body's chunks; a connection that breaks mid-stream just ends the iteration (the caller reconnects). */
async function* readChunks(body: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of body) yield chunk;
  } catch (err) {
    if ((err as Error).name === "AbortError") throw err;
  }
}

function parseData(data: string, event: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    throw new CliError(`log stream: the "${event}" event's data is not JSON`);
  }
}

export interface CommandContext {
  client: ApiClient;
  format: OutputFormat;
}

export type { ApiOptions };

/** Builds the client for a command from its options, the environment and the saved config. */
export async function commandContext(
  options: ApiOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<CommandContext> {
  const format = parseOutputFormat(options.output ?? "table");
  const saved = await readConfig(configPath(env));
  const connection = resolveConnection({ flags: { url: options.url, token: options.token }, env, saved });
  return { client: new ApiClient(connection), format };
}
