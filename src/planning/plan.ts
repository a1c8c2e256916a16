// The pure prebuild planner (ARCHITECTURE §5 rules 1–6): one preset's snapshot and `now` in, the preset's state
// and an ordered list of actions out. cycle.ts composes it into the whole cycle's plan (status promotion and
// rationing). No I/O, no clock reads; the same input always gives the same output
// (prebuilds are ordered oldest first, ties broken by id). The reconciler executes the actions; the offline
// `prewarm prebuilds plan --snapshot` prints them.
//
// Snapshot contract (what the snapshot reader must put in a PresetSnapshot):
// - `prebuilds` lists the preset's unclaimed, not-deleted prebuild workspaces whose latest build has FINISHED:
//     running = latest build is a successful `start`; `ready` = all its agents report ready (true when the
//               template has no agents);
//     stopped = latest build is a successful `stop`;
//     failed  = latest build failed or was canceled (any transition); `failedAt` = when that job ended.
//   A workspace whose latest build is pending, running or canceling is NOT listed: it is counted in
//   `inProgress` by transition instead. So a prebuild whose delete (or stop, or start) is in flight is never
//   counted as running and never chosen for deletion again, and the planner never interferes with a build.
// - `inProgress` counts those in-flight latest builds of the preset's prebuilds by transition. Only `start`
//   counts against creation (the workspace will soon be running); stops and deletes do not (it will not).
// - `pendingJobs`: pending, not-yet-acquired prebuild jobs of this preset's version; acted on only when the
//   preset is inactive (they would build an outdated version).
// - `backoff`: failed prebuild builds of the preset in the look-back window (`numFailed`) and the latest
//   failure time, derived from build history by the snapshot; null when there are none.
// - `status`: the persisted preset status. `planPreset` only reads it; cycle.ts turns `hardLimitReached` (the last
//   N creations all failed, from build history) into the `hard_limited` status before planning, and the executor
//   sets `validation_failed` when a creation is rejected as invalid.
// - demand-driven pools (issue 13; all optional, absent = off, so a snapshot without them plans as before):
//   `autoscale` (policy + claim history; cycle.ts sizes the pool with autoscale.ts and passes `desired` in),
//   `buildDurationsMs` (measured create → eligible), `replaceAheadSeconds` (the resolved replace-ahead lead),
//   `rollout` + `successor` (surge rollout of an inactive preset into the active one of the same name;
//   cycle.ts passes how many outdated prebuilds to keep as `keepOutdated`), `dailyCost` (per prebuild, for the
//   idle-cost ceiling).
import type { AutoscaleInputs } from "./autoscale.js";
import { desiredInstances, type Scheduling } from "./schedule.js";

/** The persisted status of a preset; every layer (store, contract, planner) uses this one list. */
export const PRESET_STATUSES = ["healthy", "hard_limited", "validation_failed"] as const;
export type PresetStatus = (typeof PRESET_STATUSES)[number];

interface PrebuildBase {
  id: string;
  createdAt: Date;
}

export type PrebuildSnapshot =
  | (PrebuildBase & { status: "running"; ready: boolean })
  | (PrebuildBase & { status: "stopped" })
  | (PrebuildBase & { status: "failed"; failedAt: Date });

export interface InProgressCounts {
  start: number;
  stop: number;
  delete: number;
}

export interface BackoffHistory {
  numFailed: number;
  lastFailedAt: Date;
}

export type RolloutStrategy = "surge" | "replace";
export const ROLLOUT_STRATEGIES: readonly RolloutStrategy[] = ["surge", "replace"];

export interface PresetSnapshot {
  id: string;
  desiredInstances: number;
  /** 0: prebuilds never expire by age. */
  ttlSeconds: number;
  lastInvalidatedAt: Date | null;
  /** The preset's version is the template's active version and the template is neither deleted nor deprecated. */
  active: boolean;
  status: PresetStatus;
  /** The last N creations all failed since the preset was last resumed (§5 rule 7; cycle.ts acts on it). */
  hardLimitReached: boolean;
  /** No claim rehearsal was run for this preset yet (cycle.ts starts one on its first eligible prebuild). */
  needsClaimRehearsal: boolean;
  scheduling: Scheduling | null;
  prebuilds: PrebuildSnapshot[];
  inProgress: InProgressCounts;
  pendingJobs: number;
  backoff: BackoffHistory | null;
  /** Autoscale policy and claim history; absent or null: `desiredInstances` and schedules decide. */
  autoscale?: AutoscaleInputs | null;
  /** Measured create → eligible durations of the preset's prebuilds (ms), oldest first. */
  buildDurationsMs?: readonly number[];
  /** Replace-ahead lead in seconds, resolved (`auto` already turned into the measured p90); absent or 0: off. */
  replaceAheadSeconds?: number;
  /** How an inactive preset's pool gives way to its successor; absent: replace (delete at once). */
  rollout?: RolloutStrategy;
  /** The active preset (same template, same name) that replaces this inactive one; null or absent: none. */
  successor?: string | null;
  /** What one prebuild of this preset costs per day while idle (its resources' `daily_cost`); absent: 0. */
  dailyCost?: number;
}

/** What cycle.ts decides for a preset before its own rules run (absent: planPreset decides alone). */
export interface PresetPlanOptions {
  /** The desired count (autoscaled); default: `desiredInstances` and schedules (§5 rule 1). */
  desired?: number;
  /** Inactive, surge rollout: how many ready, non-expired outdated prebuilds stay (the youngest); default 0. */
  keepOutdated?: number;
}

export interface PlanSettings {
  /** Creation waits `numFailed × backoffIntervalMs` after the last failure. */
  backoffIntervalMs: number;
  /** Failed prebuilds are kept this long as evidence, then deleted. */
  failedRetentionMs: number;
}

export const defaultPlanSettings: PlanSettings = {
  backoffIntervalMs: 60_000,
  failedRetentionMs: 24 * 3_600_000,
};

export type DeleteReason = "expired" | "extraneous" | "stopped" | "failed" | "outdated";
export type BlockedReason = "hard_limited" | "validation_failed";

export type PlanAction =
  | { type: "delete"; reason: DeleteReason; ids: string[] }
  | { type: "cancel_pending" }
  | { type: "create"; count: number }
  | { type: "backoff"; until: Date }
  | { type: "blocked"; reason: BlockedReason };

export interface PresetState {
  /** Desired pool size now (0 when inactive). */
  desired: number;
  /** Running prebuilds, expired ones included. */
  running: number;
  expired: number;
  /** Ready, non-expired running prebuilds of an active preset: what a claim could take now. */
  eligible: number;
  /** Non-expired running prebuilds beyond `desired`. */
  extraneous: number;
  starting: number;
  stopping: number;
  deleting: number;
  /** With replace-ahead on: non-expired running prebuilds expiring within the lead (absent when off). */
  expiringSoon?: number;
}

export interface PresetPlan {
  id: string;
  state: PresetState;
  actions: PlanAction[];
}

/** §5 rule 2: invalidated, or strictly older than the TTL. Exactly TTL old is not yet expired. */
export function isExpired(
  createdAt: Date,
  preset: Pick<PresetSnapshot, "ttlSeconds" | "lastInvalidatedAt">,
  now: Date,
): boolean {
  const created = createdAt.getTime();
  if (preset.lastInvalidatedAt && created < preset.lastInvalidatedAt.getTime()) return true;
  return preset.ttlSeconds > 0 && now.getTime() - created > preset.ttlSeconds * 1000;
}

/**
 * §5 rule 6: the instant until which creation waits, or null when not backing off. Linear, as in Coder:
 * `lastFailedAt + numFailed × interval`; at exactly that instant creation still waits.
 */
export function backoffUntil(
  backoff: BackoffHistory | null,
  now: Date,
  settings: Pick<PlanSettings, "backoffIntervalMs">,
): Date | null {
  if (!backoff || backoff.numFailed <= 0) return null;
  const until = backoff.lastFailedAt.getTime() + backoff.numFailed * settings.backoffIntervalMs;
  return now.getTime() <= until ? new Date(until) : null;
}

function oldestFirst<T extends PrebuildBase>(a: T, b: T): number {
  const d = a.createdAt.getTime() - b.createdAt.getTime();
  if (d !== 0) return d;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Sorts oldest first; the snapshot lists prebuilds oldest first already, so usually one pass checks it. */
function sortOldestFirst<T extends PrebuildBase>(list: T[]): void {
  for (let i = 1; i < list.length; i++) {
    if (oldestFirst(list[i - 1]!, list[i]!) > 0) {
      list.sort(oldestFirst);
      return;
    }
  }
}

function pushDelete(actions: PlanAction[], reason: DeleteReason, list: readonly PrebuildBase[]): void {
  if (list.length > 0) actions.push({ type: "delete", reason, ids: list.map((p) => p.id) });
}

/**
 * The replace-ahead lead in ms: the resolved setting, at most half the TTL (a lead as long as the TTL would
 * replace every replacement at once, forever); 0 when off or when nothing expires by age.
 */
function replaceAheadLeadMs(preset: Pick<PresetSnapshot, "replaceAheadSeconds" | "ttlSeconds">): number {
  const lead = (preset.replaceAheadSeconds ?? 0) * 1000;
  if (!(lead > 0) || preset.ttlSeconds <= 0) return 0;
  return Math.min(lead, (preset.ttlSeconds * 1000) / 2);
}

/**
 * The oldest `count` of `nonExpired` (oldest first) to delete as extraneous. With `guard` (replace-ahead on) a
 * deletion never takes the eligible count below `desired`: deleting stops at the first ready prebuild whose
 * deletion would open a gap, so an expiring prebuild stays until its replacement is eligible, and a
 * replacement still starting or not yet ready never causes a deletion.
 */
function extraneousToDelete<T extends PrebuildBase & { ready: boolean }>(
  nonExpired: readonly T[],
  count: number,
  desired: number,
  guard: boolean,
): T[] {
  if (!guard) return nonExpired.slice(0, count);
  let eligibleLeft = nonExpired.filter((p) => p.ready).length;
  const out: T[] = [];
  for (const p of nonExpired) {
    if (out.length >= count) break;
    if (p.ready && eligibleLeft <= desired) break;
    out.push(p);
    if (p.ready) eligibleLeft--;
  }
  return out;
}

/**
 * Which running prebuilds of an inactive preset go (§5 rule 5), oldest first: all of them, except — in a surge
 * rollout — the `keep` youngest ready, non-expired ones, which stay claimable until the successor's pool has
 * eligible prebuilds of its own.
 */
function outdatedToDelete<T extends PrebuildBase & { ready: boolean }>(
  running: readonly T[],
  expiredList: readonly PrebuildBase[],
  keep: number,
): T[] {
  if (keep <= 0) return [...running];
  const expired = new Set(expiredList);
  const kept = new Set<T>();
  for (let i = running.length - 1; i >= 0 && kept.size < keep; i--) {
    const p = running[i]!;
    if (p.ready && !expired.has(p)) kept.add(p);
  }
  return running.filter((p) => !kept.has(p));
}

/** Plans one preset. Pure and deterministic; see the file header for the snapshot contract. */
export function planPreset(
  preset: PresetSnapshot,
  now: Date,
  settings: PlanSettings,
  options: PresetPlanOptions = {},
): PresetPlan {
  const nowMs = now.getTime();
  const running: (PrebuildBase & { ready: boolean })[] = [];
  const stopped: PrebuildBase[] = [];
  const failedPastRetention: PrebuildBase[] = [];
  for (const p of preset.prebuilds) {
    if (p.status === "running") running.push(p);
    else if (p.status === "stopped") stopped.push(p);
    else if (nowMs - p.failedAt.getTime() > settings.failedRetentionMs) failedPastRetention.push(p);
  }
  sortOldestFirst(running);
  sortOldestFirst(stopped);
  sortOldestFirst(failedPastRetention);

  const expired: PrebuildBase[] = [];
  const nonExpired: (PrebuildBase & { ready: boolean })[] = [];
  for (const p of running) (isExpired(p.createdAt, preset, now) ? expired : nonExpired).push(p);

  const desired = preset.active ? (options.desired ?? desiredInstances(preset, now)) : 0;
  const extraneous = preset.active ? Math.max(nonExpired.length - desired, 0) : 0;
  let eligible = 0;
  if (preset.active) for (const p of nonExpired) if (p.ready) eligible++;
  // Replace-ahead: prebuilds that expire within the lead count as missing, so their replacements start now.
  const leadMs = replaceAheadLeadMs(preset);
  const soon = new Date(nowMs + leadMs);
  const expiringSoon = leadMs > 0 ? nonExpired.filter((p) => isExpired(p.createdAt, preset, soon)).length : 0;
  const state: PresetState = {
    desired,
    running: running.length,
    expired: expired.length,
    eligible,
    extraneous,
    starting: preset.inProgress.start,
    stopping: preset.inProgress.stop,
    deleting: preset.inProgress.delete,
  };
  if (leadMs > 0) state.expiringSoon = expiringSoon;

  const actions: PlanAction[] = [];
  if (!preset.active) {
    // §5 rule 5: an outdated version's pool goes away entirely, expired or not; nothing is created.
    if (preset.pendingJobs > 0) actions.push({ type: "cancel_pending" });
    pushDelete(actions, "outdated", outdatedToDelete(running, expired, options.keepOutdated ?? 0));
  } else {
    pushDelete(actions, "expired", expired);
    pushDelete(actions, "extraneous", extraneousToDelete(nonExpired, extraneous, desired, leadMs > 0));
  }
  // Stopped and long-failed prebuilds are garbage whether or not the preset is still active.
  pushDelete(actions, "stopped", stopped);
  pushDelete(actions, "failed", failedPastRetention);

  if (preset.active) {
    const count = Math.max(desired - (nonExpired.length - expiringSoon) - preset.inProgress.start, 0);
    if (count > 0) {
      // A hard limit or a validation failure needs an operator or a new version; backoff ends by itself. When
      // both apply, report the one that needs attention.
      const until = backoffUntil(preset.backoff, now, settings);
      if (preset.status !== "healthy") actions.push({ type: "blocked", reason: preset.status });
      else if (until) actions.push({ type: "backoff", until });
      else actions.push({ type: "create", count });
    }
  }
  return { id: preset.id, state, actions };
}
