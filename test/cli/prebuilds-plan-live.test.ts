// `prewarm prebuilds plan` in live mode: the real CLI process against the fake API (test/cli/support/fake-api.ts).
//
// How the fake differs from the real server: it answers GET /api/v1/prebuilds/plan with the canned Plan each
// test scripts instead of planning from the database (so these tests check the CLI's request and rendering,
// not the planner — test/planning/plan.test.ts does that); it enforces no auth (tests read the recorded
// Authorization header, or script a 401/403 reply); and it checks every scripted reply against the contract's
// Plan schema, so a fixture that the real server could not send fails the test.
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:net";
import { after, before, describe, test } from "node:test";
import { type PlanT, routes } from "../../src/contract/api.js";
import { planState } from "../planning/fixtures.js";
import { runCli } from "../support/cli.js";
import { type CliEnv, cliEnv } from "./support/env.js";
import { FakeApi } from "./support/fake-api.js";

const NOW = "2026-01-05T10:00:00Z";

/** A live plan: names present, one preset per kind of action line. */
const LIVE_PLAN: PlanT = {
  now: NOW,
  presets: [
    {
      id: "p-small",
      template: "echo-demo",
      templateVersion: "v2",
      preset: "small",
      state: planState({ desired: 3, running: 2, eligible: 1, expired: 1, starting: 0 }),
      actions: [
        { type: "delete", reason: "expired", ids: ["w1"] },
        { type: "create", count: 2, wanted: 2, granted: 2 },
      ],
    },
    {
      id: "p-old",
      template: "echo-demo",
      templateVersion: "v1",
      preset: "small",
      state: planState({ running: 2, eligible: 2 }),
      actions: [{ type: "cancel_pending" }, { type: "delete", reason: "outdated", ids: ["o1", "o2"] }],
    },
    {
      id: "p-gpu",
      template: "gpu-box",
      templateVersion: "v7",
      preset: "a100",
      state: planState({ desired: 1, starting: 0 }),
      actions: [{ type: "backoff", until: "2026-01-05T10:03:00Z" }],
    },
    {
      id: "p-broken",
      template: "gpu-box",
      templateVersion: "v7",
      preset: "h100",
      state: planState({ desired: 2, starting: 1 }),
      actions: [{ type: "blocked", reason: "validation_failed" }],
    },
    {
      id: "p-steady",
      template: "tiny",
      templateVersion: "v1",
      preset: "default",
      state: planState({ desired: 1, running: 1, eligible: 1 }),
      actions: [],
    },
  ],
};

/** A free loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, "close");
  return port;
}

describe("prewarm prebuilds plan (live, against the fake API)", () => {
  let fake: FakeApi;
  let ctx: CliEnv;
  before(async () => {
    fake = await FakeApi.start();
    ctx = await cliEnv({ PREWARM_URL: fake.url, PREWARM_TOKEN: "admin-token" });
  });
  after(async () => {
    await fake.close();
    await ctx.cleanup();
  });

  test("GIVEN the server's plan WHEN run without -o THEN a table row per preset with the actions summarised", async () => {
    fake.on(routes.prebuildsPlan, { status: 200, body: LIVE_PLAN });
    const before = fake.calls(routes.prebuildsPlan).length;

    const result = await runCli(["prebuilds", "plan"], { env: ctx.env });

    assert.equal(result.stderr, "");
    assert.equal(result.code, 0);
    const calls = fake.calls(routes.prebuildsPlan);
    assert.equal(calls.length, before + 1);
    assert.equal(calls.at(-1)?.headers.authorization, "Bearer admin-token");
    const lines = result.stdout.trimEnd().split("\n");
    assert.match(
      lines[0] ?? "",
      /^TEMPLATE +VERSION +PRESET +DESIRED +RUNNING +ELIGIBLE +EXPIRED +STARTING +ACTIONS$/,
    );
    // Columns are separated by at least two spaces; the backoff ends 3 minutes after the plan's `now`.
    assert.deepEqual(
      lines.slice(1).map((line) => line.split(/ {2,}/)),
      [
        ["echo-demo", "v2", "small", "3", "2", "1", "1", "0", "delete 1 expired, create 2"],
        ["echo-demo", "v1", "small", "0", "2", "2", "0", "0", "cancel pending jobs, delete 2 outdated"],
        ["gpu-box", "v7", "a100", "1", "0", "0", "0", "0", "backoff, retry in 3m"],
        ["gpu-box", "v7", "h100", "2", "0", "0", "0", "1", "blocked: validation_failed"],
        ["tiny", "v1", "default", "1", "1", "1", "0", "0", "-"],
      ],
    );
  });

  test("GIVEN the server's plan WHEN run with -o json THEN stdout is exactly the contract's Plan object", async () => {
    fake.on(routes.prebuildsPlan, { status: 200, body: LIVE_PLAN });
    const result = await runCli(["prebuilds", "plan", "-o", "json"], { env: ctx.env });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), LIVE_PLAN);
  });

  test("GIVEN no preset declares prebuilds WHEN planned THEN a sentence instead of an empty table", async () => {
    fake.on(routes.prebuildsPlan, { status: 200, body: { now: NOW, presets: [] } });
    const result = await runCli(["prebuilds", "plan"], { env: ctx.env });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "No presets declare prebuilds; nothing to plan.\n");
  });

  const refusals = [
    {
      name: "a member's token (403)",
      reply: { status: 403, body: { message: "only owners can see the prebuild plan" } },
      stderr: "prewarm: only owners can see the prebuild plan\n",
    },
    {
      name: "a rejected token (401)",
      reply: { status: 401, body: { message: "invalid token" } },
      stderr:
        "prewarm: invalid token (the token from PREWARM_TOKEN was rejected; run `prewarm login` again)\n",
    },
  ];
  for (const r of refusals) {
    test(`GIVEN ${r.name} WHEN planned THEN one line on stderr, nothing on stdout, exit 1`, async () => {
      fake.on(routes.prebuildsPlan, r.reply);
      const result = await runCli(["prebuilds", "plan"], { env: ctx.env });
      assert.equal(result.code, 1);
      assert.equal(result.stdout, "");
      assert.equal(result.stderr, r.stderr);
    });
  }

  test("GIVEN an unknown output format WHEN planned THEN it fails before asking the server", async () => {
    const before = fake.calls(routes.prebuildsPlan).length;
    const result = await runCli(["prebuilds", "plan", "-o", "xml"], { env: ctx.env });
    assert.equal(result.code, 2);
    assert.equal(result.stderr, 'prewarm: invalid output format "xml" (use table, json or yaml)\n');
    assert.equal(fake.calls(routes.prebuildsPlan).length, before);
  });

  test("GIVEN no server at the URL WHEN planned THEN the one-line 'cannot reach' error", async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const result = await runCli(["prebuilds", "plan", "--url", url], { env: ctx.env });
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.match(
      result.stderr,
      /^prewarm: cannot reach the prewarm server at http:\/\/127\.0\.0\.1:\d+: connection refused/,
    );
    assert.equal(result.stderr.split("\n").length, 2, "exactly one line");
  });

  test("THEN every request and scripted reply kept to the contract", () => {
    assert.deepEqual(fake.violations, []);
  });
});
