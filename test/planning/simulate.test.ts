// The simulator's semantics against traces computed by hand (src/planning/simulate.ts, the header lists the
// rules), and its input format's validation.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type SimulationInput, simulate } from "../../src/planning/simulate.js";
import {
  parseSimulation,
  SimulationFormatError,
  simulationToJson,
} from "../../src/planning/simulation-format.js";
import { MINUTE, SECOND } from "./fixtures.js";

const T0 = Date.parse("2026-01-05T00:00:00Z");
const at = (minutes: number, seconds = 0) => T0 + minutes * MINUTE + seconds * SECOND;

function input(over: Partial<SimulationInput>): SimulationInput {
  return {
    start: new Date(T0),
    end: new Date(at(60)),
    measureFrom: new Date(T0),
    timezone: "UTC",
    buildMs: 5 * MINUTE,
    ttlMs: 0,
    reconcileIntervalMs: MINUTE,
    replaceAheadMs: 0,
    claims: [],
    policy: { type: "static", instances: 2 },
    ...over,
  };
}

describe("simulate: hand-computed traces", () => {
  test("GIVEN a static pool of 2 and three claims WHEN simulated THEN hits, misses and prebuild-seconds add up", () => {
    // 00:00 creates p1, p2 (eligible 00:05). 00:10:00 (also a tick) p1 claimed, p3 created (eligible 00:15).
    // 00:10:30 p2 claimed, p4 created (00:15:30). 00:12 nothing is eligible: a miss, and 2 are starting.
    // Prebuild-seconds: p1 600 + p2 630 + p3 (600 → 3600) 3000 + p4 (630 → 3600) 2970 = 7200.
    const result = simulate(input({ claims: [at(10), at(10, 30), at(12)] }));
    assert.deepEqual(simulationToJson(result), {
      claims: 3,
      hits: 2,
      hitRate: 0.6667,
      prebuildSeconds: 7200,
      created: 4,
      desired: [["2026-01-05T00:00:00Z", 2]],
    });
  });

  test("GIVEN measureFrom after the first claim WHEN simulated THEN only what follows it is counted", () => {
    // Counted from 00:10:15: claims 00:10:30 (hit) and 00:12 (miss); created: p4 (00:10:30); seconds:
    // p2 615 → 630 = 15, p3 615 → 3600 = 2985, p4 630 → 3600 = 2970.
    const result = simulate(
      input({ claims: [at(10), at(10, 30), at(12)], measureFrom: new Date(at(10, 15)) }),
    );
    assert.deepEqual([result.claims, result.hits, result.created, result.prebuildSeconds], [2, 1, 1, 5970]);
  });

  test("GIVEN a claim at the same instant as a tick WHEN simulated THEN the claim comes first", () => {
    // Instant builds: if the tick's cycle ran first, the claim at 00:00 would find a prebuild.
    const result = simulate(input({ buildMs: 0, policy: { type: "static", instances: 1 }, claims: [T0] }));
    assert.deepEqual([result.claims, result.hits], [1, 0]);
  });

  test("GIVEN a TTL WHEN prebuilds expire THEN the pool has a gap until the replacement is eligible", () => {
    // TTL 10 min, build 1 min, cycles every minute, pool of 1, 30 minutes. p1 0 → expires after 10:00, deleted
    // and replaced at 11:00 (p2 eligible 12:00); p2 expires after 21:00, replaced at 22:00 (p3 eligible 23:00).
    // Seconds (expired ones no longer count): p1 600, p2 600, p3 (22:00 → 30:00) 480. The claim at 11:30 misses.
    const base = input({
      end: new Date(at(30)),
      buildMs: MINUTE,
      ttlMs: 10 * MINUTE,
      policy: { type: "static", instances: 1 },
    });
    assert.deepEqual((({ prebuildSeconds, created }) => ({ prebuildSeconds, created }))(simulate(base)), {
      prebuildSeconds: 1680,
      created: 3,
    });
    assert.equal(simulate({ ...base, claims: [at(11, 30)] }).hits, 0);
  });

  test("GIVEN replace-ahead 2 min WHEN prebuilds near expiry THEN replacements are eligible before the old ones go", () => {
    // p1 0; at 09:00 it expires within the lead: p2 starts (eligible 10:00); at 10:00 p2 is eligible and p1 (not
    // expired yet) goes as extraneous. Likewise p3 at 18:00 → p2 goes at 19:00; p4 at 27:00 → p3 goes at 28:00.
    // Seconds: 600 + 600 + 600 + p4 (27:00 → 30:00) 180 = 1980. The claim at 11:30 now hits.
    const base = input({
      end: new Date(at(30)),
      buildMs: MINUTE,
      ttlMs: 10 * MINUTE,
      replaceAheadMs: 2 * MINUTE,
      policy: { type: "static", instances: 1 },
    });
    assert.deepEqual((({ prebuildSeconds, created }) => ({ prebuildSeconds, created }))(simulate(base)), {
      prebuildSeconds: 1980,
      created: 4,
    });
    assert.equal(simulate({ ...base, claims: [at(11, 30)] }).hits, 1);
  });

  test("GIVEN a schedule WHEN simulated THEN every change of desired is listed and the pool follows it", () => {
    // 2 prebuilds from 01:00 to 02:00 (the cron's hour), built at once: 2 × 3600 s.
    const result = simulate(
      input({
        end: new Date(at(180)),
        buildMs: 0,
        policy: {
          type: "schedule",
          instances: 0,
          scheduling: { timezone: "UTC", schedules: [{ cron: "* 1 * * *", instances: 2 }] },
        },
      }),
    );
    assert.deepEqual(simulationToJson(result).desired, [
      ["2026-01-05T00:00:00Z", 0],
      ["2026-01-05T01:00:00Z", 2],
      ["2026-01-05T02:00:00Z", 0],
    ]);
    assert.deepEqual([result.created, result.prebuildSeconds], [2, 7200]);
  });

  test("GIVEN autoscale and a burst WHEN simulated THEN the policy sees each claim in the cycle right after it", () => {
    // No history: the first claim alone is no burst; the second (10 s later) makes one, and the cycle right
    // after it (00:10:10, not a tick) raises desired.
    const claims = [at(10), at(10, 10), at(10, 20), at(10, 30)];
    const result = simulate(
      input({ claims, policy: { type: "autoscale", min: 0, max: 10, targetHitRate: 0.95 } }),
    );
    const changes = simulationToJson(result).desired;
    assert.deepEqual(changes[0], ["2026-01-05T00:00:00Z", 0]);
    assert.equal(changes[1]?.[0], "2026-01-05T00:10:10Z");
    assert.ok((changes[1]?.[1] ?? 0) > 0);
    assert.equal(result.hits, 0, "nothing was built in time for the burst itself");
  });
});

describe("parseSimulation", () => {
  const valid = () => ({
    start: "2026-01-05T00:00:00Z",
    end: "2026-01-06T00:00:00Z",
    buildSeconds: 300,
    claims: ["2026-01-05T09:01:13Z"],
    policy: { type: "static", instances: 3 },
  });

  test("GIVEN the minimal document WHEN parsed THEN the documented defaults apply", () => {
    const parsed = parseSimulation(valid());
    assert.equal(parsed.measureFrom.getTime(), parsed.start.getTime());
    assert.deepEqual(
      [parsed.timezone, parsed.ttlMs, parsed.reconcileIntervalMs, parsed.replaceAheadMs, parsed.buildMs],
      ["UTC", 0, 60_000, 0, 300_000],
    );
  });

  const invalid: [string, (d: Record<string, unknown>) => void, string][] = [
    ["unknown field", (d) => (d.ttlSecond = 5), "ttlSecond: unknown field"],
    ["no policy", (d) => delete d.policy, "policy: expected an object, got undefined"],
    [
      "a policy type",
      (d) => (d.policy = { type: "magic" }),
      'policy.type: expected one of static, schedule, autoscale, got "magic"',
    ],
    [
      "unsorted claims",
      (d) => (d.claims = ["2026-01-05T10:00:00Z", "2026-01-05T09:00:00Z"]),
      "claims[1]: claims must be sorted",
    ],
    ["a claim after end", (d) => (d.claims = ["2026-01-07T00:00:00Z"]), "claims[0]: outside [start, end)"],
    ["end before start", (d) => (d.end = "2026-01-04T00:00:00Z"), "end: must be after start"],
    [
      "autoscale min > max",
      (d) => (d.policy = { type: "autoscale", min: 5, max: 2, targetHitRate: 0.9 }),
      "policy.max: must be at least min (5), got 2",
    ],
    [
      "a target of 1",
      (d) => (d.policy = { type: "autoscale", min: 0, max: 2, targetHitRate: 1 }),
      "policy.targetHitRate: expected a number between 0 and 1",
    ],
    ["a bad timezone", (d) => (d.timezone = "Mars/Olympus"), 'timezone: unknown timezone "Mars/Olympus"'],
    [
      "a bad schedule",
      (d) =>
        (d.policy = {
          type: "schedule",
          instances: 1,
          scheduling: { timezone: "UTC", schedules: [{ cron: "0 9 * * *", instances: 2 }] },
        }),
      "policy.scheduling.schedules[0].cron: invalid cron",
    ],
    [
      "a zero interval",
      (d) => (d.reconcileIntervalSeconds = 0),
      "reconcileIntervalSeconds: must be at least 1",
    ],
  ];
  for (const [what, change, message] of invalid) {
    test(`GIVEN ${what} WHEN parsed THEN the error names the field`, () => {
      const doc: Record<string, unknown> = valid();
      change(doc);
      assert.throws(
        () => parseSimulation(doc),
        (err: unknown) => err instanceof SimulationFormatError && err.message.startsWith(message),
      );
    });
  }
});
