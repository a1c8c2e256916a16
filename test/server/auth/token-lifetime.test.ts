// Token lifetimes (src/server/auth/token-lifetime.ts): the default, the bounds, and the refusals naming the field.
import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_TOKEN_LIFETIMES, tokenExpiry } from "../../../src/server/auth/token-lifetime.js";
import { DomainError } from "../../../src/server/domain-errors.js";

const now = new Date("2026-01-05T10:00:00Z");
const DAY = 86_400_000;

test("GIVEN no lifetime THEN the default (7 days); a lifetime up to the maximum (30 days) is taken as asked", () => {
  assert.equal(tokenExpiry(undefined, DEFAULT_TOKEN_LIFETIMES, now).getTime(), now.getTime() + 7 * DAY);
  assert.equal(tokenExpiry(60, DEFAULT_TOKEN_LIFETIMES, now).getTime(), now.getTime() + 60_000);
  assert.equal(tokenExpiry(30 * 86_400, DEFAULT_TOKEN_LIFETIMES, now).getTime(), now.getTime() + 30 * DAY);
});

test("GIVEN 0, a negative, a fraction, more than the maximum or 1e20 THEN invalid, naming lifetimeSeconds", () => {
  for (const bad of [0, -1, 1.5, 30 * 86_400 + 1, 1e20]) {
    assert.throws(
      () => tokenExpiry(bad, DEFAULT_TOKEN_LIFETIMES, now),
      (err: unknown) =>
        err instanceof DomainError &&
        err.kind === "invalid" &&
        err.field === "lifetimeSeconds" &&
        /from 1 to 2592000/.test(err.message),
      String(bad),
    );
  }
});
