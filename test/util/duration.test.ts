import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { formatDuration, parseDuration } from "../../src/util/duration.js";

describe("parseDuration", () => {
  const valid: Array<[string, number]> = [
    ["500ms", 500],
    ["15s", 15_000],
    ["1m", 60_000],
    ["24h", 86_400_000],
    ["1h30m", 5_400_000],
    ["1.5s", 1_500],
    ["2d", 172_800_000],
    ["0", 0],
    [" 10s ", 10_000],
  ];
  for (const [input, ms] of valid) {
    test(`GIVEN "${input}" THEN ${ms} ms`, () => assert.equal(parseDuration(input), ms));
  }
  for (const input of ["", "abc", "10x", "s", "1m foo", "-5s"]) {
    test(`GIVEN "${input}" THEN an error naming it`, () => {
      assert.throws(
        () => parseDuration(input),
        (err: Error) => err.message.includes(`"${input}"`),
      );
    });
  }
});

test("GIVEN a bare number other than 0 THEN an error asking for a unit (15 meant 15 ms to the parser, 15 s to people)", () => {
  for (const input of ["15", "250", "1.5"]) {
    assert.throws(
      () => parseDuration(input),
      (err: Error) => err.message.includes(`"${input}"`) && /give a unit/.test(err.message),
    );
  }
});

describe("formatDuration", () => {
  test("GIVEN sub-second, seconds and composite durations THEN compact text", () => {
    assert.equal(formatDuration(250), "250ms");
    assert.equal(formatDuration(1_500), "1.5s");
    assert.equal(formatDuration(90_061_000), "1d1h1m1s");
    assert.equal(formatDuration(3_600_000), "1h");
  });
});
