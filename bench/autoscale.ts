// Autoscaling against static pools and a hand-written schedule, on a generated trace (issue 13).
//
//   node --import tsx bench/autoscale.ts [--quick] [--target 0.95] [--seed 13] [--build-seconds 300]
//
// The trace (bench/autoscale-trace.ts): two weeks from Monday 2026-01-05 in Europe/Berlin, weekday peaks
// (09–12 and 13–17, about 1 claim/min), a lunch dip, quiet nights and weekends, a CI-style burst a day; the
// first week only teaches the policies (measureFrom = the second Monday). Every policy runs through the
// simulator (src/planning/simulate.ts), i.e. the reconciler's own planner on a virtual clock. Printed: hit rate
// and prebuild-hours of static pools of every size, of the schedule and of autoscale, and the ratio of
// autoscale's prebuild-hours to the cheapest static pool reaching the same hit rate (the goal: at most 0.5).
// `--quick`: 9 days (measured: the second Monday and Tuesday), static sizes up to 12.

import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { type SimulationInput, type SimulationPolicy, simulate } from "../src/planning/simulate.js";
import { generateTrace } from "./autoscale-trace.js";
import { record } from "./results.js";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    target: { type: "string", default: "0.95" },
    seed: { type: "string", default: "13" },
    "build-seconds": { type: "string", default: "300" },
  },
});
const QUICK = values.quick ?? false;
const TARGET = Number(values.target);
const TIMEZONE = "Europe/Berlin";
const DAY = 86_400_000;
const start = new Date("2026-01-05T00:00:00Z");
const measureFrom = new Date(start.getTime() + 7 * DAY);
const end = new Date(start.getTime() + (QUICK ? 9 : 14) * DAY);
const claims = generateTrace({
  start,
  end,
  timezone: TIMEZONE,
  seed: Number(values.seed),
  burstsPerWeekday: 1,
});

const base: Omit<SimulationInput, "policy"> = {
  start,
  end,
  measureFrom,
  timezone: TIMEZONE,
  buildMs: Number(values["build-seconds"]) * 1000,
  ttlMs: 0,
  reconcileIntervalMs: 60_000,
  replaceAheadMs: 0,
  claims,
};

interface Row {
  policy: string;
  hitRate: number;
  hours: number;
  created: number;
}

function run(name: string, policy: SimulationPolicy): Row {
  const r = simulate({ ...base, policy });
  return { policy: name, hitRate: r.hitRate ?? 0, hours: r.prebuildSeconds / 3600, created: r.created };
}

const t0 = performance.now();
const statics: Row[] = [];
for (let n = 0; n <= (QUICK ? 12 : 20); n++) {
  const row = run(`static ${n}`, { type: "static", instances: n });
  statics.push(row);
  if (row.hitRate >= 0.9995) break;
}
// What an operator who knows the traffic would write: the working day, shoulders, one for the night.
const schedule = run("schedule", {
  type: "schedule",
  instances: 1,
  scheduling: {
    timezone: TIMEZONE,
    schedules: [
      { cron: "* 8-16 * * 1-5", instances: 9 },
      { cron: "* 7 * * 1-5", instances: 3 },
      { cron: "* 17-19 * * 1-5", instances: 3 },
    ],
  },
});
const autoscale = run(`autoscale ${TARGET}`, { type: "autoscale", min: 0, max: 30, targetHitRate: TARGET });
const elapsed = performance.now() - t0;

const measured = claims.filter((c) => c >= measureFrom.getTime()).length;
console.log(
  `trace: ${claims.length} claims (${measured} measured) from ${start.toISOString().slice(0, 10)} to ${end.toISOString().slice(0, 10)}, ` +
    `${TIMEZONE}, builds ${base.buildMs / 1000}s, measured from ${measureFrom.toISOString().slice(0, 10)}${QUICK ? " (--quick)" : ""}`,
);
console.log("policy          hit rate  prebuild-hours  created");
for (const row of [...statics, schedule, autoscale]) {
  console.log(
    `${row.policy.padEnd(15)} ${(row.hitRate * 100).toFixed(2).padStart(7)}%  ${row.hours.toFixed(1).padStart(14)}  ${String(row.created).padStart(7)}`,
  );
}
const cheapest = (rate: number) => statics.find((s) => s.hitRate >= rate);
const same = cheapest(autoscale.hitRate);
const atTarget = cheapest(TARGET);
console.log(
  same
    ? `autoscale / cheapest static pool with at least its hit rate (${same.policy}, ${(same.hitRate * 100).toFixed(2)}%): ${(autoscale.hours / same.hours).toFixed(3)} ` +
        `(goal ≤ 0.5: ${autoscale.hours / same.hours <= 0.5 ? "met" : "NOT met"})`
    : "no static pool reaches autoscale's hit rate",
);
if (atTarget) {
  console.log(
    `autoscale / cheapest static pool reaching the target ${TARGET} (${atTarget.policy}): ${(autoscale.hours / atTarget.hours).toFixed(3)}; ` +
      `autoscale ${autoscale.hitRate >= TARGET ? "reaches" : "MISSES"} the target`,
  );
}
if (same)
  record({
    measure: `autoscale prebuild-hours / cheapest static pool at its hit rate (${same.policy})`,
    value: autoscale.hours,
    unit: "h",
    floor: same.hours,
    ratio: autoscale.hours / same.hours,
    goal: "≤ 0.5",
  });
console.log(`schedule / autoscale prebuild-hours: ${(schedule.hours / autoscale.hours).toFixed(2)}`);
console.log(`(${statics.length + 2} simulations in ${(elapsed / 1000).toFixed(1)} s)`);
