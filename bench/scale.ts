// Many pools on a production shape: PostgreSQL, two `prewarm server` replicas (no in-process daemons), four
// external `prewarm provisioner start` daemon processes (two per replica), one template with --presets presets
// of --instances prebuilds each on a short TTL, so the pools churn: every prebuild expires and is replaced
// while clients claim. Measured:
//
//   fill:   push → every preset full (eligible = instances); builds per second over the fill
//   churn:  for --churn, with --claimers clients claiming a random preset's prebuild and deleting it:
//           builds per second (both replicas' completed jobs), the reconciliation cycle's mean time (the
//           leaders' cycles, from both replicas' /metrics), and claim p50 / p99 (the create request, client-side)
//
//   node --import tsx bench/scale.ts [--presets 1000] [--instances 1] [--ttl 120s] [--churn 120s] [--claimers 4]
//
// Real processes and sockets throughout (bin/prewarm.js); PostgreSQL is an ephemeral cluster like the tests
// use but durable, PostgreSQL's defaults (skipped with a message when the server binaries are missing). No
// floor: the job path's and the cycle's floors are in job-throughput.ts and reconcile-cycle.ts; this shows
// what they add up to.
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { parseDuration } from "../src/util/duration.js";
import { prebuildTemplateArchive } from "../test/server/prebuilds/integration-harness.js";
import { postgresAvailable, startPostgres } from "../test/support/postgres.js";
import { percentile } from "./prebuild-fixtures.js";
import { apiClient, startPrewarm, stopAll } from "./prewarm-process.js";
import { record } from "./results.js";

const { values } = parseArgs({
  options: {
    presets: { type: "string", default: "1000" },
    instances: { type: "string", default: "1" },
    ttl: { type: "string", default: "120s" },
    churn: { type: "string", default: "120s" },
    claimers: { type: "string", default: "4" },
  },
});
const PRESETS = Number(values.presets);
const INSTANCES = Number(values.instances);
const TTL_S = parseDuration(values.ttl) / 1000;
const CHURN_MS = parseDuration(values.churn);
const CLAIMERS = Number(values.claimers);
const PSK = "bench-scale-psk-0123456789";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const replicas: ChildProcess[] = [];
const daemons: ChildProcess[] = [];
const start = async (into: ChildProcess[], args: string[], ready: RegExp) => {
  const started = await startPrewarm(args, ready);
  into.push(started.child);
  return started.match;
};

/** Sum of a Prometheus series (all label sets) on a replica's /metrics. */
async function metricSum(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n"))
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.split(" ").at(-1));
  return sum;
}

async function totals(urls: string[]) {
  let jobs = 0;
  let cycleSeconds = 0;
  let cycles = 0;
  for (const url of urls) {
    jobs += await metricSum(url, "prewarm_provisioner_job_duration_seconds_count");
    cycleSeconds += await metricSum(url, "prewarm_prebuilds_reconciliation_duration_seconds_sum");
    cycles += await metricSum(url, "prewarm_prebuilds_reconciliation_duration_seconds_count");
  }
  return { jobs, cycleSeconds, cycles };
}

if (!postgresAvailable()) {
  console.log("scale: skipped (no PostgreSQL server binaries: apt-get install postgresql)");
  process.exit(0);
}
const pg = await startPostgres({ durable: true });
const dirs = [0, 1].map(() => mkdtempSync(join(tmpdir(), "prewarm-bench-scale-")));
try {
  const replicaArgs = (dir: string) => [
    "server",
    "--dev",
    "--data-dir",
    dir,
    "--listen",
    "127.0.0.1:0",
    "--postgres-url",
    pg.url,
    "--daemons",
    "0",
    "--provisioner-psk",
    PSK,
    "--provisioner-types",
    "echo",
  ];
  const urls: string[] = [];
  for (const dir of dirs)
    urls.push((await start(replicas, replicaArgs(dir), /listening on (http:\/\/\S+)/))[1]!);
  for (let d = 0; d < 4; d++)
    await start(
      daemons,
      ["provisioner", "start", "--url", urls[d % 2]!, "--psk", PSK, "--type", "echo", "--name", `d${d}`],
      /daemon .* started/,
    );
  const token = dirs
    .map((dir) => {
      try {
        return readFileSync(join(dir, "admin-token"), "utf8").trim();
      } catch {
        return "";
      }
    })
    .find((t) => t !== "")!;
  const clients = urls.map((url) => apiClient(url, token));
  const call = (replica: number, path: string, method?: string, body?: unknown, raw?: Uint8Array) =>
    clients[replica]!(path, method, body, raw);
  const presetNames = Array.from({ length: PRESETS }, (_, i) => `p${i}`);
  const archive = prebuildTemplateArchive({
    presets: presetNames.map((name) => ({ name, instances: INSTANCES, ttlSeconds: TTL_S })),
  });
  const full = async () => {
    const listed = await call(1, "/templates/scale/presets");
    if (listed.status !== 200) return 0;
    return (listed.body as Array<{ prebuilds: { eligible: number } }>).filter(
      (p) => p.prebuilds.eligible >= INSTANCES,
    ).length;
  };

  console.log(
    `scale: PostgreSQL, 2 replicas, 4 external echo daemons; ${PRESETS} presets × ${INSTANCES}, TTL ${TTL_S} s`,
  );
  const before = await totals(urls);
  const t0 = performance.now();
  const file = await call(0, "/files", "POST", undefined, archive);
  const version = await call(0, "/templates/scale/versions", "POST", {
    fileHash: file.body.hash,
    provisioner: "echo",
  });
  if (version.status !== 201) throw new Error(`scale: push failed: ${JSON.stringify(version.body)}`);
  let lastPrint = 0;
  for (let n = await full(); n < PRESETS; n = await full()) {
    if (performance.now() - t0 > 30 * 60_000) throw new Error("scale: the pools did not fill in 30 min");
    if (performance.now() - lastPrint > 10_000) {
      console.log(
        `  filling: ${n}/${PRESETS} presets full after ${((performance.now() - t0) / 1000).toFixed(0)} s`,
      );
      lastPrint = performance.now();
    }
    await sleep(500);
  }
  const fillS = (performance.now() - t0) / 1000;
  const filled = await totals(urls);
  const fillRate = (filled.jobs - before.jobs) / fillS;
  console.log(
    `  fill:  ${fillS.toFixed(1)} s to ${PRESETS * INSTANCES} prebuilds (${(filled.jobs - before.jobs).toFixed(0)} jobs: the import, each preset's claim rehearsal and the prebuilds: ${fillRate.toFixed(1)} jobs/s)`,
  );

  // Churn: prebuilds expire on their TTL and are replaced while clients claim and delete.
  const latencies: number[] = [];
  let misses = 0;
  let stopped = false;
  const claimers = Array.from({ length: CLAIMERS }, async (_, c) => {
    for (let i = 0; !stopped; i++) {
      const preset = presetNames[Math.floor(Math.random() * PRESETS)]!;
      const s = performance.now();
      const created = await call(c % 2, "/workspaces", "POST", {
        name: `c${c}-${i}`,
        template: "scale",
        preset,
      });
      const ms = performance.now() - s;
      if (created.status !== 201) throw new Error(`scale: claim answered ${created.status}`);
      if (created.body.claimedPrebuild) latencies.push(ms);
      else misses++;
      await call(c % 2, `/workspaces/${created.body.id}?wait=ready&timeout=60s`);
      for (let attempt = 0; attempt < 200; attempt++) {
        const del = await call(c % 2, `/workspaces/${created.body.id}/builds`, "POST", {
          transition: "delete",
        });
        if (del.status === 201) break;
        await sleep(50);
      }
      await sleep(200);
    }
  });
  const c0 = performance.now();
  // A line every 15 s, so a two-minute churn does not look hung.
  while (performance.now() - c0 < CHURN_MS) {
    await sleep(Math.min(15_000, CHURN_MS - (performance.now() - c0)));
    const elapsed = (performance.now() - c0) / 1000;
    if (CHURN_MS - elapsed * 1000 > 1_000)
      console.log(`  churning: ${elapsed.toFixed(0)} s, ${latencies.length} claims, ${misses} misses`);
  }
  stopped = true;
  await Promise.all(claimers);
  const churnS = (performance.now() - c0) / 1000;
  const churned = await totals(urls);
  const churnRate = (churned.jobs - filled.jobs) / churnS;
  const cycles = churned.cycles - filled.cycles;
  const cycleMs = cycles > 0 ? ((churned.cycleSeconds - filled.cycleSeconds) / cycles) * 1000 : 0;
  const p50 = latencies.length > 0 ? percentile(latencies, 50) : 0;
  const p99 = latencies.length > 0 ? percentile(latencies, 99) : 0;
  console.log(
    `  churn: ${churnS.toFixed(0)} s: ${churnRate.toFixed(1)} builds/s; ${cycles} cycles, mean ${cycleMs.toFixed(0)} ms; ${latencies.length} claims (p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms), ${misses} misses`,
  );
  const shape = `${PRESETS} presets, 2 replicas, 4 daemons, postgres`;
  record({ measure: `scale fill: jobs/s, ${shape}`, value: fillRate, unit: "jobs/s" });
  record({ measure: `scale churn: builds/s, ${shape}`, value: churnRate, unit: "builds/s" });
  record({ measure: `scale churn: mean cycle, ${shape}`, value: cycleMs, unit: "ms" });
  record({ measure: `scale churn: claim p99 (client), ${shape}`, value: p99, unit: "ms" });
} finally {
  // Daemons before the replicas they report to: a daemon told to stop finishes its running job, and cannot
  // deliver the outcome once its replica is gone (it would retry until a second signal).
  await stopAll(daemons);
  await stopAll(replicas);
  await pg.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
