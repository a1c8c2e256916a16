import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type CyclePlan, type PresetCyclePlan, planCycle } from "../../src/planning/cycle.js";
import {
  formatTimestamp,
  offlineCycleSnapshot,
  parseSnapshot,
  parseSnapshotText,
  parseTimestamp,
  planToJson,
  SnapshotFormatError,
} from "../../src/planning/snapshot-format.js";
import { type Doc, exampleDocument, NOW, preset as presetFixture } from "./fixtures.js";

const emptyPlan: CyclePlan = {
  now: NOW,
  paused: false,
  inFlight: 0,
  maxInFlight: null,
  budget: null,
  presets: [],
  totals: { deletions: 0, wanted: 0, granted: 0, deferred: 0 },
};

function issuesOf(document: unknown): { path: string; message: string }[] {
  try {
    parseSnapshot(document);
  } catch (err) {
    assert.ok(err instanceof SnapshotFormatError, `unexpected error ${err}`);
    return err.issues;
  }
  assert.fail("the document was accepted");
}

describe("parseSnapshot: a valid document", () => {
  test("GIVEN the §5 example WHEN parsed THEN every field arrives with its type", () => {
    const snapshot = parseSnapshot(exampleDocument());
    assert.equal(snapshot.now?.toISOString(), "2026-01-05T10:00:00.000Z");
    assert.deepEqual(snapshot.settings, { backoffIntervalMs: 60_000, failedRetentionMs: 86_400_000 });
    const [p] = snapshot.presets;
    assert.ok(p);
    assert.equal(p.id, "p1");
    assert.equal(p.desiredInstances, 2);
    assert.equal(p.ttlSeconds, 86400);
    assert.equal(p.lastInvalidatedAt, null);
    assert.equal(p.active, true);
    assert.equal(p.status, "healthy");
    assert.deepEqual(p.scheduling, {
      timezone: "Europe/Berlin",
      schedules: [{ cron: "* 8-18 * * 1-5", instances: 3 }],
    });
    assert.deepEqual(p.prebuilds, [
      { id: "w1", createdAt: new Date("2026-01-04T09:00:00Z"), status: "running", ready: true },
      { id: "w2", createdAt: new Date("2026-01-05T09:00:00Z"), status: "stopped" },
      {
        id: "w3",
        createdAt: new Date("2026-01-03T09:00:00Z"),
        status: "failed",
        failedAt: new Date("2026-01-03T09:05:00Z"),
      },
    ]);
    assert.deepEqual(p.inProgress, { start: 0, stop: 0, delete: 0 });
    assert.equal(p.pendingJobs, 0);
    assert.deepEqual(p.backoff, { numFailed: 2, lastFailedAt: new Date("2026-01-05T09:59:00Z") });
  });

  test("GIVEN a minimal document WHEN parsed THEN the documented defaults apply", () => {
    const snapshot = parseSnapshot({ presets: [{ id: "p", desiredInstances: 1, active: false }] });
    assert.equal(snapshot.now, null);
    assert.deepEqual(snapshot.settings, { backoffIntervalMs: 60_000, failedRetentionMs: 86_400_000 });
    assert.deepEqual(snapshot.budget, { maxInFlight: null }, "no maxInFlight: no cap");
    assert.equal(snapshot.inFlight, 0);
    assert.deepEqual(snapshot.presets, [
      {
        id: "p",
        desiredInstances: 1,
        ttlSeconds: 0,
        lastInvalidatedAt: null,
        active: false,
        status: "healthy",
        hardLimitReached: false,
        needsClaimRehearsal: false,
        scheduling: null,
        prebuilds: [],
        inProgress: { start: 0, stop: 0, delete: 0 },
        pendingJobs: 0,
        backoff: null,
      },
    ]);
  });

  test("GIVEN the cycle inputs (cap, jobs in flight, a reached hard limit) WHEN parsed THEN they arrive", () => {
    const snapshot = parseSnapshot({
      settings: { maxInFlight: 4 },
      inFlight: 3,
      presets: [
        { id: "p", desiredInstances: 1, active: true, hardLimitReached: true, needsClaimRehearsal: true },
      ],
    });
    assert.deepEqual(snapshot.budget, { maxInFlight: 4 });
    assert.equal(snapshot.inFlight, 3);
    assert.equal(snapshot.presets[0]?.hardLimitReached, true);
    assert.equal(snapshot.presets[0]?.needsClaimRehearsal, true);
  });

  test("GIVEN timestamps with offsets and fractions WHEN parsed THEN they are the same instants", () => {
    assert.equal(parseTimestamp("2026-01-05T11:00:00+01:00")?.toISOString(), "2026-01-05T10:00:00.000Z");
    assert.equal(parseTimestamp("2026-01-05T10:00:00.250Z")?.toISOString(), "2026-01-05T10:00:00.250Z");
    assert.equal(parseTimestamp("2026-01-05T10:00Z")?.toISOString(), "2026-01-05T10:00:00.000Z");
    assert.equal(parseTimestamp("2024-02-29T00:00:00Z")?.toISOString(), "2024-02-29T00:00:00.000Z");
  });

  for (const text of [
    "2026-02-29T00:00:00Z",
    "2026-01-05T24:00:00Z",
    "2026-01-05T10:60:00Z",
    "2026-01-05T10:00:00",
    "2026-01-05",
    "1767607200",
  ]) {
    test(`GIVEN the timestamp ${text} WHEN parsed THEN it is rejected`, () => {
      assert.equal(parseTimestamp(text), null);
    });
  }

  test("GIVEN an empty timezone without schedules WHEN parsed THEN it is accepted", () => {
    const document = exampleDocument();
    document.presets[0].scheduling = { timezone: "", schedules: [] };
    assert.deepEqual(parseSnapshot(document).presets[0]?.scheduling, { timezone: "", schedules: [] });
  });
});

describe("parseSnapshot: each invalid field is named", () => {
  const cases: {
    name: string;
    replace?: (d: Doc) => unknown;
    mutate?: (d: Doc) => void;
    path: string;
    message?: RegExp;
  }[] = [
    { name: "a document that is an array", replace: () => [], path: "snapshot" },
    {
      name: "an unknown top-level field",
      replace: (d) => ({ ...d, extra: 1 }),
      path: "extra",
      message: /unknown/,
    },
    { name: "now without a timezone", replace: (d) => ({ ...d, now: "2026-01-05T10:00:00" }), path: "now" },
    { name: "now that is a number", replace: (d) => ({ ...d, now: 1767607200000 }), path: "now" },
    {
      name: "a negative backoff interval",
      replace: (d) => ({ ...d, settings: { backoffIntervalSeconds: -1 } }),
      path: "settings.backoffIntervalSeconds",
    },
    {
      name: "a failed retention given as a string",
      replace: (d) => ({ ...d, settings: { failedRetentionSeconds: "24h" } }),
      path: "settings.failedRetentionSeconds",
    },
    {
      name: "a fractional in-flight cap",
      replace: (d) => ({ ...d, settings: { maxInFlight: 1.5 } }),
      path: "settings.maxInFlight",
    },
    { name: "a negative inFlight", replace: (d) => ({ ...d, inFlight: -1 }), path: "inFlight" },
    {
      name: "a hardLimitReached that is a string",
      mutate: (d) => {
        d.presets[0].hardLimitReached = "yes";
      },
      path: "presets[0].hardLimitReached",
    },
    {
      name: "a misspelled setting",
      replace: (d) => ({ ...d, settings: { backoffInterval: 60 } }),
      path: "settings.backoffInterval",
      message: /unknown field/,
    },
    {
      name: "missing presets",
      replace: (d) => ({ now: d.now }),
      path: "presets",
      message: /expected an array/,
    },
    { name: "a preset that is a string", replace: (d) => ({ ...d, presets: ["p1"] }), path: "presets[0]" },
    { name: "a missing preset id", mutate: (d) => delete d.presets[0].id, path: "presets[0].id" },
    {
      name: "an empty preset id",
      mutate: (d) => {
        d.presets[0].id = "";
      },
      path: "presets[0].id",
    },
    {
      name: "a fractional desiredInstances",
      mutate: (d) => {
        d.presets[0].desiredInstances = 1.5;
      },
      path: "presets[0].desiredInstances",
    },
    {
      name: "a negative ttlSeconds",
      mutate: (d) => {
        d.presets[0].ttlSeconds = -5;
      },
      path: "presets[0].ttlSeconds",
    },
    {
      name: "a misspelled ttl field",
      mutate: (d) => {
        d.presets[0].ttlSecond = 60;
      },
      path: "presets[0].ttlSecond",
      message: /unknown field/,
    },
    {
      name: "an impossible lastInvalidatedAt (Feb 30)",
      mutate: (d) => {
        d.presets[0].lastInvalidatedAt = "2026-02-30T00:00:00Z";
      },
      path: "presets[0].lastInvalidatedAt",
      message: /ISO-8601/,
    },
    {
      name: "active as a string",
      mutate: (d) => {
        d.presets[0].active = "yes";
      },
      path: "presets[0].active",
    },
    { name: "a missing active", mutate: (d) => delete d.presets[0].active, path: "presets[0].active" },
    {
      name: "an unknown preset status",
      mutate: (d) => {
        d.presets[0].status = "broken";
      },
      path: "presets[0].status",
      message: /healthy, hard_limited, validation_failed/,
    },
    {
      name: "an invalid scheduling timezone",
      mutate: (d) => {
        d.presets[0].scheduling.timezone = "Berlin";
      },
      path: "presets[0].scheduling.timezone",
    },
    {
      name: "a scheduling cron with a fixed minute",
      mutate: (d) => {
        d.presets[0].scheduling.schedules[0].cron = "0 8-18 * * 1-5";
      },
      path: "presets[0].scheduling.schedules[0].cron",
      message: /minute/,
    },
    {
      name: "overlapping schedules",
      mutate: (d) => {
        d.presets[0].scheduling.schedules.push({ cron: "* 12 * * *", instances: 1 });
      },
      path: "presets[0].scheduling.schedules[1].cron",
      message: /overlaps/,
    },
    {
      name: "schedule instances as a string",
      mutate: (d) => {
        d.presets[0].scheduling.schedules[0].instances = "3";
      },
      path: "presets[0].scheduling.schedules[0].instances",
    },
    {
      name: "prebuilds as an object",
      mutate: (d) => {
        d.presets[0].prebuilds = {};
      },
      path: "presets[0].prebuilds",
    },
    {
      name: "a prebuild createdAt that is not a timestamp",
      mutate: (d) => {
        d.presets[0].prebuilds[2].createdAt = "yesterday";
      },
      path: "presets[0].prebuilds[2].createdAt",
      message: /not an ISO-8601 timestamp/,
    },
    {
      name: "an unknown prebuild status",
      mutate: (d) => {
        d.presets[0].prebuilds[0].status = "starting";
      },
      path: "presets[0].prebuilds[0].status",
      message: /running, stopped, failed/,
    },
    {
      name: "a running prebuild without ready",
      mutate: (d) => delete d.presets[0].prebuilds[0].ready,
      path: "presets[0].prebuilds[0].ready",
    },
    {
      name: "a failed prebuild without failedAt",
      mutate: (d) => delete d.presets[0].prebuilds[2].failedAt,
      path: "presets[0].prebuilds[2].failedAt",
    },
    {
      name: "a duplicate prebuild id",
      mutate: (d) => {
        d.presets[0].prebuilds[1].id = "w1";
      },
      path: "presets[0].prebuilds[1].id",
      message: /duplicate.*presets\[0\]\.prebuilds\[0\]/,
    },
    {
      name: "a negative in-progress count",
      mutate: (d) => {
        d.presets[0].inProgress.stop = -1;
      },
      path: "presets[0].inProgress.stop",
    },
    {
      name: "an unknown in-progress transition",
      mutate: (d) => {
        d.presets[0].inProgress.destroy = 1;
      },
      path: "presets[0].inProgress.destroy",
      message: /unknown field/,
    },
    {
      name: "pendingJobs as a boolean",
      mutate: (d) => {
        d.presets[0].pendingJobs = true;
      },
      path: "presets[0].pendingJobs",
    },
    {
      name: "a backoff without lastFailedAt",
      mutate: (d) => delete d.presets[0].backoff.lastFailedAt,
      path: "presets[0].backoff.lastFailedAt",
    },
    {
      name: "a fractional numFailed",
      mutate: (d) => {
        d.presets[0].backoff.numFailed = 0.5;
      },
      path: "presets[0].backoff.numFailed",
    },
    {
      name: "a duplicate preset id",
      mutate: (d) => {
        d.presets.push({ id: "p1", desiredInstances: 0, active: true });
      },
      path: "presets[1].id",
      message: /duplicate preset id "p1"/,
    },
  ];
  for (const c of cases) {
    test(`GIVEN ${c.name} WHEN parsed THEN the error names ${c.path}`, () => {
      const document = exampleDocument();
      c.mutate?.(document);
      const issues = issuesOf(c.replace ? c.replace(document) : document);
      const issue = issues.find((i) => i.path === c.path);
      assert.ok(issue, `no issue at ${c.path}; got ${JSON.stringify(issues)}`);
      if (c.message) assert.match(issue.message, c.message);
    });
  }

  test("GIVEN several problems WHEN parsed THEN the message names the first and counts the rest", () => {
    const document = exampleDocument();
    document.presets[0].desiredInstances = -1;
    document.presets[0].prebuilds[0].createdAt = "soon";
    const err = (() => {
      try {
        parseSnapshot(document);
      } catch (e) {
        return e;
      }
    })();
    assert.ok(err instanceof SnapshotFormatError);
    assert.match(err.message, /^presets\[0\]\.desiredInstances: .*\(and 1 more\)$/);
    assert.deepEqual(
      err.issues.map((i) => i.path),
      ["presets[0].desiredInstances", "presets[0].prebuilds[0].createdAt"],
    );
  });

  test("GIVEN text that is not JSON WHEN parsed THEN the error says so", () => {
    assert.throws(
      () => parseSnapshotText("{ presets: "),
      (err: unknown) => {
        assert.ok(err instanceof SnapshotFormatError);
        assert.match(err.message, /^snapshot: not valid JSON/);
        return true;
      },
    );
  });
});

describe("planToJson", () => {
  test("GIVEN a plan with every action type WHEN serialized THEN the §5 output shape comes out", () => {
    // State keys given out of order and with distinct values: the output must use contract order and names.
    const preset: PresetCyclePlan = {
      id: "p1",
      preset: presetFixture({ id: "p1" }),
      status: "healthy",
      backoffUntil: null,
      state: {
        deleting: 8,
        stopping: 7,
        starting: 6,
        extraneous: 5,
        eligible: 4,
        expired: 3,
        running: 2,
        desired: 1,
      },
      actions: [
        { type: "set_status", status: "hard_limited" },
        { type: "delete", reason: "expired", ids: ["w1"] },
        { type: "cancel_pending" },
        { type: "create", count: 1, wanted: 2, granted: 1 },
        { type: "backoff", until: new Date("2026-01-05T10:01:00Z") },
        { type: "blocked", reason: "hard_limited" },
      ],
    };
    assert.equal(
      JSON.stringify(planToJson({ ...emptyPlan, maxInFlight: 4, presets: [preset] })),
      '{"presets":[{"id":"p1","state":{"desired":1,"running":2,"expired":3,"eligible":4,"extraneous":5,' +
        '"starting":6,"stopping":7,"deleting":8},"actions":[{"type":"set_status","status":"hard_limited"},' +
        '{"type":"delete","reason":"expired","ids":["w1"]},{"type":"cancel_pending"},' +
        '{"type":"create","count":1,"wanted":2,"granted":1},{"type":"backoff","until":"2026-01-05T10:01:00Z"},' +
        '{"type":"blocked","reason":"hard_limited"}]}]}',
    );
  });

  test("GIVEN an instant with milliseconds WHEN formatted THEN they are kept", () => {
    assert.equal(formatTimestamp(new Date("2026-01-05T10:01:00.500Z")), "2026-01-05T10:01:00.500Z");
    assert.equal(formatTimestamp(new Date("2026-01-05T10:01:00Z")), "2026-01-05T10:01:00Z");
  });
});

describe("the offline format's demand-driven inputs (issue 13)", () => {
  const autoscaled = (over: Doc = {}): Doc => ({
    now: "2026-01-05T10:00:00Z",
    presets: [
      {
        id: "p",
        desiredInstances: 1,
        active: true,
        autoscale: { min: 1, max: 6, targetHitRate: 0.95 },
        claims: ["2026-01-05T09:59:50Z", "2026-01-05T09:59:10Z", "2026-01-05T09:59:30Z"],
        buildSeconds: [30, 40],
        ...over,
      },
    ],
  });

  test("GIVEN autoscale, claims and build times WHEN parsed THEN they arrive as model inputs (claims sorted)", () => {
    const [p] = parseSnapshot(autoscaled()).presets;
    assert.deepEqual(p?.autoscale, {
      policy: { min: 1, max: 6, targetHitRate: 0.95, timezone: null },
      demand: {
        claims: ["2026-01-05T09:59:10Z", "2026-01-05T09:59:30Z", "2026-01-05T09:59:50Z"].map(Date.parse),
        since: Number.NEGATIVE_INFINITY,
      },
    });
    assert.deepEqual(p?.buildDurationsMs, [30_000, 40_000]);
  });

  test("GIVEN an autoscaled preset WHEN planned offline THEN the output says why (desiredReason)", () => {
    const snapshot = parseSnapshot(autoscaled());
    const plan = planCycle(
      offlineCycleSnapshot(snapshot, snapshot.now ?? NOW),
      snapshot.settings,
      snapshot.budget,
    );
    const [json] = planToJson(plan).presets;
    assert.equal(json?.state.desired, 3);
    assert.match(
      json?.desiredReason ?? "",
      /^burst of 3 claims in 5m: 0\.60 claims\/min × refill 1m \(p90 40s, at least 1m\) → 3 for 95%$/,
    );
  });

  test("GIVEN replace-ahead and ceilings WHEN planned offline THEN expiringSoon and limitedBy appear", () => {
    const snapshot = parseSnapshot({
      now: "2026-01-05T10:00:00Z",
      settings: { maxPrebuilds: 2, maxIdleCost: 100 },
      presets: [
        {
          id: "p",
          desiredInstances: 3,
          active: true,
          ttlSeconds: 3600,
          replaceAheadSeconds: 600,
          dailyCost: 5,
          prebuilds: [{ id: "w1", createdAt: "2026-01-05T09:05:00Z", status: "running", ready: true }],
        },
      ],
    });
    assert.deepEqual(snapshot.budget, { maxInFlight: null, maxPrebuilds: 2, maxIdleCostPerDay: 100 });
    const plan = planCycle(offlineCycleSnapshot(snapshot, NOW), snapshot.settings, snapshot.budget);
    assert.deepEqual(planToJson(plan).presets[0], {
      id: "p",
      state: {
        desired: 3,
        running: 1,
        expired: 0,
        eligible: 1,
        extraneous: 0,
        starting: 0,
        stopping: 0,
        deleting: 0,
        expiringSoon: 1,
      },
      actions: [{ type: "create", count: 1, wanted: 3, granted: 1, limitedBy: "max_prebuilds" }],
    });
  });

  test("GIVEN a surge rollout WHEN planned offline THEN the outdated pool waits for its successor", () => {
    const snapshot = parseSnapshot({
      now: "2026-01-05T10:00:00Z",
      presets: [
        {
          id: "old",
          desiredInstances: 2,
          active: false,
          rollout: "surge",
          successor: "new",
          prebuilds: [
            { id: "o1", createdAt: "2026-01-05T08:00:00Z", status: "running", ready: true },
            { id: "o2", createdAt: "2026-01-05T09:00:00Z", status: "running", ready: true },
          ],
        },
        {
          id: "new",
          desiredInstances: 2,
          active: true,
          prebuilds: [{ id: "n1", createdAt: "2026-01-05T09:59:00Z", status: "running", ready: true }],
        },
      ],
    });
    const plan = planCycle(offlineCycleSnapshot(snapshot, NOW), snapshot.settings, snapshot.budget);
    assert.deepEqual(planToJson(plan).presets[0]?.actions, [
      { type: "delete", reason: "outdated", ids: ["o1"] },
    ]);
  });

  const invalid: [string, Doc, string][] = [
    [
      "autoscale min > max",
      autoscaled({ autoscale: { min: 3, max: 2, targetHitRate: 0.9 } }),
      "presets[0].autoscale.max: must be at least min (3), got 2",
    ],
    [
      "a target hit rate of 0",
      autoscaled({ autoscale: { min: 0, max: 2, targetHitRate: 0 } }),
      "presets[0].autoscale.targetHitRate:",
    ],
    [
      "an unknown timezone",
      autoscaled({ autoscale: { min: 0, max: 2, targetHitRate: 0.9, timezone: "Nowhere/Land" } }),
      'presets[0].autoscale.timezone: unknown timezone "Nowhere/Land"',
    ],
    ["a bad claim", autoscaled({ claims: ["yesterday"] }), "presets[0].claims[0]: not an ISO-8601 timestamp"],
    [
      "claims without autoscale",
      autoscaled({ autoscale: undefined }),
      "presets[0].claims: only used with autoscale",
    ],
    ["a negative build time", autoscaled({ buildSeconds: [-1] }), "presets[0].buildSeconds[0]:"],
    [
      "a rollout name",
      autoscaled({ rollout: "blue-green" }),
      'presets[0].rollout: expected one of surge, replace, got "blue-green"',
    ],
    [
      "an unknown successor",
      autoscaled({ successor: "nope" }),
      'presets[0].successor: no preset with id "nope"',
    ],
  ];
  for (const [what, doc, message] of invalid) {
    test(`GIVEN ${what} WHEN parsed THEN the error names the field`, () => {
      assert.ok(
        issuesOf(doc).some((i) => `${i.path}: ${i.message}`.startsWith(message)),
        JSON.stringify(issuesOf(doc)),
      );
    });
  }
});
