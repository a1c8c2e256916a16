// A fake of the server's agent API (src/contract/agent.ts) for testing real `prewarm agent`
// processes. It validates every request body against the contract's schemas (400 when one does not match)
// and records what it receives. How it differs from the real server: one agent and one token, no store, no
// transition rules (it records whatever lifecycle state arrives), claims are triggered by the test instead
// of by a successful claim build, and "going away" is simulated by closing the listener and resetting
// every connection, then listening again on the same port.
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import {
  AgentLifecycleReport,
  type AgentLifecycleReportT,
  type AgentLogEntryT,
  AgentLogsRequest,
  type AgentManifestT,
  AgentMetadataRequest,
  type AgentMetadataResultT,
  agentRoutes,
  registerContractFormats,
} from "../../src/contract/agent.js";

registerContractFormats();

export const fakeToken = "3f1c9a52-0d7e-4b8e-9a61-2b5d8c7e4f10";

/** A manifest with no scripts or metadata; tests spread their own fields over it. */
export function baseManifest(directory: string): AgentManifestT {
  return {
    agentId: "a0000000-0000-4000-8000-000000000001",
    name: "main",
    workspaceId: "w0000000-0000-4000-8000-000000000001",
    workspaceName: "prebuild-dev-1",
    ownerName: "prebuilds",
    directory,
    env: {},
    scripts: [],
    metadata: [],
    connectionTimeoutSeconds: 120,
    motdFile: "",
  };
}

export function script(
  fields: Partial<AgentManifestT["scripts"][number]> & { displayName: string; script: string },
) {
  return {
    runOnStart: true,
    runOnStop: false,
    startBlocksLogin: false,
    timeoutSeconds: 0,
    logPath: "",
    cron: "",
    ...fields,
  };
}

export class FakeAgentServer {
  readonly lifecycle: AgentLifecycleReportT[] = [];
  readonly logs: AgentLogEntryT[] = [];
  readonly metadata: AgentMetadataResultT[] = [];
  readonly invalid: string[] = [];
  heartbeats = 0;
  manifestFetches = 0;
  /** When set, served (without auth) at the bundle route. */
  bundle: string | undefined;
  /** Go away right after the next manifest is served. */
  awayAfterManifest = false;

  private server: Server;
  private port = 0;
  private away = false;
  private readonly sockets = new Set<Socket>();
  private readonly streams = new Set<{ res: ServerResponse; knownOwner: string }>();
  private readonly waiters = new Set<() => void>();

  private constructor(
    public manifest: AgentManifestT,
    private token: string,
  ) {
    this.server = this.makeServer();
  }

  static async start(manifest: AgentManifestT, token = fakeToken): Promise<FakeAgentServer> {
    const fake = new FakeAgentServer(manifest, token);
    await fake.listen(0);
    return fake;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  states(): string[] {
    return this.lifecycle.map((r) => r.state);
  }

  /** The workspace is claimed: new owner in the manifest, `claimed` to every open events stream. */
  claim(ownerName: string): void {
    this.manifest = { ...this.manifest, ownerName, workspaceName: `${ownerName}-dev` };
    for (const stream of this.streams) this.sendClaimIfNeeded(stream);
  }

  /** The token stops being valid (as when the workspace is deleted): every request answers 401. */
  revokeToken(): void {
    this.token = `revoked-${this.token}`;
    for (const s of this.streams) s.res.end();
  }

  /** The server goes away: stops listening and resets every open connection. */
  async goAway(): Promise<void> {
    this.away = true;
    for (const s of this.streams) s.res.destroy();
    this.streams.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  /** The server is back, on the same port. */
  async comeBack(): Promise<void> {
    this.server = this.makeServer();
    this.away = false;
    await this.listen(this.port);
  }

  /** Resolves once `predicate` holds (checked after every request), rejects after `timeoutMs`. */
  waitFor(what: string, predicate: () => boolean, timeoutMs = 20_000): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(
          new Error(
            `fake agent server: timed out waiting for ${what}; lifecycle so far: ${this.states().join(", ")}`,
          ),
        );
      }, timeoutMs);
      this.waiters.add(check);
    });
  }

  async close(): Promise<void> {
    if (this.away) return;
    await this.goAway();
  }

  private async listen(port: number): Promise<void> {
    this.server.listen(port, "127.0.0.1");
    await once(this.server, "listening");
    this.port = (this.server.address() as AddressInfo).port;
  }

  private makeServer(): Server {
    const server = createServer((req, res) => {
      if (this.away) {
        req.socket.destroy();
        return;
      }
      this.handle(req, res).then(
        () => this.notify(),
        (err: unknown) => {
          res.writeHead(500).end(String(err));
        },
      );
    });
    server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
    return server;
  }

  private notify(): void {
    for (const check of [...this.waiters]) check();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.url);
    const json = (status: number, body?: unknown) => {
      res.writeHead(status, body === undefined ? {} : { "content-type": "application/json" });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    if (req.method === "GET" && url.pathname === agentRoutes.agentBundle.url && this.bundle !== undefined) {
      res.writeHead(200, { "content-type": "application/javascript" }).end(this.bundle);
      return;
    }
    if (req.headers.authorization !== `Bearer ${this.token}`) {
      json(401, { message: "unknown agent token" });
      return;
    }
    const body = req.method === "POST" ? await readJson(req) : undefined;
    const valid = (schema: TSchema) => {
      if (Value.Check(schema, body)) return true;
      this.invalid.push(`${url.pathname}: ${JSON.stringify(body)}`);
      json(400, { message: "invalid body" });
      return false;
    };
    switch (`${req.method} ${url.pathname}`) {
      case `GET ${agentRoutes.agentManifest.url}`:
        this.manifestFetches += 1;
        if (this.awayAfterManifest) {
          this.awayAfterManifest = false;
          res.on("finish", () => void this.goAway());
        }
        json(200, this.manifest);
        return;
      case `POST ${agentRoutes.agentLifecycle.url}`:
        if (valid(AgentLifecycleReport)) {
          this.lifecycle.push(body as AgentLifecycleReportT);
          json(204);
        }
        return;
      case `POST ${agentRoutes.agentLogs.url}`:
        if (valid(AgentLogsRequest)) {
          this.logs.push(...(body as { logs: AgentLogEntryT[] }).logs);
          json(204);
        }
        return;
      case `POST ${agentRoutes.agentMetadata.url}`:
        if (valid(AgentMetadataRequest)) {
          this.metadata.push(...(body as { results: AgentMetadataResultT[] }).results);
          json(204);
        }
        return;
      case `POST ${agentRoutes.agentHeartbeat.url}`:
        this.heartbeats += 1;
        json(204);
        return;
      case `GET ${agentRoutes.agentEvents.url}`: {
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store" });
        res.write(": connected\n\n");
        const stream = { res, knownOwner: url.searchParams.get("knownOwner") ?? "" };
        this.streams.add(stream);
        res.on("close", () => this.streams.delete(stream));
        this.sendClaimIfNeeded(stream);
        return;
      }
      default:
        json(404, { message: `no route ${req.method} ${url.pathname}` });
    }
  }

  private sendClaimIfNeeded(stream: { res: ServerResponse; knownOwner: string }): void {
    if (stream.knownOwner === this.manifest.ownerName) return;
    const data = {
      ownerName: this.manifest.ownerName,
      workspaceName: this.manifest.workspaceName,
      claimedAt: new Date().toISOString(),
    };
    stream.res.write(`event: claimed\ndata: ${JSON.stringify(data)}\n\n`);
    stream.knownOwner = this.manifest.ownerName;
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
