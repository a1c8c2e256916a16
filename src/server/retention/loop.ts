// The retention loop: a run at start and one every `intervalMs` (default 10 min, as Coder's dbpurge), never two
// at once (periodic.ts), each planned at the clock's `now` (contract/retention.ts) and
// carried out in bounded batches (prune.ts). On PostgreSQL every replica runs the loop and the `retention`
// advisory lock makes one of them prune; on SQLite the one process does. Stopping ends a run between batches.
import type { Clock } from "../../clock.js";
import { planRetention, type RetentionAges } from "../../contract/retention.js";
import { startPeriodic } from "../periodic.js";
import type { Store } from "../store/store.js";
import { type PruneOptions, type PruneReport, prune } from "./prune.js";

export const DEFAULT_RETENTION_INTERVAL_MS = 10 * 60_000;

export interface RetentionLoopOptions extends Omit<PruneOptions, "stopping"> {
  store: Store;
  clock: Clock;
  /** Every rule's age (resolveRetentionAges). */
  ages: RetentionAges;
  intervalMs?: number;
  /** After a run that deleted something. */
  onPruned?: (report: PruneReport) => void;
  onError?: (err: unknown) => void;
  /** After a run that did not fail. */
  onSuccess?: () => void;
}

export interface RetentionLoop {
  /** Stops the interval, ends a run under way at its next batch and waits for it. */
  stop(): Promise<void>;
}

export function startRetention(options: RetentionLoopOptions): RetentionLoop {
  const { store, clock } = options;
  let stopping = false;
  const periodic = startPeriodic(clock, options.intervalMs ?? DEFAULT_RETENTION_INTERVAL_MS, async () => {
    try {
      const report = await prune(store, planRetention(options.ages, clock.now()), {
        ...options,
        stopping: () => stopping,
      });
      if (Object.keys(report.deleted).length > 0) options.onPruned?.(report);
      options.onSuccess?.();
    } catch (err) {
      options.onError?.(err);
    }
  });
  void periodic.run();
  return {
    stop: () => {
      stopping = true;
      return periodic.stop();
    },
  };
}
