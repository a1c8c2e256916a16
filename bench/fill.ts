// How soon a pool is full, and full again after a claim, through the real server at its default settings (echo,
// in-process daemons, SQLite), against floors measured in the same run on the same server and daemons:
//
//   fill:   push a version with a preset of N instances → N eligible prebuilds (its import included);
//           floor: N human builds of a preset-less template created at once → all succeeded (the same builds on
//           the same daemons without the reconciler in between).
//   refill: claim one prebuild → N eligible again (median of --claims);
//           floor: one human build → succeeded (median of as many).
//   many small pools: push a version with --small-pools presets of one instance → every one eligible; reported
//           as the fill's rate against the job path's own (floor: as many human builds at once), in builds/s.
//           Each new preset also gets a claim rehearsal (a plan-only job) before its first claim; rehearsals
//           wait while a pool is empty (cycle.ts), so they mostly run after the fill.
//
//   node --import tsx bench/fill.ts [--instances 10] [--daemons 2] [--claims 5] [--small-pools 50]
//
// Pools are observed through the claim index (what a claim would take), re-read on each workspace change or
// job end the server publishes, so figures are not rounded up to a poll's tick.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { silentLogger } from "../src/server/logger.js";
import { type RunningServer, startServer } from "../src/server/server.js";
import { getJob } from "../src/server/store/jobs.js";
import { getUserByUsername } from "../src/server/store/users.js";
import { createTemplateVersion, uploadTemplateFile } from "../src/server/templates/service.js";
import { createWorkspace } from "../src/server/workspaces/service.js";
import { prebuildTemplateArchive } from "../test/server/prebuilds/integration-harness.js";
import { changes, until } from "../test/support/changes.js";
import { record } from "./results.js";

const { values } = parseArgs({
  options: {
    instances: { type: "string", default: "10" },
    daemons: { type: "string", default: "2" },
    claims: { type: "string", default: "5" },
    "small-pools": { type: "string", default: "50" },
  },
});
const INSTANCES = Number(values.instances);
const DAEMONS = Number(values.daemons);
const CLAIMS = Number(values.claims);
const SMALL_POOLS = Number(values["small-pools"]);
const SETTINGS = { maxArchiveBytes: 10 * 1024 * 1024, provisionerTypes: ["echo"] };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Resolves once `done` holds, re-checked at every job end and workspace change the server publishes (the
 * tests' event feed, test/support/changes.ts), so a figure is not rounded up to a poll's tick; a 100 ms
 * re-check backs up the events, which are only hints.
 */
const waitFor = (what: string, done: () => Promise<boolean>) =>
  until(what, async () => ((await done()) ? true : undefined), { timeoutMs: 60_000, backstopMs: 100 });

/**
 * Claimable prebuilds per preset name of `template`'s active version, read from the claim index (migration
 * 0012: the triggers keep `claimable_preset_id` equal to the claim rule). The bench's presets have no TTL, so
 * claimable is eligible. One indexed statement, not a whole plan: the observer must not take the CPU the
 * server fills with (it shares its event loop).
 */
async function claimable(server: RunningServer, template: string): Promise<Map<string, number>> {
  const rows = await server.store.db
    .selectFrom("templates as t")
    .innerJoin("presets as p", "p.template_version_id", "t.active_version_id")
    .innerJoin("workspaces as w", "w.claimable_preset_id", "p.id")
    .where("t.name", "=", template)
    .where("t.deleted", "=", 0)
    .select(["p.name", (eb) => eb.fn.countAll<number>().as("n")])
    .groupBy("p.name")
    .execute();
  return new Map(rows.map((r) => [r.name, Number(r.n)]));
}

async function eligible(server: RunningServer, presetName: string, template = "pool"): Promise<number> {
  return (await claimable(server, template)).get(presetName) ?? 0;
}

/** Presets of `template`'s active version with at least one eligible prebuild. */
async function presetsWithOne(server: RunningServer, template: string): Promise<number> {
  return (await claimable(server, template)).size;
}

async function push(server: RunningServer, name: string, archive: Uint8Array) {
  const admin = (await getUserByUsername(server.store.db, "admin"))!;
  const { hash } = await uploadTemplateFile(server.ctx, admin, archive, SETTINGS);
  const { version } = await createTemplateVersion(
    server.ctx,
    admin,
    name,
    { fileHash: hash, provisioner: "echo", activate: true },
    SETTINGS,
  );
  return { admin, version };
}

async function buildsSucceeded(server: RunningServer, jobIds: string[]): Promise<boolean> {
  for (const id of jobIds) {
    const job = await getJob(server.store.db, id);
    if (job?.status === "failed" || job?.status === "canceled") throw new Error(`bench: build ${job.status}`);
    if (job?.status !== "succeeded") return false;
  }
  return true;
}

const dataDir = mkdtempSync(join(tmpdir(), "prewarm-bench-fill-"));
const server = await startServer({
  dataDir,
  listen: "127.0.0.1:0",
  daemons: DAEMONS,
  provisionerTypes: ["echo"],
  reconcileIntervalMs: 15_000, // the server's default
  dev: true,
  logger: silentLogger,
});
const unfollow = changes.follow(server.store.pubsub);
try {
  // Floors first: the pool's template without its preset (the same builds), so the reconciler has nothing to do.
  const plain = await push(server, "floor", prebuildTemplateArchive({ presets: [] }));
  await waitFor("the floor template's import", () => buildsSucceeded(server, [plain.version.jobId]));
  const create = async (name: string) =>
    (await createWorkspace(server.ctx, plain.admin, { name, template: "floor" })).build.jobId;
  const f0 = performance.now();
  const jobs = await Promise.all(Array.from({ length: INSTANCES }, (_, i) => create(`floor-${i}`)));
  await waitFor("the floor builds", () => buildsSucceeded(server, jobs));
  const fillFloorMs = performance.now() - f0;
  const oneBuild: number[] = [];
  for (let i = 0; i < CLAIMS; i++) {
    const t0 = performance.now();
    const job = await create(`single-${i}`);
    await waitFor("a single build", () => buildsSucceeded(server, [job]));
    oneBuild.push(performance.now() - t0);
  }

  // The pool: push → INSTANCES eligible.
  const t0 = performance.now();
  const pool = await push(
    server,
    "pool",
    prebuildTemplateArchive({ presets: [{ name: "dev", instances: INSTANCES }] }),
  );
  await waitFor("the pool to fill", async () => (await eligible(server, "dev")) >= INSTANCES);
  const fillMs = performance.now() - t0;

  const refills: number[] = [];
  for (let i = 0; i < CLAIMS; i++) {
    const c0 = performance.now();
    const claimed = await createWorkspace(server.ctx, pool.admin, {
      name: `claim-${i}`,
      template: "pool",
      preset: "dev",
    });
    if (!claimed.claimedPrebuild) throw new Error("bench: the claim missed (pool not full?)");
    await waitFor("the pool to refill", async () => (await eligible(server, "dev")) >= INSTANCES);
    refills.push(performance.now() - c0);
  }

  // Many small pools: SMALL_POOLS presets of one instance each, against as many human builds at once.
  const m0 = performance.now();
  const many = await Promise.all(Array.from({ length: SMALL_POOLS }, (_, i) => create(`many-floor-${i}`)));
  await waitFor("the small-pools floor builds", () => buildsSucceeded(server, many));
  const manyFloorRate = SMALL_POOLS / ((performance.now() - m0) / 1000);
  const s0 = performance.now();
  await push(
    server,
    "small",
    prebuildTemplateArchive({
      presets: Array.from({ length: SMALL_POOLS }, (_, i) => ({ name: `s${i}`, instances: 1 })),
    }),
  );
  await waitFor(
    "the small pools to fill",
    async () => (await presetsWithOne(server, "small")) >= SMALL_POOLS,
  );
  const manyRate = SMALL_POOLS / ((performance.now() - s0) / 1000);

  const refillMs = median(refills);
  const buildMs = median(oneBuild);
  console.log(
    `pool fill and refill: ${INSTANCES} instances, ${DAEMONS} in-process daemons, echo, SQLite, default settings`,
  );
  console.log(
    `  fill:   ${fillMs.toFixed(0).padStart(6)} ms   floor (${INSTANCES} builds at once) ${fillFloorMs.toFixed(0).padStart(6)} ms   ratio ${(fillMs / fillFloorMs).toFixed(2)} (goal ≤ 2)`,
  );
  console.log(
    `  refill: ${refillMs.toFixed(0).padStart(6)} ms   floor (one build)          ${buildMs.toFixed(0).padStart(6)} ms   ratio ${(refillMs / buildMs).toFixed(2)} (goal ≤ 2; median of ${CLAIMS})`,
  );
  console.log(
    `  ${SMALL_POOLS} pools of 1: ${manyRate.toFixed(1).padStart(6)} builds/s   floor (${SMALL_POOLS} builds at once) ${manyFloorRate.toFixed(1).padStart(6)} builds/s   ratio ${(manyRate / manyFloorRate).toFixed(2)} (goal ≥ 0.8; the fill includes the import)`,
  );
  record({
    measure: `${SMALL_POOLS} pools of 1, push → all eligible, vs the job path (builds/s)`,
    value: manyRate,
    unit: "builds/s",
    floor: manyFloorRate,
    ratio: manyRate / manyFloorRate,
    goal: "≥ 0.8",
  });
  record({
    measure: `fill a pool of ${INSTANCES}, ${DAEMONS} daemons, push → all eligible`,
    value: fillMs,
    unit: "ms",
    floor: fillFloorMs,
    ratio: fillMs / fillFloorMs,
    goal: "≤ 2",
  });
  record({
    measure: `pool of ${INSTANCES} full again after a claim (median of ${CLAIMS})`,
    value: refillMs,
    unit: "ms",
    floor: buildMs,
    ratio: refillMs / buildMs,
    goal: "≤ 2",
  });
} finally {
  unfollow();
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(0);
