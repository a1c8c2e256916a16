// A real PostgreSQL server for tests. PREWARM_TEST_POSTGRES_URL (a server URL; each caller gets its own fresh
// database on it) wins; otherwise one ephemeral cluster per test process: initdb + pg_ctl as the `postgres`
// user (initdb refuses root), trust auth on 127.0.0.1, a free port, the socket in the cluster's temp dir,
// fsync off (benchmarks ask for a durable one). Measured: initdb + start ≈ 0.6 s, so one cluster per test
// file process is cheap; every suite then gets its own database (CREATE DATABASE, random name). The cluster is stopped and deleted when the
// process exits; clusters left behind by a killed process are swept at the next start.
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { freePort } from "./net.js";
import { skipUnless } from "./requirements.js";

export interface TestPostgres {
  /** URL of a fresh, empty database of its own. */
  url: string;
  /** Drops that database (the cluster stays up for the rest of the process). */
  stop(): Promise<void>;
}

const DIR_PREFIX = "prewarm-test-pg-";

/** Highest-versioned Debian server binaries (/usr/lib/postgresql/<ver>/bin), else none. */
export function findPostgresBin(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, "bin", "initdb")) && existsSync(join(root, v, "bin", "pg_ctl")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], "bin") : undefined;
}

const isRoot = process.getuid?.() === 0;

function postgresUserExists(): boolean {
  return spawnSync("id", ["-u", "postgres"], { stdio: "ignore" }).status === 0;
}

/** Whether tests can get a PostgreSQL server (for `skipUnless`). */
export function postgresAvailable(): boolean {
  if (process.env.PREWARM_TEST_POSTGRES_URL) return true;
  return findPostgresBin() !== undefined && (!isRoot || postgresUserExists());
}

export const POSTGRES_MISSING = "PostgreSQL server binaries not found (apt-get install postgresql)";

/** Runs a server binary, as the postgres user when we are root. */
function runAsPostgres(bin: string, args: string[]): void {
  const [command, argv] = isRoot ? ["runuser", ["-u", "postgres", "--", bin, ...args]] : [bin, args];
  execFileSync(command as string, argv as string[], { stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Stops and deletes clusters whose owning test process is gone (it was killed before its exit hook ran). */
function sweepAbandonedClusters(bin: string): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(DIR_PREFIX)) continue;
    const dir = join(tmpdir(), name);
    const owner = Number(readFileSafe(join(dir, "owner.pid")));
    if (!owner || pidAlive(owner)) continue;
    stopCluster(bin, dir);
  }
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

function stopCluster(bin: string, dir: string): void {
  if (existsSync(join(dir, "data", "postmaster.pid"))) {
    try {
      runAsPostgres(join(bin, "pg_ctl"), ["-D", join(dir, "data"), "-m", "immediate", "-w", "stop"]);
    } catch {
      // Already gone; the directory is removed below either way.
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

interface Cluster {
  url: string;
  /** pg_ctl stop (fast: connections are terminated, as when a database server goes down). */
  pause(): void;
  /** Starts it again on the same port and data. */
  resume(): void;
}

/**
 * `durable`: PostgreSQL's own defaults (fsync, synchronous_commit, full_page_writes on), what production runs
 * and what benchmarks measure; tests turn the three off, since a lost commit on a crash does not matter there.
 */
async function startCluster(bin: string, durable = false): Promise<Cluster> {
  sweepAbandonedClusters(bin);
  const dir = mkdtempSync(join(tmpdir(), DIR_PREFIX));
  writeFileSync(join(dir, "owner.pid"), String(process.pid));
  if (isRoot)
    chownSync(
      dir,
      Number(execFileSync("id", ["-u", "postgres"]).toString().trim()),
      Number(execFileSync("id", ["-g", "postgres"]).toString().trim()),
    );
  process.on("exit", () => stopCluster(bin, dir));
  const data = join(dir, "data");
  runAsPostgres(join(bin, "initdb"), [
    "-D",
    data,
    "-A",
    "trust",
    "-U",
    "postgres",
    "-E",
    "UTF8",
    "--locale=C",
    "-N",
  ]);
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const opts = [
      "-c listen_addresses=127.0.0.1",
      `-p ${port}`,
      `-k ${dir}`,
      ...(durable ? [] : ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]),
      "-c max_connections=200",
    ].join(" ");
    const start = () =>
      runAsPostgres(join(bin, "pg_ctl"), [
        "-D",
        data,
        "-o",
        opts,
        "-l",
        join(dir, "server.log"),
        "-w",
        "-t",
        "30",
        "start",
      ]);
    try {
      start();
      return {
        url: `postgres://postgres@127.0.0.1:${port}`,
        pause: () => runAsPostgres(join(bin, "pg_ctl"), ["-D", data, "-m", "fast", "-w", "stop"]),
        resume: start,
      };
    } catch (err) {
      lastError = err; // most likely the port was taken between probing and binding: try another
    }
  }
  throw new Error(
    `start test PostgreSQL: ${(lastError as Error).message}\n${readFileSafe(join(dir, "server.log"))}`,
  );
}

let serverUrl: Promise<string> | undefined;
let serverDurable = false;

/** The shared server; `durable` (asked by startPostgres, absent for admin connections) must match its start. */
function server(durable?: boolean): Promise<string> {
  if (serverUrl && durable !== undefined && durable !== serverDurable)
    throw new Error("test PostgreSQL: this process's cluster was started with the other durability");
  if (!serverUrl) {
    serverDurable = durable ?? false;
    const external = process.env.PREWARM_TEST_POSTGRES_URL;
    if (external) serverUrl = Promise.resolve(external);
    else {
      const bin = findPostgresBin();
      if (!bin) throw new Error(POSTGRES_MISSING);
      serverUrl = startCluster(bin, serverDurable).then((c) => c.url);
    }
  }
  return serverUrl;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: await server() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function createDatabase(name: string, template?: string): Promise<void> {
  const from = template ? ` template ${template}` : "";
  await admin(async (c) => {
    try {
      // FILE_COPY skips the per-block WAL of PostgreSQL 15's default strategy: ~15 ms instead of ~250 ms.
      await c.query(`create database ${name}${from} strategy = file_copy`);
    } catch (err) {
      if ((err as { code?: string }).code !== "42601" && !/strategy/i.test((err as Error).message)) throw err;
      await c.query(`create database ${name}${from}`); // PostgreSQL < 15
    }
  });
}

const templates = new Map<string, Promise<string | undefined>>();

/**
 * A database named `key`, prepared once per process by `init(url)`, to copy fresh databases from (e.g. an
 * already-migrated schema). Only on the process's own ephemeral cluster: on an external server
 * (PREWARM_TEST_POSTGRES_URL) nothing may be left behind, so this returns undefined and callers prepare each
 * database themselves.
 */
export function templateDatabase(
  key: string,
  init: (url: string) => Promise<void>,
): Promise<string | undefined> {
  if (process.env.PREWARM_TEST_POSTGRES_URL) return Promise.resolve(undefined);
  let entry = templates.get(key);
  if (!entry) {
    entry = (async () => {
      const name = `prewarm_template_${key.replace(/[^a-z0-9_]/gi, "_").toLowerCase()}`;
      await createDatabase(name);
      await init(withDatabase(await server(), name));
      return name;
    })();
    templates.set(key, entry);
  }
  return entry;
}

/**
 * A fresh database on the shared test server, empty or copied from `template` (see templateDatabase). Call
 * `skipUnless(postgresAvailable(), POSTGRES_MISSING)` first (or use test/support/db.ts, which does).
 */
export async function startPostgres(
  options: {
    template?: string;
    /** PostgreSQL's durable defaults (startCluster), for benchmarks; one durability per process. */
    durable?: boolean;
  } = {},
): Promise<TestPostgres> {
  skipUnless(postgresAvailable(), POSTGRES_MISSING);
  const database = `prewarm_test_${randomBytes(6).toString("hex")}`;
  const url = withDatabase(await server(options.durable ?? false), database);
  await createDatabase(database, options.template);
  return {
    url,
    stop: () => admin((c) => c.query(`drop database if exists ${database} with (force)`)).then(() => {}),
  };
}

/**
 * A cluster of its own (not the shared one) that a fault test can stop and start again: `url` is its
 * `postgres` database. Call `skipUnless(postgresAvailable(), POSTGRES_MISSING)` first.
 */
export async function startOwnCluster(): Promise<Cluster> {
  skipUnless(postgresAvailable(), POSTGRES_MISSING);
  const bin = findPostgresBin();
  if (!bin) throw new Error(POSTGRES_MISSING);
  const cluster = await startCluster(bin);
  return { ...cluster, url: withDatabase(cluster.url, "postgres") };
}
