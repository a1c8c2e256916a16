// The lease sweep: every interval, workspaces whose lease ran out get their stop or delete build
// (service.ts `expireLease`, one transaction per workspace that re-checks the deadline under a row lock, so
// replicas sweeping at once never act twice). A bounded batch per pass; what is left waits for the next.
import type { TimerHandle } from "../../clock.js";
import type { ServerContext } from "../context.js";
import { outageLog } from "../outage-log.js";
import { selectExpiredLeases } from "../store/workspaces.js";
import { expireLease } from "./service.js";

const BATCH = 100;

export interface LeaseSweep {
  /** Runs one pass now (tests); resolves with the builds it enqueued. */
  sweep(): Promise<number>;
  stop(): Promise<void>;
}

export function startLeaseSweep(ctx: ServerContext, intervalMs: number): LeaseSweep {
  let running: Promise<number> | undefined;
  const outage = outageLog(ctx.logger, "lease sweep");
  const sweep = () => {
    running ??= (async () => {
      let enqueued = 0;
      for (const id of await selectExpiredLeases(ctx.store.db, ctx.clock.now(), BATCH)) {
        try {
          if (await expireLease(ctx, id)) enqueued++;
        } catch (err) {
          ctx.logger.warn({ err, workspaceId: id }, "expire workspace lease failed");
        }
      }
      if (enqueued > 0) ctx.logger.info({ workspaces: enqueued }, "workspace leases expired");
      return enqueued;
    })().finally(() => {
      running = undefined;
    });
    return running;
  };
  const timer: TimerHandle = ctx.clock.setInterval(
    () =>
      void sweep().then(
        () => outage.succeeded(),
        (err) => outage.failed(err, "lease sweep failed"),
      ),
    intervalMs,
    { ref: false },
  );
  return {
    sweep,
    stop: async () => {
      timer.cancel();
      await running?.catch(() => {});
    },
  };
}
