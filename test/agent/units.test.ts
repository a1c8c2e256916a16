// The agent's pure parts: configuration precedence, heartbeat and backoff arithmetic, which scripts run
// when and in what environment, metadata values, and the reporter's ordered delivery over a flaky client.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type AgentApiClient, ServerAwayError } from "../../src/agent/api-client.js";
import { backoffMs, heartbeatIntervalMs, resolveAgentConfig } from "../../src/agent/config.js";
import { reinitReason } from "../../src/agent/handover.js";
import { metadataTimeoutSeconds, metadataValue } from "../../src/agent/metadata.js";
import { Reporter } from "../../src/agent/reporter.js";
import {
  defaultLogName,
  describeFailure,
  LineSplitter,
  resolveDirectory,
  resolveLogPath,
  scriptEnvironment,
  startPhases,
  stopScripts,
} from "../../src/agent/scripts.js";
import type { AgentLifecycleReportT } from "../../src/contract/agent.js";
import { baseManifest, script } from "./fake-agent-server.js";

describe("agent configuration", () => {
  const cases = [
    {
      name: "flags win",
      flags: { url: "http://flag", token: "f" },
      env: { PREWARM_AGENT_URL: "http://p", PREWARM_AGENT_TOKEN: "p" },
      url: "http://flag",
      token: "f",
    },
    {
      name: "PREWARM_* before CODER_*",
      flags: {},
      env: {
        PREWARM_AGENT_URL: "http://p/",
        PREWARM_AGENT_TOKEN: "p",
        CODER_AGENT_URL: "http://c",
        CODER_AGENT_TOKEN: "c",
      },
      url: "http://p",
      token: "p",
    },
    {
      name: "CODER_* as a Coder template sets them",
      flags: {},
      env: { CODER_AGENT_URL: "http://c:7080/", CODER_AGENT_TOKEN: "c" },
      url: "http://c:7080",
      token: "c",
    },
    {
      name: "blank values are skipped",
      flags: { url: " " },
      env: { PREWARM_AGENT_URL: "", CODER_AGENT_URL: "http://c/prefix/", CODER_AGENT_TOKEN: "c" },
      url: "http://c/prefix",
      token: "c",
    },
  ];
  for (const c of cases) {
    test(`GIVEN ${c.name} THEN url ${c.url} and token ${c.token}`, () => {
      const config = resolveAgentConfig(c.flags, c.env);
      assert.equal(config.url, c.url);
      assert.equal(config.token, c.token);
    });
  }

  const refusals = [
    { env: { PREWARM_AGENT_TOKEN: "t" }, message: /no server URL/ },
    { env: { PREWARM_AGENT_URL: "http://x" }, message: /no agent token/ },
    { env: { PREWARM_AGENT_URL: "ftp://x", PREWARM_AGENT_TOKEN: "t" }, message: /must be http/ },
    {
      env: {
        PREWARM_AGENT_URL: "http://x",
        PREWARM_AGENT_TOKEN: "t",
        CODER_AGENT_AUTH: "aws-instance-identity",
      },
      message: /not supported/,
    },
  ];
  for (const { env, message } of refusals) {
    test(`GIVEN ${JSON.stringify(env)} THEN it is refused with ${message}`, () => {
      assert.throws(() => resolveAgentConfig({}, env), message);
    });
  }

  test("GIVEN connection timeouts THEN heartbeats come at a third of them, 5 s without one, never under 1 s", () => {
    assert.equal(heartbeatIntervalMs(120), 40_000);
    assert.equal(heartbeatIntervalMs(0), 5_000);
    assert.equal(heartbeatIntervalMs(2), 1_000);
    assert.equal(heartbeatIntervalMs(120, 200), 200);
  });

  test("GIVEN repeated failures THEN backoff doubles from 250 ms up to the cap", () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 60].map((a) => backoffMs(a, 3_000)),
      [250, 500, 1_000, 2_000, 3_000, 3_000, 3_000],
    );
  });
});

describe("agent configuration: the token wait", () => {
  const base = { PREWARM_AGENT_URL: "http://p", PREWARM_AGENT_TOKEN: "t" };
  test("GIVEN nothing THEN a refused token ends the agent at once (0)", () => {
    assert.equal(resolveAgentConfig({}, base).tokenWaitMs, 0);
  });
  test("GIVEN PREWARM_AGENT_TOKEN_WAIT (as init_script sets it) THEN that long; the flag wins", () => {
    assert.equal(resolveAgentConfig({}, { ...base, PREWARM_AGENT_TOKEN_WAIT: "10m" }).tokenWaitMs, 600_000);
    assert.equal(
      resolveAgentConfig({ tokenWaitMs: 5 }, { ...base, PREWARM_AGENT_TOKEN_WAIT: "10m" }).tokenWaitMs,
      5,
    );
  });
  test("GIVEN a malformed PREWARM_AGENT_TOKEN_WAIT THEN a configuration error naming it", () => {
    assert.throws(
      () => resolveAgentConfig({}, { ...base, PREWARM_AGENT_TOKEN_WAIT: "10" }),
      /PREWARM_AGENT_TOKEN_WAIT: invalid duration "10"/,
    );
  });
});

describe("agent re-initialisation (handover.ts)", () => {
  const manifest = { ownerName: "prebuilds", agentId: "a1" };
  const claimedAt = "2026-01-05T10:00:00.000Z";
  test("GIVEN a claim by someone else THEN re-initialise; by the owner it runs for THEN not", () => {
    const event = { ownerName: "alice", workspaceName: "w", claimedAt };
    assert.equal(
      reinitReason({ kind: "claimed", event }, manifest),
      "workspace claimed by alice: re-initialising",
    );
    assert.equal(
      reinitReason({ kind: "claimed", event: { ...event, ownerName: "prebuilds" } }, manifest),
      undefined,
    );
  });
  test("GIVEN an update to another agent THEN re-initialise; to its own agent THEN not", () => {
    const event = { agentId: "a2", workspaceName: "w", updatedAt: claimedAt };
    assert.match(reinitReason({ kind: "updated", event }, manifest) ?? "", /rebuilt in place \(agent a2\)/);
    assert.equal(reinitReason({ kind: "updated", event: { ...event, agentId: "a1" } }, manifest), undefined);
  });
});

describe("agent scripts (pure parts)", () => {
  const manifest = {
    ...baseManifest("/work"),
    env: { EDITOR: "vim", PREWARM_WORKSPACE_NAME: "overridden" },
    scripts: [
      script({ displayName: "b", script: "", startBlocksLogin: false }),
      script({ displayName: "a", script: "", startBlocksLogin: true }),
      script({ displayName: "stop", script: "", runOnStart: false, runOnStop: true }),
      script({ displayName: "cron only", script: "", runOnStart: false, cron: "0 * * * * *" }),
    ],
  };

  test("GIVEN start scripts THEN blocking ones form the first phase and the rest the second", () => {
    assert.deepEqual(
      startPhases(manifest.scripts).map((p) => p.map((s) => s.displayName)),
      [["a"], ["b"]],
    );
    assert.deepEqual(startPhases([manifest.scripts[0]!]).length, 1);
    assert.deepEqual(
      stopScripts(manifest.scripts).map((s) => s.displayName),
      ["stop"],
    );
  });

  test("GIVEN the agent's environment THEN scripts never see the token, see the workspace names, and the manifest env wins", () => {
    const env = scriptEnvironment(
      { PATH: "/bin", CODER_AGENT_TOKEN: "secret", PREWARM_AGENT_TOKEN: "secret" },
      manifest,
    );
    assert.equal(env.CODER_AGENT_TOKEN, undefined);
    assert.equal(env.PREWARM_AGENT_TOKEN, undefined);
    assert.equal(env.PATH, "/bin");
    assert.equal(env.EDITOR, "vim");
    assert.equal(env.PREWARM_WORKSPACE_NAME, "overridden");
    assert.equal(env.CODER_WORKSPACE_OWNER_NAME, "prebuilds");
    assert.equal(env.PREWARM_AGENT_NAME, "main");
  });

  const dirs = [
    ["", "/home/u"],
    ["~", "/home/u"],
    ["~/src", "/home/u/src"],
    ["$HOME/src", "/home/u/src"],
    ["/srv/app", "/srv/app"],
  ] as const;
  for (const [input, expected] of dirs) {
    test(`GIVEN directory "${input}" THEN scripts run in ${expected}`, () => {
      assert.equal(resolveDirectory(input, "/home/u"), expected);
    });
  }

  test("GIVEN log paths THEN relative ones go under the log dir and empty ones are derived from the name", () => {
    assert.equal(defaultLogName("Install deps!"), "install-deps.log");
    assert.equal(defaultLogName("???"), "script.log");
    assert.equal(
      resolveLogPath(script({ displayName: "X", script: "", logPath: "x/y.log" }), "/logs"),
      "/logs/x/y.log",
    );
    assert.equal(
      resolveLogPath(script({ displayName: "X", script: "", logPath: "/var/x.log" }), "/logs"),
      "/var/x.log",
    );
    assert.equal(resolveLogPath(script({ displayName: "Set up", script: "" }), "/logs"), "/logs/set-up.log");
  });

  const exits = [
    { exit: { code: 0, signal: null, timedOut: false, canceled: false }, expected: undefined },
    { exit: { code: 3, signal: null, timedOut: false, canceled: false }, expected: "exited with code 3" },
    {
      exit: { code: null, signal: "SIGTERM" as const, timedOut: true, canceled: false },
      expected: "timed out after 5s",
    },
    {
      exit: { code: null, signal: "SIGKILL" as const, timedOut: false, canceled: false },
      expected: "killed by SIGKILL",
    },
    {
      exit: { code: null, signal: null, timedOut: false, canceled: false, spawnError: "ENOENT" },
      expected: "could not start: ENOENT",
    },
  ];
  for (const { exit, expected } of exits) {
    test(`GIVEN exit ${JSON.stringify(exit)} THEN ${expected ?? "success"}`, () => {
      assert.equal(describeFailure(exit, 5), expected);
    });
  }

  test("GIVEN output split across chunks THEN lines come out whole", () => {
    const s = new LineSplitter();
    assert.deepEqual(s.push("a\r\nb"), ["a"]);
    assert.deepEqual(s.push("c\nd"), ["bc"]);
    assert.equal(s.end(), "d");
    assert.equal(s.end(), undefined);
  });

  test("GIVEN metadata output THEN the value is trimmed and capped at 10 KiB; the timeout defaults to the interval", () => {
    assert.equal(metadataValue(Buffer.from("  42\n")), "42");
    assert.equal(metadataValue(Buffer.alloc(20_000, "x")).length, 10 * 1024);
    assert.equal(
      metadataTimeoutSeconds({
        key: "k",
        displayName: "",
        script: "",
        intervalSeconds: 10,
        timeoutSeconds: 0,
      }),
      10,
    );
    assert.equal(
      metadataTimeoutSeconds({
        key: "k",
        displayName: "",
        script: "",
        intervalSeconds: 0,
        timeoutSeconds: 0,
      }),
      1,
    );
  });
});

describe("agent reporter", () => {
  test("GIVEN a server that fails the first attempts WHEN transitions are queued THEN they arrive once each, in order", async () => {
    const received: string[] = [];
    let failuresLeft = 3;
    const client = {
      lifecycle: async (r: AgentLifecycleReportT) => {
        if (failuresLeft-- > 0) throw new ServerAwayError("away");
        received.push(r.state);
      },
      logs: async () => {},
      metadata: async () => {},
    } as unknown as AgentApiClient;
    const said: string[] = [];
    const reporter = new Reporter(client, { maxBackoffMs: 1, say: (l) => said.push(l), onFatal: () => {} });
    for (const state of ["starting", "ready", "shutting_down", "off"] as const) {
      reporter.lifecycle({ state, changedAt: new Date().toISOString() });
    }
    assert.equal(await reporter.flush(5_000), true);
    await reporter.close();
    assert.deepEqual(received, ["starting", "ready", "shutting_down", "off"]);
    assert.equal(said.filter((l) => l.includes("queueing")).length, 1, "the outage is reported once");
  });

  test("GIVEN logs queued before a lifecycle report THEN the logs are delivered first", async () => {
    const order: string[] = [];
    const client = {
      lifecycle: async (r: AgentLifecycleReportT) => {
        order.push(`lifecycle ${r.state}`);
      },
      logs: async (logs: { output: string }[]) => {
        order.push(...logs.map((l) => `log ${l.output}`));
      },
      metadata: async () => {},
    } as unknown as AgentApiClient;
    const reporter = new Reporter(client, { maxBackoffMs: 1, say: () => {}, onFatal: () => {} });
    reporter.log({ createdAt: new Date().toISOString(), level: "error", output: "boom", source: "s" });
    reporter.lifecycle({ state: "start_error", changedAt: new Date().toISOString() });
    assert.equal(await reporter.flush(5_000), true);
    await reporter.close();
    assert.deepEqual(order, ["log boom", "lifecycle start_error"]);
  });
});
