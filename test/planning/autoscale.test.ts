// The sizing model (src/planning/autoscale.ts) as tables: Erlang's loss formula, the measured refill time, and
// the desired count for steady, diurnal, weekend, bursty and absent demand, the bounds and the hold, on nasty
// clocks (DST in both directions).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  type AutoscalePolicy,
  autoscaleDesired,
  measuredRefillMs,
  poissonTailAtLeast,
  poolForHitRate,
  refillTime,
} from "../../src/planning/autoscale.js";
import { DAY, HOUR, MINUTE, SECOND } from "./fixtures.js";

const policy = (over: Partial<AutoscalePolicy> = {}): AutoscalePolicy => ({
  min: 0,
  max: 50,
  targetHitRate: 0.95,
  timezone: null,
  ...over,
});

/** Claims every `everyMs` in [from, to), offset by half a step (never on a slot boundary). */
function steady(from: number, to: number, everyMs: number): number[] {
  const out: number[] = [];
  for (let t = from + everyMs / 2; t < to; t += everyMs) out.push(t);
  return out;
}

/** Steady claims every `everyMs` during [fromHour, toHour) UTC of the days in [from, to) passing `day`. */
function daily(
  from: number,
  to: number,
  hours: [number, number],
  everyMs: number,
  day: (utcWeekday: number) => boolean = () => true,
): number[] {
  const out: number[] = [];
  for (let d = from; d < to; d += DAY) {
    if (!day(new Date(d).getUTCDay())) continue;
    out.push(...steady(d + hours[0] * HOUR, d + hours[1] * HOUR, everyMs));
  }
  return out;
}

const weekdays = (wd: number) => wd >= 1 && wd <= 5;
const REFILL_3M = [180 * SECOND];
const REFILL_5M = [300 * SECOND];
/** Monday 2026-01-19 00:00 UTC; two weeks of history before it. */
const MONDAY = Date.parse("2026-01-19T00:00:00Z");
const TWO_WEEKS_BEFORE = MONDAY - 14 * DAY;

describe("poolForHitRate (Erlang's loss formula)", () => {
  test("the smallest pool whose miss probability is at most 1 − target", () => {
    const table: [load: number, target: number, pool: number][] = [
      [0, 0.95, 0],
      [0.05, 0.95, 1],
      [1, 0.95, 4],
      [1.2, 0.95, 4],
      [2.4, 0.95, 6],
      [3, 0.95, 7],
      [5, 0.95, 9],
      [5, 0.99, 11],
      [10, 0.9, 13],
    ];
    for (const [load, target, pool] of table)
      assert.equal(poolForHitRate(load, target), pool, `${load} @ ${target}`);
  });

  test("the Poisson tail it uses for bursts", () => {
    assert.equal(poissonTailAtLeast(3, 0), 1);
    assert.equal(poissonTailAtLeast(0, 2), 0);
    assert.ok(Math.abs(poissonTailAtLeast(1, 1) - (1 - Math.exp(-1))) < 1e-12);
  });
});

describe("the refill time", () => {
  test("GIVEN measured durations THEN the 90th percentile (nearest rank) of the latest 50", () => {
    const table: [durations: number[], p90: number | null][] = [
      [[], null],
      [[100], 100],
      [[10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 90],
      [[100, 90, 80, 70, 60, 50, 40, 30, 20, 10, 5], 90],
      // Only the latest 50 count: 60 old slow builds, then 50 fast ones.
      [[...Array(60).fill(900_000), ...Array(50).fill(60_000)], 60_000],
    ];
    for (const [durations, p90] of table)
      assert.equal(measuredRefillMs(durations), p90, JSON.stringify(durations));
  });

  test("GIVEN nothing measured THEN a default; GIVEN very fast builds THEN at least a minute", () => {
    assert.deepEqual(refillTime([]), { ms: 5 * MINUTE, note: "default, nothing measured yet" });
    assert.deepEqual(refillTime([2 * SECOND]), { ms: MINUTE, note: "p90 2s, at least 1m" });
    assert.deepEqual(refillTime([6 * MINUTE]), { ms: 6 * MINUTE, note: "p90" });
  });
});

interface Case {
  name: string;
  claims: number[];
  since?: number;
  now: number;
  policy?: Partial<AutoscalePolicy>;
  timezone?: string;
  durations?: number[];
  desired: number;
  reason?: RegExp;
}

const cases: Case[] = [
  {
    name: "GIVEN no history at all WHEN sized THEN the pool is the minimum",
    claims: [],
    now: MONDAY + 10 * HOUR,
    policy: { min: 2 },
    desired: 2,
    reason:
      /^forecast 0 claims\/min × refill 5m \(default, nothing measured yet\) → 0 for 95%; raised to min 2$/,
  },
  {
    name: "GIVEN a steady 1 claim/min for two weeks and a 3 min refill WHEN sized THEN Erlang's pool for a load of 3",
    claims: steady(TWO_WEEKS_BEFORE, MONDAY + 10 * HOUR, MINUTE),
    since: TWO_WEEKS_BEFORE,
    now: MONDAY + 10 * HOUR,
    durations: REFILL_3M,
    desired: 7,
    reason: /^forecast 1\.00 claims\/min × refill 3m \(p90\) → 7 for 95%$/,
  },
  {
    name: "GIVEN the same steady demand and a 99% target WHEN sized THEN a bigger pool",
    claims: steady(TWO_WEEKS_BEFORE, MONDAY + 10 * HOUR, MINUTE),
    since: TWO_WEEKS_BEFORE,
    now: MONDAY + 10 * HOUR,
    durations: REFILL_3M,
    policy: { targetHitRate: 0.99 },
    desired: poolForHitRate(3, 0.99),
  },
  // --- diurnal: 1 claim/min from 09:00 to 17:00 UTC on weekdays, nothing otherwise ---
  {
    name: "GIVEN weekday office hours WHEN it is 03:00 on a weekday THEN nothing is needed",
    claims: daily(TWO_WEEKS_BEFORE, MONDAY, [9, 17], MINUTE, weekdays),
    since: TWO_WEEKS_BEFORE,
    now: MONDAY + 3 * HOUR,
    durations: REFILL_5M,
    desired: 0,
  },
  {
    name: "GIVEN weekday office hours WHEN it is 08:40 THEN the peak is still more than two refills away",
    claims: daily(TWO_WEEKS_BEFORE, MONDAY, [9, 17], MINUTE, weekdays),
    since: TWO_WEEKS_BEFORE,
    now: MONDAY + 8 * HOUR + 40 * MINUTE,
    durations: REFILL_5M,
    desired: 0,
  },
  {
    name: "GIVEN weekday office hours WHEN it is 08:52 THEN the pool is built ahead of the 09:00 peak",
    claims: daily(TWO_WEEKS_BEFORE, MONDAY, [9, 17], MINUTE, weekdays),
    since: TWO_WEEKS_BEFORE,
    now: MONDAY + 8 * HOUR + 52 * MINUTE,
    durations: REFILL_5M,
    desired: poolForHitRate(5, 0.95),
    reason: /^forecast 1\.00 claims\/min × refill 5m \(p90\) → 9 for 95%$/,
  },
  {
    name: "GIVEN weekday office hours WHEN it is 10:00 on a Saturday THEN the weekend's own (empty) profile applies",
    claims: daily(TWO_WEEKS_BEFORE, MONDAY, [9, 17], MINUTE, weekdays),
    since: TWO_WEEKS_BEFORE,
    now: MONDAY - 2 * DAY + 10 * HOUR,
    durations: REFILL_5M,
    desired: 0,
  },
  {
    name: "GIVEN one week of Mondays at 2/min and other weekdays at 1/min WHEN it is Monday 10:00 THEN the weekday shrinks toward its kind",
    // Monday's rate 2/min weighs 1/(1+2) after one week; the weekday kind is (2 + 4×1)/5 = 1.2/min:
    // 1/3 × 2 + 2/3 × 1.2 = 1.47/min × 5 min.
    claims: [
      ...daily(MONDAY - 7 * DAY, MONDAY - 6 * DAY, [9, 17], 30 * SECOND),
      ...daily(MONDAY - 6 * DAY, MONDAY - 2 * DAY, [9, 17], MINUTE),
    ],
    since: MONDAY - 7 * DAY,
    now: MONDAY + 10 * HOUR,
    durations: REFILL_5M,
    desired: poolForHitRate((1 / 3) * 2 * 5 + (2 / 3) * 1.2 * 5, 0.95),
    reason: /^forecast 1\.47 claims\/min/,
  },
  // --- bursts ---
  {
    name: "GIVEN no history WHEN 6 claims arrive within a minute THEN the pool reacts at once",
    claims: steady(MONDAY + 10 * HOUR - MINUTE, MONDAY + 10 * HOUR, 10 * SECOND),
    now: MONDAY + 10 * HOUR,
    durations: [0],
    desired: 4,
    reason: /^burst of 6 claims in 5m: 1\.20 claims\/min × refill 1m \(p90 0ms, at least 1m\) → 4 for 95%$/,
  },
  {
    name: "GIVEN no history WHEN a single claim arrives THEN it is not a burst",
    claims: [MONDAY + 10 * HOUR + 10 * SECOND],
    now: MONDAY + 10 * HOUR + 30 * SECOND,
    durations: [0],
    desired: 0,
    reason: /^forecast 0 claims\/min/,
  },
  {
    name: "GIVEN steady demand WHEN the last 5 minutes were as busy as usual THEN there is no burst",
    claims: steady(TWO_WEEKS_BEFORE, MONDAY + 10 * HOUR, MINUTE),
    since: TWO_WEEKS_BEFORE,
    now: MONDAY + 10 * HOUR,
    durations: REFILL_5M,
    desired: poolForHitRate(5, 0.95),
    reason: /^forecast 1\.00 claims\/min × refill 5m \(p90\) → 9 for 95%$/,
  },
  {
    name: "GIVEN office hours WHEN the busy hour just ended THEN the busy last hour is no burst (it was expected)",
    claims: daily(TWO_WEEKS_BEFORE, MONDAY + DAY, [9, 17], MINUTE, weekdays),
    since: TWO_WEEKS_BEFORE,
    now: MONDAY + 17 * HOUR + 31 * MINUTE,
    durations: REFILL_5M,
    desired: 0,
  },
  // --- bounds and the hold ---
  {
    name: "GIVEN a need of 7 and max 4 WHEN sized THEN the pool is capped",
    claims: steady(TWO_WEEKS_BEFORE, MONDAY + 10 * HOUR, MINUTE),
    since: TWO_WEEKS_BEFORE,
    now: MONDAY + 10 * HOUR,
    durations: REFILL_3M,
    policy: { max: 4 },
    desired: 4,
    reason: /→ 7 for 95%; capped at max 4$/,
  },
  {
    name: "GIVEN a burst 20 minutes ago WHEN sized THEN its need is still held",
    claims: steady(MONDAY + 10 * HOUR - 21 * MINUTE, MONDAY + 10 * HOUR - 20 * MINUTE, 10 * SECOND),
    now: MONDAY + 10 * HOUR,
    durations: [0],
    desired: 4,
    // The short window's need (4) is held; the last hour still counts 6 claims (0.1/min → 2).
    reason: /^burst of 6 claims in 1h: 0\.10 claims\/min .* → 2 for 95%; held at 4, the need of the last 30m/,
  },
  {
    name: "GIVEN a burst 31 minutes ago WHEN sized THEN its short-window need is no longer held, only the last hour's rate",
    claims: steady(MONDAY + 10 * HOUR - 32 * MINUTE, MONDAY + 10 * HOUR - 31 * MINUTE, 10 * SECOND),
    now: MONDAY + 10 * HOUR,
    durations: [0],
    desired: 2,
    reason: /^burst of 6 claims in 1h: .* → 2 for 95%$/,
  },
  {
    name: "GIVEN a burst 91 minutes ago WHEN sized THEN only the calendar's faint memory of it is left",
    claims: steady(MONDAY + 10 * HOUR - 92 * MINUTE, MONDAY + 10 * HOUR - 91 * MINUTE, 10 * SECOND),
    now: MONDAY + 10 * HOUR,
    durations: [0],
    desired: 0,
    reason: /^forecast 0 claims\/min/,
  },
  {
    name: "GIVEN a daily 15-minute lull at 12:00 WHEN it is 12:05 THEN the peak's pool is held through the dip",
    claims: [
      ...daily(TWO_WEEKS_BEFORE, MONDAY + DAY, [9, 12], MINUTE),
      ...daily(TWO_WEEKS_BEFORE + 12.25 * HOUR, MONDAY + DAY, [0, 4.75], MINUTE),
    ],
    since: TWO_WEEKS_BEFORE,
    now: MONDAY + 12 * HOUR + 5 * MINUTE,
    durations: REFILL_5M,
    desired: poolForHitRate(5, 0.95),
    reason: /held at 9/,
  },
  // --- nasty clocks ---
  {
    // Claims 09:00–09:30 Berlin time on weekdays: 08:00 UTC in winter. Summer time starts Sunday 29 March 2026,
    // so on Monday 30 March 09:00 Berlin is 07:00 UTC. At 06:52 UTC the model must see the peak coming.
    name: "GIVEN a Berlin morning peak learned in winter WHEN the first Monday of summer time is at 08:52 local THEN the pool is built for 09:00 local",
    claims: daily(
      Date.parse("2026-03-02T00:00:00Z"),
      Date.parse("2026-03-28T00:00:00Z"),
      [8, 8.5],
      MINUTE,
      weekdays,
    ),
    since: Date.parse("2026-03-02T00:00:00Z"),
    now: Date.parse("2026-03-30T06:52:00Z"),
    timezone: "Europe/Berlin",
    durations: REFILL_5M,
    desired: poolForHitRate(5, 0.95),
  },
  {
    name: "GIVEN the same peak WHEN it is 07:52 local on that Monday (a UTC-minded model's peak time) THEN nothing yet",
    claims: daily(
      Date.parse("2026-03-02T00:00:00Z"),
      Date.parse("2026-03-28T00:00:00Z"),
      [8, 8.5],
      MINUTE,
      weekdays,
    ),
    since: Date.parse("2026-03-02T00:00:00Z"),
    now: Date.parse("2026-03-30T05:52:00Z"),
    timezone: "Europe/Berlin",
    durations: REFILL_5M,
    desired: 0,
  },
  {
    // New York falls back on Sunday 1 November 2026: 01:00–01:59 local happens twice. A steady 1 claim/min
    // through it is still 1 claim/min on a weekend night, not 2 (that hour was observed twice that day).
    name: "GIVEN steady demand across the fall-back night in New York WHEN sized at 01:30 local a week later THEN the rate is not doubled",
    claims: steady(Date.parse("2026-10-31T04:00:00Z"), Date.parse("2026-11-08T06:30:00Z"), MINUTE),
    since: Date.parse("2026-10-31T04:00:00Z"),
    now: Date.parse("2026-11-08T06:30:00Z"),
    timezone: "America/New_York",
    durations: REFILL_5M,
    desired: poolForHitRate(5, 0.95),
    reason: /^forecast 1\.00 claims\/min/,
  },
];

describe("autoscaleDesired: the sizing model as a table", () => {
  for (const c of cases) {
    test(c.name, () => {
      const decision = autoscaleDesired(
        { policy: policy(c.policy), demand: { claims: c.claims, since: c.since ?? c.now - 28 * DAY } },
        c.timezone ?? "UTC",
        c.durations ?? [],
        new Date(c.now),
      );
      assert.equal(decision.desired, c.desired, decision.reason);
      if (c.reason) assert.match(decision.reason, c.reason);
    });
  }
});

describe("autoscaleDesired: properties", () => {
  test("GIVEN one claim list WHEN sized at later and later instants THEN each answer equals a fresh recount", () => {
    // The calendar is memoised per claim list (a simulation re-plans every minute); it must never drift.
    const claims = daily(TWO_WEEKS_BEFORE, MONDAY + DAY, [9, 17], 3 * MINUTE, weekdays);
    const inputs = { policy: policy(), demand: { claims, since: TWO_WEEKS_BEFORE } };
    for (let t = MONDAY + 7 * HOUR; t < MONDAY + 11 * HOUR; t += 7 * MINUTE) {
      const reused = autoscaleDesired(inputs, "Europe/Berlin", REFILL_5M, new Date(t));
      const fresh = autoscaleDesired(
        { policy: policy(), demand: { claims: [...claims], since: TWO_WEEKS_BEFORE } },
        "Europe/Berlin",
        REFILL_5M,
        new Date(t),
      );
      assert.deepEqual(reused, fresh, new Date(t).toISOString());
    }
  });

  test("GIVEN claims later than now in the list WHEN sized THEN they are not history yet", () => {
    const now = MONDAY + 10 * HOUR;
    const future = steady(now + MINUTE, now + 2 * MINUTE, 5 * SECOND);
    const decision = autoscaleDesired(
      { policy: policy(), demand: { claims: future, since: now - DAY } },
      "UTC",
      REFILL_5M,
      new Date(now),
    );
    assert.equal(decision.desired, 0);
  });
});
