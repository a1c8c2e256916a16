// The pool simulator behind `prewarm prebuilds simulate` (issue 13): replays a claim trace against a policy on a
// virtual clock, planning every cycle with the SAME `planCycle` the live reconciler executes (not a copy), so
// what it reports is what the policy would have done. Pure: the input is data, the clock is the event loop's.
//
// Semantics (docs/prebuilds-autoscaling.md):
// - one preset; a cycle runs at every tick (start, start + interval, … before end) and right after every claim;
//   at equal times the claim comes first (then its cycle, then the tick's);
// - the policy sees only the claims at or before the cycle's time (and, for autoscale, the create → eligible
//   durations of the prebuilds that became eligible by then: every one takes `buildMs`);
// - a cycle applies its plan at once: deletions remove prebuilds, a `create` of n starts n prebuilds. With no
//   TTL that is: create desired − eligible − starting (if positive), delete eligible prebuilds beyond desired,
//   oldest first; with a TTL, expired prebuilds are deleted and replaced (and replaced ahead with
//   `replaceAheadMs`), exactly as the planner's rules say;
// - a prebuild becomes eligible `buildMs` after its creation and expires after `ttlMs` (0 = never; strictly
//   older than the TTL is expired, as in the planner);
// - a claim takes the oldest eligible, non-expired prebuild (a hit) or, when there is none, is a miss;
// - counted from `measureFrom` (before it the policy only learns): claims, hits, prebuilds created, and
//   prebuild-seconds = ∫ (unclaimed prebuilds that are starting or eligible) dt up to `end` — an expired
//   prebuild no longer counts, even before the next cycle deletes it;
// - `desired` lists every change of the desired count, from the first cycle at `start`.
import { type CycleSnapshot, planCycle } from "./cycle.js";
import { defaultPlanSettings, type PresetSnapshot } from "./plan.js";
import type { Scheduling } from "./schedule.js";

export type SimulationPolicy =
  | { type: "static"; instances: number }
  | { type: "schedule"; instances: number; scheduling: Scheduling }
  | { type: "autoscale"; min: number; max: number; targetHitRate: number };

export interface SimulationInput {
  start: Date;
  end: Date;
  /** Counting starts here; before it the policy only learns. */
  measureFrom: Date;
  /** The autoscaler's calendar timezone. */
  timezone: string;
  /** Create → eligible, for every prebuild. */
  buildMs: number;
  /** 0: prebuilds never expire. */
  ttlMs: number;
  reconcileIntervalMs: number;
  /** Replace-ahead lead (0: off). */
  replaceAheadMs: number;
  /** Claim request times (ms), ascending, within [start, end). */
  claims: readonly number[];
  policy: SimulationPolicy;
}

export interface SimulationResult {
  claims: number;
  hits: number;
  /** hits / claims; null without claims. */
  hitRate: number | null;
  prebuildSeconds: number;
  created: number;
  /** Every change of the desired count: [instant, desired]. */
  desired: [Date, number][];
}

interface SimPrebuild {
  id: string;
  createdAt: number;
  eligibleAt: number;
  /** The last instant it is not expired (Infinity without a TTL). */
  freshUntil: number;
}

const PRESET_ID = "simulated";

/** The planner's view of the pool at `now`. */
function presetAt(input: SimulationInput, pool: readonly SimPrebuild[], seen: SeenHistory, now: number) {
  const prebuilds: PresetSnapshot["prebuilds"] = [];
  let starting = 0;
  for (const p of pool) {
    if (p.eligibleAt <= now)
      prebuilds.push({ id: p.id, createdAt: new Date(p.createdAt), status: "running", ready: true });
    else starting++;
  }
  const { policy } = input;
  const preset: PresetSnapshot = {
    id: PRESET_ID,
    desiredInstances: policy.type === "autoscale" ? 0 : policy.instances,
    ttlSeconds: input.ttlMs / 1000,
    lastInvalidatedAt: null,
    active: true,
    status: "healthy",
    hardLimitReached: false,
    needsClaimRehearsal: false,
    scheduling: policy.type === "schedule" ? policy.scheduling : null,
    prebuilds,
    inProgress: { start: starting, stop: 0, delete: 0 },
    pendingJobs: 0,
    backoff: null,
    buildDurationsMs: seen.durations,
  };
  if (input.replaceAheadMs > 0) preset.replaceAheadSeconds = input.replaceAheadMs / 1000;
  if (policy.type === "autoscale") {
    preset.autoscale = {
      policy: {
        min: policy.min,
        max: policy.max,
        targetHitRate: policy.targetHitRate,
        timezone: input.timezone,
      },
      demand: { claims: seen.claims, since: input.start.getTime() },
    };
  }
  return preset;
}

/** What the policy has seen so far: both lists only grow, so each cycle hands over the same arrays. */
interface SeenHistory {
  claims: number[];
  durations: number[];
}

/** Runs the simulation; see the file header for the semantics. */
export function simulate(input: SimulationInput): SimulationResult {
  const start = input.start.getTime();
  const end = input.end.getTime();
  const measureFrom = input.measureFrom.getTime();
  const pool: SimPrebuild[] = []; // creation order = oldest first
  const seen: SeenHistory = { claims: [], durations: [] };
  const measuring: number[] = []; // eligibleAt of prebuilds not yet measured, ascending
  const desired: [Date, number][] = [];
  let nextId = 1;
  let claims = 0;
  let hits = 0;
  let created = 0;
  let prebuildMs = 0;

  /** A prebuild stops counting when it is claimed or deleted, or expires; its counted time is added then. */
  const retire = (p: SimPrebuild, at: number) => {
    const from = Math.max(p.createdAt, measureFrom);
    const to = Math.min(at, p.freshUntil, end);
    if (to > from) prebuildMs += to - from;
  };

  const learn = (now: number) => {
    while (measuring.length > 0 && measuring[0]! <= now) {
      measuring.shift();
      seen.durations.push(input.buildMs);
    }
  };

  const cycle = (now: number) => {
    learn(now);
    const snapshot: CycleSnapshot = {
      now: new Date(now),
      paused: false,
      inFlight: 0,
      presets: [presetAt(input, pool, seen, now)],
    };
    const plan = planCycle(snapshot, defaultPlanSettings, { maxInFlight: null }).presets[0]!;
    const last = desired[desired.length - 1];
    if (!last || last[1] !== plan.state.desired) desired.push([new Date(now), plan.state.desired]);
    for (const action of plan.actions) {
      if (action.type === "delete") {
        const ids = new Set(action.ids);
        for (let i = pool.length - 1; i >= 0; i--) {
          if (ids.has(pool[i]!.id)) retire(pool.splice(i, 1)[0]!, now);
        }
      } else if (action.type === "create") {
        for (let i = 0; i < action.count; i++) {
          pool.push({
            id: `pb-${String(nextId++).padStart(9, "0")}`,
            createdAt: now,
            eligibleAt: now + input.buildMs,
            freshUntil: input.ttlMs > 0 ? now + input.ttlMs : Number.POSITIVE_INFINITY,
          });
          measuring.push(now + input.buildMs);
          if (now >= measureFrom) created++;
        }
      }
    }
  };

  const claim = (now: number) => {
    const index = pool.findIndex((p) => p.eligibleAt <= now && now <= p.freshUntil);
    if (now >= measureFrom) {
      claims++;
      if (index >= 0) hits++;
    }
    if (index >= 0) retire(pool.splice(index, 1)[0]!, now);
    seen.claims.push(now);
  };

  let tick = start;
  let c = 0;
  while (tick < end || c < input.claims.length) {
    const nextClaim = c < input.claims.length ? input.claims[c]! : Number.POSITIVE_INFINITY;
    if (nextClaim <= tick || tick >= end) {
      if (nextClaim >= end) break;
      claim(nextClaim);
      cycle(nextClaim);
      c++;
    } else {
      cycle(tick);
      tick += input.reconcileIntervalMs;
    }
  }
  for (const p of pool) retire(p, end);

  return {
    claims,
    hits,
    hitRate: claims === 0 ? null : hits / claims,
    prebuildSeconds: prebuildMs / 1000,
    created,
    desired,
  };
}
