// A provisioner daemon: acquires jobs from the server (long poll), runs one at a time through a provisioner
// Session, and reports the outcome. The same class runs in-process inside `prewarm server` and as the
// external `prewarm provisioner start`; only the base URL differs. Retry backoff, heartbeats and log batching
// run on the injected Clock.
import { Code, ConnectError } from "@connectrpc/connect";
import { type Clock, systemClock } from "../clock.js";
import type { ProvisionerClient } from "../provisionersdk/client.js";
import type { DaemonClient } from "./api.js";
import { type JobOutcome, runJob } from "./runner.js";

export interface DaemonIdentity {
  /** Unique per daemon: the server registers daemons by name. */
  name: string;
  provisionerTypes: string[];
  tags: Record<string, string>;
  version: string;
}

export interface DaemonLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
}

export interface DaemonOptions {
  api: DaemonClient;
  identity: DaemonIdentity;
  /** Provisioner clients by type (echo, terraform, or a third party's). */
  provisioners: Record<string, ProvisionerClient>;
  /** How long one acquire request waits on the server for a job. */
  acquireWaitMs?: number;
  heartbeatMs?: number;
  logger?: DaemonLogger;
  /** Default: the system clock. */
  clock?: Clock;
  /** Called after each job (tests and metrics). */
  onJobDone?: (jobId: string, outcome: JobOutcome) => void;
}

type DaemonState = "idle" | "running" | "stopping" | "stopped";

export class ProvisionerDaemon {
  private state: DaemonState = "idle";
  private loop: Promise<void> | undefined;
  private readonly acquireAbort = new AbortController();
  private readonly jobAbort = new AbortController();
  private activeJob: string | undefined;
  private readonly clock: Clock;

  constructor(private readonly options: DaemonOptions) {
    this.clock = options.clock ?? systemClock;
  }

  get currentJob(): string | undefined {
    return this.activeJob;
  }

  start(): void {
    if (this.state !== "idle") return;
    this.state = "running";
    this.loop = this.run();
  }

  /**
   * Stops acquiring. With `cancelActiveJob`, the running job is canceled on its Session (and reported as
   * failed); otherwise it is allowed to finish. Resolves when the loop has ended.
   */
  async shutdown(options: { cancelActiveJob?: boolean } = {}): Promise<void> {
    if (this.state === "idle") {
      this.state = "stopped";
      return;
    }
    this.state = "stopping";
    this.acquireAbort.abort();
    if (options.cancelActiveJob) this.jobAbort.abort();
    await this.loop;
    this.state = "stopped";
  }

  private async run(): Promise<void> {
    const { api, identity, logger } = this.options;
    let backoff = 10;
    while (this.state === "running") {
      let job: Awaited<ReturnType<DaemonClient["acquireJob"]>>["job"];
      let daemonId = "";
      let outcomeTakesLogs = false;
      try {
        const res = await api.acquireJob(
          { daemon: identity, waitMs: this.options.acquireWaitMs ?? 10_000 },
          { signal: this.acquireAbort.signal },
        );
        job = res.job;
        daemonId = res.daemonId;
        outcomeTakesLogs = res.outcomeTakesLogs;
        backoff = 10;
      } catch (err) {
        if (this.state !== "running") break;
        if (err instanceof ConnectError && [Code.Unauthenticated, Code.PermissionDenied].includes(err.code)) {
          logger?.warn("daemon not allowed to acquire jobs; stopping", { error: err.rawMessage });
          break;
        }
        logger?.warn("acquire job failed; retrying", { error: String(err), retryInMs: backoff });
        await this.clock.sleep(backoff, this.acquireAbort.signal);
        backoff = Math.min(backoff * 2, 5_000);
        continue;
      }
      if (!job?.jobId) continue;
      this.activeJob = job.jobId;
      logger?.info("running job", { jobId: job.jobId, provisioner: job.provisioner, type: job.type.case });
      const outcome = await runJob({
        job,
        daemonId,
        api,
        outcomeTakesLogs,
        provisioner: this.options.provisioners[job.provisioner],
        heartbeatMs: this.options.heartbeatMs,
        signal: this.jobAbort.signal,
        clock: this.clock,
        onLost: (reason) =>
          logger?.warn("the server says the job is no longer ours; canceling it", {
            jobId: job.jobId,
            reason,
          }),
      });
      this.activeJob = undefined;
      logger?.info("job done", { jobId: job.jobId, outcome });
      this.options.onJobDone?.(job.jobId, outcome);
    }
  }
}
