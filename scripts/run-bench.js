#!/usr/bin/env node
// `npm run bench`: runs every benchmark under bench/, one after the other (they measure the same machine, so
// never in parallel), and prints one table of their headline measures — measure, value, floor, ratio, goal —
// collected through bench/results.ts (each bench appends JSON lines to the file PREWARM_BENCH_RESULTS names).
//
//   npm run bench [-- --quick] [--json FILE] [--only NAME[,NAME…]]
//
// --quick: small sizes, so the whole run takes a couple of minutes; `.ci/run` uses it so benchmarks never rot.
// Nothing here asserts a timing: a bench fails only when it cannot run (then this exits 1 after the table).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = fileURLToPath(new URL("..", import.meta.url));

// Each bench with its arguments for a full run and for --quick (see each file's header for what they mean).
const BENCHES = [
  { name: "planner", full: [], quick: ["--presets", "1000", "--rounds", "3"] },
  { name: "reconcile-cycle", full: [], quick: ["--templates", "10", "--rounds", "3"] },
  { name: "claim", full: [], quick: ["--claims-per-worker", "2", "--min-claims", "40"] },
  { name: "job-throughput", full: [], quick: ["--jobs", "20"] },
  { name: "job-statements", full: [], quick: ["--builds", "1"] },
  { name: "fill", full: [], quick: ["--instances", "4", "--claims", "3", "--small-pools", "10"] },
  { name: "session-roundtrip", full: [], quick: ["--seconds", "2"] },
  { name: "coder-provider-start", full: [], quick: ["--starts", "3"] },
  { name: "autoscale", full: [], quick: ["--quick"] },
  { name: "cli-start", full: [], quick: ["--runs", "5", "--source-runs", "1"] },
  { name: "scale", full: [], quick: ["--presets", "20", "--ttl", "10s", "--churn", "15s"] },
  { name: "soak", full: [], quick: ["--minutes", "0.5", "--interval", "10s"] },
];

let values;
try {
  ({ values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      json: { type: "string" },
      only: { type: "string" },
    },
  }));
} catch (err) {
  console.error(`run-bench: ${err.message}`);
  process.exit(2);
}
const only = values.only?.split(",").map((s) => s.trim());
const unknown = (only ?? []).filter((n) => !BENCHES.some((b) => b.name === n));
if (unknown.length > 0) {
  console.error(
    `run-bench: unknown bench ${unknown.join(", ")} (known: ${BENCHES.map((b) => b.name).join(", ")})`,
  );
  process.exit(2);
}
const selected = BENCHES.filter((b) => !only || only.includes(b.name));

const scratch = mkdtempSync(join(tmpdir(), "prewarm-bench-"));
const rows = [];
const failures = [];
const started = Date.now();
for (const [i, bench] of selected.entries()) {
  const file = join(scratch, `${bench.name}.jsonl`);
  writeFileSync(file, "");
  const args = values.quick ? bench.quick : bench.full;
  console.log(`\n=== [${i + 1}/${selected.length}] bench/${bench.name}.ts ${args.join(" ")}`.trimEnd());
  const t0 = Date.now();
  const run = spawnSync(process.execPath, ["--import", "tsx", `bench/${bench.name}.ts`, ...args], {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, PREWARM_BENCH_RESULTS: file },
  });
  const seconds = (Date.now() - t0) / 1000;
  if (run.status !== 0) failures.push(`${bench.name} (exit ${run.status ?? run.signal})`);
  const recorded = readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => ({ bench: bench.name, ...JSON.parse(line) }));
  if (run.status === 0 && recorded.length === 0) failures.push(`${bench.name} (recorded no result)`);
  rows.push(...recorded);
  console.log(`--- ${bench.name}: ${seconds.toFixed(1)} s`);
}
rmSync(scratch, { recursive: true, force: true });

const num = (v) => (v === undefined ? "-" : Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3));
const table = [
  ["bench", "measure", "value", "floor", "ratio", "goal"],
  ...rows.map((r) => [
    r.bench,
    r.measure,
    `${num(r.value)} ${r.unit}`,
    r.floor === undefined ? "-" : `${num(r.floor)} ${r.unit}`,
    r.ratio === undefined ? "-" : r.ratio.toFixed(3),
    r.goal ?? "-",
  ]),
];
const widths = table[0].map((_, c) => Math.max(...table.map((row) => row[c].length)));
console.log(`\nbenchmarks${values.quick ? " (--quick: small sizes, ratios are indicative only)" : ""}`);
for (const row of table)
  console.log(
    row
      .map((cell, c) => cell.padEnd(widths[c]))
      .join("  ")
      .trimEnd(),
  );
console.log(`(${((Date.now() - started) / 1000).toFixed(0)} s in all)`);

if (values.json) {
  const doc = {
    quick: values.quick,
    at: new Date().toISOString(),
    node: process.version,
    results: rows,
    failures,
  };
  writeFileSync(values.json, `${JSON.stringify(doc, null, 2)}\n`);
  console.log(`wrote ${values.json}`);
}
if (failures.length > 0) {
  console.error(`run-bench: failed: ${failures.join(", ")}`);
  process.exit(1);
}
