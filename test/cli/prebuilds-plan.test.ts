// `prewarm prebuilds plan --snapshot FILE` through the real CLI process. Expected values are derived from the
// §5 rules in the comments next to each fixture preset, not copied from the program's output.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Doc, exampleDocument, planState } from "../planning/fixtures.js";
import { runCli } from "../support/cli.js";

// NOW is Monday 2026-01-05, 11:00 in Berlin.
const SNAPSHOT: Doc = {
  now: "2026-01-05T10:00:00Z",
  settings: { backoffIntervalSeconds: 60, failedRetentionSeconds: 86400 },
  presets: [
    // The §5 example. Monday 11:00 Berlin is inside "* 8-18 * * 1-5" → desired 3. w1 is 25 h old, TTL 24 h →
    // expired (so running 1, eligible 0). w2 stopped → deleted. w3 failed 48 h 55 min ago, retention 24 h →
    // deleted. Creation would be 3 − 0 − 0 = 3, but 2 failures, the last at 09:59, back off until
    // 09:59 + 2 × 60 s = 10:01.
    { ...exampleDocument().presets[0], id: "office" },
    {
      // Inactive: desired 0; pending jobs cancelled; both running prebuilds outdated, oldest (o1) first.
      id: "outdated",
      desiredInstances: 2,
      active: false,
      prebuilds: [
        { id: "o2", createdAt: "2026-01-05T08:00:00Z", status: "running", ready: true },
        { id: "o1", createdAt: "2026-01-05T07:00:00Z", status: "running", ready: true },
      ],
      pendingJobs: 1,
    },
    {
      // Hard-limited: 2 − 1 running − 0 starting = 1 to create (the stop in flight does not count) → blocked.
      id: "limited",
      desiredInstances: 2,
      active: true,
      status: "hard_limited",
      prebuilds: [{ id: "l1", createdAt: "2026-01-05T09:00:00Z", status: "running", ready: true }],
      inProgress: { start: 0, stop: 1, delete: 0 },
    },
    {
      // Exactly at target: no actions at all.
      id: "steady",
      desiredInstances: 1,
      active: true,
      prebuilds: [{ id: "s1", createdAt: "2026-01-05T09:00:00Z", status: "running", ready: true }],
    },
    {
      // 3 − 1 running − 1 starting = 1 to create; g1 is not ready (not eligible); the delete in flight does not count.
      id: "growing",
      desiredInstances: 3,
      active: true,
      prebuilds: [{ id: "g1", createdAt: "2026-01-05T09:30:00Z", status: "running", ready: false }],
      inProgress: { start: 1, stop: 0, delete: 1 },
    },
  ],
};

let dir: string;
let snapshotFile: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "prewarm-plan-"));
  snapshotFile = join(dir, "snapshot.json");
  await writeFile(snapshotFile, JSON.stringify(SNAPSHOT, null, 2));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("prewarm prebuilds plan --snapshot", () => {
  test("GIVEN the fixture snapshot file WHEN planned THEN every preset's state and actions follow the rules", async () => {
    const result = await runCli(["prebuilds", "plan", "--snapshot", snapshotFile]);
    assert.equal(result.stderr, "");
    assert.equal(result.code, 0);
    assert.ok(result.stdout.startsWith('{\n  "presets": ['), "pretty-printed with 2 spaces");
    const output = JSON.parse(result.stdout);
    assert.deepEqual(Object.keys(output), ["presets"]);
    assert.deepEqual(
      output.presets.map((p: { id: string }) => p.id),
      ["office", "outdated", "limited", "steady", "growing"],
    );
    const [office, outdated, limited, steady, growing] = output.presets;

    assert.deepEqual(office.state, planState({ desired: 3, running: 1, expired: 1 }));
    assert.deepEqual(office.actions, [
      { type: "delete", reason: "expired", ids: ["w1"] },
      { type: "delete", reason: "stopped", ids: ["w2"] },
      { type: "delete", reason: "failed", ids: ["w3"] },
      { type: "backoff", until: "2026-01-05T10:01:00Z" },
    ]);

    assert.deepEqual(outdated.state, planState({ running: 2 }));
    assert.deepEqual(outdated.actions, [
      { type: "cancel_pending" },
      { type: "delete", reason: "outdated", ids: ["o1", "o2"] },
    ]);

    assert.deepEqual(limited.state, planState({ desired: 2, running: 1, eligible: 1, stopping: 1 }));
    assert.deepEqual(limited.actions, [{ type: "blocked", reason: "hard_limited" }]);

    assert.deepEqual(steady.state, planState({ desired: 1, running: 1, eligible: 1 }));
    assert.deepEqual(steady.actions, []);

    assert.deepEqual(growing.state, planState({ desired: 3, running: 1, starting: 1, deleting: 1 }));
    assert.deepEqual(growing.actions, [{ type: "create", count: 1 }]);
  });

  test("GIVEN a snapshot with the cycle inputs WHEN planned THEN the hard limit is set and creations are rationed", async () => {
    // cap 3, 1 job in flight → budget 2. "limit" reached its hard limit: set_status, then blocked. "a" wants 3,
    // "b" wants 2: one each, round-robin in snapshot order.
    const file = join(dir, "cycle.json");
    await writeFile(
      file,
      JSON.stringify({
        now: "2026-01-05T10:00:00Z",
        settings: { maxInFlight: 3 },
        inFlight: 1,
        presets: [
          { id: "limit", desiredInstances: 1, active: true, hardLimitReached: true },
          { id: "a", desiredInstances: 3, active: true },
          { id: "b", desiredInstances: 2, active: true },
        ],
      }),
    );
    const result = await runCli(["prebuilds", "plan", "--snapshot", file]);
    assert.equal(result.code, 0, result.stderr);
    const output = JSON.parse(result.stdout);
    assert.deepEqual(
      output.presets.map((p: { id: string; actions: unknown[] }) => [p.id, p.actions]),
      [
        [
          "limit",
          [
            { type: "set_status", status: "hard_limited" },
            { type: "blocked", reason: "hard_limited" },
          ],
        ],
        ["a", [{ type: "create", count: 1, wanted: 3, granted: 1 }]],
        ["b", [{ type: "create", count: 1, wanted: 2, granted: 1 }]],
      ],
    );
    const table = await runCli(["prebuilds", "plan", "--snapshot", file, "-o", "table"]);
    assert.match(table.stdout, /mark hard-limited, blocked: hard_limited/);
    assert.match(table.stdout, /create 1 of 3 \(2 deferred\)/);
  });

  test("GIVEN the same snapshot on stdin (-) WHEN planned THEN the output is identical", async () => {
    const fromFile = await runCli(["prebuilds", "plan", "--snapshot", snapshotFile]);
    const fromStdin = await runCli(["prebuilds", "plan", "--snapshot", "-"], {
      input: JSON.stringify(SNAPSHOT),
    });
    assert.equal(fromStdin.code, 0);
    assert.equal(fromStdin.stdout, fromFile.stdout);
  });

  test("GIVEN a snapshot without now WHEN planned THEN the current time is used", async () => {
    // Created in 2000 with a 1 h TTL: expired at any real current time; created in 2999: not yet expired.
    const input = JSON.stringify({
      presets: [
        {
          id: "p",
          desiredInstances: 2,
          ttlSeconds: 3600,
          active: true,
          prebuilds: [
            { id: "ancient", createdAt: "2000-01-01T00:00:00Z", status: "running", ready: true },
            { id: "future", createdAt: "2999-01-01T00:00:00Z", status: "running", ready: true },
          ],
        },
      ],
    });
    const result = await runCli(["prebuilds", "plan", "--snapshot", "-"], { input });
    assert.equal(result.code, 0, result.stderr);
    const [p] = JSON.parse(result.stdout).presets;
    assert.deepEqual(p.actions, [
      { type: "delete", reason: "expired", ids: ["ancient"] },
      { type: "create", count: 1 },
    ]);
  });

  test("GIVEN a snapshot with an invalid field WHEN planned THEN one line names the field and the exit code is 2", async () => {
    const bad = structuredClone(SNAPSHOT);
    bad.presets[0].prebuilds[2].createdAt = "last tuesday";
    const result = await runCli(["prebuilds", "plan", "--snapshot", "-"], { input: JSON.stringify(bad) });
    assert.equal(result.code, 2);
    assert.equal(result.stdout, "");
    assert.equal(result.stderr.trimEnd().split("\n").length, 1, result.stderr);
    assert.match(
      result.stderr,
      /^prewarm: invalid snapshot "-": presets\[0\]\.prebuilds\[2\]\.createdAt: not an ISO-8601/,
    );
  });

  test("GIVEN text that is not JSON WHEN planned THEN the error says so and the exit code is 2", async () => {
    const result = await runCli(["prebuilds", "plan", "--snapshot", "-"], { input: "{ not json" });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^prewarm: invalid snapshot "-": snapshot: not valid JSON/);
  });

  test("GIVEN a file that does not exist WHEN planned THEN a clear error and exit code 1", async () => {
    const missing = join(dir, "missing.json");
    const result = await runCli(["prebuilds", "plan", "--snapshot", missing]);
    assert.equal(result.code, 1);
    assert.equal(result.stderr, `prewarm: read snapshot "${missing}": no such file\n`);
  });

  test("GIVEN -o table WHEN planned THEN one row per snapshot id, actions summarised from the rules", async () => {
    const result = await runCli(["prebuilds", "plan", "--snapshot", snapshotFile, "-o", "table"], {
      env: { NO_COLOR: "1" },
    });
    assert.equal(result.stderr, "");
    assert.equal(result.code, 0);
    const lines = result.stdout.trimEnd().split("\n");
    assert.match(
      lines[0] ?? "",
      /^TEMPLATE +VERSION +PRESET +DESIRED +RUNNING +ELIGIBLE +EXPIRED +STARTING +ACTIONS$/,
    );
    // Offline presets have no names: "-" for template and version, the id as the preset. Columns are separated
    // by at least two spaces. The backoff ends at 10:01, one minute after the snapshot's `now`.
    const rows = lines.slice(1).map((line) => line.split(/ {2,}/));
    assert.deepEqual(rows, [
      [
        "-",
        "-",
        "office",
        "3",
        "1",
        "0",
        "1",
        "0",
        "delete 1 expired, delete 1 stopped, delete 1 failed, backoff, retry in 1m",
      ],
      ["-", "-", "outdated", "0", "2", "0", "0", "0", "cancel pending jobs, delete 2 outdated"],
      ["-", "-", "limited", "2", "1", "1", "0", "0", "blocked: hard_limited"],
      ["-", "-", "steady", "1", "1", "1", "0", "0", "-"],
      ["-", "-", "growing", "3", "1", "0", "0", "1", "create 1"],
    ]);
  });

  test("GIVEN an unknown output format WHEN planned THEN a one-line usage error, exit code 2", async () => {
    const result = await runCli(["prebuilds", "plan", "--snapshot", snapshotFile, "-o", "xml"]);
    assert.equal(result.code, 2);
    assert.equal(result.stdout, "");
    assert.equal(result.stderr, 'prewarm: invalid output format "xml" (use table, json or yaml)\n');
  });
});
