// How long an API token lives: the one rule for every token a user asks for (POST /users/me/tokens) or gets by
// signing in with a password (POST /users/login). Absent means the default; 0, or more than the maximum, is
// refused naming `lifetimeSeconds`. No token a user can obtain lives forever (only the first owner's bootstrap
// token does, first-owner.ts). Pure: `now` and the limits are passed in.
import { invalid } from "../domain-errors.js";

export interface TokenLifetimes {
  /** `--default-token-lifetime`: when the request gives none (at most `maxMs`; the CLI checks). */
  defaultMs: number;
  /** `--max-token-lifetime`: the longest a request may ask for. */
  maxMs: number;
}

export const DEFAULT_TOKEN_LIFETIMES: TokenLifetimes = {
  defaultMs: 7 * 24 * 3_600_000,
  maxMs: 30 * 24 * 3_600_000,
};

/** When a token created at `now` with the requested lifetime (seconds) expires. */
export function tokenExpiry(lifetimeSeconds: number | undefined, limits: TokenLifetimes, now: Date): Date {
  if (lifetimeSeconds === undefined) return new Date(now.getTime() + limits.defaultMs);
  const maxSeconds = Math.floor(limits.maxMs / 1000);
  if (!Number.isSafeInteger(lifetimeSeconds) || lifetimeSeconds < 1 || lifetimeSeconds > maxSeconds)
    throw invalid(`lifetimeSeconds must be a whole number from 1 to ${maxSeconds} (the server's maximum)`, {
      field: "lifetimeSeconds",
    });
  return new Date(now.getTime() + lifetimeSeconds * 1000);
}
