// The pool history recorder (table `pool_history`, migration 0003; its queries are store/pool-history.ts):
// records pool counts after reconciler cycles for the dashboard's charts, from the plan each cycle already
// made. Bounded two ways: a preset gets a new row at most every `minIntervalMs` unless its counts changed (then
// at most every `minChangeIntervalMs`); rows older than `--retention-pool-history` (default 6 h) are deleted by
// retention (src/server/retention/). Only a cycle that actually ran (or ran paused) records, so on PostgreSQL
// only the leader writes.
import type { Logger } from "../logger.js";
import type { CycleReport } from "../prebuilds/reconciler.js";
import { type LiveCyclePlan, poolCountsOf } from "../prebuilds/status.js";
import { insertPoolSamples, type PoolCountsSample, type PoolSample } from "../store/pool-history.js";
import type { Store } from "../store/store.js";

export interface PoolHistoryOptions {
  /** A row per preset at least this often while cycles run (default 60 s). */
  minIntervalMs: number;
  /** …and sooner when the counts changed, but not more often than this (default 2 s). */
  minChangeIntervalMs: number;
}

export const defaultPoolHistoryOptions: PoolHistoryOptions = {
  minIntervalMs: 60_000,
  minChangeIntervalMs: 2_000,
};

const sameCounts = (a: PoolCountsSample, b: PoolCountsSample): boolean =>
  a.desired === b.desired &&
  a.running === b.running &&
  a.eligible === b.eligible &&
  a.starting === b.starting &&
  a.expired === b.expired;

/** Pure: whether a preset's new counts deserve a row, given its last recorded sample. */
export function shouldRecord(
  last: PoolSample | undefined,
  next: PoolSample,
  options: PoolHistoryOptions = defaultPoolHistoryOptions,
): boolean {
  if (!last) return true;
  const elapsed = next.at.getTime() - last.at.getTime();
  if (elapsed < 0) return true; // the clock went backwards: start over rather than go silent
  if (elapsed >= options.minIntervalMs) return true;
  return !sameCounts(last, next) && elapsed >= options.minChangeIntervalMs;
}

/**
 * Records pool counts after reconciler cycles, from the plan the cycle already made (no second snapshot read);
 * wire `onCycle` as the Reconciler's `onCycle` option.
 */
export class PoolHistoryRecorder {
  readonly #store: Store;
  readonly #logger: Logger | undefined;
  readonly #options: PoolHistoryOptions;
  readonly #last = new Map<string, PoolSample>();
  #running: Promise<void> | undefined;

  constructor(options: { store: Store; logger?: Logger; history?: Partial<PoolHistoryOptions> }) {
    this.#store = options.store;
    this.#logger = options.logger;
    this.#options = { ...defaultPoolHistoryOptions, ...options.history };
  }

  /** Reconciler hook: never throws, never blocks the cycle; overlapping cycles skip while one records. */
  onCycle(report: CycleReport): void {
    const plan = report.plan;
    if (!plan || (report.outcome !== "ran" && report.outcome !== "paused")) return;
    if (this.#running) return;
    this.#running = this.record(plan)
      .then(() => {})
      .catch((err) => this.#logger?.warn({ err }, "record pool history failed"))
      .finally(() => {
        this.#running = undefined;
      });
  }

  /** Resolves when no recording is in progress (tests, shutdown). */
  async idle(): Promise<void> {
    await this.#running;
  }

  /** Writes the rows of a cycle's plan that `shouldRecord` wants (sampled at the plan's `now`). */
  async record(plan: LiveCyclePlan): Promise<number> {
    const { now } = plan;
    const rows: { presetId: string; sample: PoolSample }[] = [];
    for (const p of plan.presets) {
      const counts = poolCountsOf(p);
      if (!p.preset.active && counts.running === 0 && counts.starting === 0) continue;
      const sample: PoolSample = { at: now, ...counts };
      if (!shouldRecord(this.#last.get(p.id), sample, this.#options)) continue;
      rows.push({ presetId: p.id, sample });
    }
    await insertPoolSamples(this.#store.db, rows);
    for (const row of rows) this.#last.set(row.presetId, row.sample);
    return rows.length;
  }
}
