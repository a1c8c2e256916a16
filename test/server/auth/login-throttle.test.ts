// The login throttle's rule (src/server/auth/login-throttle.ts), on plain dates: free failures, a delay that
// doubles to a cap, forgetting, a success resetting the username but not the address, and the memory bound.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  delayAfter,
  FORGET_AFTER_MS,
  LoginThrottle,
  MAX_DELAY_MS,
  MAX_KEYS,
} from "../../../src/server/auth/login-throttle.js";

const T0 = Date.parse("2026-01-05T10:00:00Z");
const at = (ms: number) => new Date(T0 + ms);

describe("login throttle", () => {
  test("GIVEN a limit of 3 THEN the delay is 0 under it, then 1 s doubling per failure, capped at 15 min", () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 6].map((n) => delayAfter(n, 3)),
      [0, 0, 0, 1_000, 2_000, 4_000, 8_000],
    );
    assert.equal(delayAfter(100, 3), MAX_DELAY_MS);
  });

  test("GIVEN 3 free failures per username WHEN a 4th comes at once THEN it waits 1 s; later waits grow", () => {
    const throttle = new LoginThrottle({ perUsername: 3, perAddress: 100 });
    for (let i = 0; i < 3; i++)
      assert.deepEqual(throttle.admit("bob", "10.0.0.1", at(0)), { admitted: true });
    assert.deepEqual(throttle.admit("bob", "10.0.0.1", at(0)), { admitted: false, retryAfterSeconds: 1 });
    // Refused attempts are not failures: waiting the second out is enough.
    assert.deepEqual(throttle.admit("BOB ", "10.0.0.2", at(999)), { admitted: false, retryAfterSeconds: 1 });
    assert.deepEqual(throttle.admit("bob", "10.0.0.1", at(1_000)), { admitted: true });
    assert.deepEqual(throttle.admit("bob", "10.0.0.1", at(1_000)), { admitted: false, retryAfterSeconds: 2 });
    assert.deepEqual(throttle.admit("bob", "10.0.0.1", at(3_000)), { admitted: true });
    assert.deepEqual(throttle.admit("bob", "10.0.0.1", at(3_500)), { admitted: false, retryAfterSeconds: 4 });
    // Another username from the same address is not held back by bob's record.
    assert.deepEqual(throttle.admit("alice", "10.0.0.1", at(3_500)), { admitted: true });
  });

  test("GIVEN a throttled username WHEN an hour passes without failures THEN its history is forgotten", () => {
    const throttle = new LoginThrottle({ perUsername: 1, perAddress: 100 });
    throttle.admit("bob", "a", at(0));
    assert.equal(throttle.admit("bob", "a", at(0)).admitted, false);
    assert.deepEqual(throttle.admit("bob", "a", at(FORGET_AFTER_MS)), { admitted: true });
    // One failure again, not the old count plus one: the next wait is the first one.
    assert.deepEqual(throttle.admit("bob", "a", at(FORGET_AFTER_MS)), {
      admitted: false,
      retryAfterSeconds: 1,
    });
  });

  test("GIVEN failures WHEN the username signs in THEN it starts afresh, but the address keeps its record", () => {
    const throttle = new LoginThrottle({ perUsername: 2, perAddress: 3 });
    throttle.admit("bob", "a", at(0));
    throttle.admit("bob", "a", at(0)); // bob: 2 failures, at the limit
    throttle.succeeded("bob", "a"); // the right password: bob 0, the address 1 (its successful attempt given back)
    assert.deepEqual(throttle.admit("bob", "a", at(0)), { admitted: true });
    assert.deepEqual(throttle.admit("carol", "a", at(0)), { admitted: true });
    // bob has 1 failure, carol 1; the address has 3 (one from before the sign-in).
    assert.deepEqual(throttle.admit("dave", "a", at(0)), { admitted: false, retryAfterSeconds: 1 });
  });

  test("GIVEN 3 free failures per address WHEN guesses spread over usernames THEN the address is held back", () => {
    const throttle = new LoginThrottle({ perUsername: 100, perAddress: 3 });
    for (const name of ["a", "b", "c"]) assert.equal(throttle.admit(name, "10.0.0.9", at(0)).admitted, true);
    assert.deepEqual(throttle.admit("d", "10.0.0.9", at(0)), { admitted: false, retryAfterSeconds: 1 });
    assert.equal(throttle.admit("d", "10.0.0.10", at(0)).admitted, true);
  });

  test("GIVEN more keys than the bound WHEN one more fails THEN the oldest key's history is dropped", () => {
    const throttle = new LoginThrottle({ perUsername: 1, perAddress: 1 });
    throttle.admit("victim", "addr-victim", at(0));
    for (let i = 0; i < MAX_KEYS; i++) throttle.admit(`user-${i}`, `addr-${i}`, at(1));
    assert.deepEqual(throttle.admit("victim", "addr-victim", at(2)), { admitted: true });
  });
});
