// One warning per database outage, not one per tick: the periodic loops (reconciler, job reaper, lease sweep)
// fail every tick while the database is away. The first storage fault is logged as a warning with its reason,
// the ticks after it are quiet, and the first success after it says the database is back. Any other failure
// is logged every time, as before.
import type { Logger } from "pino";
import { storageFault } from "./store/errors.js";

export interface OutageLog {
  /** A tick failed with `err`; `message` is what the loop logs for a failure that is not a storage fault. */
  failed(err: unknown, message: string): void;
  /** A tick succeeded. */
  succeeded(): void;
}

export function outageLog(logger: Logger, what: string): OutageLog {
  let down: string | undefined;
  return {
    failed(err, message) {
      const fault = storageFault(err);
      if (!fault) {
        logger.error({ err: err instanceof Error ? err.message : String(err) }, message);
        return;
      }
      if (down !== undefined) return;
      down = fault.reason;
      logger.warn({ reason: fault.reason }, `${what}: storage unavailable, skipping until it returns`);
    },
    succeeded() {
      if (down === undefined) return;
      logger.info({ was: down }, `${what}: storage available again`);
      down = undefined;
    },
  };
}
