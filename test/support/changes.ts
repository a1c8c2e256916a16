// Waiting for a server's outcomes by event instead of polling: in-process test servers bump `changes` on the
// signals that accompany what tests wait for — a job finished (channels.jobFinished), a workspace changed
// (channels.workspace: build state, agent lifecycle), a reconciliation cycle ended (onReconcileCycle) — and
// `until` re-checks its condition at each bump.
//
// One feed per test process: test files run in their own processes and their tests one at a time, so a bump
// from another server of the same file costs at most an extra check. Pub/sub is best effort (a PostgreSQL
// listener may still be starting) and some changes publish nothing (a job being acquired, a row a test
// writes), so a slow re-check backs the events up; it bounds how late a missed change is seen, it is not
// what the waits rely on.
import { channels, type PubSub } from "../../src/server/store/pubsub.js";

/** By default, re-check at least this often even without a bump. */
const BACKSTOP_MS = 250;

class Changes {
  #generation = 0;
  #waiters = new Set<() => void>();

  get generation(): number {
    return this.#generation;
  }

  readonly bump = (): void => {
    this.#generation++;
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  };

  /** Resolves at once if there was a bump since `seen`, else at the next bump or after `ms`. */
  after(seen: number, ms: number): Promise<void> {
    if (this.#generation !== seen) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#waiters.add(wake);
    });
  }

  /** Bumps on every job end and workspace change of this store; returns the unsubscribe. */
  follow(pubsub: PubSub): () => void {
    const subscriptions = [channels.jobFinished, channels.workspace].map((c) =>
      pubsub.subscribe(c, this.bump),
    );
    return () => {
      for (const unsubscribe of subscriptions) unsubscribe();
    };
  }
}

export const changes = new Changes();

export interface UntilOptions {
  timeoutMs?: number;
  /** What to say about the state when timing out. */
  describe?: () => Promise<unknown>;
  /** Re-check at least this often without a bump (default 250 ms). */
  backstopMs?: number;
}

/**
 * Resolves with `check`'s first value that is not undefined, checking now and after every change; fails after
 * `timeoutMs` (default 20 s) naming `what` (and the last state seen, with `describe`).
 */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined>,
  options: UntilOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const seen = changes.generation;
    const value = await check();
    if (value !== undefined) return value;
    const left = deadline - Date.now();
    if (left < 0) {
      const last = options.describe ? ` (last: ${JSON.stringify(await options.describe())})` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last}`);
    }
    await changes.after(seen, Math.min(options.backstopMs ?? BACKSTOP_MS, left + 1));
  }
}
