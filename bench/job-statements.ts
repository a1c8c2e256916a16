// Statements per build: the SQL one echo workspace build issues through the real path (create → enqueue →
// acquire over the daemon API → echo over gRPC → log and heartbeat updates → complete), on SQLite and on
// PostgreSQL, counted at the drivers (better-sqlite3 statement runs; pg client queries, so on PostgreSQL every
// line is a round trip, pub/sub notifications included). One in-process daemon; the count runs from the create
// call to SETTLE_MS after the job's "finished" notification (so what the server does after the completing
// commit counts too — and so does the daemon's next AcquireJob: its daemon upsert and an empty acquire, and on
// PostgreSQL the LISTEN of its long poll), for a few builds in a row, and the last build's statements are
// listed. No timing: what it prints is the job path's shape, to read next to bench/job-throughput.ts.
//
//   node --import tsx bench/job-statements.ts [--builds 3] [--postgres-url URL]
//
// PostgreSQL: --postgres-url, else PREWARM_BENCH_POSTGRES_URL, else an ephemeral cluster like the tests use
// but durable, PostgreSQL's defaults.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import BetterSqlite3 from "better-sqlite3";
import pg from "pg";
import { buildEchoArchive } from "../src/provisioners/echo/archive.js";
import { silentLogger } from "../src/server/logger.js";
import { startServer } from "../src/server/server.js";
import { getJob } from "../src/server/store/jobs.js";
import { channels } from "../src/server/store/pubsub.js";
import { getUserByUsername } from "../src/server/store/users.js";
import { createTemplateVersion, uploadTemplateFile } from "../src/server/templates/service.js";
import { createWorkspace } from "../src/server/workspaces/service.js";
import { postgresAvailable, startPostgres } from "../test/support/postgres.js";
import { record } from "./results.js";

const { values } = parseArgs({
  options: { builds: { type: "string", default: "3" }, "postgres-url": { type: "string" } },
});
const BUILDS = Number(values.builds);
/** How long after a job's "finished" notification its statements are still counted. */
const SETTLE_MS = 300;

/** The statements seen while counting (null: not counting). */
let seen: string[] | null = null;
const note = (sql: string) => seen?.push(sql.replace(/\s+/g, " ").trim());

// better-sqlite3: every statement runs through one of these methods of its Statement class.
const statementClass = Object.getPrototypeOf(new BetterSqlite3(":memory:").prepare("select 1"));
for (const method of ["run", "all", "get", "iterate"] as const) {
  const original = statementClass[method] as (...args: unknown[]) => unknown;
  statementClass[method] = function (this: { source: string }, ...args: unknown[]) {
    note(this.source);
    return original.apply(this, args);
  };
}
// pg: Kysely, the pool and pub/sub all end in Client#query (text, or a config object with `text`).
const originalQuery = pg.Client.prototype.query as (...args: unknown[]) => unknown;
(pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown }).query = function (
  this: pg.Client,
  ...args: unknown[]
) {
  const first = args[0] as string | { text?: string } | undefined;
  const text = typeof first === "string" ? first : first?.text;
  if (text) note(text);
  return originalQuery.apply(this, args);
};

async function count(label: string, postgresUrl?: string) {
  const dataDir = mkdtempSync(join(tmpdir(), "prewarm-bench-statements-"));
  const server = await startServer({
    dataDir,
    listen: "127.0.0.1:0",
    postgresUrl,
    daemons: 1,
    provisionerTypes: ["echo"],
    reconcileIntervalMs: 3_600_000,
    dev: true,
    logger: silentLogger,
  });
  try {
    const { ctx } = server;
    const admin = (await getUserByUsername(ctx.store.db, "admin"))!;
    const settings = { maxArchiveBytes: 10 * 1024 * 1024, provisionerTypes: ["echo"] };
    const { hash } = await uploadTemplateFile(ctx, admin, buildEchoArchive(), settings);
    const { version } = await createTemplateVersion(
      ctx,
      admin,
      "bench",
      { fileHash: hash, provisioner: "echo" },
      settings,
    );
    while ((await getJob(ctx.store.db, version.jobId))?.status !== "succeeded")
      await new Promise((r) => setTimeout(r, 20));

    let last: string[] = [];
    for (let i = 0; i < BUILDS; i++) {
      // Let the daemon settle into its next long poll, so each window starts the same way.
      await new Promise((r) => setTimeout(r, 200));
      let jobId: string | undefined;
      let finished: () => void = () => {};
      const done = new Promise<void>((resolve) => {
        finished = resolve;
      });
      const ended = new Set<string>();
      const unsubscribe = ctx.store.pubsub.subscribe(channels.jobFinished, (id) => {
        ended.add(id);
        if (id === jobId) finished();
      });
      await unsubscribe.ready;
      seen = [];
      const created = await createWorkspace(ctx, admin, { name: `w${i}`, template: "bench" });
      const createStatements = seen.length;
      jobId = created.job.id;
      if (ended.has(jobId)) finished();
      await done;
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      last = seen;
      seen = null;
      unsubscribe();
      const transactions = last.filter((s) => /^begin/i.test(s)).length;
      console.log(
        `${label.padEnd(10)} build ${i + 1}: ${String(last.length).padStart(3)} statements (${createStatements} in the create call, ${transactions} transactions)`,
      );
    }
    record({ measure: `SQL statements per echo build, ${label}`, value: last.length, unit: "statements" });
    for (const [n, s] of last.entries()) console.log(`  ${String(n + 1).padStart(3)} ${s.slice(0, 140)}`);
  } finally {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

console.log(`statements per echo build (${BUILDS} builds in a row, one in-process daemon)`);
await count("sqlite");
const pgUrl = values["postgres-url"] ?? process.env.PREWARM_BENCH_POSTGRES_URL;
if (pgUrl) {
  await count("postgres", pgUrl);
} else if (postgresAvailable()) {
  const cluster = await startPostgres({ durable: true });
  await count("postgres", cluster.url);
  await cluster.stop();
} else {
  console.log("postgres: skipped (no PostgreSQL server binaries; pass --postgres-url)");
}
process.exit(0);
