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
//      prebuild job: it takes one unit of the budget, before creations; without budget it waits for a later cycle;
//   4. rationing (§5 rule 10): creations share the global in-flight cap. budget = cap − prebuild jobs in flight
//      − deletions planned this cycle (deletions are never deferred: they free resources, they only take
//      precedence over creations); the budget is dealt round-robin, one creation at a time, over the presets
//      that want some, in snapshot order, so one big pool cannot take it all. A `create` action carries
//      `wanted` (what the preset needs) and `granted` (what this cycle starts; `count` = `granted`); a preset
//      granted nothing keeps its create with count 0, so every view shows the deferral.
// While paused the plan is still computed (status pages and metrics show what would happen) and `paused` is
// set; the executor then does nothing.
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

/** What a cycle may spend. `maxInFlight` null: no cap on prebuild jobs in flight. */
export interface CycleBudget {
  maxInFlight: number | null;
}

export interface CycleSnapshot<P extends PresetSnapshot = PresetSnapshot> {
  now: Date;
  paused: boolean;
  /** Prebuild jobs pending, running or cancelling, across all presets. */
  inFlight: number;
  presets: readonly P[];
}

export type CycleAction =
  | { type: "set_status"; status: "hard_limited" }
  | { type: "rehearse_claim"; prebuildId: string }
  | { type: "delete"; reason: DeleteReason; ids: string[] }
  | { type: "cancel_pending" }
  | { type: "create"; count: number; wanted: number; granted: number }
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
}

export interface CyclePlan<P extends PresetSnapshot = PresetSnapshot> {
  now: Date;
  paused: boolean;
  inFlight: number;
  maxInFlight: number | null;
  /** Creations this cycle may start (null: unlimited). */
  budget: number | null;
  presets: PresetCyclePlan<P>[];
  totals: { deletions: number; wanted: number; granted: number; deferred: number };
}

/** The status a preset has for this cycle: §5 rule 7's promotion, or the persisted one. */
export function effectiveStatus(preset: PresetSnapshot): PresetStatus {
  return preset.active && preset.hardLimitReached && preset.status === "healthy"
    ? "hard_limited"
    : preset.status;
}

/** Deals `budget` creations round-robin, one at a time, over the wanted counts (in the map's order). */
export function rationCreations(wanted: ReadonlyMap<string, number>, budget: number): Map<string, number> {
  const granted = new Map<string, number>([...wanted.keys()].map((id) => [id, 0]));
  let left = Math.max(0, budget);
  let progress = true;
  while (left > 0 && progress) {
    progress = false;
    for (const [id, want] of wanted) {
      if (left === 0) break;
      const got = granted.get(id) ?? 0;
      if (got < want) {
        granted.set(id, got + 1);
        left--;
        progress = true;
      }
    }
  }
  return granted;
}

/**
 * The newest eligible prebuild of an active preset that still needs its claim rehearsal and keeps it after this
 * cycle (not one its plan deletes), if any.
 */
function rehearsalCandidate(preset: PresetSnapshot, plan: PresetPlan, now: Date): string | undefined {
  if (!preset.active || !preset.needsClaimRehearsal) return undefined;
  const deleted = new Set(plan.actions.flatMap((a) => (a.type === "delete" ? a.ids : [])));
  let best: { id: string; at: number } | undefined;
  for (const p of preset.prebuilds) {
    if (p.status !== "running" || !p.ready || deleted.has(p.id) || isExpired(p.createdAt, preset, now))
      continue;
    const at = p.createdAt.getTime();
    if (!best || at > best.at || (at === best.at && p.id > best.id)) best = { id: p.id, at };
  }
  return best?.id;
}

/** Plans a whole cycle. Pure and deterministic; see the file header. */
export function planCycle<P extends PresetSnapshot>(
  snapshot: CycleSnapshot<P>,
  settings: PlanSettings,
  budget: CycleBudget,
): CyclePlan<P> {
  const { now } = snapshot;
  const planned = snapshot.presets.map((preset) => {
    const status = effectiveStatus(preset);
    const plan = planPreset(status === preset.status ? preset : { ...preset, status }, now, settings);
    return { preset, status, plan };
  });

  const wanted = new Map<string, number>();
  let deletions = 0;
  for (const { plan } of planned) {
    for (const action of plan.actions) {
      if (action.type === "create") wanted.set(plan.id, action.count);
      if (action.type === "delete") deletions += action.ids.length;
    }
  }
  let left =
    budget.maxInFlight === null ? null : Math.max(0, budget.maxInFlight - snapshot.inFlight - deletions);
  const rehearsals = new Map<string, string>();
  for (const { preset, plan } of planned) {
    const prebuildId = rehearsalCandidate(preset, plan, now);
    if (prebuildId === undefined || left === 0) continue;
    rehearsals.set(preset.id, prebuildId);
    if (left !== null) left--;
  }
  const granted = left === null ? new Map(wanted) : rationCreations(wanted, left);

  let totalWanted = 0;
  let totalGranted = 0;
  const presets = planned.map(({ preset, status, plan }): PresetCyclePlan<P> => {
    const actions: CycleAction[] = [];
    if (status !== preset.status) actions.push({ type: "set_status", status: "hard_limited" });
    const rehearse = rehearsals.get(preset.id);
    if (rehearse !== undefined) actions.push({ type: "rehearse_claim", prebuildId: rehearse });
    for (const action of plan.actions) {
      if (action.type !== "create") {
        actions.push(action);
        continue;
      }
      const got = granted.get(plan.id) ?? 0;
      totalWanted += action.count;
      totalGranted += got;
      actions.push({ type: "create", count: got, wanted: action.count, granted: got });
    }
    return {
      id: plan.id,
      preset,
      status,
      state: plan.state,
      actions,
      backoffUntil: preset.active ? backoffUntil(preset.backoff, now, settings) : null,
    };
  });

  return {
    now,
    paused: snapshot.paused,
    inFlight: snapshot.inFlight,
    maxInFlight: budget.maxInFlight,
    budget: left,
    presets,
    totals: {
      deletions,
      wanted: totalWanted,
      granted: totalGranted,
      deferred: totalWanted - totalGranted,
    },
  };
}
