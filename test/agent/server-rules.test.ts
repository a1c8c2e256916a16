// The server's pure decisions about agent reports (src/server/agents/rules.ts): which lifecycle reports are
// applied, repeated or refused; when an agent counts as disconnected; which owner an agent runs for; which
// builds keep the running agents' tokens and which event tells a running agent to re-initialise.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  agentConnection,
  agentEventFor,
  decideLifecycleReport,
  effectiveConnectionTimeoutSeconds,
  keepsRunningAgentTokens,
  ownerOfLatestStart,
} from "../../src/server/agents/rules.js";
import type { AgentLifecycleState } from "../../src/server/store/schema.js";

const T0 = new Date("2026-01-05T10:00:00.000Z");
const at = (ms: number) => new Date(T0.getTime() + ms);

describe("lifecycle reports", () => {
  const cases: Array<[AgentLifecycleState, AgentLifecycleState, "apply" | "duplicate" | "refuse"]> = [
    ["created", "starting", "apply"],
    ["created", "ready", "refuse"],
    ["created", "created", "duplicate"],
    ["starting", "ready", "apply"],
    ["starting", "start_error", "apply"],
    ["ready", "starting", "apply"], // re-initialising after a claim
    ["start_error", "starting", "apply"],
    ["off", "starting", "apply"], // the host restarted the agent
    ["ready", "start_error", "refuse"],
    ["ready", "shutting_down", "apply"],
    ["created", "shutting_down", "apply"],
    ["shutting_down", "off", "apply"],
    ["ready", "off", "refuse"],
    ["off", "shutting_down", "refuse"],
    ["ready", "created", "refuse"],
  ];
  for (const [from, to, want] of cases) {
    test(`GIVEN ${from} WHEN ${to} is reported later THEN ${want}`, () => {
      assert.equal(
        decideLifecycleReport({ state: from, changedAt: at(0) }, { state: to, changedAt: at(1) }).kind,
        want,
      );
    });
  }

  test("GIVEN a state set at T WHEN a report from before T arrives THEN it is refused, naming both times", () => {
    const decision = decideLifecycleReport(
      { state: "ready", changedAt: at(5_000) },
      { state: "starting", changedAt: at(1_000) },
    );
    assert.equal(decision.kind, "refuse");
    assert.match(
      decision.kind === "refuse" ? decision.reason : "",
      /older than the current state \(ready since 2026-01-05T10:00:05\.000Z\)/,
    );
  });

  test("GIVEN the same state and time again THEN it is a duplicate (a resend after a lost reply)", () => {
    assert.equal(
      decideLifecycleReport({ state: "ready", changedAt: at(5) }, { state: "ready", changedAt: at(5) }).kind,
      "duplicate",
    );
  });

  test("GIVEN a fresh agent row (no changedAt yet) THEN any time is accepted", () => {
    assert.equal(
      decideLifecycleReport({ state: "created", changedAt: null }, { state: "starting", changedAt: at(-1e9) })
        .kind,
      "apply",
    );
  });
});

describe("connection status", () => {
  const cases: Array<[string, Date | null, number, number, string]> = [
    ["never reported", null, 10, 0, "connecting"],
    ["reported within the timeout", at(0), 10, 10_000, "connected"],
    ["silent for longer than the timeout", at(0), 10, 10_001, "disconnected"],
    ["timeout 0: the 120 s default, still within", at(0), 0, 120_000, "connected"],
    ["timeout 0: the 120 s default, past it", at(0), 0, 120_001, "disconnected"],
  ];
  for (const [name, lastConnectedAt, timeout, nowMs, want] of cases) {
    test(`GIVEN ${name} THEN ${want}`, () => {
      assert.equal(agentConnection({ lastConnectedAt, connectionTimeoutSeconds: timeout }, at(nowMs)), want);
    });
  }
  test("GIVEN timeouts THEN 0 means the default and others are kept", () => {
    assert.deepEqual([0, 1, 300].map(effectiveConnectionTimeoutSeconds), [120, 1, 300]);
  });
});

describe("the owner an agent runs for", () => {
  const owners = { current: "alice", prebuilds: "prebuilds" };
  const cases: Array<[string, { prebuildStage: string } | undefined, string]> = [
    ["a prebuild's create build", { prebuildStage: "create" }, "prebuilds"],
    ["a claim build", { prebuildStage: "claim" }, "alice"],
    ["an ordinary build", { prebuildStage: "none" }, "alice"],
    ["no successful start yet", undefined, "alice"],
  ];
  for (const [name, build, want] of cases) {
    test(`GIVEN ${name} as the latest successful start THEN ${want}`, () => {
      assert.equal(ownerOfLatestStart(build, owners), want);
    });
  }
});

describe("builds that hand the running agents their tokens", () => {
  const cases: Array<[string, string, string | undefined, boolean]> = [
    ["a claim or an upgrade of a running workspace", "start", "start", true],
    ["a start after a stop (nothing runs)", "start", "stop", false],
    ["a first build", "start", undefined, false],
    ["a stop", "stop", "start", false],
    ["a delete", "delete", "start", false],
  ];
  for (const [name, transition, previous, want] of cases) {
    test(`GIVEN ${name} THEN ${want ? "the tokens are kept" : "new tokens"}`, () => {
      assert.equal(
        keepsRunningAgentTokens({ transition }, previous ? { transition: previous } : undefined),
        want,
      );
    });
  }
});

describe("the event that re-initialises a running agent", () => {
  const known = { owner: "prebuilds", agentId: "a1" };
  const cases: Array<[string, { owner: string; agentId: string }, string | undefined]> = [
    ["nothing changed", known, undefined],
    ["a claim (new owner and a new build's agent)", { owner: "alice", agentId: "a2" }, "claimed"],
    [
      "an upgrade in place (same owner, a new build's agent)",
      { owner: "prebuilds", agentId: "a2" },
      "updated",
    ],
  ];
  for (const [name, current, want] of cases) {
    test(`GIVEN ${name} THEN ${want ?? "no event"}`, () => {
      assert.equal(agentEventFor(known, current), want);
    });
  }
});
