// Password-login throttling: decides, from the history of failed attempts per key (a username, a client
// address), whether one more attempt may run now, and how long the caller must wait otherwise. Pure: time is
// passed in as `now` (the server's clock), nothing is stored outside this object, so both login paths (API
// and dashboard) share one instance and tests drive it with plain dates.
//
// The rule: a key may fail `limit` times freely; from then on each attempt must wait
// `BASE_DELAY_MS * 2^(failures - limit)` after the last failure, capped at `MAX_DELAY_MS`. A key's history is
// forgotten `FORGET_AFTER_MS` after its last failure. An attempt counts as a failure when it is admitted (so
// concurrent guesses cannot all slip through before the first is judged); a success then clears the
// username's history and takes the one failure back from the address (a valid login must not wipe an
// address's record, or one known password would unlock unlimited guessing at other accounts).
//
// Memory is bounded: each table keeps at most `MAX_KEYS` keys, ordered by last failure, and drops the oldest.

/** Free failures before delays start. */
export interface LoginThrottleLimits {
  perUsername: number;
  perAddress: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginThrottleLimits = { perUsername: 5, perAddress: 20 };
export const BASE_DELAY_MS = 1_000;
export const MAX_DELAY_MS = 15 * 60_000;
export const FORGET_AFTER_MS = 60 * 60_000;
export const MAX_KEYS = 10_000;

interface History {
  failures: number;
  lastFailureMs: number;
}

export type Admission = { admitted: true } | { admitted: false; retryAfterSeconds: number };

/** The wait after `failures` failures with `limit` free ones (0 while under the limit). */
export function delayAfter(failures: number, limit: number): number {
  if (failures < limit) return 0;
  return Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** (failures - limit));
}

class Table {
  readonly #entries = new Map<string, History>();

  constructor(readonly limit: number) {}

  /** Milliseconds until `key` may try again (0: now). */
  waitMs(key: string, nowMs: number): number {
    const h = this.#current(key, nowMs);
    return h ? Math.max(0, h.lastFailureMs + delayAfter(h.failures, this.limit) - nowMs) : 0;
  }

  fail(key: string, nowMs: number): void {
    const failures = (this.#current(key, nowMs)?.failures ?? 0) + 1;
    // Re-inserted so the map stays ordered by last failure: the oldest key is first.
    this.#entries.delete(key);
    this.#entries.set(key, { failures, lastFailureMs: nowMs });
    this.#trim(nowMs);
  }

  forget(key: string): void {
    this.#entries.delete(key);
  }

  unfail(key: string): void {
    const h = this.#entries.get(key);
    if (!h) return;
    if (h.failures <= 1) this.#entries.delete(key);
    else h.failures -= 1;
  }

  #current(key: string, nowMs: number): History | undefined {
    const h = this.#entries.get(key);
    if (h && nowMs - h.lastFailureMs >= FORGET_AFTER_MS) {
      this.#entries.delete(key);
      return undefined;
    }
    return h;
  }

  #trim(nowMs: number): void {
    for (const [key, h] of this.#entries) {
      if (this.#entries.size <= MAX_KEYS && nowMs - h.lastFailureMs < FORGET_AFTER_MS) break;
      this.#entries.delete(key);
    }
  }
}

export class LoginThrottle {
  readonly #users: Table;
  readonly #addresses: Table;

  constructor(limits: LoginThrottleLimits = DEFAULT_LOGIN_LIMITS) {
    this.#users = new Table(limits.perUsername);
    this.#addresses = new Table(limits.perAddress);
  }

  /** Admits an attempt (counting it as a failure until `succeeded`) or says how long to wait. */
  admit(username: string, address: string, now: Date): Admission {
    const nowMs = now.getTime();
    const user = userKey(username);
    const waitMs = Math.max(this.#users.waitMs(user, nowMs), this.#addresses.waitMs(address, nowMs));
    if (waitMs > 0) return { admitted: false, retryAfterSeconds: Math.ceil(waitMs / 1000) };
    this.#users.fail(user, nowMs);
    this.#addresses.fail(address, nowMs);
    return { admitted: true };
  }

  /** The admitted attempt was right: the username starts afresh, the address gets its attempt back. */
  succeeded(username: string, address: string): void {
    this.#users.forget(userKey(username));
    this.#addresses.unfail(address);
  }
}

// Usernames are case-insensitive (store/users.ts), so "Admin" and "admin" share one history.
const userKey = (username: string): string => username.trim().toLowerCase();
