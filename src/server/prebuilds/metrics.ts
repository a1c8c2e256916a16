// Prebuild metrics (ARCHITECTURE §6), Coder's names with the `prewarm_` prefix. Per-preset series carry
// `template_name` and `preset_name`.
//
// Where each number comes from:
// - counters (`…_created_total`, `…_failed_total`, `…_claimed_total`, `prewarm_prebuilt_workspace_claims_total`
//   {result="hit"|"miss"}) are COUNTED IN THE DATABASE at scrape time (cached for `counterRefreshMs`): prebuild
//   workspaces whose first build was a prebuild creation, those whose first build failed, those now owned by
//   someone else, and the claim_succeeded / claim_missed prebuild events (with those retention deleted, kept as
//   counts in prebuild_event_totals); and the idle counters
//   `prewarm_prebuilds_idle_seconds_total` / `prewarm_prebuilds_idle_cost_total` (issue 13: the time prebuilds
//   waited unclaimed and its cost by their resources' `daily_cost`, idle-cost.ts). So every replica reports the
//   same values and a restart loses nothing.
// - gauges (`…_desired`, `…_running`, `…_eligible`, `…_preset_hard_limited`, `…_preset_validation_failed`,
//   `prewarm_prebuilds_reconciliation_paused`, `prewarm_prebuilds_in_flight_jobs`) are set from the latest cycle
//   plan this process made as the leader (paused or not: the same CyclePlan the reconciler executes, so the
//   effective status counts); a replica that never led reports none. Per-preset gauges exist for active presets
//   only; `running` includes expired prebuilds (as in Coder).
// - histograms are PROCESS-LOCAL observations: `prewarm_prebuilds_reconciliation_duration_seconds` (one per
//   cycle this process ran), `prewarm_prebuilt_workspace_claim_duration_seconds` (Coder's meaning: the claim
//   build's duration, from its creation — the claim — to its job's successful completion, observed where the
//   daemon's completion lands) and `prewarm_prebuilt_workspace_claim_to_ready_seconds` (from the claim to the
//   workspace being usable — agents ready, or the claim build done for agent-less templates — what the person
//   waited for; observed where that moment is recorded, workspaces/usable.ts).
// - `prewarm_prebuilt_workspaces_resource_replacements_total` counts claim builds whose plan replaced
//   anything (Coder's name and counting: +1 per such claim), from the `replacement` prebuild events.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { Clock } from "../../clock.js";
import { systemClock } from "../../clock.js";
import type { Store } from "../store/store.js";
import { readIdleCosts } from "./idle-cost.js";
import { selectClaimEventCounts, selectPrebuildCounters } from "./queries.js";
import type { LiveCyclePlan } from "./status.js";

const PRESET_LABELS = ["template_name", "preset_name"] as const;
type PresetLabels = Record<(typeof PRESET_LABELS)[number], string>;

export interface PrebuildMetricsOptions {
  /** Where the counters are counted; without it the counters stay at zero. */
  store?: Store;
  /** How long counted values are reused between scrapes (default 10 s). */
  counterRefreshMs?: number;
  clock?: Clock;
}

export interface PresetNames {
  templateName: string;
  presetName: string;
}

const labelsOf = (p: PresetNames): PresetLabels => ({
  template_name: p.templateName,
  preset_name: p.presetName,
});

export class PrebuildMetrics {
  readonly created: Counter<string>;
  readonly failed: Counter<string>;
  readonly claimed: Counter<string>;
  readonly claims: Counter<string>;
  readonly idleSeconds: Counter<string>;
  readonly idleCost: Counter<string>;
  readonly desired: Gauge<string>;
  readonly running: Gauge<string>;
  readonly eligible: Gauge<string>;
  readonly hardLimited: Gauge<string>;
  readonly validationFailed: Gauge<string>;
  readonly paused: Gauge<string>;
  readonly inFlightJobs: Gauge<string>;
  readonly reconciliationDuration: Histogram<string>;
  readonly claimDuration: Histogram<string>;
  readonly claimToReady: Histogram<string>;
  readonly replacements: Counter<string>;

  readonly #store: Store | undefined;
  readonly #refreshMs: number;
  readonly #clock: Clock;
  #refreshedAt = Number.NEGATIVE_INFINITY;
  #refreshing: Promise<void> | undefined;

  constructor(registry: Registry, options: PrebuildMetricsOptions = {}) {
    this.#store = options.store;
    this.#refreshMs = options.counterRefreshMs ?? 10_000;
    this.#clock = options.clock ?? systemClock;
    const refresh = () => this.refreshCountersIfStale();
    const counter = (name: string, help: string, labelNames: readonly string[] = PRESET_LABELS) =>
      new Counter({ name, help, labelNames, registers: [registry], collect: refresh });
    const gauge = (name: string, help: string, labelNames: readonly string[] = PRESET_LABELS) =>
      new Gauge({ name, help, labelNames, registers: [registry] });

    this.created = counter(
      "prewarm_prebuilt_workspaces_created_total",
      "Prebuilt workspaces created (counted in the database).",
    );
    this.failed = counter(
      "prewarm_prebuilt_workspaces_failed_total",
      "Prebuilt workspaces whose creation build failed.",
    );
    this.claimed = counter(
      "prewarm_prebuilt_workspaces_claimed_total",
      "Prebuilt workspaces handed to a user.",
    );
    this.claims = counter(
      "prewarm_prebuilt_workspace_claims_total",
      'Workspace creations that resolved to a preset: result="hit" claimed a prebuild, "miss" built from scratch.',
      [...PRESET_LABELS, "result"],
    );
    this.idleSeconds = counter(
      "prewarm_prebuilds_idle_seconds_total",
      "Seconds prebuilds spent waiting unclaimed (counted in the database).",
    );
    this.idleCost = counter(
      "prewarm_prebuilds_idle_cost_total",
      "What that idle time cost, by the prebuilds' resources' daily_cost (per day, prorated).",
    );
    this.desired = gauge(
      "prewarm_prebuilt_workspaces_desired",
      "Desired pool size of each active preset now.",
    );
    this.running = gauge(
      "prewarm_prebuilt_workspaces_running",
      "Running prebuilds of each active preset, expired ones included.",
    );
    this.eligible = gauge(
      "prewarm_prebuilt_workspaces_eligible",
      "Ready, non-expired prebuilds a claim can take now.",
    );
    this.hardLimited = gauge(
      "prewarm_prebuilt_workspaces_preset_hard_limited",
      "1 when the active preset is hard-limited after repeated failures.",
    );
    this.validationFailed = gauge(
      "prewarm_prebuilt_workspaces_preset_validation_failed",
      "1 when the active preset's prebuilds are rejected as invalid.",
    );
    this.paused = gauge("prewarm_prebuilds_reconciliation_paused", "1 while the reconciler is paused.", []);
    this.inFlightJobs = gauge("prewarm_prebuilds_in_flight_jobs", "Prebuild jobs pending or running.", []);
    this.reconciliationDuration = new Histogram({
      name: "prewarm_prebuilds_reconciliation_duration_seconds",
      help: "Duration of each reconciliation cycle run by this process.",
      registers: [registry],
    });
    this.claimDuration = new Histogram({
      name: "prewarm_prebuilt_workspace_claim_duration_seconds",
      help: "Duration of the claim build of a claimed prebuild (its creation at the claim to its job's completion).",
      labelNames: PRESET_LABELS,
      buckets: [1, 5, 10, 20, 30, 60, 120, 180, 240, 300],
      registers: [registry],
    });
    this.claimToReady = new Histogram({
      name: "prewarm_prebuilt_workspace_claim_to_ready_seconds",
      help: "From the claim (the create request) to the claimed workspace being usable (agents ready).",
      labelNames: PRESET_LABELS,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300],
      registers: [registry],
    });
    this.replacements = counter(
      "prewarm_prebuilt_workspaces_resource_replacements_total",
      "Claim builds whose plan replaced resources (the claim rebuilt infrastructure instead of handing it over).",
    );
  }

  /** Sets the gauges from a cycle plan. */
  recordPlan(plan: LiveCyclePlan): void {
    for (const g of [this.desired, this.running, this.eligible, this.hardLimited, this.validationFailed])
      g.reset();
    this.paused.set(plan.paused ? 1 : 0);
    this.inFlightJobs.set(plan.inFlight);
    for (const p of plan.presets) {
      if (!p.preset.active) continue;
      const labels = labelsOf(p.preset);
      this.desired.set(labels, p.state.desired);
      this.running.set(labels, p.state.running);
      this.eligible.set(labels, p.state.eligible);
      if (p.status === "hard_limited") this.hardLimited.set(labels, 1);
      if (p.status === "validation_failed") this.validationFailed.set(labels, 1);
    }
  }

  observeReconciliation(seconds: number): void {
    this.reconciliationDuration.observe(seconds);
  }

  /** A claimed workspace's CLAIM build finished successfully, `seconds` after the claim. */
  observeClaim(preset: PresetNames, seconds: number): void {
    this.claimDuration.observe(labelsOf(preset), seconds);
  }

  /** A claimed workspace became usable, `seconds` after the claim. */
  observeClaimToReady(preset: PresetNames, seconds: number): void {
    this.claimToReady.observe(labelsOf(preset), seconds);
  }

  /** Re-counts the counters from the database now. */
  async refreshCounters(): Promise<void> {
    const store = this.#store;
    if (!store) return;
    const [counts, events, idle] = await Promise.all([
      selectPrebuildCounters(store.db),
      selectClaimEventCounts(store.db),
      readIdleCosts(store.db, this.#clock.now()),
    ]);
    for (const c of [
      this.created,
      this.failed,
      this.claimed,
      this.claims,
      this.replacements,
      this.idleSeconds,
      this.idleCost,
    ])
      c.reset();
    for (const cost of idle.values()) {
      const labels = { template_name: cost.templateName, preset_name: cost.presetName };
      this.idleSeconds.inc(labels, cost.idleSecondsTotal);
      this.idleCost.inc(labels, cost.idleCostTotal);
    }
    for (const row of counts) {
      const labels = { template_name: row.template_name, preset_name: row.preset_name };
      // Presets of several versions share (template, preset) names: inc() adds them up.
      this.created.inc(labels, Number(row.created));
      this.failed.inc(labels, Number(row.failed));
      this.claimed.inc(labels, Number(row.claimed));
    }
    for (const row of events) {
      const labels = { template_name: row.template_name, preset_name: row.preset_name };
      if (row.event_type === "replacement") {
        this.replacements.inc(labels, Number(row.n));
        continue;
      }
      const result = row.event_type === "claim_succeeded" ? "hit" : "miss";
      this.claims.inc({ ...labels, result }, Number(row.n));
    }
    this.#refreshedAt = this.#clock.now().getTime();
  }

  /** One refresh at a time; reused for `counterRefreshMs`. A failed refresh keeps the last values. */
  refreshCountersIfStale(): Promise<void> {
    if (this.#clock.now().getTime() - this.#refreshedAt < this.#refreshMs) return Promise.resolve();
    this.#refreshing ??= this.refreshCounters()
      .catch(() => {})
      .finally(() => {
        this.#refreshing = undefined;
      });
    return this.#refreshing;
  }
}
