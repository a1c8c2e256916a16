// Job throughput: workspace builds enqueued → acquired by in-process daemons over the daemon API → run through
// the echo provisioner over gRPC → completed, with 1 and 4 daemons, on SQLite and on PostgreSQL. Next to it,
// a floor measured in the same run on the same database: the same number of bare insert+update round trips
// (what any queue must at least do per job). Prints jobs/s and the ratio, and the CPU this one process (server,
// in-process daemons and echo) spent per job: near 100 % of one core means the event loop is what bounds it.
// Also the queue alone, one job at a time: enqueueJob → acquireJob → completeJob (jobs/queue.ts, the code the
// daemon API calls), no daemon and no provisioner, as a ratio to the same floor.
//
//   node --import tsx bench/job-throughput.ts [--jobs 200] [--creators 8] [--external-daemons] [--postgres-url URL]
//
// The builds are enqueued by `--creators` concurrent createWorkspace loops while the daemons run them.
// `--external-daemons`: the daemons (and their echo) are `prewarm provisioner start` processes (bin/prewarm.js,
// the built CLI), as an operator runs them; the CPU per job printed is then the server's alone.
//
// PostgreSQL: --postgres-url, else PREWARM_BENCH_POSTGRES_URL, else an ephemeral cluster like the tests use but
// durable, PostgreSQL's defaults (skipped with a message when the server binaries are missing).

import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { sql } from "kysely";
import { buildEchoArchive } from "../src/provisioners/echo/archive.js";
import type { ServerContext } from "../src/server/context.js";
import { acquireJob, completeJob, enqueueJob } from "../src/server/jobs/queue.js";
import { UNTAGGED } from "../src/server/jobs/tags.js";
import { silentLogger } from "../src/server/logger.js";
import { startServer } from "../src/server/server.js";
import { getJob } from "../src/server/store/jobs.js";
import type { Store } from "../src/server/store/store.js";
import { getUserByUsername } from "../src/server/store/users.js";
import { createTemplateVersion, uploadTemplateFile } from "../src/server/templates/service.js";
import { createWorkspace } from "../src/server/workspaces/service.js";
import { postgresAvailable, startPostgres } from "../test/support/postgres.js";
import { startPrewarm, stopAll } from "./prewarm-process.js";
import { record } from "./results.js";

const { values } = parseArgs({
  options: {
    jobs: { type: "string", default: "200" },
    creators: { type: "string", default: "8" },
    "external-daemons": { type: "boolean", default: false },
    "postgres-url": { type: "string" },
  },
});
const JOBS = Number(values.jobs);
/** Concurrent workspace creations while the builds run. */
const CREATORS = Number(values.creators);
const EXTERNAL = values["external-daemons"];
const PSK = "bench-job-throughput-psk-0123456789";

/** Jobs not finished yet (the benchmark waits for zero). */
async function unfinishedJobs(store: Store): Promise<number> {
  const row = await store.db
    .selectFrom("provisioner_jobs")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("completed_at", "is", null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** CPU time (user + system) the processes used so far, from /proc (Linux); undefined without one or elsewhere. */
function childrenCpuMs(children: readonly ChildProcess[]): number | undefined {
  if (children.length === 0) return undefined;
  try {
    let ticks = 0;
    for (const child of children) {
      // Fields after the parenthesised command name; utime and stime are the 14th and 15th of the line.
      const stat = readFileSync(`/proc/${child.pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
    }
    return (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** USER_HZ: 100 on every Linux this runs on (sysconf(_SC_CLK_TCK)). */
const CLOCK_TICKS_PER_SECOND = 100;

async function floor(store: Store, n: number): Promise<number> {
  await sql`create table if not exists bench_floor (id text primary key, n integer not null)`.execute(
    store.db,
  );
  await sql`delete from bench_floor`.execute(store.db);
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const id = `job-${i}`;
    await sql`insert into bench_floor (id, n) values (${id}, 0)`.execute(store.db);
    await sql`update bench_floor set n = 1 where id = ${id}`.execute(store.db);
  }
  const seconds = (performance.now() - start) / 1000;
  await sql`drop table bench_floor`.execute(store.db);
  return n / seconds;
}

/**
 * The queue alone, one job at a time: the enqueue on its own (a build's enqueue joins the transaction that
 * inserts the build), the acquisition, the completion's transaction. Its own provisioner type, and no "job
 * posted" notification, so the idle in-process daemons neither take these jobs nor wake for them.
 */
async function queueAlone(
  ctx: ServerContext,
  job: { fileId: string; initiatorId: string; templateVersionId: string },
  n: number,
): Promise<number> {
  const request = { daemonId: "bench-queue", provisionerTypes: ["bench-queue"], tags: UNTAGGED };
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const enqueued = await enqueueJob(ctx.store.db, {
      type: "template_version_import",
      input: { templateVersionId: job.templateVersionId },
      provisioner: "bench-queue",
      fileId: job.fileId,
      initiatorId: job.initiatorId,
      now: ctx.clock.now(),
    });
    const acquired = await acquireJob(ctx.store, { ...request, now: ctx.clock.now() });
    if (acquired?.id !== enqueued.id)
      throw new Error(`queue alone: acquired ${acquired?.id}, not ${enqueued.id}`);
    await completeJob(ctx.store, acquired.id, request.daemonId, ctx.clock.now());
  }
  return n / ((performance.now() - start) / 1000);
}

async function run(label: string, daemons: number, postgresUrl?: string) {
  const dataDir = mkdtempSync(join(tmpdir(), "prewarm-bench-jobs-"));
  const server = await startServer({
    dataDir,
    listen: "127.0.0.1:0",
    postgresUrl,
    daemons: EXTERNAL ? 0 : daemons,
    provisionerPsk: PSK,
    provisionerTypes: ["echo"],
    reconcileIntervalMs: 3_600_000,
    dev: true,
    logger: silentLogger,
  });
  const external: ChildProcess[] = [];
  try {
    for (let d = 0; EXTERNAL && d < daemons; d++) {
      const started = await startPrewarm(
        ["provisioner", "start", "--url", server.url, "--psk", PSK, "--type", "echo", "--name", `bench-${d}`],
        /daemon .* started/,
      );
      external.push(started.child);
    }
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
    const importJob = (await getJob(ctx.store.db, version.jobId))!;
    if (daemons === 1) {
      const queuePerSecond = await queueAlone(
        ctx,
        { fileId: importJob.fileId, initiatorId: admin.id, templateVersionId: version.id },
        JOBS * 5,
      );
      const floorPerSecond = await floor(ctx.store, JOBS * 5);
      record({
        measure: `queue alone (enqueue → acquire → complete, no provisioner), ${label} (ratio: jobs / insert+update)`,
        value: queuePerSecond,
        unit: "jobs/s",
        floor: floorPerSecond,
        ratio: queuePerSecond / floorPerSecond,
        goal: "≥ 0.3",
      });
      console.log(
        `${label.padEnd(10)} queue alone ${queuePerSecond.toFixed(0).padStart(7)} jobs/s   floor ${floorPerSecond
          .toFixed(0)
          .padStart(6)} insert+update/s   ratio ${(queuePerSecond / floorPerSecond).toFixed(3)}`,
      );
    }

    const start = performance.now();
    const cpuStart = process.cpuUsage();
    const daemonsCpuStart = childrenCpuMs(external);
    // Workspaces are created by several callers at once (users, the reconciler): one at a time, the create
    // requests' own round trips would set the pace on PostgreSQL instead of the job path.
    let next = 0;
    const creator = async () => {
      while (next < JOBS) await createWorkspace(ctx, admin, { name: `w${next++}`, template: "bench" });
    };
    await Promise.all(Array.from({ length: CREATORS }, creator));
    while ((await unfinishedJobs(ctx.store)) > 0) await new Promise((r) => setTimeout(r, 10));
    const wallMs = performance.now() - start;
    const jobsPerSecond = JOBS / (wallMs / 1000);
    // This one process runs the server (and, unless they are external, the daemons and echo): what bounds it
    // shows here.
    const cpu = process.cpuUsage(cpuStart);
    const cpuMsPerJob = (cpu.user + cpu.system) / 1000 / JOBS;
    const busy = (cpu.user + cpu.system) / 1000 / wallMs;
    const daemonsCpuEnd = childrenCpuMs(external);
    const daemonsCpu =
      daemonsCpuStart !== undefined && daemonsCpuEnd !== undefined
        ? `, external daemons ${((daemonsCpuEnd - daemonsCpuStart) / JOBS).toFixed(1)} ms/job`
        : "";
    const failed = await ctx.store.db
      .selectFrom("provisioner_jobs")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("error", "is not", null)
      .executeTakeFirstOrThrow();
    const floorPerSecond = await floor(ctx.store, JOBS);
    record({
      measure: `echo builds, ${daemons}${EXTERNAL ? " external" : ""} daemon${daemons === 1 ? "" : "s"}, ${label} (ratio: jobs / insert+update)`,
      value: jobsPerSecond,
      unit: "jobs/s",
      floor: floorPerSecond,
      ratio: jobsPerSecond / floorPerSecond,
    });
    console.log(
      `${label.padEnd(10)} daemons=${daemons}${EXTERNAL ? " (external)" : ""}  ${jobsPerSecond.toFixed(1).padStart(7)} jobs/s   floor ${floorPerSecond
        .toFixed(0)
        .padStart(6)} insert+update/s   ratio ${(jobsPerSecond / floorPerSecond).toFixed(3)}${
        Number(failed.n) > 0 ? `   (${failed.n} jobs failed!)` : ""
      }   process CPU ${cpuMsPerJob.toFixed(1)} ms/job, busy ${(busy * 100).toFixed(0)} % of one core${daemonsCpu}`,
    );
  } finally {
    await stopAll(external);
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

console.log(`job throughput: ${JOBS} workspace builds (enqueue → acquire → echo over gRPC → complete)`);
for (const daemons of [1, 4]) await run("sqlite", daemons);
const pgUrl = values["postgres-url"] ?? process.env.PREWARM_BENCH_POSTGRES_URL;
if (pgUrl) {
  for (const daemons of [1, 4]) await run("postgres", daemons, pgUrl);
} else if (postgresAvailable()) {
  for (const daemons of [1, 4]) {
    const pg = await startPostgres({ durable: true });
    await run("postgres", daemons, pg.url);
    await pg.stop();
  }
} else {
  console.log("postgres: skipped (no PostgreSQL server binaries; pass --postgres-url)");
}
process.exit(0);
