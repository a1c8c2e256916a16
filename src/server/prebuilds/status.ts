// The read model of the prebuild pools: ONE snapshot read planned by the same `planCycle` the reconciler
// executes (src/planning/cycle.ts), so the status API, `prewarm prebuilds plan`, the presets' pool counts and
// the dashboard show exactly what the next cycle will do — the effective status (a preset about to be
// hard-limited already shows `hard_limited`) and the rationed creations included.
import type { CyclePlan, PresetCyclePlan } from "../../planning/cycle.js";
import { planCycle } from "../../planning/cycle.js";
import { autoscaleTimezone } from "../../planning/desired.js";
import type { PresetStatus } from "../../planning/plan.js";
import { type Tags, tagsMatch } from "../jobs/tags.js";
import { listActiveDaemons, type ProvisionerDaemon } from "../store/daemons.js";
import { parseJsonColumn } from "../store/rows.js";
import type { Executor, Store } from "../store/store.js";
import { recentPrebuildJobTargets } from "./queries.js";
import type { ReconcilerSettings } from "./settings.js";
import { type LivePresetSnapshot, readSnapshot } from "./snapshot.js";
import type { SnapshotReader } from "./snapshot-reader.js";

export type LiveCyclePlan = CyclePlan<LivePresetSnapshot>;
export type LivePresetPlan = PresetCyclePlan<LivePresetSnapshot>;

/**
 * What planning a cycle needs besides the snapshot: the reconciler's settings, its in-flight cap and the
 * server-wide ceilings (`--max-prebuilds`, `--max-idle-cost`; absent or null: none).
 */
export interface PlanConfig {
  settings: ReconcilerSettings;
  /** The cap on prebuild jobs in flight; null: follow the daemons (autoInFlightCap). */
  maxInFlightJobs: number | null;
  maxPrebuilds?: number | null;
  maxIdleCostPerDay?: number | null;
  /** The fair-share cursor of the cycle to plan (ties between equally full pools rotate with it). */
  rotation?: number;
}

/** A daemon counts as active this long after its last acquire (its long poll renews every 30 s at most). */
const ACTIVE_DAEMON_WINDOW_MS = 90_000;

/**
 * The default cap on prebuild jobs in flight: two per active daemon that can take prebuild jobs (in-process or
 * external) — one running and one queued behind it, so every such daemon stays busy between cycles while a
 * human build (acquired first) waits behind at most the build its daemon is running. At least 2, so a pool
 * fills before the first daemon polls.
 */
export function autoInFlightCap(prebuildDaemons: number): number {
  return 2 * Math.max(1, prebuildDaemons);
}

/** How far back the prebuild jobs go whose tags say which daemons prebuilds run on. */
const PREBUILD_TARGETS_LOOKBACK_MS = 24 * 3_600_000;

/**
 * Of the active daemons, those that can take prebuild jobs: the ones whose types and tags match a recent prebuild
 * job's (jobs/tags.ts). Tags may dedicate daemons to prebuilds (or keep prebuilds off some): counting every
 * daemon would let the queue on the few that take prebuilds grow long. Without recent prebuild jobs (a fresh
 * server) every active daemon counts. Pure.
 */
export function daemonsForPrebuilds(
  daemons: ReadonlyArray<Pick<ProvisionerDaemon, "provisioners" | "tags">>,
  targets: ReadonlyArray<{ provisioner: string; tags: Tags }>,
): number {
  if (targets.length === 0) return daemons.length;
  return daemons.filter((d) =>
    targets.some((t) => d.provisioners.includes(t.provisioner) && tagsMatch(t.tags, d.tags)),
  ).length;
}

async function countPrebuildDaemons(db: Executor, now: Date): Promise<number> {
  const [daemons, targets] = await Promise.all([
    listActiveDaemons(db, now, ACTIVE_DAEMON_WINDOW_MS),
    recentPrebuildJobTargets(db, now.getTime() - PREBUILD_TARGETS_LOOKBACK_MS),
  ]);
  return daemonsForPrebuilds(
    daemons,
    targets.map((t) => ({
      provisioner: t.provisioner,
      tags: parseJsonColumn<Tags>(t.tags, "provisioner_jobs.tags"),
    })),
  );
}

/**
 * Reads one snapshot (inside `tx` when given: the leader's lock transaction) and plans the cycle. The reconciler
 * passes its incremental `reader` (snapshot-reader.ts, the same snapshot at the cost of what changed); views
 * read in full.
 */
export async function readCyclePlan(
  store: Store,
  now: Date,
  config: PlanConfig,
  tx?: Executor,
  reader?: SnapshotReader,
): Promise<LiveCyclePlan & { queryCount: number }> {
  const snapshot = reader
    ? await reader.read(now, config.settings, tx)
    : await readSnapshot(store, now, config.settings, tx ? { tx } : {});
  const maxInFlight =
    config.maxInFlightJobs ?? autoInFlightCap(await countPrebuildDaemons(tx ?? store.db, now));
  const plan = planCycle(
    {
      now,
      paused: snapshot.paused,
      inFlight: snapshot.inFlightPrebuildJobs,
      presets: snapshot.presets,
      rotation: config.rotation ?? 0,
    },
    config.settings,
    {
      maxInFlight,
      maxPrebuilds: config.maxPrebuilds ?? null,
      maxIdleCostPerDay: config.maxIdleCostPerDay ?? null,
    },
  );
  return { ...plan, queryCount: snapshot.queryCount };
}

export interface PoolCounts {
  desired: number;
  running: number;
  eligible: number;
  expired: number;
  starting: number;
}

export interface PresetPoolStatus {
  presetId: string;
  template: string;
  templateVersion: string;
  preset: string;
  active: boolean;
  /** Effective for the next cycle (see the file header). */
  status: PresetStatus;
  desiredInstances: number | null;
  ttlSeconds: number | null;
  prebuilds: PoolCounts;
  backoffUntil: Date | null;
  /** Why `prebuilds.desired` is what it is (desired.ts). */
  desiredReason: string;
  /** The calendar's timezone when autoscaled (the policy's, the schedule's, or UTC); null otherwise. */
  autoscaleTimezone: string | null;
  /** The autoscale bounds and target when autoscaled; null otherwise. */
  autoscale: { min: number; max: number; targetHitRate: number } | null;
  /** The replace-ahead lead in force, resolved (seconds; 0: off). */
  replaceAheadSeconds: number;
  /** What one prebuild of the preset costs per day. */
  dailyCost: number;
}

export function poolCountsOf(plan: LivePresetPlan): PoolCounts {
  const { state } = plan;
  return {
    desired: state.desired,
    running: state.running,
    eligible: state.eligible,
    expired: state.expired,
    starting: state.starting,
  };
}

/** Every preset's pool as `prewarm prebuilds status` shows it. */
export function poolStatuses(plan: LiveCyclePlan): PresetPoolStatus[] {
  return plan.presets.map((p) => ({
    presetId: p.id,
    template: p.preset.templateName,
    templateVersion: p.preset.versionName,
    preset: p.preset.presetName,
    active: p.preset.active,
    status: p.status,
    desiredInstances: p.preset.declaredInstances,
    ttlSeconds: p.preset.ttlSeconds,
    prebuilds: poolCountsOf(p),
    backoffUntil: p.backoffUntil,
    desiredReason: p.desiredReason ?? "",
    autoscaleTimezone: p.preset.autoscale ? autoscaleTimezone(p.preset) : null,
    autoscale: p.preset.autoscale
      ? {
          min: p.preset.autoscale.policy.min,
          max: p.preset.autoscale.policy.max,
          targetHitRate: p.preset.autoscale.policy.targetHitRate,
        }
      : null,
    replaceAheadSeconds: p.preset.replaceAheadSeconds ?? 0,
    dailyCost: p.preset.dailyCost ?? 0,
  }));
}
