// The pure cycle planner: one whole snapshot (every preset, the pause switch, the prebuild jobs in flight) and
// the cycle's budget in, ONE CyclePlan out. Everything that shows or does "the plan" reads this value: the
// reconciler executes it, and the status API, `prewarm prebuilds plan` (live and `--snapshot`), the metrics and
// the pool history read it — so they cannot disagree. No I/O, no clock reads; the same input gives the same plan.
//
// Per preset, in this order:
//   1. status: a healthy, active preset whose last N creations all failed (`hardLimitReached`, from build
//      history) becomes `hard_limited` — as data, a leading `set_status` action the executor persists, and the
//      effective status the rest of the plan (and every view) uses (§5 rule 7);
//   2. plan.ts's rules for that preset (state and ordered actions, §5 rules 1–6);
//   3. claim rehearsal: an active preset that was never rehearsed and has an eligible prebuild gets one
//      `rehearse_claim` of its NEWEST eligible prebuild (claims take the oldest, so the rehearsed one is the
//      least likely to be claimed meanwhile — which is harmless anyway: a rehearsal only plans). It is a
//      prebuild job: it takes one unit of the budget, before creations; without budget it waits for a later cycle.
//      Except while a pool is empty — nothing eligible, nothing starting — and asks for a creation: a pool's first
//      prebuild outranks every rehearsal (a push of 50 small pools spent half its slots on rehearsals and filled
//      at 0.45 of the job path), so rehearsals wait until every pool has one on its way;
//   4. rationing (§5 rule 10): creations share the global in-flight cap. budget = cap − prebuild jobs in flight
//      − deletions planned this cycle (deletions are never deferred: they free resources, they only take
//      precedence over creations); the budget is dealt one creation at a time to the least full pool, refills
//      before replace-ahead and surge, ties rotating across cycles (fair-share.ts), so one big or churning pool
//      cannot starve another. A `create` action carries
//      `wanted` (what the preset needs) and `granted` (what this cycle starts; `count` = `granted`); a preset
//      granted nothing keeps its create with count 0, so every view shows the deferral.
//      The server-wide ceilings (issue 13: `maxPrebuilds`, `maxIdleCostPerDay`) are budgets of the same
//      dealing: the prebuilds every preset holds after this cycle's deletions (running + starting) and their
//      idle cost per day come off them first; a preset the ceiling stopped says so (`limitedBy`). A ceiling
//      only stops creations, it never deletes.
// Before step 2, per preset: the desired count and its reason (desired.ts: schedules, or the autoscale model),
// and for an inactive preset in a surge rollout, how many of its outdated prebuilds stay claimable: as many as
// its (healthy) successor still lacks eligible prebuilds (§5 rule 5), so the successors are planned first.
// While paused the plan is still computed (status pages and metrics show what would happen) and `paused` is
// set; the executor then does nothing.
import type { AutoscaleDecision } from "./autoscale.js";
import { resolveDesired } from "./desired.js";
import { type CeilingName, type CreationAsk, dealCreations } from "./fair-share.js";
import {
  type BlockedReason,
  backoffUntil,
  type DeleteReason,
  isExpired,
  type PlanSettings,
  type PresetPlan,
  type PresetSnapshot,
  type PresetState,
  type PresetStatus,
  planPreset,
} from "./plan.js";

/**
 * What a cycle may spend. `maxInFlight` null: no cap on prebuild jobs in flight. `maxPrebuilds` (prebuilds in
 * existence, running or starting, across presets) and `maxIdleCostPerDay` (their summed `dailyCost`) are the
 * server-wide ceilings; absent or null: none.
 */
export interface CycleBudget {
  maxInFlight: number | null;
  maxPrebuilds?: number | null;
  maxIdleCostPerDay?: number | null;
}

export interface CycleSnapshot<P extends PresetSnapshot = PresetSnapshot> {
  now: Date;
  paused: boolean;
  /** Prebuild jobs pending, running or cancelling, across all presets. */
  inFlight: number;
  presets: readonly P[];
  /** The fair-share cursor (fair-share.ts): ties between equally full pools go to the first at or after it. */
  rotation?: number;
}

export type CycleAction =
  | { type: "set_status"; status: "hard_limited" }
  | { type: "rehearse_claim"; prebuildId: string }
  | { type: "delete"; reason: DeleteReason; ids: string[] }
  | { type: "cancel_pending" }
  | { type: "create"; count: number; wanted: number; granted: number; limitedBy?: CeilingName }
  | { type: "backoff"; until: Date }
  | { type: "blocked"; reason: BlockedReason };

export interface PresetCyclePlan<P extends PresetSnapshot = PresetSnapshot> {
  id: string;
  preset: P;
  /** After this cycle's `set_status`, if any: what every view shows. */
  status: PresetStatus;
  state: PresetState;
  /** In execution order. */
  actions: CycleAction[];
  /** When creation may resume after failures (active presets only); null when not backing off. */
  backoffUntil: Date | null;
  /** Why `state.desired` is what it is, in words (planCycle always sets it). */
  desiredReason?: string;
  /** The sizing model's decision, for an active autoscaled preset (planCycle always sets it, maybe null). */
  autoscale?: AutoscaleDecision | null;
}

export interface CyclePlan<P extends PresetSnapshot = PresetSnapshot> {
  now: Date;
  paused: boolean;
  inFlight: number;
  maxInFlight: number | null;
  /** Creations this cycle may start (null: unlimited). */
  budget: number | null;
  /**
   * The ceilings, and how much of them the prebuilds held after this cycle's deletions use (before creations).
   * planCycle always sets it.
   */
  ceilings?: {
    maxPrebuilds: number | null;
    maxIdleCostPerDay: number | null;
    prebuilds: number;
    idleCostPerDay: number;
  };
  presets: PresetCyclePlan<P>[];
  totals: { deletions: number; wanted: number; granted: number; deferred: number };
}

/** The status a preset has for this cycle: §5 rule 7's promotion, or the persisted one. */
export function effectiveStatus(preset: PresetSnapshot): PresetStatus {
  return preset.active && preset.hardLimitReached && preset.status === "healthy"
    ? "hard_limited"
    : preset.status;
}

/**
 * A preset's claim on this cycle's creations. Of `count`, the refill part is what the pool lacks counting only
 * non-expired, starting and surge-covered prebuilds; the rest replaces prebuilds ahead of expiry or fills a
 * surge rollout's pool early, and waits until every pool is refilled.
 */
function creationAsk(
  index: number,
  plan: PresetPlan,
  count: number,
  preset: PresetSnapshot,
  covered: ReadonlyMap<string, number>,
): CreationAsk {
  const { desired, running, expired, eligible, starting } = plan.state;
  const cover = covered.get(plan.id) ?? 0;
  const lack = desired - (running - expired) - starting - cover;
  return {
    index,
    desired,
    have: eligible + starting + cover,
    wanted: count,
    refill: Math.max(0, Math.min(count, lack)),
    dailyCost: preset.dailyCost ?? 0,
  };
}

/** Running prebuilds this plan deletes (expired, extraneous, outdated); stopped and failed ones are not running. */
function runningDeleted(plan: PresetPlan): number {
  let n = 0;
  for (const a of plan.actions) {
    if (
      a.type === "delete" &&
      (a.reason === "expired" || a.reason === "extraneous" || a.reason === "outdated")
    )
      n += a.ids.length;
  }
  return n;
}

/** How many running prebuilds an inactive preset's plan keeps (those it does not delete as outdated). */
function keepCount(plan: PresetPlan, preset: PresetSnapshot): number {
  const deleted = plan.actions.reduce(
    (n, a) => n + (a.type === "delete" && a.reason === "outdated" ? a.ids.length : 0),
    0,
  );
  return preset.prebuilds.filter((p) => p.status === "running").length - deleted;
}

/**
 * The newest eligible prebuild of an active preset that still needs its claim rehearsal and keeps it after this
 * cycle (not one its plan deletes), if any.
 */
function rehearsalCandidate(preset: PresetSnapshot, plan: PresetPlan, now: Date): string | undefined {
  if (!preset.active || !preset.needsClaimRehearsal) return undefined;
  let deleted: Set<string> | undefined;
  for (const a of plan.actions) {
    if (a.type !== "delete") continue;
    deleted ??= new Set();
    for (const id of a.ids) deleted.add(id);
  }
  let bestId: string | undefined;
  let bestAt = 0;
  for (const p of preset.prebuilds) {
    if (p.status !== "running" || !p.ready) continue;
    const at = p.createdAt.getTime();
    // Cheapest test first: most prebuilds are older than the best so far (they arrive oldest first).
    if (bestId !== undefined && (at < bestAt || (at === bestAt && p.id <= bestId))) continue;
    if (deleted?.has(p.id) || isExpired(p.createdAt, preset, now)) continue;
    bestId = p.id;
    bestAt = at;
  }
  return bestId;
}

/** Plans a whole cycle. Pure and deterministic; see the file header. */
export function planCycle<P extends PresetSnapshot>(
  snapshot: CycleSnapshot<P>,
  settings: PlanSettings,
  budget: CycleBudget,
): CyclePlan<P> {
  const { now } = snapshot;
  // Active presets first: a surge rollout of an inactive preset depends on its successor's plan.
  const byId = new Map<
    string,
    { status: PresetStatus; plan: PresetPlan; desiredReason: string; autoscale: AutoscaleDecision | null }
  >();
  const planOne = (preset: P, keepOutdated?: number) => {
    const status = effectiveStatus(preset);
    const desired = resolveDesired(preset, now);
    const plan = planPreset(status === preset.status ? preset : { ...preset, status }, now, settings, {
      desired: desired.desired,
      keepOutdated,
    });
    byId.set(preset.id, { status, plan, desiredReason: desired.reason, autoscale: desired.autoscale });
  };
  for (const preset of snapshot.presets) if (preset.active) planOne(preset);
  // What each successor still lacks is shared by its outdated presets, the newest version first.
  const lacking = new Map<string, number>();
  // Outdated prebuilds a surge rollout keeps claimable, per successor: they cover part of its pool meanwhile.
  const covered = new Map<string, number>();
  for (let i = snapshot.presets.length - 1; i >= 0; i--) {
    const preset = snapshot.presets[i]!;
    if (preset.active) continue;
    const successorId = preset.rollout === "surge" ? preset.successor : null;
    const successor = successorId ? byId.get(successorId) : undefined;
    if (successorId && successor?.status === "healthy") {
      const { desired, eligible } = successor.plan.state;
      const lack = lacking.get(successorId) ?? Math.max(0, desired - eligible);
      planOne(preset, lack);
      const kept = Math.min(lack, keepCount(byId.get(preset.id)!.plan, preset));
      lacking.set(successorId, lack - kept);
      covered.set(successorId, (covered.get(successorId) ?? 0) + kept);
    } else planOne(preset);
  }
  const planned = snapshot.presets.map((preset) => ({ preset, ...byId.get(preset.id)! }));

  const asks = new Map<string, CreationAsk>();
  let deletions = 0;
  let heldPrebuilds = 0;
  let heldCost = 0;
  for (const [index, { preset, plan }] of planned.entries()) {
    const held = Math.max(0, plan.state.running - runningDeleted(plan)) + plan.state.starting;
    heldPrebuilds += held;
    heldCost += held * (preset.dailyCost ?? 0);
    for (const action of plan.actions) {
      if (action.type === "create")
        asks.set(plan.id, creationAsk(index, plan, action.count, preset, covered));
      if (action.type === "delete") deletions += action.ids.length;
    }
  }
  let left =
    budget.maxInFlight === null ? null : Math.max(0, budget.maxInFlight - snapshot.inFlight - deletions);
  // A claim rehearsal takes a slot before creations (it is one plan, once per preset, and warns early) —
  // unless an empty pool is waiting for its first prebuild.
  const emptyPoolWaiting = planned.some(
    ({ plan }) => asks.has(plan.id) && plan.state.eligible + plan.state.starting === 0,
  );
  const rehearsals = new Map<string, string>();
  for (const { preset, plan } of planned) {
    if (left === 0 || emptyPoolWaiting) break;
    const prebuildId = rehearsalCandidate(preset, plan, now);
    if (prebuildId === undefined) continue;
    rehearsals.set(preset.id, prebuildId);
    if (left !== null) left--;
  }
  const maxPrebuilds = budget.maxPrebuilds ?? null;
  const maxIdleCostPerDay = budget.maxIdleCostPerDay ?? null;
  const dealt = dealCreations(
    asks,
    {
      creations: left,
      prebuilds: maxPrebuilds === null ? null : maxPrebuilds - heldPrebuilds,
      idleCostPerDay: maxIdleCostPerDay === null ? null : maxIdleCostPerDay - heldCost,
    },
    snapshot.rotation ?? 0,
    planned.length,
  );

  let totalWanted = 0;
  let totalGranted = 0;
  const presets = planned.map(({ preset, status, plan, desiredReason, autoscale }): PresetCyclePlan<P> => {
    const actions: CycleAction[] = [];
    if (status !== preset.status) actions.push({ type: "set_status", status: "hard_limited" });
    const rehearse = rehearsals.get(preset.id);
    if (rehearse !== undefined) actions.push({ type: "rehearse_claim", prebuildId: rehearse });
    for (const action of plan.actions) {
      if (action.type !== "create") {
        actions.push(action);
        continue;
      }
      const d = dealt.get(plan.id);
      const got = d?.granted ?? 0;
      totalWanted += action.count;
      totalGranted += got;
      const create: CycleAction = { type: "create", count: got, wanted: action.count, granted: got };
      if (d?.limitedBy && got < action.count) create.limitedBy = d.limitedBy;
      actions.push(create);
    }
    return {
      id: plan.id,
      preset,
      status,
      state: plan.state,
      actions,
      backoffUntil: preset.active ? backoffUntil(preset.backoff, now, settings) : null,
      desiredReason,
      autoscale,
    };
  });

  return {
    now,
    paused: snapshot.paused,
    inFlight: snapshot.inFlight,
    maxInFlight: budget.maxInFlight,
    budget: left,
    ceilings: { maxPrebuilds, maxIdleCostPerDay, prebuilds: heldPrebuilds, idleCostPerDay: heldCost },
    presets,
    totals: {
      deletions,
      wanted: totalWanted,
      granted: totalGranted,
      deferred: totalWanted - totalGranted,
    },
  };
}
