// The agent's side of the agent API (src/contract/agent.ts): one method per route, typed from
// the contract. Failures are sorted by what the caller should do:
//   AgentAuthError      401 — the token is wrong or revoked; retrying cannot help, the agent exits.
//   ServerAwayError     network error, timeout, 5xx, 429 — retry with backoff.
//   AgentRequestError   any other refusal (400, 404, 409, a malformed manifest) — do not retry this request.
import { Value } from "@sinclair/typebox/value";
import { SseParser } from "../cli/sse.js";
import {
  AgentClaimedEvent,
  type AgentLifecycleReportT,
  type AgentLogEntryT,
  AgentManifest,
  type AgentManifestT,
  type AgentMetadataResultT,
  AgentUpdatedEvent,
  agentRoutes,
  registerContractFormats,
} from "../contract/agent.js";
import type { AgentEvent } from "./handover.js";

export class AgentAuthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AgentAuthError";
  }
}

export class ServerAwayError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ServerAwayError";
  }
}

export class AgentRequestError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
  ) {
    super(message);
    this.name = "AgentRequestError";
  }
}

const requestTimeoutMs = 15_000;
registerContractFormats();

export class AgentApiClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
  ) {}

  async manifest(): Promise<AgentManifestT> {
    const body = await this.request("GET", agentRoutes.agentManifest.url);
    if (!Value.Check(AgentManifest, body)) {
      const first = [...Value.Errors(AgentManifest, body)][0];
      throw new AgentRequestError(
        `fetch manifest: the server sent an invalid manifest${first ? ` (${first.path || "/"}: ${first.message})` : ""}`,
        200,
      );
    }
    return body;
  }

  async lifecycle(report: AgentLifecycleReportT): Promise<void> {
    await this.request("POST", agentRoutes.agentLifecycle.url, report);
  }

  async logs(logs: AgentLogEntryT[]): Promise<void> {
    await this.request("POST", agentRoutes.agentLogs.url, { logs });
  }

  async metadata(results: AgentMetadataResultT[]): Promise<void> {
    await this.request("POST", agentRoutes.agentMetadata.url, { results });
  }

  async heartbeat(): Promise<void> {
    await this.request("POST", agentRoutes.agentHeartbeat.url);
  }

  /**
   * Follows the events stream until it ends or `signal` aborts; calls `onEvent` for each `claimed` or
   * `updated` event. Resolves when the stream ends normally (the caller reconnects); throws like the other
   * methods.
   */
  async events(
    known: { owner: string; agentId: string },
    signal: AbortSignal,
    onEvent: (event: AgentEvent) => void,
  ): Promise<void> {
    const query = `knownOwner=${encodeURIComponent(known.owner)}&knownAgent=${encodeURIComponent(known.agentId)}`;
    const url = `${agentRoutes.agentEvents.url}?${query}`;
    const res = await this.send("GET", url, undefined, signal, "text/event-stream");
    await this.check(res, "GET", url);
    if (!res.body) return;
    const parser = new SseParser();
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        for (const event of parser.push(decoder.decode(chunk, { stream: true }))) {
          if (event.event !== "claimed" && event.event !== "updated") continue;
          let data: unknown;
          try {
            data = JSON.parse(event.data);
          } catch {
            data = undefined;
          }
          if (event.event === "claimed" && Value.Check(AgentClaimedEvent, data)) {
            onEvent({ kind: "claimed", event: data });
          } else if (event.event === "updated" && Value.Check(AgentUpdatedEvent, data)) {
            onEvent({ kind: "updated", event: data });
          } else {
            throw new AgentRequestError(`events: malformed \`${event.event}\` event from the server`, 200);
          }
        }
      }
    } catch (err) {
      if (signal.aborted || err instanceof AgentRequestError) throw err;
      throw new ServerAwayError(`events: stream broke: ${describe(err)}`);
    }
  }

  private async request(method: "GET" | "POST", path: string, body?: unknown): Promise<unknown> {
    const res = await this.send(
      method,
      path,
      body,
      AbortSignal.timeout(requestTimeoutMs),
      "application/json",
    );
    await this.check(res, method, path);
    if (res.status === 204) return undefined;
    const text = await res.text();
    if (text === "") return undefined;
    try {
      return JSON.parse(text);
    } catch {
      throw new AgentRequestError(
        `${method} ${path}: the server answered with something other than JSON`,
        res.status,
      );
    }
  }

  private async send(
    method: string,
    path: string,
    body: unknown,
    signal: AbortSignal,
    accept: string,
  ): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, accept };
    if (body !== undefined) headers["content-type"] = "application/json";
    try {
      return await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal,
      });
    } catch (err) {
      if (signal.aborted && signal.reason instanceof Error && signal.reason.name !== "TimeoutError")
        throw err;
      throw new ServerAwayError(`${method} ${path}: server unreachable: ${describe(err)}`);
    }
  }

  private async check(res: Response, method: string, path: string): Promise<void> {
    if (res.ok) return;
    const message = await errorMessage(res);
    const where = `${method} ${path}`;
    if (res.status === 401) {
      throw new AgentAuthError(`the server refused the agent token (401${message ? `: ${message}` : ""})`);
    }
    if (res.status >= 500 || res.status === 429 || res.status === 408) {
      throw new ServerAwayError(`${where}: server answered ${res.status}${message ? `: ${message}` : ""}`);
    }
    throw new AgentRequestError(
      `${where}: server answered ${res.status}${message ? `: ${message}` : ""}`,
      res.status,
    );
  }
}

async function errorMessage(res: Response): Promise<string> {
  const text = await res.text().catch(() => "");
  try {
    const body = JSON.parse(text) as { message?: unknown };
    if (typeof body.message === "string") return body.message;
  } catch {
    // not the JSON error body: fall through to the raw text
  }
  return text.slice(0, 200).trim();
}

/** One line from any thrown value, following `cause` (fetch puts the real reason there). */
export function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof Error && cause.message && cause.message !== err.message) {
    return `${err.message} (${cause.message})`;
  }
  return err.message;
}
