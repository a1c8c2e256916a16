// Delivers what the agent reports — lifecycle transitions, log lines, metadata values — through one loop,
// so that while the server is away nothing is lost and, once it is back, everything arrives in order.
//
// - Lifecycle reports are queued without limit (there are only a handful) and sent oldest first, one at a
//   time: the server sees every transition in the order it happened, each with its original `changedAt`.
// - Log lines are buffered (bounded: beyond `maxBufferedLogs` the oldest are dropped and a line saying how
//   many is sent instead) and sent in batches, before any lifecycle report queued after them, so a
//   `start_error` arrives after the output that explains it.
// - Metadata keeps only the latest value per key: a stale value is worth nothing once a newer one exists.
// While the server is away the loop retries with exponential backoff (capped); a 401 is fatal (onFatal); any
// other refusal drops that one item with a message, so one bad report cannot wedge the queue.
import type { AgentLifecycleReportT, AgentLogEntryT, AgentMetadataResultT } from "../contract/agent.js";
import { type AgentApiClient, AgentAuthError, AgentRequestError, ServerAwayError } from "./api-client.js";
import { backoffMs } from "./config.js";

export interface ReporterOptions {
  maxBackoffMs: number;
  /** The agent's own log (stdout). */
  say: (line: string) => void;
  onFatal: (err: AgentAuthError) => void;
  maxBufferedLogs?: number;
  /** How long log lines wait for company before a batch is sent. */
  logBatchDelayMs?: number;
}

const maxBatch = 1000;

export class Reporter {
  private readonly lifecycleQueue: AgentLifecycleReportT[] = [];
  private logs: AgentLogEntryT[] = [];
  private droppedLogs = 0;
  private readonly metadataLatest = new Map<string, AgentMetadataResultT>();
  private wake: (() => void) | undefined;
  private idleWaiters: (() => void)[] = [];
  private logTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private away = false;
  private stopSleeping: (() => void) | undefined;
  private readonly loop: Promise<void>;

  constructor(
    private readonly client: AgentApiClient,
    private readonly options: ReporterOptions,
  ) {
    this.loop = this.run();
  }

  lifecycle(report: AgentLifecycleReportT): void {
    this.lifecycleQueue.push(report);
    this.kick();
  }

  log(entry: AgentLogEntryT): void {
    const max = this.options.maxBufferedLogs ?? 10_000;
    this.logs.push(entry);
    if (this.logs.length > max) {
      this.droppedLogs += this.logs.length - max;
      this.logs = this.logs.slice(this.logs.length - max);
    }
    if (this.logs.length >= maxBatch) this.kick();
    else this.logTimer ??= setTimeout(() => this.kick(), this.options.logBatchDelayMs ?? 100);
  }

  metadata(result: AgentMetadataResultT): void {
    this.metadataLatest.set(result.key, result);
    this.kick();
  }

  pending(): number {
    return this.lifecycleQueue.length + this.logs.length + this.metadataLatest.size;
  }

  /** Resolves true once everything queued so far was delivered, false if `timeoutMs` passed first. */
  async flush(timeoutMs: number): Promise<boolean> {
    this.kick();
    if (this.pending() === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<boolean>((resolve) => this.idleWaiters.push(() => resolve(true)));
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const done = await Promise.race([idle, timeout]);
    clearTimeout(timer);
    return done;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stopSleeping?.();
    this.kick();
    await this.loop;
  }

  private kick(): void {
    if (this.logTimer) {
      clearTimeout(this.logTimer);
      this.logTimer = undefined;
    }
    this.wake?.();
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.closed) {
      if (this.pending() === 0) {
        for (const resolve of this.idleWaiters.splice(0)) resolve();
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = undefined;
        continue;
      }
      try {
        await this.deliverOne();
        if (this.away) this.options.say("server reachable again; delivering what was queued");
        this.away = false;
        attempt = 0;
      } catch (err) {
        if (err instanceof AgentAuthError) {
          this.closed = true;
          this.options.onFatal(err);
          break;
        }
        if (err instanceof ServerAwayError) {
          const wait = backoffMs(attempt++, this.options.maxBackoffMs);
          if (!this.away) this.options.say(`${err.message}; queueing reports and retrying`);
          this.away = true;
          await this.sleep(wait);
          continue;
        }
        const message = err instanceof AgentRequestError ? err.message : String(err);
        this.options.say(`report dropped: ${message}`);
      }
    }
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** Sends the most urgent item; removes it only once the server took it (or refused it for good). */
  private async deliverOne(): Promise<void> {
    if (this.droppedLogs > 0) {
      const note: AgentLogEntryT = {
        createdAt: new Date().toISOString(),
        level: "warn",
        output: `${this.droppedLogs} log lines were dropped while the server was unreachable`,
        source: "agent",
      };
      this.droppedLogs = 0;
      this.logs.unshift(note);
    }
    if (this.logs.length > 0) {
      const batch = this.logs.slice(0, maxBatch);
      try {
        await this.client.logs(batch);
      } catch (err) {
        // Dropped on a permanent refusal as well as on success; kept on ServerAwayError / AgentAuthError.
        if (err instanceof AgentRequestError) this.logs = this.logs.slice(batch.length);
        throw err;
      }
      this.logs = this.logs.slice(batch.length);
      return;
    }
    const report = this.lifecycleQueue[0];
    if (report) {
      try {
        await this.client.lifecycle(report);
      } catch (err) {
        if (err instanceof AgentRequestError) this.lifecycleQueue.shift();
        throw err;
      }
      this.lifecycleQueue.shift();
      this.options.say(`lifecycle ${report.state} delivered`);
      return;
    }
    const results = [...this.metadataLatest.values()];
    try {
      await this.client.metadata(results);
    } catch (err) {
      if (err instanceof AgentRequestError) this.removeMetadata(results);
      throw err;
    }
    this.removeMetadata(results);
  }

  /** Removes the sent results unless a newer value for the key arrived meanwhile. */
  private removeMetadata(sent: AgentMetadataResultT[]): void {
    for (const r of sent) if (this.metadataLatest.get(r.key) === r) this.metadataLatest.delete(r.key);
  }

  private sleep(ms: number): Promise<void> {
    // New reports do not cut the wait short (backoff protects a recovering server); close() does.
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.stopSleeping = undefined;
        resolve();
      }, ms);
      this.stopSleeping = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
