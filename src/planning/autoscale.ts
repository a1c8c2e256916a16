// The demand-driven sizing model (issue 13): a preset's desired pool size from its claim history and its
// measured refill time, with the reason in words. Pure — history is data, `now` is an argument, no clock is
// read — and used by cycle.ts, so the live reconciler, `prewarm prebuilds plan` (live and `--snapshot`) and
// `prewarm prebuilds simulate` all size pools with this one function.
//
// The model, for an instant t:
//   refill T   the 90th percentile of the latest measured create → eligible durations (at least MIN_REFILL:
//              queueing, the cycle's own reaction and agent start are not all in a build's timing; a default
//              while nothing is measured);
//   rate λ(t)  the larger of
//              - the calendar forecast: the highest expected claim rate in the local quarter hours overlapping
//                [t, t + 2T) — two refill times ahead, because a prebuild started now serves demand one refill
//                time from now. A quarter hour's rate is learned from the claims in the same quarter hour of
//                past days (the last 4 weeks up to an hour ago, in the policy's timezone, DST-aware): the same
//                weekday's rate, shrunk toward the rate of all days of its kind (Mon–Fri, or Sat–Sun) while few
//                weeks are known (weight n / (n + 2) for n observed weeks), so one week of history already gives
//                a usable weekday profile and a weekly habit (Friday afternoons) wins as weeks accumulate;
//              - a burst: when the claims of the last max(T, 5 min) or the last hour are far more than the
//                calendar expected for that window (at least 2, and a Poisson tail below 0.1 %), their rate, so
//                a pool reacts to a burst within one cycle even without any history;
//   need(t)    the smallest pool N whose probability of a miss, Erlang's loss formula B(N, λT), is at most
//              1 − targetHitRate: each hit starts a refill that takes T, a claim finding all N prebuilds
//              claimed and refilling is a miss (the formula holds whatever the distribution of refill times).
// desired(now) = the highest need(t) over the last HOLD (30 min), clamped to [min, max]: the pool grows at once
// and shrinks only after the need has stayed lower for HOLD, so a short dip never deletes a prebuild.
import { formatDuration } from "../util/duration.js";
import { SLOT_MS, SLOTS_PER_DAY, SLOTS_PER_WEEK, weekdayOf, weekSlot } from "./local-time.js";

export interface AutoscalePolicy {
  /** Bounds of the desired count (0 ≤ min ≤ max). */
  min: number;
  max: number;
  /** Wanted share of claims served by a prebuild, 0 < rate < 1. */
  targetHitRate: number;
  /** The calendar's IANA timezone; null: the preset's scheduling timezone, else UTC. */
  timezone: string | null;
}

export interface DemandHistory {
  /** Claim request times (hits and misses), ms since the epoch, ascending; later ones than `now` are ignored. */
  claims: readonly number[];
  /** Since when claims are recorded (ms): the calendar counts only time it could observe. */
  since: number;
}

export interface AutoscaleInputs {
  policy: AutoscalePolicy;
  demand: DemandHistory;
}

export const AUTOSCALE_MODEL = {
  lookbackMs: 28 * 86_400_000,
  /** The forecast looks this many refill times ahead. */
  lookaheadRefills: 2,
  holdMs: 30 * 60_000,
  defaultRefillMs: 5 * 60_000,
  minRefillMs: 60_000,
  refillSamples: 50,
  refillPercentile: 0.9,
  shortBurstWindowMs: 5 * 60_000,
  longBurstWindowMs: 60 * 60_000,
  burstMinClaims: 2,
  burstAlpha: 0.001,
  /** Weeks of pseudo-observations pulling a weekday's rate toward its kind of day. */
  weekdayShrink: 2,
} as const;

/**
 * The 90th percentile (nearest rank) of the latest `refillSamples` measured durations (ms), in input order
 * (oldest first); null when nothing was measured. Replace-ahead `auto` uses it as its lead.
 */
export function measuredRefillMs(durationsMs: readonly number[]): number | null {
  const latest = durationsMs.slice(-AUTOSCALE_MODEL.refillSamples).filter((d) => Number.isFinite(d));
  if (latest.length === 0) return null;
  const sorted = [...latest].map((d) => Math.max(0, d)).sort((a, b) => a - b);
  return sorted[Math.ceil(AUTOSCALE_MODEL.refillPercentile * sorted.length) - 1] ?? null;
}

/** The refill time the model uses, and how it was obtained. */
export function refillTime(durationsMs: readonly number[]): { ms: number; note: string } {
  const p90 = measuredRefillMs(durationsMs);
  if (p90 === null) return { ms: AUTOSCALE_MODEL.defaultRefillMs, note: "default, nothing measured yet" };
  if (p90 < AUTOSCALE_MODEL.minRefillMs) {
    return { ms: AUTOSCALE_MODEL.minRefillMs, note: `p90 ${formatDuration(p90)}, at least 1m` };
  }
  return { ms: p90, note: "p90" };
}

/**
 * Erlang's loss formula: the smallest pool N with B(N, load) ≤ 1 − hitRate, where `load` = claim rate × refill
 * time. No load needs no pool. Stops at `limit` (a bound on the loop, far above any sane pool).
 */
export function poolForHitRate(load: number, hitRate: number, limit = 10_000): number {
  if (!(load > 0)) return 0;
  const missRate = 1 - hitRate;
  let b = 1;
  for (let n = 1; n <= limit; n++) {
    b = (load * b) / (n + load * b);
    if (b <= missRate) return n;
  }
  return limit;
}

/** P(X ≥ c) for X ~ Poisson(mean). */
export function poissonTailAtLeast(mean: number, c: number): number {
  if (c <= 0) return 1;
  if (!(mean > 0)) return 0;
  let term = Math.exp(-mean);
  let below = term;
  for (let k = 1; k < c; k++) {
    term *= mean / k;
    below += term;
  }
  return Math.max(0, 1 - below);
}

/**
 * Claims per quarter hour of the week, and how many times each quarter hour was observed. `observe` slides the
 * observed window forward incrementally (a simulation plans every minute over the same, growing claim list);
 * the counts are integers, so the result is exactly a recount's.
 */
class Calendar {
  readonly #counts = new Float64Array(SLOTS_PER_WEEK);
  readonly #exposure = new Float64Array(SLOTS_PER_WEEK);
  readonly #timezone: string;
  /** Observed: the whole quarter hours [#first, #end), and the claims at indexes [#lo, #hi) that fall in them. */
  #first = 0;
  #end = 0;
  #lo = 0;
  #hi = 0;

  constructor(timezone: string) {
    this.#timezone = timezone;
  }

  /** Observes exactly the whole quarter hours within [from, to) (UTC-aligned, as every offset is). */
  observe(claims: readonly number[], from: number, to: number): void {
    const first = Math.ceil(from / SLOT_MS) * SLOT_MS;
    const end = Math.max(first, Math.floor(to / SLOT_MS) * SLOT_MS);
    const tz = this.#timezone;
    if (first < this.#first || end < this.#end || first > this.#end) {
      this.#counts.fill(0);
      this.#exposure.fill(0);
      this.#first = this.#end = first;
      this.#lo = this.#hi = lowerBound(claims, first);
    }
    for (let at = this.#first; at < first; at += SLOT_MS) this.#exposure[weekSlot(at, tz)]! -= 1;
    while (this.#lo < this.#hi && claims[this.#lo]! < first)
      this.#counts[weekSlot(claims[this.#lo++]!, tz)]! -= 1;
    this.#first = first;
    for (let at = this.#end; at < end; at += SLOT_MS) this.#exposure[weekSlot(at, tz)]! += 1;
    while (this.#hi < claims.length && claims[this.#hi]! < end)
      this.#counts[weekSlot(claims[this.#hi++]!, tz)]! += 1;
    this.#end = end;
  }

  /** Whether `claims` may be the (append-only) list this calendar counted last. */
  continues(claims: readonly number[], at: number): boolean {
    return claims.length >= this.#hi && (this.#hi === 0 || claims[this.#hi - 1] === at);
  }

  get lastCounted(): number {
    return this.#hi;
  }

  /** Expected claims per ms in a local quarter hour of the week. */
  #rateOf(slot: number): number {
    const quarter = slot % SLOTS_PER_DAY;
    const weekend = isWeekend(weekdayOf(slot));
    let kindCount = 0;
    let kindSeen = 0;
    for (let day = 0; day < 7; day++) {
      if (isWeekend(day) !== weekend) continue;
      kindCount += this.#counts[day * SLOTS_PER_DAY + quarter]!;
      kindSeen += this.#exposure[day * SLOTS_PER_DAY + quarter]!;
    }
    if (kindSeen === 0) return 0;
    const kindRate = kindCount / (kindSeen * SLOT_MS);
    const seen = this.#exposure[slot]!;
    if (seen === 0) return kindRate;
    const dayRate = this.#counts[slot]! / (seen * SLOT_MS);
    const w = seen / (seen + AUTOSCALE_MODEL.weekdayShrink);
    return w * dayRate + (1 - w) * kindRate;
  }

  /** Expected claims in [from, to): each quarter hour's rate over its overlap with the interval. */
  expected(from: number, to: number): number {
    let sum = 0;
    for (let at = Math.floor(from / SLOT_MS) * SLOT_MS; at < to; at += SLOT_MS) {
      const overlap = Math.min(to, at + SLOT_MS) - Math.max(from, at);
      if (overlap > 0) sum += overlap * this.#rateOf(weekSlot(at, this.#timezone));
    }
    return sum;
  }

  /** The highest expected rate (claims per ms) in the quarter hours overlapping [from, to). */
  peakRate(from: number, to: number): number {
    let peak = 0;
    for (let at = Math.floor(from / SLOT_MS) * SLOT_MS; at < to; at += SLOT_MS) {
      peak = Math.max(peak, this.#rateOf(weekSlot(at, this.#timezone)));
    }
    return peak;
  }
}

// A memo of the last calendar per claim list (an optimisation only: a recount gives the same numbers). Reused
// only while the list looks append-only (its last counted claim unchanged) and for the same timezone.
const calendars = new WeakMap<readonly number[], { timezone: string; calendar: Calendar; last: number }>();

function calendarFor(claims: readonly number[], timezone: string, from: number, to: number): Calendar {
  const memo = calendars.get(claims);
  const calendar =
    memo && memo.timezone === timezone && memo.calendar.continues(claims, memo.last)
      ? memo.calendar
      : new Calendar(timezone);
  calendar.observe(claims, from, to);
  const counted = calendar.lastCounted;
  calendars.set(claims, { timezone, calendar, last: counted > 0 ? claims[counted - 1]! : 0 });
  return calendar;
}

const isWeekend = (weekday: number) => weekday === 0 || weekday === 6;

/** First index whose value is ≥ `value` (the list ascending). */
function lowerBound(list: readonly number[], value: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose value is > `value`. */
function upperBound(list: readonly number[], value: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]! <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export interface DemandAt {
  /** Claims per minute the pool is sized for. */
  ratePerMinute: number;
  /** Set when a burst, not the calendar, gave the rate. */
  burst: { claims: number; windowMs: number } | null;
  /** Pool size for the target hit rate, before the bounds. */
  need: number;
}

export interface AutoscaleDecision extends DemandAt {
  /** The desired count: the held need, clamped to [min, max]. */
  desired: number;
  refillMs: number;
  refillNote: string;
  /** The higher need of the last HOLD that the hold keeps; null when the current need rules. */
  held: { need: number } | null;
  reason: string;
}

const percent = (rate: number) => `${Number((rate * 100).toFixed(1))}%`;

function formatRate(perMinute: number): string {
  if (perMinute === 0) return "0";
  if (perMinute < 0.01) return "<0.01";
  return perMinute.toFixed(2);
}

/**
 * The autoscaled desired count at `now` for a policy, its claim history and the measured create → eligible
 * durations (oldest first). `timezone` is the calendar's (the policy's, else the preset's schedule's, else UTC).
 */
export function autoscaleDesired(
  inputs: AutoscaleInputs,
  timezone: string,
  durationsMs: readonly number[],
  now: Date,
): AutoscaleDecision {
  const { policy, demand } = inputs;
  const nowMs = now.getTime();
  const refill = refillTime(durationsMs);
  const T = refill.ms;
  const from = Math.max(demand.since, nowMs - AUTOSCALE_MODEL.lookbackMs);
  // The calendar learns from whole quarter hours that ended at least an hour ago (claims after now are not
  // history yet, and a burst must not hide in its own baseline: the burst windows look back up to an hour).
  const claims = demand.claims;
  const calendar = calendarFor(claims, timezone, from, nowMs - AUTOSCALE_MODEL.longBurstWindowMs);
  const shortWindow = Math.max(T, AUTOSCALE_MODEL.shortBurstWindowMs);

  const demandAt = (t: number): DemandAt => {
    const forecast = calendar.peakRate(t, t + AUTOSCALE_MODEL.lookaheadRefills * T);
    let rate = forecast;
    let burst: DemandAt["burst"] = null;
    const end = upperBound(claims, Math.min(t, nowMs));
    for (const windowMs of [shortWindow, AUTOSCALE_MODEL.longBurstWindowMs]) {
      const count = end - upperBound(claims, t - windowMs);
      if (count < AUTOSCALE_MODEL.burstMinClaims) continue;
      // Far more than the calendar expected for that same window (not the forecast: after a peak the last
      // hour was busy, as expected, while the next minutes are quiet).
      const expected = calendar.expected(t - windowMs, t);
      if (poissonTailAtLeast(expected, count) >= AUTOSCALE_MODEL.burstAlpha) continue;
      if (count / windowMs > rate) {
        rate = count / windowMs;
        burst = { claims: count, windowMs };
      }
    }
    return {
      ratePerMinute: rate * 60_000,
      burst,
      need: poolForHitRate(rate * T, policy.targetHitRate),
    };
  };

  const current = demandAt(nowMs);
  // The hold: the highest need at any instant of the last HOLD. The calendar's part is the union of every
  // instant's look-ahead; a burst's part peaks at a claim (a window's count only grows at claims), so the claim
  // instants of the hold are the only other instants to look at.
  const holdFrom = Math.max(nowMs - AUTOSCALE_MODEL.holdMs, demand.since);
  let heldRate =
    holdFrom < nowMs ? calendar.peakRate(holdFrom, nowMs + AUTOSCALE_MODEL.lookaheadRefills * T) : 0;
  for (let i = lowerBound(claims, holdFrom), last = upperBound(claims, nowMs); i < last; i++) {
    heldRate = Math.max(heldRate, demandAt(claims[i]!).ratePerMinute / 60_000);
  }
  const heldNeed = poolForHitRate(heldRate * T, policy.targetHitRate);
  const held = heldNeed > current.need ? { need: heldNeed } : null;
  const kept = held?.need ?? current.need;
  const desired = Math.min(policy.max, Math.max(policy.min, kept));

  const source = current.burst
    ? `burst of ${current.burst.claims} claims in ${formatDuration(current.burst.windowMs)}:`
    : "forecast";
  let reason = `${source} ${formatRate(current.ratePerMinute)} claims/min × refill ${formatDuration(T)} (${refill.note}) → ${current.need} for ${percent(policy.targetHitRate)}`;
  if (held) {
    reason += `; held at ${held.need}, the need of the last ${formatDuration(AUTOSCALE_MODEL.holdMs)} (scale-down waits)`;
  }
  if (kept < policy.min) reason += `; raised to min ${policy.min}`;
  if (kept > policy.max) reason += `; capped at max ${policy.max}`;
  return { ...current, desired, refillMs: T, refillNote: refill.note, held, reason };
}
