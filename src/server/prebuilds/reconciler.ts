// The prebuild reconciler (ARCHITECTURE §5): snapshot → pure plan → executor, on a timer and soon after events.
//
// One cycle:
//   1. leadership (leader.ts): not the leader → skip (another replica runs this cycle);
//   2. one consistent snapshot (snapshot.ts); paused (persisted in site_config) → no action at all;
//   3. per preset: a preset whose last N creations failed is marked `hard_limited` ONCE (conditional update +
//      event + warning), then planned (plan.ts) with that status;
//   4. creations are rationed by the global in-flight cap (`maxInFlightJobs`, default the number of daemons):
//      budget = cap − prebuild jobs already in flight − deletions planned this cycle (deletions are never
//      deferred: they free resources; they only take precedence over creations), shared round-robin over the
//      presets that want some, one at a time, so one big pool cannot take the whole budget. The rest is
//      deferred to later cycles (reported as `deferred`);
//   5. presets run with bounded concurrency; within a preset, actions run in plan order, each delete / the
//      creations / the cancel through the executor, which uses one transaction per action. An error in one
//      action is recorded in the report and the next action (and every other preset) still runs.
// Nothing about failures is kept in memory: backoff and the hard limit come from build history each cycle.
//
// Accepted races: the snapshot can be stale by the time an action runs. A claim may take a prebuild the plan
// wants to delete — the executor's delete re-checks ownership in its transaction (lockUnclaimedPrebuild) and
// reports `false`, counted as `deleteSkipped`. A pool may be briefly over-provisioned if a creation commits
// while a claim happens; the next cycle corrects it (extraneous deletion), as in Coder.
import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import { type Clock, systemClock } from "../../clock.js";
import {
  backoffUntil,
  type DeleteReason,
  defaultPlanSettings,
  type PlanAction,
  type PlanSettings,
  type PresetPlan,
  planPreset,
} from "../../planning/plan.js";
import { silentLogger } from "../logger.js";
import { invalidateTemplatePresets } from "../store/presets.js";
import { channels, type Subscription } from "../store/pubsub.js";
import type { PresetStatus } from "../store/schema.js";
import type { Store } from "../store/store.js";
import { withLeadership } from "./leader.js";
import type { PrebuildMetrics } from "./metrics.js";
import { markPresetHealthy, markPresetUnhealthy, writePaused } from "./queries.js";
import {
  defaultSnapshotSettings,
  type LivePresetSnapshot,
  type ReconcileSnapshot,
  readSnapshot,
  type SnapshotSettings,
} from "./snapshot.js";

/** What the reconciler asks of the workspace/build services. Each method uses its own transaction(s). */
export interface PrebuildExecutor {
  /**
   * Creates `count` prebuilds of the preset on its template's ACTIVE version, each in its own transaction
   * (workspace owned by the prebuilds user + start build with stage CREATE + job). `invalid` = a creation was
   * rejected as invalid (e.g. a ParameterValidationError message): the preset becomes `validation_failed`.
   */
  createPrebuilds(presetId: string, count: number): Promise<{ created: number; invalid?: string }>;
  /**
   * Enqueues a delete build, after `lockUnclaimedPrebuild` (claim.ts) re-checked IN THE SAME transaction that
   * the workspace is still unclaimed. False when it was claimed (or deleted) meanwhile.
   */
  deletePrebuild(workspaceId: string, reason: DeleteReason): Promise<boolean>;
  /** Cancels the preset's pending, unacquired prebuild jobs and removes their workspaces; returns how many. */
  cancelPendingPrebuildJobs(presetId: string): Promise<number>;
}

/** Timer functions, injectable so tests drive the loop with a fake clock instead of sleeping. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => {
    const handle = setTimeout(fn, ms);
    handle.unref?.();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface ReconcilerSettings extends PlanSettings, SnapshotSettings {}

export const defaultReconcilerSettings: ReconcilerSettings = {
  ...defaultPlanSettings,
  ...defaultSnapshotSettings,
};

export interface ReconcilerOptions {
  store: Store;
  executor: PrebuildExecutor;
  /** Global cap on prebuild jobs in flight (default: the number of daemons — the server passes it). */
  maxInFlightJobs: number;
  clock?: Clock;
  timers?: Timers;
  /** Periodic cycle (default 15 s). */
  intervalMs?: number;
  /** A trigger runs a cycle this long after the first of a burst of triggers (default 250 ms). */
  debounceMs?: number;
  /** Presets reconciled at the same time (default 4). */
  concurrency?: number;
  settings?: Partial<ReconcilerSettings>;
  logger?: Logger;
  metrics?: PrebuildMetrics;
  /** Listen for `channels.reconcile` on the store's pub/sub (default true). */
  listen?: boolean;
  /** Called after every cycle with its report (status pages, tests). */
  onCycle?: (report: CycleReport) => void;
}

export type CycleOutcome = "ran" | "paused" | "not_leader" | "failed";

export interface PresetError {
  presetId: string;
  template: string;
  preset: string;
  action: PlanAction["type"] | "hard_limit";
  message: string;
}

export interface CycleReport {
  startedAt: Date;
  durationMs: number;
  outcome: CycleOutcome;
  /** Set when outcome is "failed" (the snapshot or leadership failed; nothing was done). */
  error?: string;
  presets: number;
  queryCount: number;
  created: number;
  deleted: number;
  /** Deletions refused because the prebuild was claimed meanwhile. */
  deleteSkipped: number;
  canceled: number;
  /** Creations wanted but left for later cycles by the in-flight cap. */
  deferred: number;
  /** Preset ids marked hard_limited / validation_failed by this cycle. */
  hardLimited: string[];
  validationFailed: string[];
  errors: PresetError[];
}

function emptyReport(startedAt: Date, outcome: CycleOutcome): CycleReport {
  return {
    startedAt,
    durationMs: 0,
    outcome,
    presets: 0,
    queryCount: 0,
    created: 0,
    deleted: 0,
    deleteSkipped: 0,
    canceled: 0,
    deferred: 0,
    hardLimited: [],
    validationFailed: [],
    errors: [],
  };
}

/** Splits `budget` creations round-robin, one at a time, over the wanted counts (in the given order). */
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

async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

export class Reconciler {
  readonly #store: Store;
  readonly #executor: PrebuildExecutor;
  readonly #clock: Clock;
  readonly #timers: Timers;
  readonly #intervalMs: number;
  readonly #debounceMs: number;
  readonly #concurrency: number;
  readonly #settings: ReconcilerSettings;
  readonly #log: Logger;
  readonly #metrics: PrebuildMetrics | undefined;
  readonly #listen: boolean;
  readonly #onCycle: ((report: CycleReport) => void) | undefined;
  readonly maxInFlightJobs: number;

  #started = false;
  #tickHandle: unknown;
  #debounceHandle: unknown;
  #subscription: Subscription | undefined;
  #busy = false;
  #dirty = false;
  #tail: Promise<unknown> = Promise.resolve();
  #pendingReasons = new Set<string>();
  #lastReport: CycleReport | undefined;

  constructor(options: ReconcilerOptions) {
    this.#store = options.store;
    this.#executor = options.executor;
    this.#clock = options.clock ?? systemClock;
    this.#timers = options.timers ?? realTimers;
    this.#intervalMs = options.intervalMs ?? 15_000;
    this.#debounceMs = options.debounceMs ?? 250;
    this.#concurrency = options.concurrency ?? 4;
    this.#settings = { ...defaultReconcilerSettings, ...options.settings };
    this.#log = (options.logger ?? silentLogger).child({ component: "reconciler" });
    this.#metrics = options.metrics;
    this.#listen = options.listen ?? true;
    this.#onCycle = options.onCycle;
    this.maxInFlightJobs = options.maxInFlightJobs;
  }

  get intervalMs(): number {
    return this.#intervalMs;
  }

  get settings(): Readonly<ReconcilerSettings> {
    return this.#settings;
  }

  /** The last cycle's report (undefined before the first). */
  get lastReport(): CycleReport | undefined {
    return this.#lastReport;
  }

  /** Starts the periodic loop, listens for triggers, and runs a first cycle soon. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    if (this.#listen) {
      this.#subscription = this.#store.pubsub.subscribe(channels.reconcile, (reason) =>
        this.trigger(reason || "pubsub"),
      );
    }
    this.#armTick();
    this.trigger("start");
  }

  /**
   * Resolves once the trigger subscription is active (at once when not listening or not started); rejects when
   * it could not be set up.
   */
  whenListening(): Promise<void> {
    return this.#subscription?.ready ?? Promise.resolve();
  }

  /** Stops the loop and waits for a cycle in progress. */
  async stop(): Promise<void> {
    this.#started = false;
    this.#subscription?.();
    this.#subscription = undefined;
    if (this.#tickHandle !== undefined) this.#timers.clearTimeout(this.#tickHandle);
    if (this.#debounceHandle !== undefined) this.#timers.clearTimeout(this.#debounceHandle);
    this.#tickHandle = this.#debounceHandle = undefined;
    await this.#tail.catch(() => {});
  }

  /**
   * Asks for a cycle soon: the first trigger of a burst arms a `debounceMs` timer, later ones join it. A trigger
   * while a cycle runs makes another cycle follow it (the running one may have read state from before the event).
   */
  trigger(reason: string): void {
    if (!this.#started) return;
    this.#pendingReasons.add(reason);
    if (this.#busy) {
      this.#dirty = true;
      return;
    }
    if (this.#debounceHandle !== undefined) return;
    this.#debounceHandle = this.#timers.setTimeout(() => {
      this.#debounceHandle = undefined;
      void this.#runFromTimer();
    }, this.#debounceMs);
  }

  #armTick(): void {
    if (!this.#started) return;
    this.#tickHandle = this.#timers.setTimeout(() => {
      this.#tickHandle = undefined;
      this.#pendingReasons.add("interval");
      void this.#runFromTimer().finally(() => this.#armTick());
    }, this.#intervalMs);
  }

  async #runFromTimer(): Promise<void> {
    if (!this.#started) return;
    if (this.#busy) {
      this.#dirty = true;
      return;
    }
    await this.runCycle().catch(() => {});
  }

  /** Resolves when no cycle is running or queued (a timer may still start one later). */
  async whenIdle(): Promise<void> {
    let tail: Promise<unknown>;
    do {
      tail = this.#tail;
      await tail;
    } while (tail !== this.#tail);
  }

  /** Runs one cycle now (after any cycle in progress). Never rejects: failures are in the report. */
  runCycle(): Promise<CycleReport> {
    const run = this.#tail.then(async () => {
      this.#busy = true;
      const reasons = [...this.#pendingReasons];
      this.#pendingReasons.clear();
      try {
        return await this.#cycle(reasons);
      } finally {
        this.#busy = false;
        // Triggers that arrived during this cycle (run from a timer or called directly) get a cycle of their own.
        if (this.#dirty && this.#started) {
          this.#dirty = false;
          this.trigger("coalesced");
        }
      }
    });
    this.#tail = run.catch(() => {});
    return run;
  }

  async #cycle(reasons: string[]): Promise<CycleReport> {
    const startedAt = this.#clock.now();
    const t0 = performance.now();
    let report: CycleReport;
    try {
      const led = await withLeadership(this.#store, async (reader) => {
        const snapshot = await readSnapshot(this.#store, startedAt, this.#settings, { tx: reader });
        return this.#reconcile(snapshot);
      });
      report = led.leader ? led.value : emptyReport(startedAt, "not_leader");
    } catch (err) {
      report = { ...emptyReport(startedAt, "failed"), error: `reconcile: ${message(err)}` };
      this.#log.error({ err: message(err) }, "reconciliation cycle failed");
    }
    report.durationMs = performance.now() - t0;
    if (report.outcome !== "not_leader") this.#metrics?.observeReconciliation(report.durationMs / 1000);
    this.#lastReport = report;
    try {
      this.#onCycle?.(report);
    } catch {
      // An observer's failure is its own business.
    }
    const changed =
      report.created +
      report.deleted +
      report.canceled +
      report.hardLimited.length +
      report.validationFailed.length;
    if (changed > 0 || report.errors.length > 0) {
      this.#log.info(
        {
          reasons,
          created: report.created,
          deleted: report.deleted,
          canceled: report.canceled,
          deferred: report.deferred,
          errors: report.errors.length,
          durationMs: Math.round(report.durationMs),
        },
        "reconciled prebuilds",
      );
    }
    return report;
  }

  async #reconcile(snapshot: ReconcileSnapshot): Promise<CycleReport> {
    const report = emptyReport(snapshot.now, snapshot.paused ? "paused" : "ran");
    report.presets = snapshot.presets.length;
    report.queryCount = snapshot.queryCount;
    if (snapshot.paused) {
      this.#metrics?.recordSnapshot({ ...snapshot, plans: planAllLive(snapshot, this.#settings) });
      return report;
    }
    const now = snapshot.now;

    const planned: { preset: LivePresetSnapshot; plan: PresetPlan }[] = [];
    for (const original of snapshot.presets) {
      let preset = original;
      if (preset.active && preset.hardLimitReached && preset.status === "healthy") {
        preset = { ...preset, status: "hard_limited" };
        try {
          const changed = await this.#store.transaction((tx) =>
            markPresetUnhealthy(tx, preset.id, "hard_limited", now.getTime()),
          );
          if (changed) {
            report.hardLimited.push(preset.id);
            this.#log.warn(
              { template: preset.templateName, preset: preset.presetName, limit: this.#settings.hardLimit },
              "preset hard-limited: its last prebuild builds all failed; no more prebuilds until a new template version or `prewarm prebuilds resume-preset`",
            );
          }
        } catch (err) {
          report.errors.push(this.#presetError(preset, "hard_limit", err));
        }
      }
      planned.push({ preset, plan: planPreset(preset, now, this.#settings) });
    }
    this.#metrics?.recordSnapshot({
      ...snapshot,
      presets: planned.map((p) => p.preset),
      plans: planned.map((p) => p.plan),
    });

    const wanted = new Map<string, number>();
    let deletions = 0;
    for (const { plan } of planned) {
      for (const action of plan.actions) {
        if (action.type === "create") wanted.set(plan.id, action.count);
        if (action.type === "delete") deletions += action.ids.length;
      }
    }
    const budget = this.maxInFlightJobs - snapshot.inFlightPrebuildJobs - deletions;
    const granted = rationCreations(wanted, budget);

    const work = planned.filter((p) => p.plan.actions.length > 0);
    await eachLimited(work, this.#concurrency, (item) =>
      this.#execute(item.preset, item.plan, granted, report),
    );
    return report;
  }

  async #execute(
    preset: LivePresetSnapshot,
    plan: PresetPlan,
    granted: ReadonlyMap<string, number>,
    report: CycleReport,
  ): Promise<void> {
    for (const action of plan.actions) {
      try {
        switch (action.type) {
          case "delete":
            for (const id of action.ids) {
              try {
                if (await this.#executor.deletePrebuild(id, action.reason)) report.deleted++;
                else report.deleteSkipped++;
              } catch (err) {
                report.errors.push(
                  this.#presetError(preset, "delete", err, `delete prebuild ${id} (${action.reason})`),
                );
              }
            }
            break;
          case "cancel_pending":
            report.canceled += await this.#executor.cancelPendingPrebuildJobs(preset.id);
            break;
          case "create": {
            const count = granted.get(preset.id) ?? 0;
            report.deferred += action.count - count;
            if (count === 0) break;
            const result = await this.#executor.createPrebuilds(preset.id, count);
            report.created += result.created;
            if (result.invalid !== undefined) await this.#validationFailed(preset, result.invalid, report);
            break;
          }
          case "backoff":
            this.#log.debug(
              { template: preset.templateName, preset: preset.presetName, until: action.until },
              "prebuild creation backing off",
            );
            break;
          case "blocked":
            break;
          default:
            action satisfies never;
        }
      } catch (err) {
        report.errors.push(this.#presetError(preset, action.type, err));
      }
    }
  }

  async #validationFailed(preset: LivePresetSnapshot, reason: string, report: CycleReport): Promise<void> {
    const changed = await this.#store.transaction((tx) =>
      markPresetUnhealthy(tx, preset.id, "validation_failed", this.#clock.now().getTime()),
    );
    if (!changed) return;
    report.validationFailed.push(preset.id);
    this.#log.warn(
      { template: preset.templateName, preset: preset.presetName, reason },
      "preset's prebuilds are invalid; no more prebuilds until a new template version or `prewarm prebuilds resume-preset`",
    );
  }

  #presetError(
    preset: LivePresetSnapshot,
    action: PresetError["action"],
    err: unknown,
    what?: string,
  ): PresetError {
    const text = `${what ?? action} for preset "${preset.presetName}" of template "${preset.templateName}": ${message(err)}`;
    this.#log.error({ template: preset.templateName, preset: preset.presetName, action }, text);
    return {
      presetId: preset.id,
      template: preset.templateName,
      preset: preset.presetName,
      action,
      message: text,
    };
  }
}

function planAllLive(snapshot: ReconcileSnapshot, settings: PlanSettings): PresetPlan[] {
  return snapshot.presets.map((p) => planPreset(p, snapshot.now, settings));
}

// ---- operations (API / CLI) ----------------------------------------------------------------------------

/** Asks every replica's reconciler for a cycle soon (after a claim, a finished prebuild build, an activation). */
export async function requestReconcile(store: Store, reason: string): Promise<void> {
  try {
    await store.pubsub.publish(channels.reconcile, reason);
  } catch {
    // Best effort: the periodic cycle catches up.
  }
}

/** Persists the pause switch. While paused no cycle acts (claims keep working). */
export async function setPaused(store: Store, paused: boolean): Promise<void> {
  await writePaused(store.db, paused);
  if (!paused) await requestReconcile(store, "resumed");
}

/** hard_limited / validation_failed → healthy. Returns the previous status (undefined: no such preset). */
export async function resumePreset(store: Store, presetId: string): Promise<PresetStatus | undefined> {
  const before = await store.transaction((tx) => markPresetHealthy(tx, presetId));
  if (before !== undefined && before !== "healthy") await requestReconcile(store, "preset resumed");
  return before;
}

/** Sets last_invalidated_at = now on the prebuild presets of the template's active version. */
export async function invalidatePresets(
  store: Store,
  templateId: string,
  now: Date,
): Promise<{ presetId: string; presetName: string; versionId: string }[]> {
  const touched = await store.transaction((tx) => invalidateTemplatePresets(tx, templateId, now));
  if (touched.length > 0) await requestReconcile(store, "invalidated");
  return touched;
}

export interface LivePresetPlan extends PresetPlan {
  template: string;
  templateVersion: string;
  preset: string;
}

/** The next cycle's plan for every preset, with names (for `prewarm prebuilds plan` and the dashboard). */
export async function livePlan(
  store: Store,
  now: Date,
  settings: ReconcilerSettings = defaultReconcilerSettings,
): Promise<LivePresetPlan[]> {
  const snapshot = await readSnapshot(store, now, settings);
  return snapshot.presets.map((p) => ({
    ...planPreset(
      p.hardLimitReached && p.active && p.status === "healthy" ? { ...p, status: "hard_limited" } : p,
      now,
      settings,
    ),
    template: p.templateName,
    templateVersion: p.versionName,
    preset: p.presetName,
  }));
}

export interface PresetPoolStatus {
  presetId: string;
  template: string;
  templateVersion: string;
  preset: string;
  active: boolean;
  status: PresetStatus;
  desiredInstances: number | null;
  ttlSeconds: number | null;
  prebuilds: { desired: number; running: number; eligible: number; expired: number; starting: number };
  backoffUntil: Date | null;
}

export interface ReconcilerDbStatus {
  paused: boolean;
  inFlightJobs: number;
  presets: PresetPoolStatus[];
}

/** The persisted side of `prewarm prebuilds status`: pause switch, in-flight jobs, every preset's pool. */
export async function reconcilerStatus(
  store: Store,
  now: Date,
  settings: ReconcilerSettings = defaultReconcilerSettings,
): Promise<ReconcilerDbStatus> {
  const snapshot = await readSnapshot(store, now, settings);
  return {
    paused: snapshot.paused,
    inFlightJobs: snapshot.inFlightPrebuildJobs,
    presets: snapshot.presets.map((p) => {
      const { state } = planPreset(p, now, settings);
      return {
        presetId: p.id,
        template: p.templateName,
        templateVersion: p.versionName,
        preset: p.presetName,
        active: p.active,
        status: p.status,
        desiredInstances: p.declaredInstances,
        ttlSeconds: p.ttlSeconds,
        prebuilds: {
          desired: state.desired,
          running: state.running,
          eligible: state.eligible,
          expired: state.expired,
          starting: state.starting,
        },
        backoffUntil: p.active ? backoffUntil(p.backoff, now, settings) : null,
      };
    }),
  };
}
