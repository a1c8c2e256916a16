// `prewarm presets autoscale` and `prewarm presets set` as a real child process against the fake API (which
// checks every request body and scripted reply against the contract), and `prebuilds plan` naming a ceiling.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type PlanT, type PresetT, routes } from "../../src/contract/api.js";
import { planState } from "../planning/fixtures.js";
import { runCli } from "../support/cli.js";
import { fakeApiSuite } from "./support/env.js";
import { preset } from "./support/fixtures.js";

const autoscaled = (over: Partial<PresetT> = {}): PresetT =>
  preset({
    autoscale: { min: 1, max: 6, targetHitRate: 0.95, timezone: "Europe/Berlin" },
    desiredReason: "forecast 0.40 claims/min × refill 6m (p90) → 5 for 95%",
    replaceAhead: { setting: "auto", seconds: 360 },
    rollout: "surge",
    ...over,
  });

describe("presets autoscale / presets set (real CLI)", () => {
  const suite = fakeApiSuite();

  test("autoscale --min --max --target-hit-rate: PUTs the policy and says what decides now", async () => {
    suite.fake.on(routes.setPresetAutoscale, { status: 200, body: autoscaled() });
    const res = await runCli(
      [
        "presets",
        "autoscale",
        "echo-demo",
        "small",
        "--min",
        "1",
        "--max",
        "6",
        "--target-hit-rate",
        "95%",
        "--timezone",
        "Europe/Berlin",
      ],
      { env: suite.ctx.env },
    );
    assert.equal(res.code, 0, res.stderr);
    const call = suite.fake.calls(routes.setPresetAutoscale).at(-1);
    assert.equal(call?.path, "/api/v1/templates/echo-demo/presets/small/autoscale");
    assert.deepEqual(JSON.parse(call?.body.toString() ?? "{}"), {
      min: 1,
      max: 6,
      targetHitRate: 0.95,
      timezone: "Europe/Berlin",
    });
    assert.match(
      res.stdout,
      /^Preset small of echo-demo: autoscaled 1–6 for 95%, calendar in Europe\/Berlin\.$/m,
    );
    assert.match(res.stdout, /desired 2: forecast 0\.40 claims\/min/);
  });

  test("autoscale --off: DELETEs the policy", async () => {
    suite.fake.on(routes.deletePresetAutoscale, {
      status: 200,
      body: autoscaled({ autoscale: null, desiredReason: "instances 2" }),
    });
    const res = await runCli(["presets", "autoscale", "echo-demo", "small", "--off", "-o", "json"], {
      env: suite.ctx.env,
    });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(suite.fake.calls(routes.deletePresetAutoscale).length, 1);
    assert.equal((JSON.parse(res.stdout) as PresetT).autoscale, null);
  });

  const usage: [string[], RegExp][] = [
    [["--min", "1", "--max", "6"], /--target-hit-rate is required/],
    [["--min", "7", "--max", "6", "--target-hit-rate", "0.9"], /--max \(6\) must be at least --min \(7\)/],
    [["--min", "1", "--max", "6", "--target-hit-rate", "1"], /--target-hit-rate must be between 0 and 1/],
    [["--off", "--min", "1"], /--off takes no --min/],
    [[], /pass --min N --max M --target-hit-rate R/],
  ];
  for (const [args, message] of usage) {
    test(`autoscale ${args.join(" ") || "(nothing)"}: a usage error (exit 2), nothing sent`, async () => {
      const before = suite.fake.calls(routes.setPresetAutoscale).length;
      const res = await runCli(["presets", "autoscale", "echo-demo", "small", ...args], {
        env: suite.ctx.env,
      });
      assert.equal(res.code, 2);
      assert.match(res.stderr, message);
      assert.equal(suite.fake.calls(routes.setPresetAutoscale).length, before);
    });
  }

  test("set --replace-ahead 10m --rollout replace: PATCHes seconds and the strategy", async () => {
    suite.fake.on(routes.updatePresetSettings, {
      status: 200,
      body: autoscaled({ replaceAhead: { setting: 600, seconds: 600 }, rollout: "replace" }),
    });
    const res = await runCli(
      ["presets", "set", "echo-demo", "small", "--replace-ahead", "10m", "--rollout", "replace"],
      {
        env: suite.ctx.env,
      },
    );
    assert.equal(res.code, 0, res.stderr);
    const call = suite.fake.calls(routes.updatePresetSettings).at(-1);
    assert.deepEqual(JSON.parse(call?.body.toString() ?? "{}"), { replaceAhead: 600, rollout: "replace" });
    assert.match(res.stdout, /replace-ahead 600s, rollout replace\./);
  });

  test("set --replace-ahead auto: auto before anything was measured says it is off for now", async () => {
    suite.fake.on(routes.updatePresetSettings, {
      status: 200,
      body: autoscaled({ replaceAhead: { setting: "auto", seconds: 0 } }),
    });
    const res = await runCli(["presets", "set", "echo-demo", "small", "--replace-ahead", "auto"], {
      env: suite.ctx.env,
    });
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(
      JSON.parse(suite.fake.calls(routes.updatePresetSettings).at(-1)?.body.toString() ?? "{}"),
      {
        replaceAhead: "auto",
      },
    );
    assert.match(res.stdout, /replace-ahead auto \(now off: no build measured yet\)/);
  });

  test("presets list: the autoscale column appears when a preset is autoscaled", async () => {
    suite.fake.on(routes.listPresets, { status: 200, body: [autoscaled()] });
    const res = await runCli(["presets", "list", "echo-demo"], { env: suite.ctx.env });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^PRESET .* TTL +AUTOSCALE +STATUS +REHEARSAL$/m);
    assert.match(res.stdout, / 1–6 for 95% +healthy +-$/m);
  });

  test("prebuilds plan: a create a ceiling held back names it", async () => {
    const plan: PlanT = {
      now: "2026-01-05T10:00:00Z",
      presets: [
        {
          id: "p",
          template: "echo-demo",
          templateVersion: "v1",
          preset: "small",
          state: planState({ desired: 5, running: 2, eligible: 2 }),
          actions: [{ type: "create", count: 1, wanted: 3, granted: 1, limitedBy: "max_prebuilds" }],
          desiredReason: "instances 5",
        },
      ],
    };
    suite.fake.on(routes.prebuildsPlan, { status: 200, body: plan });
    const res = await runCli(["prebuilds", "plan"], { env: suite.ctx.env });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /create 1 of 3 \(2 held by max-prebuilds\)/);
  });
});
