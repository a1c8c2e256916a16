// A real prewarm server in-process (store, HTTP API, echo daemons, reconciler) and a tiny HTTP client over
// fetch, for the API tests. Every test file starts its own server in a temp data directory and closes it.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type SseEvent, SseParser } from "../../../src/cli/sse.js";
import type { JobT, TemplateVersionT } from "../../../src/contract/api.js";
import { createTar } from "../../../src/provisionersdk/archive.js";
import { silentLogger } from "../../../src/server/logger.js";
import { type RunningServer, type ServerOptions, startServer } from "../../../src/server/server.js";
import { changes, until } from "../../support/changes.js";

export interface TestServer {
  server: RunningServer;
  url: string;
  adminToken: string;
  dataDir: string;
  close(): Promise<void>;
}

export async function startTestServer(options: Partial<ServerOptions> = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), "prewarm-api-test-"));
  const server = await startServer({
    dataDir,
    listen: "127.0.0.1:0",
    daemons: 1,
    reconcileIntervalMs: 60_000,
    dev: true,
    provisionerTypes: ["echo"],
    logger: silentLogger,
    onReconcileCycle: changes.bump,
    ...options,
  });
  const unfollow = changes.follow(server.store.pubsub);
  return {
    server,
    url: server.url,
    adminToken: server.adminToken ?? "",
    dataDir,
    close: async () => {
      unfollow();
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Answer<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

export interface CallOptions {
  token?: string | null;
  body?: unknown;
  headers?: Record<string, string>;
}

/** One HTTP call; JSON bodies are encoded, Uint8Array bodies sent raw as application/x-tar. */
export async function call<T = unknown>(
  base: string,
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<Answer<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: BodyInit | undefined;
  if (options.body instanceof Uint8Array) {
    headers["content-type"] ??= "application/x-tar";
    body = new Blob([new Uint8Array(options.body)]);
  } else if (options.body !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(options.body);
  }
  const response = await fetch(`${base}${path}`, {
    method,
    headers,
    body,
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  let parsed: unknown = text;
  if ((response.headers.get("content-type") ?? "").includes("json") && text !== "") parsed = JSON.parse(text);
  return { status: response.status, body: parsed as T, headers: response.headers };
}

/** A client bound to one server and token. */
export function client(base: string, token: string | null) {
  return {
    get: <T = unknown>(path: string, headers?: Record<string, string>) =>
      call<T>(base, "GET", path, { token, headers }),
    post: <T = unknown>(path: string, body?: unknown) =>
      call<T>(base, "POST", path, { token, body: body ?? {} }),
    patch: <T = unknown>(path: string, body: unknown) => call<T>(base, "PATCH", path, { token, body }),
    delete: <T = unknown>(path: string) => call<T>(base, "DELETE", path, { token }),
    upload: <T = unknown>(bytes: Uint8Array, contentType?: string) =>
      call<T>(base, "POST", "/api/v1/files", {
        token,
        body: bytes,
        headers: contentType ? { "content-type": contentType } : {},
      }),
  };
}
export type Client = ReturnType<typeof client>;

/**
 * Resolves with `check`'s first value (not undefined), re-checking when a job ends, a workspace changes or a
 * cycle ends on a test server (test/support/changes.ts); at most `timeoutMs`. The agent tests also wait here
 * for what only an agent process sees (files it writes), which publishes nothing: for those the 50 ms re-check
 * stays.
 */
export function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  return until(what, check, { timeoutMs, backstopMs: 50 });
}

const FINAL = new Set(["succeeded", "failed", "canceled"]);

export function waitForJob(api: Client, jobId: string, timeoutMs = 20_000): Promise<JobT> {
  return eventually(
    `job ${jobId} to end`,
    async () => {
      const { body } = await api.get<JobT>(`/api/v1/jobs/${jobId}`);
      return FINAL.has(body.status) ? body : undefined;
    },
    timeoutMs,
  );
}

/** The example template as a tar archive, the way `prewarm templates push` packs it. */
export function exampleArchive(name: string): Uint8Array {
  const dir = new URL(`../../../examples/templates/${name}/`, import.meta.url).pathname;
  return createTar(
    readdirSync(dir)
      .sort()
      .map((file) => ({ path: file, data: readFileSync(join(dir, file)) })),
  );
}

/** Uploads an archive and creates a version of `template` from it; waits for its import. */
export async function pushTemplate(
  api: Client,
  template: string,
  archive: Uint8Array,
  extra: Record<string, unknown> = {},
): Promise<{ version: TemplateVersionT; job: JobT }> {
  const upload = await api.upload<{ hash: string }>(archive);
  if (upload.status !== 201 && upload.status !== 200) {
    throw new Error(`upload failed: ${upload.status} ${JSON.stringify(upload.body)}`);
  }
  const created = await api.post<TemplateVersionT>(`/api/v1/templates/${template}/versions`, {
    fileHash: upload.body.hash,
    provisioner: "echo",
    ...extra,
  });
  if (created.status !== 201)
    throw new Error(`create version failed: ${created.status} ${JSON.stringify(created.body)}`);
  const job = await waitForJob(api, created.body.job.id);
  return { version: created.body, job };
}

/** A member user with an API token (created by the admin). */
export async function createMember(
  admin: Client,
  base: string,
  username: string,
): Promise<{ token: string; api: Client }> {
  const created = await admin.post("/api/v1/users", {
    username,
    email: `${username}@example.com`,
    password: "pw-1234",
  });
  if (created.status !== 201) throw new Error(`create user failed: ${created.status}`);
  const login = await call<{ token: string }>(base, "POST", "/api/v1/users/login", {
    body: { username, password: "pw-1234" },
  });
  if (login.status !== 201) throw new Error(`login failed: ${login.status}`);
  return { token: login.body.token, api: client(base, login.body.token) };
}

/** Reads an SSE response to its end (the server closes after `end`/`error`), bounded by `timeoutMs`. */
export async function readSse(
  base: string,
  path: string,
  token: string,
  headers: Record<string, string> = {},
  timeoutMs = 20_000,
): Promise<{ status: number; contentType: string; events: SseEvent[] }> {
  const response = await fetch(`${base}${path}`, {
    headers: { authorization: `Bearer ${token}`, ...headers },
    signal: AbortSignal.timeout(timeoutMs),
  });
  const parser = new SseParser();
  const events: SseEvent[] = [];
  const decoder = new TextDecoder();
  const reader = response.body?.getReader();
  for (;;) {
    const chunk = await reader?.read();
    if (!chunk || chunk.done) break;
    events.push(...parser.push(decoder.decode(chunk.value, { stream: true })));
  }
  return { status: response.status, contentType: response.headers.get("content-type") ?? "", events };
}
