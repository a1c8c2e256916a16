// The injectable clock: wall time (`now`) and timers. Decision code takes `now` as data; code that must wait
// (loops, timeouts, heartbeats, retries) takes a Clock and uses its timers, so tests drive time with
// test/support/fake-clock.ts instead of sleeping. Production code uses `systemClock`, never a fake.
//
// Timers measure elapsed time, not wall time: like Node's, they do not fire early or late when the wall clock
// jumps (NTP, a test's `set()`). Code that waits should therefore arm a timer for the duration it wants rather
// than compare `now()` readings.

/** A scheduled timer. `cancel()` is idempotent; cancelling a timeout that already fired does nothing. */
export interface TimerHandle {
  cancel(): void;
}

export interface TimerOptions {
  /**
   * Whether this timer keeps the process alive (Node's ref/unref). Default true, as with Node's timers. Pass
   * false for background loops (reconciler, reaper) whose process is kept alive by something else.
   */
  ref?: boolean;
}

export interface Clock {
  now(): Date;
  /** Runs `fn` once, `ms` from now. */
  setTimeout(fn: () => void, ms: number, options?: TimerOptions): TimerHandle;
  /** Same as `handle.cancel()`; accepts undefined so callers need not check. */
  clearTimeout(handle: TimerHandle | undefined): void;
  /** Runs `fn` every `ms` until cancelled. */
  setInterval(fn: () => void, ms: number, options?: TimerOptions): TimerHandle;
  /** Same as `handle.cancel()`. */
  clearInterval(handle: TimerHandle | undefined): void;
  /**
   * Resolves after `ms`, or as soon as `signal` aborts (at once if it already has) — it never rejects. Waits
   * in this code base are between attempts of a loop that checks its own state (or the signal) right after,
   * so an abort is a normal way out, not an error. The timer keeps the process alive while it waits.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** `sleep` on any clock's `setTimeout` (the system clock and test fakes share it). */
export function sleepOn(clock: Pick<Clock, "setTimeout">, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      timer.cancel();
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = clock.setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

function nodeHandle(timer: NodeJS.Timeout, clear: (t: NodeJS.Timeout) => void, options?: TimerOptions) {
  if (options?.ref === false) timer.unref();
  return { cancel: () => clear(timer) };
}

/** Real time and Node's timers. Globals are looked up per call, so Node's `mock.timers` still applies. */
export const systemClock: Clock = {
  now: () => new Date(),
  setTimeout: (fn, ms, options) => nodeHandle(setTimeout(fn, ms), clearTimeout, options),
  clearTimeout: (handle) => handle?.cancel(),
  setInterval: (fn, ms, options) => nodeHandle(setInterval(fn, ms), clearInterval, options),
  clearInterval: (handle) => handle?.cancel(),
  sleep: (ms, signal) => sleepOn(systemClock, ms, signal),
};
