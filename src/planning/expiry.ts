// §5 rule 2 (expiry) in the two forms the code needs: the planner's predicate `isExpired` (plan.ts) and, for
// the claim query (an expired prebuild is never claimed), the same rule as a lower bound on `created_at`:
//
//   not expired  ⇔  created_at ≥ last_invalidated_at (when set)  AND  created_at ≥ now − TTL (when TTL > 0)
//
// which is `isExpired` negated term by term (`now − created > TTL` ⇔ `created < now − TTL`). Both agree to the
// millisecond: exactly TTL old is not expired, one millisecond more is; created exactly at the invalidation
// instant is not invalidated. test/server/prebuilds/claim.test.ts checks the bound against `isExpired` and the
// claim query against it on both dialects.
import type { PresetSnapshot } from "./plan.js";

export { isExpired } from "./plan.js";

/**
 * The smallest `created_at` (ms) a prebuild of the preset may have and not be expired at `now`;
 * `Number.MIN_SAFE_INTEGER` when nothing expires.
 */
export function notExpiredSince(
  preset: Pick<PresetSnapshot, "ttlSeconds" | "lastInvalidatedAt">,
  now: Date,
): number {
  let bound = Number.MIN_SAFE_INTEGER;
  if (preset.lastInvalidatedAt) bound = Math.max(bound, preset.lastInvalidatedAt.getTime());
  if (preset.ttlSeconds > 0) bound = Math.max(bound, now.getTime() - preset.ttlSeconds * 1000);
  return bound;
}
