// The pure lease and usability rules: which lease a create gets, how `extend` moves a deadline (capped at the
// template's maximum from now), and when a build made its workspace usable.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DomainError } from "../../../src/server/domain-errors.js";
import { extendedLease, leaseForCreate } from "../../../src/server/workspaces/leases.js";
import { usableSince } from "../../../src/server/workspaces/usable.js";

const T = (minutes: number) => new Date(Date.UTC(2026, 0, 5, 10, minutes));
const HOUR_S = 3600;

describe("leaseForCreate", () => {
  const table = [
    { what: "none asked, no default", template: [null, null], asked: undefined, want: null },
    { what: "the default applies", template: [HOUR_S, null], asked: undefined, want: [HOUR_S, "delete"] },
    { what: "asked beats the default", template: [HOUR_S, null], asked: [60, "stop"], want: [60, "stop"] },
    { what: "at the maximum is fine", template: [null, HOUR_S], asked: [HOUR_S], want: [HOUR_S, "delete"] },
  ] as const;
  for (const row of table) {
    test(row.what, () => {
      const [defaultLeaseSeconds, maxLeaseSeconds] = row.template;
      const asked = row.asked ? { seconds: row.asked[0], onExpiry: row.asked[1] } : undefined;
      const got = leaseForCreate({ defaultLeaseSeconds, maxLeaseSeconds }, asked);
      assert.deepEqual(got, row.want ? { seconds: row.want[0], onExpiry: row.want[1] } : null);
    });
  }

  for (const [what, seconds, max] of [
    ["beyond the maximum", HOUR_S + 1, HOUR_S],
    ["zero", 0, null],
    ["a fraction", 1.5, null],
  ] as const) {
    test(`refused: ${what}, naming lease.seconds`, () => {
      assert.throws(
        () => leaseForCreate({ defaultLeaseSeconds: null, maxLeaseSeconds: max }, { seconds }),
        (err) => err instanceof DomainError && err.kind === "invalid" && err.field === "lease.seconds",
      );
    });
  }
});

describe("extendedLease", () => {
  const running = { seconds: 2 * HOUR_S, onExpiry: "delete" as const, deadline: T(60) };

  test("moves the deadline by the extension without a maximum", () => {
    assert.deepEqual(extendedLease(running, HOUR_S, T(30), null).deadline, T(120));
  });

  test("never past the maximum counted from now", () => {
    assert.deepEqual(extendedLease(running, 5 * HOUR_S, T(30), 2 * HOUR_S).deadline, T(150));
  });

  test("never earlier than it was (a maximum shorter than what is left)", () => {
    assert.deepEqual(extendedLease(running, 60, T(30), 60).deadline, T(60));
  });

  test("a lease not started yet gets a longer lifetime, capped at the maximum", () => {
    const pending = { ...running, deadline: null };
    assert.equal(extendedLease(pending, HOUR_S, T(0), null).seconds, 3 * HOUR_S);
    assert.equal(extendedLease(pending, HOUR_S, T(0), 150 * 60).seconds, 150 * 60);
  });

  test("a non-positive extension is invalid", () => {
    assert.throws(() => extendedLease(running, 0, T(0), null), DomainError);
  });
});

describe("usableSince", () => {
  const start = { transition: "start" as const };
  const done = { status: "succeeded", completedAt: T(5) };

  test("agent-less: when the start build succeeded", () => {
    assert.deepEqual(usableSince(start, done, []), T(5));
  });

  test("with agents: when the last one became ready", () => {
    const agents = [
      { lifecycleState: "ready", readyAt: T(7) },
      { lifecycleState: "ready", readyAt: T(9) },
    ];
    assert.deepEqual(usableSince(start, done, agents), T(9));
  });

  test("not while an agent is not ready, a build failed, or for a stop", () => {
    assert.equal(usableSince(start, done, [{ lifecycleState: "starting", readyAt: null }]), null);
    assert.equal(usableSince(start, { status: "failed", completedAt: T(5) }, []), null);
    assert.equal(usableSince({ transition: "stop" as const }, done, []), null);
  });
});
