// Planner throughput: 10,000 presets × 10 prebuilds, against a floor measured in the same run.
//
//   node --import tsx bench/planner.ts [--presets N] [--prebuilds M] [--rounds R]
//
// The floor is the least work any planner must do: one pass that reads every prebuild's createdAt and counts the
// ones older than a cutoff. The ratio planner/floor is what to watch; absolute times depend on the machine.
// The population is deterministic (seeded) and mixes what real pools hold: a TTL on most presets, some
// expired, stopped and failed prebuilds, in-flight builds, backoff, inactive versions, and a schedule on 1 in 5
// presets (evaluated through Intl in a real timezone).

import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { planCycle } from "../src/planning/cycle.js";
import { defaultPlanSettings, type PrebuildSnapshot, type PresetSnapshot } from "../src/planning/plan.js";
import { record } from "./results.js";

const { values } = parseArgs({
  options: {
    presets: { type: "string", default: "10000" },
    prebuilds: { type: "string", default: "10" },
    rounds: { type: "string", default: "15" },
  },
});
const PRESETS = Number(values.presets);
const PREBUILDS = Number(values.prebuilds);
const ROUNDS = Number(values.rounds);
const NOW = new Date("2026-01-05T10:00:00Z");
const HOUR = 3_600_000;

/** mulberry32: a small deterministic PRNG so every run plans the same population. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function population(): PresetSnapshot[] {
  const random = rng(42);
  const zones = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC"];
  const presets: PresetSnapshot[] = [];
  for (let i = 0; i < PRESETS; i++) {
    const prebuilds: PrebuildSnapshot[] = [];
    for (let j = 0; j < PREBUILDS; j++) {
      const id = `w-${i}-${j}`;
      const createdAt = new Date(NOW.getTime() - Math.floor(random() * 48 * HOUR));
      const r = random();
      if (r < 0.8) prebuilds.push({ id, createdAt, status: "running", ready: r < 0.7 });
      else if (r < 0.9) prebuilds.push({ id, createdAt, status: "stopped" });
      else
        prebuilds.push({ id, createdAt, status: "failed", failedAt: new Date(createdAt.getTime() + 60_000) });
    }
    presets.push({
      id: `p-${i}`,
      desiredInstances: Math.floor(random() * 12),
      ttlSeconds: random() < 0.7 ? 24 * 3600 : 0,
      lastInvalidatedAt: random() < 0.1 ? new Date(NOW.getTime() - HOUR) : null,
      active: random() < 0.9,
      status: random() < 0.05 ? "hard_limited" : "healthy",
      hardLimitReached: random() < 0.02,
      needsClaimRehearsal: false,
      scheduling:
        i % 5 === 0
          ? {
              timezone: zones[i % zones.length] ?? "UTC",
              schedules: [
                { cron: "* 8-18 * * 1-5", instances: 8 },
                { cron: "* 8-12 * * 6", instances: 2 },
              ],
            }
          : null,
      prebuilds,
      inProgress: { start: Math.floor(random() * 2), stop: 0, delete: Math.floor(random() * 2) },
      pendingJobs: random() < 0.05 ? 1 : 0,
      backoff: random() < 0.1 ? { numFailed: 1, lastFailedAt: new Date(NOW.getTime() - 30_000) } : null,
    });
  }
  return presets;
}

/** The floor: read every prebuild's createdAt once and count. */
function floorPass(presets: PresetSnapshot[]): number {
  const cutoff = NOW.getTime() - 24 * HOUR;
  let old = 0;
  for (const p of presets) for (const b of p.prebuilds) if (b.createdAt.getTime() < cutoff) old++;
  return old;
}

function plannerPass(presets: PresetSnapshot[]): number {
  let actions = 0;
  const plan = planCycle({ now: NOW, paused: false, inFlight: 0, presets }, defaultPlanSettings, {
    maxInFlight: 64,
  });
  for (const p of plan.presets) actions += p.actions.length;
  return actions;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

function time(pass: (presets: PresetSnapshot[]) => number, presets: PresetSnapshot[]): [number, number] {
  const start = performance.now();
  const result = pass(presets);
  return [performance.now() - start, result];
}

// Floor and planner alternate within each round, so load from other processes hits both alike; the reported
// ratio is the median of the per-round ratios.
const presets = population();
let sink = 0;
for (let i = 0; i < 3; i++) sink += floorPass(presets) + plannerPass(presets); // warm-up (JIT, caches)
const floorTimes: number[] = [];
const planTimes: number[] = [];
const ratios: number[] = [];
for (let i = 0; i < ROUNDS; i++) {
  const [f, a] = time(floorPass, presets);
  const [p, b] = time(plannerPass, presets);
  sink += a + b;
  floorTimes.push(f);
  planTimes.push(p);
  ratios.push(p / f);
}
if (sink < 0) console.log(sink); // keep the work observable

const floorMs = median(floorTimes);
const planMs = median(planTimes);
const perSecond = (ms: number) => Math.round(PRESETS / (ms / 1000)).toLocaleString("en-US");
console.log(`planner benchmark: ${PRESETS.toLocaleString("en-US")} presets × ${PREBUILDS} prebuilds`);
console.log(
  `  (${(PRESETS * PREBUILDS).toLocaleString("en-US")} prebuilds, 1 in 5 presets scheduled; medians of ${ROUNDS} rounds)`,
);
console.log(`  floor   (read createdAt + count):        ${floorMs.toFixed(2)} ms`);
console.log(
  `  planner (planCycle, full state + actions + rationing): ${planMs.toFixed(2)} ms = ${perSecond(planMs)} presets/s`,
);
console.log(`  ratio planner/floor: ${median(ratios).toFixed(1)}×`);
record({
  measure: `planCycle, ${PRESETS} presets × ${PREBUILDS} prebuilds`,
  value: planMs,
  unit: "ms",
  floor: floorMs,
  ratio: median(ratios),
});
