// Real `prewarm agent` processes against a fake agent API (fake-agent-server.ts says how it differs from the
// real server). Each test: GIVEN a manifest, WHEN the agent runs (and the test claims, signals, or takes
// the server away), THEN the fake saw the lifecycle, logs and metadata the contract promises.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, describe, test } from "node:test";
import type { AgentManifestT } from "../../src/contract/agent.js";
import { runCli, startCli, stopChild } from "../support/cli.js";
import { baseManifest, FakeAgentServer, fakeToken, script } from "./fake-agent-server.js";

const root = mkdtempSync(join(tmpdir(), "prewarm-agent-test-"));
after(() => rmSync(root, { recursive: true, force: true }));

interface Running {
  fake: FakeAgentServer;
  child: ChildProcess;
  output: () => string;
  work: string;
  logDir: string;
}

const running: Running[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) {
    await stopChild(r.child, "SIGKILL");
    await r.fake.close();
  }
});

let counter = 0;
/** A fresh work directory and log directory, and a fake server serving `manifest(work)`. */
async function startAgent(
  manifest: (work: string) => AgentManifestT,
  setup?: (fake: FakeAgentServer) => void,
) {
  counter += 1;
  const work = join(root, `work-${counter}`);
  const logDir = join(root, `logs-${counter}`);
  const fake = await FakeAgentServer.start(manifest(work));
  setup?.(fake);
  const { child, output } = await startCli(
    [
      "agent",
      "--url",
      fake.url,
      "--log-dir",
      logDir,
      "--heartbeat-interval",
      "200ms",
      "--max-backoff",
      "300ms",
    ],
    /connected to/,
    { env: { PREWARM_AGENT_TOKEN: fakeToken, CODER_AGENT_TOKEN: "", CODER_AGENT_URL: "" } },
  );
  const r: Running = { fake, child, output, work, logDir };
  running.push(r);
  return r;
}

/** Resolves once the agent's own output matches `re`. */
function waitForOutput(r: Running, re: RegExp, timeoutMs = 20_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (!re.test(r.output())) return;
      clearTimeout(timer);
      r.child.stdout?.off("data", check);
      resolve();
    };
    const timer = setTimeout(() => {
      r.child.stdout?.off("data", check);
      reject(new Error(`agent output never matched ${re}:\n${r.output()}`));
    }, timeoutMs);
    r.child.stdout?.on("data", check);
    check();
  });
}

describe("prewarm agent", () => {
  test("GIVEN two start scripts, one blocking login WHEN the agent starts THEN the blocking one runs first and the agent reports starting then ready", async () => {
    const r = await startAgent((work) => ({
      ...baseManifest(work),
      scripts: [
        // Listed first, but it does not block login: it must run second.
        script({ displayName: "Later", script: 'echo "later saw: $(cat order)"; echo later >> order' }),
        script({ displayName: "Clone repo", script: "echo first >> order", startBlocksLogin: true }),
      ],
    }));
    await r.fake.waitFor("ready", () => r.fake.states().includes("ready"));

    assert.deepEqual(r.fake.states(), ["starting", "ready"]);
    assert.equal(readFileSync(join(r.work, "order"), "utf8"), "first\nlater\n");
    await r.fake.waitFor("the Later script's log", () => r.fake.logs.some((l) => l.source === "Later"));
    assert.deepEqual(
      r.fake.logs.filter((l) => l.source === "Later").map((l) => l.output),
      ["later saw: first"],
    );
    assert.equal(readFileSync(join(r.logDir, "later.log"), "utf8"), "later saw: first\n");
    assert.deepEqual(r.fake.invalid, []);
  });

  const failures = [
    { name: "a non-zero exit", fields: { script: "echo boom >&2; exit 3" }, reason: /exited with code 3/ },
    {
      name: "a timeout",
      fields: { script: "echo slow; sleep 30", timeoutSeconds: 1 },
      reason: /timed out after 1s/,
    },
  ];
  for (const { name, fields, reason } of failures) {
    test(`GIVEN a blocking start script that fails with ${name} WHEN the agent starts THEN it reports start_error naming the script and is never ready`, async () => {
      const r = await startAgent((work) => ({
        ...baseManifest(work),
        scripts: [
          script({ displayName: "Install deps", startBlocksLogin: true, ...fields }),
          script({ displayName: "After", script: "touch after-ran" }),
        ],
      }));
      await r.fake.waitFor("start_error", () => r.fake.states().includes("start_error"));
      const report = r.fake.lifecycle.find((l) => l.state === "start_error");
      assert.match(report?.detail ?? "", /"Install deps"/);
      assert.match(report?.detail ?? "", reason);
      await r.fake.waitFor("the agent's error log", () =>
        r.fake.logs.some((l) => l.source === "agent" && l.level === "error" && reason.test(l.output)),
      );

      const exit = await stopChild(r.child);
      assert.equal(exit.code, 0);
      assert.deepEqual(r.fake.states(), ["starting", "start_error", "shutting_down", "off"]);
      assert.equal(
        existsSync(join(r.work, "after-ran")),
        false,
        "scripts after a failed blocking phase must not run",
      );
    });
  }

  test("GIVEN a ready agent with a stop script WHEN it gets SIGTERM THEN it reports shutting_down, runs the stop script, reports off and exits 0", async () => {
    const r = await startAgent((work) => ({
      ...baseManifest(work),
      scripts: [
        script({ displayName: "Start", script: "echo started > state" }),
        script({
          displayName: "Save work",
          script: "echo saving; echo saved > state",
          runOnStart: false,
          runOnStop: true,
        }),
      ],
    }));
    await r.fake.waitFor("ready", () => r.fake.states().includes("ready"));

    const exit = await stopChild(r.child);

    assert.deepEqual(exit, { code: 0, signal: null });
    assert.deepEqual(r.fake.states(), ["starting", "ready", "shutting_down", "off"]);
    assert.equal(readFileSync(join(r.work, "state"), "utf8"), "saved\n");
    assert.ok(r.fake.logs.some((l) => l.source === "Save work" && l.output === "saving"));
  });

  test("GIVEN metadata definitions WHEN the agent runs THEN it reports their values and errors, and heartbeats", async () => {
    const r = await startAgent((work) => ({
      ...baseManifest(work),
      metadata: [
        {
          key: "greeting",
          displayName: "Greeting",
          script: "echo hello-$((1 + 1))",
          intervalSeconds: 1,
          timeoutSeconds: 5,
        },
        {
          key: "broken",
          displayName: "Broken",
          script: "echo nope; exit 2",
          intervalSeconds: 1,
          timeoutSeconds: 5,
        },
      ],
    }));
    const latest = (key: string) => r.fake.metadata.filter((m) => m.key === key).at(-1);
    await r.fake.waitFor(
      "both metadata keys",
      () => latest("greeting") !== undefined && latest("broken") !== undefined,
    );
    await r.fake.waitFor("two heartbeats", () => r.fake.heartbeats >= 2);

    assert.equal(latest("greeting")?.value, "hello-2");
    assert.equal(latest("greeting")?.error, "");
    assert.equal(latest("broken")?.value, "nope");
    assert.equal(latest("broken")?.error, "exited with code 2");
  });

  test("GIVEN the server goes away right after the manifest WHEN it comes back THEN every lifecycle transition arrives in order with its original time", async () => {
    const r = await startAgent(
      (work) => ({ ...baseManifest(work), scripts: [script({ displayName: "Quick", script: "true" })] }),
      (fake) => {
        fake.awayAfterManifest = true;
      },
    );
    await waitForOutput(r, /lifecycle starting → ready/);
    await waitForOutput(r, /agent\/lifecycle: server unreachable/);
    assert.deepEqual(r.fake.states(), [], "nothing can have arrived while the server was away");

    const backAt = new Date().toISOString();
    await r.fake.comeBack();
    await r.fake.waitFor("both transitions", () => r.fake.lifecycle.length >= 2);

    assert.deepEqual(r.fake.states(), ["starting", "ready"]);
    for (const report of r.fake.lifecycle)
      assert.ok(
        report.changedAt <= backAt,
        `changedAt ${report.changedAt} is when it happened, not ${backAt}`,
      );
    assert.ok(r.fake.lifecycle[0]!.changedAt <= r.fake.lifecycle[1]!.changedAt);
  });

  test("GIVEN a ready prebuild's agent WHEN the workspace is claimed THEN it re-fetches the manifest, re-runs the start scripts for the new owner and is ready again", async () => {
    const r = await startAgent((work) => ({
      ...baseManifest(work),
      scripts: [script({ displayName: "Greet", script: 'echo "$PREWARM_WORKSPACE_OWNER_NAME" >> owners' })],
    }));
    await r.fake.waitFor("ready", () => r.fake.states().includes("ready"));

    r.fake.claim("alice");
    await r.fake.waitFor("ready again", () => r.fake.states().filter((s) => s === "ready").length === 2);

    assert.deepEqual(r.fake.states(), ["starting", "ready", "starting", "ready"]);
    assert.equal(readFileSync(join(r.work, "owners"), "utf8"), "prebuilds\nalice\n");
    assert.equal(r.fake.manifestFetches, 2);
  });

  test("GIVEN a start script still running WHEN the agent gets SIGTERM THEN the script is stopped, stop scripts run, and it is never ready", async () => {
    const r = await startAgent((work) => ({
      ...baseManifest(work),
      scripts: [
        script({ displayName: "Slow", script: "touch began; sleep 30; touch finished" }),
        script({ displayName: "Stop", script: "touch stop-ran", runOnStart: false, runOnStop: true }),
      ],
    }));
    await waitForOutput(r, /running script "Slow"/);

    const exit = await stopChild(r.child);

    assert.equal(exit.code, 0);
    assert.deepEqual(r.fake.states(), ["starting", "shutting_down", "off"]);
    assert.equal(existsSync(join(r.work, "stop-ran")), true);
    assert.equal(existsSync(join(r.work, "finished")), false);
  });

  test("GIVEN a running agent WHEN its token is revoked THEN it exits 1 saying the server refused the token", async () => {
    const r = await startAgent((work) => ({ ...baseManifest(work), scripts: [] }));
    await r.fake.waitFor("ready", () => r.fake.states().includes("ready"));
    const exited = new Promise<number | null>((resolve) => r.child.on("exit", (code) => resolve(code)));

    r.fake.revokeToken();

    assert.equal(await exited, 1);
    assert.match(
      r.output(),
      /refused the agent token \(401: unknown agent token\); the workspace was probably deleted/,
    );
  });

  test("GIVEN a wrong token WHEN the agent starts THEN it exits non-zero with a one-line reason", async () => {
    const fake = await FakeAgentServer.start(baseManifest(join(root, "unused")));
    try {
      const result = await runCli(["agent", "--url", fake.url, "--token", "not-the-token"], {
        env: { PREWARM_AGENT_TOKEN: "", CODER_AGENT_TOKEN: "" },
        timeoutMs: 30_000,
      });
      assert.equal(result.code, 1);
      assert.match(result.stderr, /refused the agent token \(401: unknown agent token\)/);
      assert.doesNotMatch(result.stderr, /\n\s+at /, "no stack trace");
      assert.doesNotMatch(result.stderr, /not-the-token/, "the token is never printed");
    } finally {
      await fake.close();
    }
  });

  test("GIVEN no URL anywhere WHEN the agent starts THEN it exits 2 saying what to set", async () => {
    const result = await runCli(["agent", "--token", "x"], {
      env: { PREWARM_AGENT_URL: "", CODER_AGENT_URL: "" },
      timeoutMs: 30_000,
    });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /PREWARM_AGENT_URL/);
  });
});
