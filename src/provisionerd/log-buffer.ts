// Batches job logs so a chatty provisioner does not turn every line into a request: a batch is flushed after
// `quietMs` without a new line, or at once when `maxLines` are queued (Coder: 250 ms / 100 lines).
// Flushes never overlap and keep order; `flush()` resolves once everything queued before it was sent.
// The quiet timer runs on the injected Clock.
import { type Clock, systemClock, type TimerHandle } from "../clock.js";

export interface LogBufferOptions<T> {
  send: (batch: T[]) => Promise<void>;
  quietMs?: number;
  maxLines?: number;
  /** Called when a send fails; the batch is dropped (the job's own outcome is reported separately). */
  onError?: (err: unknown) => void;
  clock?: Clock;
}

export class LogBuffer<T> {
  private queue: T[] = [];
  private timer: TimerHandle | undefined;
  private chain: Promise<void> = Promise.resolve();
  private readonly quietMs: number;
  private readonly maxLines: number;
  private readonly clock: Clock;

  constructor(private readonly options: LogBufferOptions<T>) {
    this.clock = options.clock ?? systemClock;
    this.quietMs = options.quietMs ?? 250;
    this.maxLines = options.maxLines ?? 100;
  }

  push(entry: T): void {
    this.queue.push(entry);
    if (this.queue.length >= this.maxLines) {
      void this.flush();
      return;
    }
    this.clock.clearTimeout(this.timer);
    this.timer = this.clock.setTimeout(() => void this.flush(), this.quietMs);
  }

  /** Takes what is queued now (callers that piggy-back logs on another request use this). */
  take(): T[] {
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.queue;
    this.queue = [];
    return batch;
  }

  /**
   * Waits until every batch already handed to `send` is through, then takes what is queued: the last lines,
   * for a caller that sends them with its own request (after all earlier ones, so the order holds).
   */
  async settle(): Promise<T[]> {
    await this.chain;
    return this.take();
  }

  flush(): Promise<void> {
    const batch = this.take();
    if (batch.length > 0) {
      this.chain = this.chain.then(() =>
        this.options.send(batch).catch((err) => this.options.onError?.(err)),
      );
    }
    return this.chain;
  }

  get pending(): number {
    return this.queue.length;
  }
}
