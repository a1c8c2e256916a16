// The prebuild reconciler (ARCHITECTURE §5): the loop that runs cycles, and the executor switch that carries a
// cycle's plan out. What a cycle decides is computed elsewhere, purely: status.ts reads one snapshot and plans
// it with src/planning/cycle.ts; the views read the same plan.
//
// One cycle:
//   1. leadership (leader.ts): not the leader → skip (another replica runs this cycle);
//   2. one consistent snapshot planned into a CyclePlan (status.ts); the metrics record it, paused or not;
//   3. paused (persisted in site_config) → nothing is executed;
//   4. presets run with bounded concurrency; within a preset, actions run in plan order through the executor,
//      one transaction per action. An error in one action is recorded in the report and the next action (and
//      every other preset) still runs.
// Nothing about failures is kept in memory: backoff and the hard limit come from build history each cycle.
//
// The loop's modes (`#mode`), every transition guarded in `#enter`:
//
//   stopped ──start()──▶ idle ──trigger──▶ debouncing ──debounce timer──▶ running
//   idle | debouncing ──tick, runCycle()──▶ running       (a pending debounce is dropped: this cycle covers it)
//   running ──trigger, tick──▶ running (again)            (the cycle may have read state from before the event)
//   running ──cycle ends──▶ again ? debouncing : idle
//   any ──stop()──▶ stopped                              (a running cycle finishes; nothing follows it)
//
// The periodic tick is armed independently while started. `runCycle()` also works while stopped (tests, the
// first cycle of a one-shot command): it runs one cycle and leaves the mode alone. Cycles never overlap: each
// waits for the previous one (`#tail`).
//
// Accepted races: the snapshot can be stale by the time an action runs. A claim may take a prebuild the plan
// wants to delete — the executor's delete re-checks ownership in its transaction (lockUnclaimedPrebuild) and
// reports `false`, counted as `deleteSkipped`. A pool may be briefly over-provisioned if a creation commits
// while a claim happens; the next cycle corrects it (extraneous deletion), as in Coder.
import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import { type Clock, systemClock, type TimerHandle } from "../../clock.js";
import type { CycleAction } from "../../planning/cycle.js";
import type { DeleteReason } from "../../planning/plan.js";
import { silentLogger } from "../logger.js";
import { type OutageLog, outageLog } from "../outage-log.js";
import { channels, type Subscription } from "../store/pubsub.js";
import type { Store } from "../store/store.js";
import { withLeadership } from "./leader.js";
import type { PrebuildMetrics } from "./metrics.js";
import { markPresetUnhealthy } from "./queries.js";
import { defaultReconcilerSettings, type ReconcilerSettings } from "./settings.js";
import { SnapshotReader } from "./snapshot-reader.js";
import { type LiveCyclePlan, type LivePresetPlan, type PlanConfig, readCyclePlan } from "./status.js";

/**
 * The line an operator should see when the reconciler's state changes between two cycles (undefined: no
 * change worth a line). The first cycle says so only when it does not simply run: a paused or standby start.
 * A failing cycle logs its own error every time; its recovery is the change logged here.
 */
export function stateChange(previous: CycleOutcome | undefined, next: CycleOutcome): string | undefined {
  if (previous === next || next === "failed") return undefined;
  if (next === "paused") return "reconciler paused: prebuilds are planned but nothing is created or deleted";
  if (next === "not_leader") return "reconciler on standby: another replica holds the reconciliation lock";
  if (previous === undefined) return undefined;
  if (previous === "paused") return "reconciler resumed";
  if (previous === "not_leader") return "reconciler took over: this replica now reconciles";
  return "reconciliation recovered";
}

/** What the reconciler asks of the workspace/build services. Each method uses its own transaction(s). */
export interface PrebuildExecutor {
  /**
   * Creates `count` prebuilds of the preset on its template's ACTIVE version, each in its own transaction
   * (workspace owned by the prebuilds user + start build with stage CREATE + job). `invalid` = a creation was
   * rejected as invalid (a parameter validation error): the preset becomes `validation_failed`.
   */
  createPrebuilds(presetId: string, count: number): Promise<{ created: number; invalid?: string }>;
  /**
   * Enqueues a delete build, after `lockUnclaimedPrebuild` (claim.ts) re-checked IN THE SAME transaction that
   * the workspace is still unclaimed. False when it was claimed (or deleted) meanwhile.
   */
  deletePrebuild(workspaceId: string, reason: DeleteReason): Promise<boolean>;
  /** Cancels the preset's pending, unacquired prebuild jobs and removes their workspaces; returns how many. */
  cancelPendingPrebuildJobs(presetId: string): Promise<number>;
  /** Enqueues the preset's claim rehearsal of this prebuild (once per preset); false when it already has one. */
  rehearseClaim(presetId: string, prebuildId: string): Promise<boolean>;
}

export interface ReconcilerOptions {
  store: Store;
  executor: PrebuildExecutor;
  /** Cap on prebuild jobs pending or running; null: two per active daemon (status.ts autoInFlightCap). */
  maxInFlightJobs: number | null;
  /** Server-wide ceilings on prebuilds in existence and on their idle cost per day (default: none). */
  maxPrebuilds?: number | null;
  maxIdleCostPerDay?: number | null;
  /** Time and timers (tests pass a fake clock and advance it instead of sleeping). */
  clock?: Clock;
  /** Periodic cycle (default 15 s). */
  intervalMs?: number;
  /**
   * A trigger runs a cycle this long after the first of a burst of triggers. Default 0: at the next turn of the
   * event loop, so a finished build, a claim or a new version starts the next creations at once, and triggers
   * of one burst (or arriving while a cycle runs) still make one cycle.
   */
  debounceMs?: number;
  /**
   * The cycle reads only the templates that changed since the previous one (snapshot-reader.ts) and reads every
   * template at least this often (default 60 s).
   */
  fullSnapshotEveryMs?: number;
  /** Presets reconciled at the same time (default 4). */
  concurrency?: number;
  settings?: Partial<ReconcilerSettings>;
  logger?: Logger;
  metrics?: PrebuildMetrics;
  /** Listen for `channels.reconcile` on the store's pub/sub (default true). */
  listen?: boolean;
  /** Called after every cycle with its report (pool history, tests). */
  onCycle?: (report: CycleReport) => void;
}

export type CycleOutcome = "ran" | "paused" | "not_leader" | "failed";

export interface PresetError {
  presetId: string;
  template: string;
  preset: string;
  action: CycleAction["type"];
  message: string;
}

export interface CycleReport {
  startedAt: Date;
  durationMs: number;
  outcome: CycleOutcome;
  /** Set when outcome is "failed" (the snapshot or leadership failed; nothing was done). */
  error?: string;
  /** The plan this cycle made (and, unless paused, executed); absent when it did not plan (not the leader, failed). */
  plan?: LiveCyclePlan;
  presets: number;
  queryCount: number;
  created: number;
  deleted: number;
  /** Deletions refused because the prebuild was claimed meanwhile. */
  deleteSkipped: number;
  canceled: number;
  /** Claim rehearsals started. */
  rehearsals: number;
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
    rehearsals: 0,
    deferred: 0,
    hardLimited: [],
    validationFailed: [],
    errors: [],
  };
}

type LoopMode =
  | { name: "stopped" }
  | { name: "idle" }
  | { name: "debouncing"; timer: TimerHandle }
  | { name: "running"; again: boolean };

const ALLOWED: Record<LoopMode["name"], readonly LoopMode["name"][]> = {
  stopped: ["idle"],
  idle: ["debouncing", "running", "stopped"],
  debouncing: ["running", "stopped"],
  running: ["running", "idle", "debouncing", "stopped"],
};

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

/** The loop's timers never keep the process alive: the server's listener does. */
const BACKGROUND = { ref: false } as const;

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

export class Reconciler {
  readonly #store: Store;
  readonly #executor: PrebuildExecutor;
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #debounceMs: number;
  readonly #concurrency: number;
  readonly #config: PlanConfig;
  readonly #log: Logger;
  readonly #metrics: PrebuildMetrics | undefined;
  readonly #listen: boolean;
  readonly #onCycle: ((report: CycleReport) => void) | undefined;
  readonly #outage: OutageLog;
  readonly #snapshots: SnapshotReader;

  #mode: LoopMode = { name: "stopped" };
  #tickHandle: TimerHandle | undefined;
  #subscription: Subscription | undefined;
  #tail: Promise<unknown> = Promise.resolve();
  #pendingReasons = new Set<string>();
  #lastReport: CycleReport | undefined;
  /** The fair-share cursor (src/planning/fair-share.ts): one step per executed cycle. */
  #rotation = 0;
  /** When the loop last showed it turns: started, or a cycle ended (whatever its outcome). */
  #lastSignOfLife: Date | undefined;

  constructor(options: ReconcilerOptions) {
    this.#store = options.store;
    this.#executor = options.executor;
    this.#clock = options.clock ?? systemClock;
    this.#intervalMs = options.intervalMs ?? 15_000;
    this.#debounceMs = options.debounceMs ?? 0;
    this.#concurrency = options.concurrency ?? 4;
    this.#config = {
      settings: { ...defaultReconcilerSettings, ...options.settings },
      maxInFlightJobs: options.maxInFlightJobs,
      maxPrebuilds: options.maxPrebuilds ?? null,
      maxIdleCostPerDay: options.maxIdleCostPerDay ?? null,
    };
    this.#log = (options.logger ?? silentLogger).child({ component: "reconciler" });
    this.#metrics = options.metrics;
    this.#listen = options.listen ?? true;
    this.#onCycle = options.onCycle;
    this.#outage = outageLog(this.#log, "reconciler");
    this.#snapshots = new SnapshotReader(this.#store, { fullEveryMs: options.fullSnapshotEveryMs });
  }

  get intervalMs(): number {
    return this.#intervalMs;
  }

  get settings(): Readonly<ReconcilerSettings> {
    return this.#config.settings;
  }

  /** What status.ts needs to plan a cycle exactly as this reconciler's next cycle would. */
  get planConfig(): PlanConfig {
    return { ...this.#config, rotation: this.#rotation };
  }

  /** The last cycle's report (undefined before the first). */
  get lastReport(): CycleReport | undefined {
    return this.#lastReport;
  }

  /**
   * Whether the loop is alive (for /readyz): started, and a cycle ended within three intervals (at least a
   * minute, so one slow cycle is not an outage). Paused and non-leader cycles end too, so they count.
   */
  liveness(): { ok: true } | { ok: false; message: string } {
    if (this.#mode.name === "stopped" || !this.#lastSignOfLife) {
      return { ok: false, message: "the reconciler loop is not running" };
    }
    const quietMs = this.#clock.now().getTime() - this.#lastSignOfLife.getTime();
    const limitMs = Math.max(3 * this.#intervalMs, 60_000);
    if (quietMs > limitMs) {
      return {
        ok: false,
        message: `no reconciliation cycle ended for ${Math.round(quietMs / 1000)}s (limit ${limitMs / 1000}s)`,
      };
    }
    return { ok: true };
  }

  #enter(next: LoopMode): void {
    if (!ALLOWED[this.#mode.name].includes(next.name)) {
      throw new Error(`reconciler: invalid loop transition ${this.#mode.name} → ${next.name}`);
    }
    this.#mode = next;
  }

  /** Starts the periodic loop, listens for triggers, and runs a first cycle soon. */
  start(): void {
    if (this.#mode.name !== "stopped") return;
    this.#enter({ name: "idle" });
    this.#lastSignOfLife = this.#clock.now();
    if (this.#listen) {
      this.#subscription = this.#store.pubsub.subscribe(channels.reconcile, (reason) =>
        this.trigger(reason || "pubsub"),
      );
    }
    this.#armTick();
    this.#log.info({ intervalMs: this.#intervalMs }, "reconciler started");
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
    const wasStarted = this.#mode.name !== "stopped";
    if (this.#mode.name === "debouncing") this.#clock.clearTimeout(this.#mode.timer);
    if (wasStarted) this.#enter({ name: "stopped" });
    this.#subscription?.();
    this.#subscription = undefined;
    if (this.#tickHandle !== undefined) this.#clock.clearTimeout(this.#tickHandle);
    this.#tickHandle = undefined;
    await this.#tail.catch(() => {});
    if (wasStarted) this.#log.info("reconciler stopped");
  }

  /**
   * Asks for a cycle soon: the first trigger of a burst arms a `debounceMs` timer, later ones join it. A trigger
   * while a cycle runs makes another cycle follow it.
   */
  trigger(reason: string): void {
    const mode = this.#mode;
    if (mode.name === "stopped") return;
    this.#pendingReasons.add(reason);
    if (mode.name === "running") this.#enter({ name: "running", again: true });
    else if (mode.name === "idle") this.#debounce();
  }

  #debounce(): void {
    const timer = this.#clock.setTimeout(
      () => {
        if (this.#mode.name === "debouncing") void this.runCycle();
      },
      this.#debounceMs,
      BACKGROUND,
    );
    this.#enter({ name: "debouncing", timer });
  }

  #armTick(): void {
    if (this.#mode.name === "stopped") return;
    this.#tickHandle = this.#clock.setTimeout(
      () => {
        this.#tickHandle = undefined;
        this.#pendingReasons.add("interval");
        const mode = this.#mode;
        const done = mode.name === "running" ? Promise.resolve(this.trigger("interval")) : this.runCycle();
        void done.finally(() => this.#armTick());
      },
      this.#intervalMs,
      BACKGROUND,
    );
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
      const looping = this.#mode.name !== "stopped";
      if (looping) {
        if (this.#mode.name === "debouncing") this.#clock.clearTimeout(this.#mode.timer);
        this.#enter({ name: "running", again: false });
      }
      const reasons = [...this.#pendingReasons];
      this.#pendingReasons.clear();
      try {
        return await this.#cycle(reasons);
      } finally {
        const mode = this.#mode;
        // Triggers that arrived during this cycle get a cycle of their own.
        if (mode.name === "running") {
          if (mode.again) {
            this.#pendingReasons.add("coalesced");
            this.#debounce();
          } else this.#enter({ name: "idle" });
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
        const plan = await readCyclePlan(this.#store, startedAt, this.planConfig, reader, this.#snapshots);
        this.#metrics?.recordPlan(plan);
        const result = emptyReport(startedAt, plan.paused ? "paused" : "ran");
        result.plan = plan;
        result.presets = plan.presets.length;
        result.queryCount = plan.queryCount;
        if (!plan.paused) {
          this.#rotation++;
          await this.#execute(plan, result);
        }
        return result;
      });
      report = led.leader ? led.value : emptyReport(startedAt, "not_leader");
    } catch (err) {
      report = { ...emptyReport(startedAt, "failed"), error: `reconcile: ${message(err)}` };
      this.#outage.failed(err, "reconciliation cycle failed");
    }
    if (report.outcome !== "failed") this.#outage.succeeded();
    report.durationMs = performance.now() - t0;
    if (report.outcome !== "not_leader") this.#metrics?.observeReconciliation(report.durationMs / 1000);
    const change = stateChange(this.#lastReport?.outcome, report.outcome);
    if (change) this.#log.info({ state: report.outcome }, change);
    this.#lastReport = report;
    this.#lastSignOfLife = this.#clock.now();
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

  async #execute(plan: LiveCyclePlan, report: CycleReport): Promise<void> {
    report.deferred = plan.totals.deferred;
    const work = plan.presets.filter((p) => p.actions.length > 0);
    await eachLimited(work, this.#concurrency, async (preset) => {
      for (const action of preset.actions) {
        try {
          await this.#run(preset, action, plan.now, report);
        } catch (err) {
          report.errors.push(this.#presetError(preset, action.type, err));
        }
      }
    });
  }

  /** The executor switch: one action of one preset. */
  async #run(plan: LivePresetPlan, action: CycleAction, now: Date, report: CycleReport): Promise<void> {
    const { preset } = plan;
    switch (action.type) {
      case "rehearse_claim":
        if (await this.#executor.rehearseClaim(preset.id, action.prebuildId)) report.rehearsals++;
        return;
      case "set_status":
        if (
          await this.#store.transaction((tx) =>
            markPresetUnhealthy(tx, preset.id, action.status, now.getTime()),
          )
        ) {
          report.hardLimited.push(preset.id);
          this.#log.warn(
            {
              template: preset.templateName,
              preset: preset.presetName,
              limit: this.#config.settings.hardLimit,
            },
            "preset hard-limited: its last prebuild builds all failed; no more prebuilds until a new template version or `prewarm prebuilds resume-preset`",
          );
        }
        return;
      case "delete":
        for (const id of action.ids) {
          try {
            if (await this.#executor.deletePrebuild(id, action.reason)) report.deleted++;
            else report.deleteSkipped++;
          } catch (err) {
            report.errors.push(
              this.#presetError(plan, "delete", err, `delete prebuild ${id} (${action.reason})`),
            );
          }
        }
        return;
      case "cancel_pending":
        report.canceled += await this.#executor.cancelPendingPrebuildJobs(preset.id);
        return;
      case "create": {
        if (action.count === 0) return;
        const result = await this.#executor.createPrebuilds(preset.id, action.count);
        report.created += result.created;
        if (result.invalid !== undefined) await this.#validationFailed(plan, result.invalid, report);
        return;
      }
      case "backoff":
        this.#log.debug(
          { template: preset.templateName, preset: preset.presetName, until: action.until },
          "prebuild creation backing off",
        );
        return;
      case "blocked":
        return;
      default:
        action satisfies never;
    }
  }

  async #validationFailed(plan: LivePresetPlan, reason: string, report: CycleReport): Promise<void> {
    const { preset } = plan;
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
    plan: LivePresetPlan,
    action: PresetError["action"],
    err: unknown,
    what?: string,
  ): PresetError {
    const { preset } = plan;
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
