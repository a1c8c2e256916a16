// The daemon's log batching: quiet period, size trigger, ordering and failures, on the shared FakeClock.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { LogBuffer } from "../../src/provisionerd/log-buffer.js";
import { FakeClock } from "../support/fake-clock.js";

describe("LogBuffer", () => {
  function recorder() {
    const batches: number[][] = [];
    const clock = new FakeClock();
    const buffer = new LogBuffer<number>({
      send: async (batch) => {
        batches.push(batch);
      },
      quietMs: 250,
      maxLines: 100,
      clock,
    });
    return { batches, buffer, clock };
  }

  test("GIVEN lines arriving closer than the quiet period THEN one batch after 250 ms of quiet", async () => {
    const { batches, buffer, clock } = recorder();
    buffer.push(1);
    await clock.advance(200);
    buffer.push(2);
    await clock.advance(200);
    assert.deepEqual(batches, [], "nothing sent while lines keep coming");
    await clock.advance(50);
    assert.deepEqual(batches, [[1, 2]], "the quiet timer sent it (no explicit flush)");
  });

  test("GIVEN 100 queued lines THEN they are sent at once, without waiting for quiet", async () => {
    const { batches, buffer } = recorder();
    for (let i = 0; i < 100; i++) buffer.push(i);
    await buffer.flush();
    assert.equal(batches.length, 1);
    assert.equal(batches[0]?.length, 100);
  });

  test("GIVEN a batch still being sent WHEN settle() THEN it resolves after that batch, with the lines queued since, and the timer is off", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const sent: number[][] = [];
    const clock = new FakeClock();
    const buffer = new LogBuffer<number>({
      send: async (batch) => {
        await gate;
        sent.push(batch);
      },
      clock,
    });
    buffer.push(1);
    void buffer.flush();
    buffer.push(2);
    const settled = buffer.settle();
    buffer.push(3);
    release();
    assert.deepEqual(await settled, [2, 3]);
    assert.deepEqual(sent, [[1]], "the earlier batch went first; the rest is the caller's to send");
    assert.equal(buffer.pending, 0);
    assert.equal(clock.pendingTimers, 0);
  });

  test("GIVEN a slow sender THEN batches keep their order and flush() waits for all", async () => {
    const sent: number[][] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const buffer = new LogBuffer<number>({
      send: async (batch) => {
        if (batch[0] === 1) await gate;
        sent.push(batch);
      },
    });
    buffer.push(1);
    const first = buffer.flush();
    buffer.push(2);
    const second = buffer.flush();
    release();
    await Promise.all([first, second]);
    assert.deepEqual(sent, [[1], [2]]);
  });

  test("GIVEN a failing sender THEN the error is reported and later batches still go out", async () => {
    const errors: unknown[] = [];
    const sent: number[][] = [];
    const buffer = new LogBuffer<number>({
      send: async (batch) => {
        if (batch[0] === 1) throw new Error("server away");
        sent.push(batch);
      },
      onError: (e) => errors.push(e),
    });
    buffer.push(1);
    await buffer.flush();
    buffer.push(2);
    await buffer.flush();
    assert.equal(errors.length, 1);
    assert.deepEqual(sent, [[2]]);
  });

  test("GIVEN take() THEN queued lines are handed over and the timer is cleared", async () => {
    const { batches, buffer, clock } = recorder();
    buffer.push(7);
    assert.deepEqual(buffer.take(), [7]);
    assert.equal(clock.pendingTimers, 0);
    await clock.advance(1_000);
    await buffer.flush();
    assert.deepEqual(batches, []);
  });
});
