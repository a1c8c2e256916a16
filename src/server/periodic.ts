// A periodic background pass (the job reaper, retention): run `pass` on a Clock's interval (unref'd: the
// server's listener keeps the process alive), never two at once — a pass slower than the interval is not
// overlapped, the next tick after it ends picks up the rest — and stop by cancelling the timer and waiting for
// the pass under way. `pass` handles its own errors.
import type { Clock } from "../clock.js";

export interface Periodic {
  /** Starts a pass now unless one is running; resolves when that pass ends. */
  run(): Promise<void>;
  /** Cancels the interval and waits for a pass under way. */
  stop(): Promise<void>;
}

export function startPeriodic(clock: Clock, intervalMs: number, pass: () => Promise<void>): Periodic {
  let running: Promise<void> | undefined;
  const run = () => {
    running ??= pass().finally(() => {
      running = undefined;
    });
    return running;
  };
  const timer = clock.setInterval(() => void run(), intervalMs, { ref: false });
  return {
    run,
    stop: async () => {
      timer.cancel();
      await running;
    },
  };
}
