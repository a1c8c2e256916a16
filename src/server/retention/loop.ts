// The retention loop: a run at start and one every `intervalMs` (default 10 min, as Coder's dbpurge) on a
// Clock's interval (unref'd), never two at once, each planned at the clock's `now` (contract/retention.ts) and
// carried out in bounded batches (prune.ts). On PostgreSQL every replica runs the loop and the `retention`
// advisory lock makes one of them prune; on SQLite the one process does. Stopping ends a run between batches.
import type { Clock } from "../../clock.js";
import { planRetention, type RetentionAges } from "../../contract/retention.js";
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
  let running: Promise<PruneReport | undefined> | undefined;
  const pass = async (): Promise<PruneReport | undefined> => {
    try {
      const report = await prune(store, planRetention(options.ages, clock.now()), {
        ...options,
        stopping: () => stopping,
      });
      if (Object.keys(report.deleted).length > 0) options.onPruned?.(report);
      options.onSuccess?.();
      return report;
    } catch (err) {
      options.onError?.(err);
      return undefined;
    }
  };
  const run = () => {
    // A run slower than the interval is not overlapped: the next tick after it ends picks up the rest.
    running ??= pass().finally(() => {
      running = undefined;
    });
    return running;
  };
  const timer = clock.setInterval(() => void run(), options.intervalMs ?? DEFAULT_RETENTION_INTERVAL_MS, {
    ref: false,
  });
  void run();
  return {
    stop: async () => {
      stopping = true;
      timer.cancel();
      await running;
    },
  };
}
