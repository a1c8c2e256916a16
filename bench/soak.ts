// A soak: a real `prewarm server` process (SQLite, echo, in-process daemons, default settings) under a
// claim/delete loop for a while, sampled every --interval: the server's resident memory, its open file
// descriptors, the WAL's and the database's size, and the claims done. At the end, each series' slope (least
// squares, per minute) over the run: a leak or an unbounded table shows as a slope that does not flatten.
//
//   node --import tsx bench/soak.ts [--minutes 10] [--interval 30s] [--workers 3] [--pool 5] [--pause 500ms]
//
// Linux only (reads /proc/PID/status and /proc/PID/fd). The loop is bounded: each worker holds at most one
// workspace at a time, waits for it to be usable, deletes it and pauses (--pause) — a load the pool can keep up
// with, since human builds outrank prebuild jobs on the daemons and a faster loop would starve the pool.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { buildEchoArchive } from "../src/provisioners/echo/archive.js";
import { parseDuration } from "../src/util/duration.js";
import { apiClient, startPrewarm, stopAll } from "./prewarm-process.js";
import { record } from "./results.js";

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "10" },
    interval: { type: "string", default: "30s" },
    workers: { type: "string", default: "3" },
    pool: { type: "string", default: "5" },
    pause: { type: "string", default: "500ms" },
  },
});
const DURATION_MS = Number(values.minutes) * 60_000;
const INTERVAL_MS = parseDuration(values.interval);
const WORKERS = Number(values.workers);
const POOL = Number(values.pool);
const PAUSE_MS = parseDuration(values.pause);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Sample {
  minute: number;
  rssMb: number;
  fds: number;
  walMb: number;
  dbMb: number;
  claims: number;
}

function sample(pid: number, dataDir: string, startedAt: number, claims: number): Sample {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const size = (f: string) => (existsSync(join(dataDir, f)) ? statSync(join(dataDir, f)).size / 2 ** 20 : 0);
  return {
    minute: (Date.now() - startedAt) / 60_000,
    rssMb: rssKb / 1024,
    fds: readdirSync(`/proc/${pid}/fd`).length,
    walMb: size("prewarm.db-wal"),
    dbMb: size("prewarm.db"),
    claims,
  };
}

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

const dataDir = mkdtempSync(join(tmpdir(), "prewarm-bench-soak-"));
const { child, match } = await startPrewarm(
  ["server", "--dev", "--data-dir", dataDir, "--listen", "127.0.0.1:0"],
  /listening on (http:\/\/\S+)/,
);
try {
  const call = apiClient(match[1]!, readFileSync(join(dataDir, "admin-token"), "utf8").trim());

  const resources = [{ name: "dev", type: "echo_instance" }];
  const presets = [{ name: "dev", parameters: [], prebuild: { instances: POOL } }];
  const archive = buildEchoArchive({
    plan: [{ type: { case: "plan", value: { resources, presets } } }],
    apply: [{ type: { case: "apply", value: { resources } } }],
  });
  const file = await call("/files", "POST", undefined, archive);
  const version = await call("/templates/soak/versions", "POST", {
    fileHash: file.body.hash,
    provisioner: "echo",
  });
  if (version.status !== 201) throw new Error(`soak: push failed: ${JSON.stringify(version.body)}`);
  const poolFull = async () => {
    const listed = await call("/templates/soak/presets");
    return listed.status === 200 && listed.body[0]?.prebuilds.eligible === POOL;
  };
  for (const deadline = Date.now() + 60_000; !(await poolFull()); await sleep(100))
    if (Date.now() > deadline) throw new Error("soak: the pool did not fill within 60 s");

  let claims = 0;
  let errors = 0;
  const unexpected = (what: string, answer: { status: number; body: unknown }) => {
    if (errors++ < 5)
      console.error(`soak: ${what} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  };
  let stopped = false;
  const loops = Array.from({ length: WORKERS }, async (_, w) => {
    for (let i = 0; !stopped; i++) {
      const created = await call("/workspaces", "POST", {
        name: `s${w}-${i}`,
        template: "soak",
        preset: "dev",
      });
      if (created.status !== 201) {
        unexpected("create", created);
        await sleep(200);
        continue;
      }
      if (created.body.claimedPrebuild) claims++;
      await call(`/workspaces/${created.body.id}?wait=ready&timeout=30s`);
      // Delete, retried while the claim build still runs (409).
      for (let attempt = 0; attempt < 100; attempt++) {
        const del = await call(`/workspaces/${created.body.id}/builds`, "POST", { transition: "delete" });
        if (del.status === 201) break;
        if (del.status !== 409) unexpected("delete", del);
        await sleep(50);
      }
      await sleep(PAUSE_MS);
    }
  });

  const startedAt = Date.now();
  const samples: Sample[] = [sample(child.pid!, dataDir, startedAt, 0)];
  const header = "minute   rss MB   fds   wal MB   db MB   claims";
  console.log(
    `soak: ${WORKERS} workers claiming from a pool of ${POOL} (echo, SQLite) for ${values.minutes} min`,
  );
  console.log(header);
  const print = (s: Sample) =>
    console.log(
      `${s.minute.toFixed(1).padStart(6)}  ${s.rssMb.toFixed(1).padStart(7)}  ${String(s.fds).padStart(4)}  ${s.walMb.toFixed(2).padStart(7)}  ${s.dbMb.toFixed(2).padStart(6)}  ${String(s.claims).padStart(7)}`,
    );
  print(samples[0]!);
  while (Date.now() - startedAt < DURATION_MS) {
    await sleep(Math.min(INTERVAL_MS, DURATION_MS - (Date.now() - startedAt)));
    const s = sample(child.pid!, dataDir, startedAt, claims);
    samples.push(s);
    print(s);
  }
  stopped = true;
  await Promise.all(loops);

  const minutes = samples.map((s) => s.minute);
  const slopes = {
    rss: slope(
      minutes,
      samples.map((s) => s.rssMb),
    ),
    fds: slope(
      minutes,
      samples.map((s) => s.fds),
    ),
    wal: slope(
      minutes,
      samples.map((s) => s.walMb),
    ),
    db: slope(
      minutes,
      samples.map((s) => s.dbMb),
    ),
  };
  const claimsPerMinute = claims / (DURATION_MS / 60_000);
  console.log(
    `slopes per minute: rss ${slopes.rss.toFixed(2)} MB, fds ${slopes.fds.toFixed(2)}, wal ${slopes.wal.toFixed(3)} MB, db ${slopes.db.toFixed(3)} MB; ${claims} claims (${claimsPerMinute.toFixed(0)}/min), ${errors} unexpected answers`,
  );
  if (errors > 0) throw new Error(`soak: ${errors} unexpected answers`);
  record({ measure: "soak: server RSS slope", value: slopes.rss, unit: "MB/min" });
  record({ measure: "soak: open FDs slope", value: slopes.fds, unit: "fds/min" });
  record({ measure: "soak: database size slope", value: slopes.db, unit: "MB/min" });
  record({ measure: "soak: claims", value: claimsPerMinute, unit: "claims/min" });
} finally {
  await stopAll([child]);
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(0);
