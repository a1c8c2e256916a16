// The Session state machine's decisions, as a table: (phase, planned, cancelled) × request kind → decision.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Code } from "@connectrpc/connect";
import { LogLevel } from "../../src/gen/provisioner/provisioner_pb.js";
import { LogLevelError, parseLogLevel } from "../../src/provisionersdk/log-level.js";
import { decide, type RequestKind, type SessionFacts } from "../../src/provisionersdk/session-rules.js";

const awaitingConfig: SessionFacts = { phase: "awaiting-config", planned: false };
const idleFresh: SessionFacts = { phase: "idle", planned: false };
const idlePlanned: SessionFacts = { phase: "idle", planned: true };
const planRunning: SessionFacts = { phase: "running", planned: false, running: "plan", cancelled: false };
const planCancelled: SessionFacts = { phase: "running", planned: false, running: "plan", cancelled: true };

type Expected = "configure" | "run" | "cancel-running" | "ignore" | Code;

const table: Array<[string, SessionFacts, RequestKind, Expected]> = [
  ["awaiting config", awaitingConfig, "config", "configure"],
  ["awaiting config", awaitingConfig, "parse", Code.InvalidArgument],
  ["awaiting config", awaitingConfig, "cancel", Code.InvalidArgument],
  ["awaiting config", awaitingConfig, "unset", Code.InvalidArgument],
  ["idle, never planned", idleFresh, "parse", "run"],
  ["idle, never planned", idleFresh, "plan", "run"],
  ["idle, never planned", idleFresh, "apply", Code.FailedPrecondition],
  ["idle, never planned", idleFresh, "cancel", "ignore"],
  ["idle, never planned", idleFresh, "config", Code.FailedPrecondition],
  ["idle, never planned", idleFresh, "unset", Code.InvalidArgument],
  ["idle, planned", idlePlanned, "apply", "run"],
  ["plan running", planRunning, "cancel", "cancel-running"],
  ["plan running", planRunning, "parse", Code.FailedPrecondition],
  ["plan running", planRunning, "apply", Code.FailedPrecondition],
  ["plan running", planRunning, "config", Code.FailedPrecondition],
  ["plan running", planRunning, "unset", Code.InvalidArgument],
  ["plan running, already cancelled", planCancelled, "cancel", "ignore"],
];

describe("decide", () => {
  for (const [state, facts, request, expected] of table) {
    const label = typeof expected === "number" ? `a ${Code[expected]} violation` : expected;
    test(`GIVEN ${state} WHEN ${request} arrives THEN ${label}`, () => {
      const d = decide(facts, request);
      if (typeof expected === "number") {
        assert.equal(d.kind, "violation");
        assert.equal(d.kind === "violation" && Code[d.code], Code[expected]);
      } else {
        assert.equal(d.kind, expected);
      }
    });
  }

  test("GIVEN a violation while a request runs THEN the message names both requests", () => {
    const d = decide(planRunning, "parse");
    assert.equal(
      d.kind === "violation" && d.message,
      "got parse request while plan is still running (one request at a time)",
    );
  });
});

describe("parseLogLevel", () => {
  const levels: Array<[string, LogLevel]> = [
    ["", LogLevel.TRACE],
    ["  ", LogLevel.TRACE],
    ["trace", LogLevel.TRACE],
    ["DEBUG", LogLevel.DEBUG],
    ["Info", LogLevel.INFO],
    ["warn", LogLevel.WARN],
    ["error", LogLevel.ERROR],
  ];
  for (const [name, level] of levels) {
    test(`GIVEN "${name}" THEN ${LogLevel[level]}`, () => assert.equal(parseLogLevel(name), level));
  }
  for (const bad of ["warning", "verbose", "2"]) {
    test(`GIVEN "${bad}" THEN a LogLevelError naming it`, () => {
      assert.throws(
        () => parseLogLevel(bad),
        (err: Error) => err instanceof LogLevelError && err.message.includes(`"${bad}"`),
      );
    });
  }
});
