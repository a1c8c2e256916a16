// The Clock contract (src/clock.ts) on the system clock, and the semantics tests rely on in the shared
// FakeClock (test/support/fake-clock.ts): timers fire in order while advancing, including ones set by fired
// timers, with promise chains settling in between; wall-clock jumps fire nothing.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { systemClock } from "../src/clock.js";
import { FakeClock } from "./support/fake-clock.js";

const T0 = "2026-01-05T10:00:00.000Z";

describe("systemClock", () => {
  test("GIVEN a long sleep WHEN its signal aborts THEN it resolves (never rejects) and its timer is gone", async () => {
    const abort = new AbortController();
    const slept = systemClock.sleep(3_600_000, abort.signal);
    abort.abort();
    await slept;
  });

  test("GIVEN an aborted signal THEN sleep resolves at once", async () => {
    await systemClock.sleep(3_600_000, AbortSignal.abort());
  });

  test("GIVEN a timeout and an interval WHEN cancelled THEN neither fires", async () => {
    let fired = 0;
    const timeout = systemClock.setTimeout(() => fired++, 1, { ref: false });
    const interval = systemClock.setInterval(() => fired++, 1);
    systemClock.clearTimeout(timeout);
    interval.cancel();
    systemClock.clearInterval(undefined);
    await new Promise<void>((resolve) => systemClock.setTimeout(resolve, 5));
    assert.equal(fired, 0);
  });
});

describe("FakeClock", () => {
  test("GIVEN timers set out of order WHEN advancing past them THEN they fire by due time, each at its due time", async () => {
    const clock = new FakeClock(T0);
    const seen: string[] = [];
    const at = (name: string) => () => seen.push(`${name}@${clock.now().getTime() - Date.parse(T0)}`);
    clock.setTimeout(at("c"), 300);
    clock.setTimeout(at("a"), 100);
    clock.setTimeout(at("b"), 100); // same due time: the order they were set
    clock.setTimeout(at("late"), 1_000);
    await clock.advance(500);
    assert.deepEqual(seen, ["a@100", "b@100", "c@300"]);
    assert.equal(clock.now().toISOString(), "2026-01-05T10:00:00.500Z");
    assert.equal(clock.pendingTimers, 1);
  });

  test("GIVEN a timer that sets another within the window THEN both fire in one advance", async () => {
    const clock = new FakeClock(T0);
    const seen: number[] = [];
    clock.setTimeout(() => {
      seen.push(1);
      clock.setTimeout(() => seen.push(2), 100);
      clock.setTimeout(() => seen.push(3), 1_000);
    }, 100);
    await clock.advance(250);
    assert.deepEqual(seen, [1, 2]);
    await clock.advance(750);
    assert.deepEqual(seen, [1, 2], "due at 1100");
    await clock.advance(100);
    assert.deepEqual(seen, [1, 2, 3]);
  });

  test("GIVEN a timer that starts async work THEN its promise chain settles before the next timer fires", async () => {
    const clock = new FakeClock(T0);
    const seen: string[] = [];
    clock.setTimeout(() => {
      void (async () => {
        await Promise.resolve();
        await Promise.resolve();
        seen.push("work done");
      })();
    }, 10);
    clock.setTimeout(() => seen.push("next timer"), 20);
    await clock.advance(20);
    assert.deepEqual(seen, ["work done", "next timer"]);
  });

  test("GIVEN work that arms a timer after a few microtasks WHEN advancing right away THEN that timer is counted", async () => {
    const clock = new FakeClock(T0);
    let fired = false;
    void Promise.resolve()
      .then(() => undefined)
      .then(() => clock.setTimeout(() => (fired = true), 25));
    await clock.advance(25);
    assert.equal(fired, true);
  });

  test("GIVEN an interval THEN it fires once per period until cancelled", async () => {
    const clock = new FakeClock(T0);
    let ticks = 0;
    const interval = clock.setInterval(() => ticks++, 1_000);
    await clock.advance(3_500);
    assert.equal(ticks, 3);
    clock.clearInterval(interval);
    await clock.advance(10_000);
    assert.equal(ticks, 3);
    assert.equal(clock.pendingTimers, 0);
  });

  test("GIVEN a wall-clock jump (forwards or backwards) THEN no timer fires and timers keep their delay", async () => {
    const clock = new FakeClock(T0);
    let fired = 0;
    clock.setTimeout(() => fired++, 1_000);
    clock.set("2026-03-29T02:30:00Z");
    clock.set("2025-01-01T00:00:00Z");
    await clock.advance(999);
    assert.equal(fired, 0);
    assert.equal(clock.now().toISOString(), "2025-01-01T00:00:00.999Z");
    await clock.advance(1);
    assert.equal(fired, 1);
  });

  test("GIVEN a sleep THEN it resolves when advanced to its end, or when its signal aborts", async () => {
    const clock = new FakeClock(T0);
    let woke = false;
    const sleeping = clock.sleep(100).then(() => (woke = true));
    await clock.advance(99);
    assert.equal(woke, false);
    await clock.advance(1);
    await sleeping;

    const abort = new AbortController();
    const aborted = clock.sleep(60_000, abort.signal);
    abort.abort();
    await aborted;
    assert.equal(clock.pendingTimers, 0, "the aborted sleep's timer was cancelled");
  });

  test("GIVEN a 0 ms timeout re-arming itself THEN advance reports a timer loop instead of hanging", async () => {
    const clock = new FakeClock(T0);
    const rearm = () => void clock.setTimeout(rearm, 0);
    rearm();
    await assert.rejects(clock.advance(1), /timer loop/);
  });
});
