// `prewarm prebuilds status|pause|resume|invalidate|resume-preset` as a real child process against the fake API.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { routes } from "../../src/contract/api.js";
import { runCli } from "../support/cli.js";
import { fakeApiSuite } from "./support/env.js";
import { prebuildsStatus, preset } from "./support/fixtures.js";

describe("prebuilds operations (real CLI)", () => {
  const suite = fakeApiSuite();

  test("status: reconciler summary and one row per preset; -o json is the contract object", async () => {
    suite.fake.on(routes.prebuildsStatus, { status: 200, body: prebuildsStatus({ paused: true }) });
    const table = await runCli(["prebuilds", "status"], { env: suite.ctx.env });
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^Reconciler: +paused$/m);
    assert.match(table.stdout, /^Prebuild jobs: +1 in flight \(cap 2\)$/m);
    assert.match(
      table.stdout,
      /^TEMPLATE +VERSION +PRESET +STATUS +DESIRED +RUNNING +ELIGIBLE +EXPIRED +STARTING +TTL +BACKOFF UNTIL$/m,
    );
    assert.match(table.stdout, /^echo-demo +v1 +small +hard_limited +2 +2 +1 +1 +0 +1h +-$/m);
    const json = await runCli(["prebuilds", "status", "-o", "json"], { env: suite.ctx.env });
    assert.deepEqual(JSON.parse(json.stdout), prebuildsStatus({ paused: true }));
  });

  const toggles = [
    { args: ["pause"], route: routes.pausePrebuilds, paused: true, want: /^Prebuild reconciliation paused/ },
    {
      args: ["resume"],
      route: routes.resumePrebuilds,
      paused: false,
      want: /^Prebuild reconciliation resumed\.\n$/,
    },
  ];
  for (const t of toggles) {
    test(`${t.args[0]}: posts to ${t.route.url}`, async () => {
      suite.fake.on(t.route, { status: 200, body: { paused: t.paused } });
      const before = suite.fake.calls(t.route).length;
      const res = await runCli(["prebuilds", ...t.args], { env: suite.ctx.env });
      assert.equal(res.code, 0, res.stderr);
      assert.equal(suite.fake.calls(t.route).length, before + 1);
      assert.match(res.stdout, t.want);
    });
  }

  test("invalidate TEMPLATE: names the presets invalidated", async () => {
    suite.fake.on(routes.invalidatePrebuilds, {
      status: 200,
      body: { invalidated: [{ template: "echo-demo", templateVersion: "v1", preset: "small" }] },
    });
    const res = await runCli(["prebuilds", "invalidate", "echo-demo"], { env: suite.ctx.env });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(
      suite.fake.calls(routes.invalidatePrebuilds).at(-1)?.path,
      "/api/v1/templates/echo-demo/prebuilds/invalidate",
    );
    assert.match(res.stdout, /Invalidated the prebuilds of 1 preset\(s\) of echo-demo: small \(v1\)\./);
  });

  test("resume-preset TEMPLATE PRESET: posts to the preset's resume route; a 404 is one line", async () => {
    suite.fake.on(routes.resumePreset, (req) =>
      req.params.preset === "small"
        ? { status: 200, body: preset() }
        : { status: 404, body: { message: `preset "${req.params.preset}" not found in echo-demo v1` } },
    );
    const ok = await runCli(["prebuilds", "resume-preset", "echo-demo", "small"], { env: suite.ctx.env });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, "Preset small of echo-demo v1 resumed (status healthy).\n");
    const missing = await runCli(["prebuilds", "resume-preset", "echo-demo", "big"], { env: suite.ctx.env });
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'prewarm: preset "big" not found in echo-demo v1\n');
  });

  test("the fake saw only contract-shaped traffic", () => assert.deepEqual(suite.fake.violations, []));
});
