// Serves a Provisioner as `/provisioner.Provisioner/Session` (with gRPC health and reflection beside it,
// grpc-services.ts) over real gRPC (HTTP/2: h2c on TCP or a unix
// socket, or TLS). Tracks sessions so shutdown can be graceful: stop accepting, wait up to a deadline, then
// abort the handlers that are still running and wait for their cleanup.
import { once, setMaxListeners } from "node:events";
import { chmod, lstat, mkdir, mkdtemp, readdir, rm, stat, unlink } from "node:fs/promises";
import * as http2 from "node:http2";
import { type AddressInfo, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import {
  Provisioner as ProvisionerService,
  type Request,
  type Response,
} from "../gen/provisioner/provisioner_pb.js";
import { formatAddress, parseAddress } from "./address.js";
import { type ArchiveLimits, DEFAULT_ARCHIVE_LIMITS } from "./archive.js";
import { AsyncQueue } from "./async-queue.js";
import { registerStandardServices } from "./grpc-services.js";
import { runSession, type ServeLogger } from "./session.js";
import type { AnyProvisioner } from "./types.js";

export type { ServeLogger, ServeLogLevel } from "./session.js";

export interface ServeOptions {
  /** "127.0.0.1:0", "[::1]:7000", "unix:/path/sock". Port 0 picks a free port (see `address`). */
  listen: string;
  /** Parent of the per-session directories; default a fresh temp directory, removed on close. */
  workDirectory?: string;
  limits?: Partial<ArchiveLimits>;
  tls?: { cert: string | Buffer; key: string | Buffer };
  logger?: ServeLogger;
}

export interface ProvisionerServer {
  /** The address actually listened on: "127.0.0.1:54321", "[::1]:7000" or "unix:/path". */
  address: string;
  /** Sessions that have not finished (including their cleanup). */
  activeSessions(): number;
  /** Resolves when no session is active (immediately if none is). */
  whenIdle(): Promise<void>;
  /**
   * Graceful stop: refuse new sessions, wait for running ones up to `deadlineMs` (default 30 s), then abort
   * their handlers and wait for them to return and clean up. Idempotent.
   */
  close(options?: { deadlineMs?: number }): Promise<void>;
}

export const DEFAULT_SHUTDOWN_DEADLINE_MS = 30_000;
/** Session directories older than this, left behind by a crashed server, are removed at startup (as Coder). */
const STALE_SESSION_AGE_MS = 7 * 24 * 3600 * 1000;
/** Room in a Config message beyond the archive's content: tar headers and padding, plus the state. */
const CONFIG_OVERHEAD_BYTES = 64 * 1024 * 1024;
/** After the sessions are done, how long connections get to flush and close before they are cut. */
const CONNECTION_DRAIN_MS = 2_000;

function resolveLimits(partial: Partial<ArchiveLimits> | undefined): ArchiveLimits {
  const limits = { ...DEFAULT_ARCHIVE_LIMITS, ...partial };
  for (const key of ["maxBytes", "maxEntries"] as const) {
    if (!Number.isSafeInteger(limits[key]) || limits[key] < 0) {
      throw new RangeError(`serve: limits.${key} must be a whole number ≥ 0, got ${limits[key]}`);
    }
  }
  return limits;
}

async function removeStaleSessions(dir: string, logger: ServeLogger): Promise<void> {
  const now = Date.now();
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.startsWith("session-")) continue;
    const path = join(dir, name);
    const info = await stat(path).catch(() => undefined);
    if (info && now - info.mtimeMs > STALE_SESSION_AGE_MS) {
      logger("info", "removing stale session directory", { dir: path });
      await rm(path, { recursive: true, force: true }).catch(() => undefined);
    }
  }
}

/**
 * A socket file left by a server that died (kill -9, crash) makes listen fail with EADDRINUSE. Remove it when
 * nothing answers on it; leave it (and let listen report the error) when a server is alive there or when the
 * path is not a socket at all.
 */
async function removeStaleSocket(path: string): Promise<void> {
  const info = await lstat(path).catch(() => undefined);
  if (!info?.isSocket()) return;
  const alive = await new Promise<boolean>((resolve) => {
    const probe = connect(path);
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
  if (!alive) await unlink(path).catch(() => undefined);
}

/** "::1:7000" → "[::1]:7000"; anything else unchanged. */
function bracketIPv6Authority(authority: string): string {
  if (authority.startsWith("[") || authority.indexOf(":") === authority.lastIndexOf(":")) return authority;
  const at = authority.lastIndexOf(":");
  return `[${authority.slice(0, at)}]${authority.slice(at)}`;
}

export async function serve(provisioner: AnyProvisioner, options: ServeOptions): Promise<ProvisionerServer> {
  const target = parseAddress(options.listen);
  const limits = resolveLimits(options.limits);
  const logger: ServeLogger = options.logger ?? (() => {});

  let workDirectory: string;
  let ownsWorkDirectory = false;
  if (options.workDirectory !== undefined) {
    workDirectory = options.workDirectory;
    await mkdir(workDirectory, { recursive: true, mode: 0o700 });
    await removeStaleSessions(workDirectory, logger);
  } else {
    workDirectory = await mkdtemp(join(tmpdir(), "prewarm-provisioner-"));
    ownsWorkDirectory = true;
  }

  const sessions = new Set<Promise<void>>();
  const idleWaiters: Array<() => void> = [];
  const stopController = new AbortController();
  setMaxListeners(0, stopController.signal); // one listener per running session, removed when it ends
  let closing: Promise<void> | undefined;

  const track = (p: Promise<void>) => {
    sessions.add(p);
    void p.finally(() => {
      sessions.delete(p);
      if (sessions.size === 0) for (const w of idleWaiters.splice(0)) w();
    });
  };
  const whenIdle = () =>
    sessions.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => idleWaiters.push(resolve));

  async function* session(requests: AsyncIterable<Request>, ctx: HandlerContext): AsyncIterable<Response> {
    if (closing !== undefined) throw new ConnectError("provisioner is shutting down", Code.Unavailable);
    const output = new AsyncQueue<Response>();
    const run = runSession({
      provisioner,
      workDirectory,
      limits,
      logger,
      requests,
      clientSignal: ctx.signal,
      stopSignal: stopController.signal,
      output,
    });
    track(run);
    yield* output;
  }

  let beginStopping: () => void = () => {};
  const stopping = new Promise<void>((resolve) => {
    beginStopping = resolve;
  });
  const handler = connectNodeAdapter({
    routes: (router: ConnectRouter) => {
      router.service(ProvisionerService, { session });
      registerStandardServices(router, { serving: () => closing === undefined, stopping });
    },
    grpc: true,
    grpcWeb: false,
    connect: false,
    // gRPC's length prefix is 32 bits, so that is the ceiling.
    readMaxBytes: Math.min(limits.maxBytes + limits.maxEntries * 1024 + CONFIG_OVERHEAD_BYTES, 0xffffffff),
  });
  // The adapter builds a URL from :authority and throws on one it cannot parse, which would crash the process;
  // Node's own http2 client sends IPv6 authorities unbracketed ("::1:7000"), so repair those and refuse the rest.
  const openStreams = new Set<http2.Http2ServerResponse>();
  const guarded = (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
    openStreams.add(res);
    res.once("close", () => openStreams.delete(res));
    const authority = req.headers[":authority"];
    if (typeof authority === "string") req.headers[":authority"] = bracketIPv6Authority(authority);
    try {
      handler(req, res);
    } catch (err) {
      logger("warn", "refused malformed request", { error: (err as Error).message });
      if (!res.headersSent) res.writeHead(400);
      res.end();
    }
  };
  const server = options.tls
    ? http2.createSecureServer({ cert: options.tls.cert, key: options.tls.key }, guarded)
    : http2.createServer(guarded);
  // A peer speaking something other than HTTP/2 (or breaking it) costs its own connection only.
  server.on("sessionError", (err: Error) => logger("debug", "connection error", { error: err.message }));
  const h2sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s: http2.ServerHttp2Session) => {
    h2sessions.add(s);
    s.once("close", () => h2sessions.delete(s));
  });

  if (target.kind === "unix") await removeStaleSocket(target.path);
  const listening = once(server, "listening");
  if (target.kind === "unix") server.listen(target.path);
  else server.listen({ host: target.host, port: target.port });
  try {
    await listening;
  } catch (err) {
    if (ownsWorkDirectory) await rm(workDirectory, { recursive: true, force: true });
    throw new Error(`serve: listen on ${options.listen}: ${(err as Error).message}`);
  }
  let address: string;
  if (target.kind === "unix") {
    await chmod(target.path, 0o600); // only this user may drive the provisioner
    address = formatAddress(target);
  } else {
    const info = server.address() as AddressInfo;
    address = formatAddress({ kind: "tcp", host: info.address, port: info.port });
  }
  logger("info", "provisioner listening", { address, workDirectory });

  const close = async (deadlineMs: number): Promise<void> => {
    beginStopping(); // health turns NOT_SERVING and its watchers end
    const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
    // New sessions are refused by the handler (Unavailable) from here on; existing connections stay up so
    // running sessions can finish.
    if (sessions.size > 0) {
      logger("info", "waiting for running sessions", { sessions: sessions.size, deadlineMs });
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, deadlineMs);
      });
      await Promise.race([whenIdle(), deadline]);
      clearTimeout(timer);
    }
    if (sessions.size > 0) {
      logger("warn", "shutdown deadline passed; cancelling sessions", { sessions: sessions.size });
      stopController.abort();
      await whenIdle();
    }
    // A finished session's stream may still be flushing its last message and trailers; cutting the connection
    // now would turn its status into CANCEL. Let streams close (bounded: a client may never read), then close
    // the connections.
    if (openStreams.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all([...openStreams].map((res) => once(res, "close"))),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, CONNECTION_DRAIN_MS);
        }),
      ]);
      clearTimeout(timer);
    }
    for (const s of h2sessions) s.destroy();
    await serverClosed;
    if (ownsWorkDirectory) await rm(workDirectory, { recursive: true, force: true });
    logger("info", "provisioner stopped", { address });
  };

  return {
    address,
    activeSessions: () => sessions.size,
    whenIdle,
    close(opts) {
      closing ??= close(opts?.deadlineMs ?? DEFAULT_SHUTDOWN_DEADLINE_MS);
      return closing;
    },
  };
}
