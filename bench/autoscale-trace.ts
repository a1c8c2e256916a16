// A generated claim trace for the autoscaling benchmark and the worked example in docs/prebuilds-autoscaling.md:
// weekday peaks (a morning peak, a lunch dip, an afternoon peak) and quiet nights and weekends in a timezone, as
// a non-homogeneous Poisson process sampled minute by minute with a seeded generator, so every run of the same
// arguments gives the same trace. Optionally a few CI-style bursts (several claims within a minute).
import { utcOffsetMs } from "../src/planning/local-time.js";
import { seededRandom } from "../test/support/prng.js";

/** Claims per minute by local hour on a weekday (Monday–Friday) and on a weekend day. */
export const WEEKDAY_RATE = [
  0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.02, 0.1, 0.5, 0.9, 1.0, 0.9, 0.4, 0.7, 0.8, 0.8, 0.6, 0.3, 0.1, 0.05,
  0.04, 0.03, 0.02, 0.01,
];
export const WEEKEND_RATE = [
  0.005, 0.005, 0.005, 0.005, 0.005, 0.005, 0.005, 0.01, 0.02, 0.03, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.04,
  0.03, 0.02, 0.02, 0.01, 0.01, 0.005, 0.005,
];

export interface TraceOptions {
  start: Date;
  end: Date;
  timezone: string;
  seed: number;
  /** Multiplies every rate. */
  scale?: number;
  /** Bursts per weekday (each: 4–8 claims within one minute, at a random working-hours minute). */
  burstsPerWeekday?: number;
}

function poisson(mean: number, random: () => number): number {
  const limit = Math.exp(-mean);
  let k = 0;
  let p = random();
  while (p > limit) {
    k++;
    p *= random();
  }
  return k;
}

/** Claim times (ms), ascending, whole seconds. */
export function generateTrace(options: TraceOptions): number[] {
  const random = seededRandom(options.seed);
  const scale = options.scale ?? 1;
  const out: number[] = [];
  for (let t = options.start.getTime(); t < options.end.getTime(); t += 60_000) {
    const local = new Date(t + utcOffsetMs(t, options.timezone));
    const weekday = local.getUTCDay();
    const hour = local.getUTCHours();
    const workday = weekday >= 1 && weekday <= 5;
    const rate = (workday ? WEEKDAY_RATE : WEEKEND_RATE)[hour]! * scale;
    let n = poisson(rate, random);
    const bursts = options.burstsPerWeekday ?? 0;
    if (workday && hour >= 8 && hour < 18 && random() < bursts / 600) n += 4 + Math.floor(random() * 5);
    for (let i = 0; i < n; i++) out.push(t + Math.floor(random() * 60) * 1000);
  }
  return out.sort((a, b) => a - b);
}

/**
 * The simulator input of the worked example in docs/prebuilds-autoscaling.md (and of `bench/autoscale.ts`):
 * two weeks from Monday 2026-01-05 in Europe/Berlin, the first only learned from, 5-minute builds.
 */
export function exampleInput(policy: unknown = { type: "static", instances: 8 }) {
  const start = new Date("2026-01-05T00:00:00Z");
  const end = new Date("2026-01-19T00:00:00Z");
  const claims = generateTrace({ start, end, timezone: "Europe/Berlin", seed: 13, burstsPerWeekday: 1 });
  return {
    start: "2026-01-05T00:00:00Z",
    end: "2026-01-19T00:00:00Z",
    measureFrom: "2026-01-12T00:00:00Z",
    timezone: "Europe/Berlin",
    buildSeconds: 300,
    ttlSeconds: 0,
    reconcileIntervalSeconds: 60,
    claims: claims.map((t) => new Date(t).toISOString().replace(".000Z", "Z")),
    policy,
  };
}

// `node --import tsx bench/autoscale-trace.ts FILE` writes that input (examples/simulations/weekday-traffic.json).
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const { writeFileSync } = await import("node:fs");
  const file = process.argv[2] ?? "examples/simulations/weekday-traffic.json";
  writeFileSync(file, `${JSON.stringify(exampleInput(), null, 1)}\n`);
  console.log(`wrote ${file}`);
}
