// The tests' Clock: time moves only when a test says so, and timers fire only while it advances. Tests only;
// production code uses src/clock.ts's systemClock.
//
// Two notions of time, as in Node: the wall clock (`now()`, moved by `set()` and `advance()`) and elapsed time
// (what timers are due on, moved only by `advance()`). `set()` is a wall-clock jump — forwards, backwards,
// across DST — and fires nothing, exactly like a real timer ignores an NTP step.
//
// `await clock.advance(ms)`:
//   1. first yields one macrotask turn, so work already under way (a rejected request reaching its retry,
//      a callback scheduling its next timer) arms its timers at the current time;
//   2. then fires every timer due within the window, earliest first (ties in the order the timers were first set),
//      moving the clock to each one's due time before calling it and yielding a macrotask turn after it —
//      so timers that fired timers set within the window also fire, in order, and promise chains they start
//      (that do not wait on real I/O) settle before the next timer;
//   3. ends with the clock at start + ms.
// It must be awaited: until it resolves the clock has not reached its target.
// Where this differs from Node: a 0 ms timeout fires at the current time (Node waits at least 1 ms), and an
// interval's period is at least 1 ms; advancing fires intervals once per period with no drift or coalescing.
import { type Clock, sleepOn, systemClock, type TimerHandle, type TimerOptions } from "../../src/clock.js";

interface FakeTimer {
  id: number;
  /** Elapsed-time instant it is due at. */
  due: number;
  fn: () => void;
  /** Set for intervals. */
  period?: number;
}

/** More timers than this in one advance() is a timer loop (e.g. a 0 ms timeout re-arming itself). */
const MAX_FIRES_PER_ADVANCE = 10_000;

const macrotask = () => new Promise<void>((resolve) => setImmediate(resolve));

export class FakeClock implements Clock {
  #wall: number;
  #elapsed = 0;
  #nextId = 1;
  readonly #timers = new Map<number, FakeTimer>();

  constructor(start: Date | string = "2026-01-05T10:00:00Z") {
    this.#wall = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.#wall);
  }

  /** Jumps the wall clock (either direction); timers are not affected. */
  set(at: Date | string): void {
    this.#wall = new Date(at).getTime();
  }

  /** Moves time forward by `ms`, firing due timers in order (see the header). */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new Error(`FakeClock.advance: ms must be >= 0, got ${ms}`);
    const target = this.#elapsed + ms;
    await macrotask();
    for (let fired = 0; ; fired++) {
      if (fired >= MAX_FIRES_PER_ADVANCE) {
        throw new Error(`FakeClock.advance: over ${MAX_FIRES_PER_ADVANCE} timers fired; a timer loop?`);
      }
      const next = this.#nextDue(target);
      if (!next) break;
      this.#moveTo(next.due);
      if (next.period === undefined) this.#timers.delete(next.id);
      else next.due += next.period;
      next.fn();
      await macrotask();
    }
    this.#moveTo(target);
  }

  /** Timers set and not yet fired or cancelled (intervals count until cancelled). */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  setTimeout(fn: () => void, ms: number, _options?: TimerOptions): TimerHandle {
    return this.#add(fn, Math.max(0, ms || 0));
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    handle?.cancel();
  }

  setInterval(fn: () => void, ms: number, _options?: TimerOptions): TimerHandle {
    const period = Math.max(1, ms || 0);
    return this.#add(fn, period, period);
  }

  clearInterval(handle: TimerHandle | undefined): void {
    handle?.cancel();
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }

  #add(fn: () => void, delay: number, period?: number): TimerHandle {
    const id = this.#nextId++;
    this.#timers.set(id, { id, due: this.#elapsed + delay, fn, period });
    return { cancel: () => void this.#timers.delete(id) };
  }

  #nextDue(target: number): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const t of this.#timers.values()) {
      if (t.due <= target && (!best || t.due < best.due || (t.due === best.due && t.id < best.id))) best = t;
    }
    return best;
  }

  #moveTo(elapsed: number): void {
    this.#wall += elapsed - this.#elapsed;
    this.#elapsed = elapsed;
  }
}

/**
 * A clock whose `now()` is `fake`'s and whose timers are real: for worlds (a whole server in-process) where
 * time is a test's to set, but daemons, long polls and triggers must run on their own.
 */
export function withRealTimers(fake: FakeClock): Clock {
  return {
    now: () => fake.now(),
    setTimeout: (fn, ms, options) => systemClock.setTimeout(fn, ms, options),
    clearTimeout: (handle) => handle?.cancel(),
    setInterval: (fn, ms, options) => systemClock.setInterval(fn, ms, options),
    clearInterval: (handle) => handle?.cancel(),
    sleep: (ms, signal) => systemClock.sleep(ms, signal),
  };
}
