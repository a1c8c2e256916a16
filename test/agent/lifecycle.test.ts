// The agent's lifecycle state machine: every (state, event) pair, table-driven.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  canTransition,
  type LifecycleEvent,
  type LifecycleState,
  LifecycleTransitionError,
  nextState,
} from "../../src/agent/lifecycle.js";
import { AgentLifecycleState } from "../../src/contract/common.js";

const events: LifecycleEvent[] = ["start", "started", "startFailed", "reinit", "shutdown", "stopped"];

/** The allowed transitions, written out independently of the module's table. */
const allowed: Record<string, LifecycleState> = {
  "created/start": "starting",
  "created/shutdown": "shutting_down",
  "starting/started": "ready",
  "starting/startFailed": "start_error",
  "starting/shutdown": "shutting_down",
  "ready/reinit": "starting",
  "ready/shutdown": "shutting_down",
  "start_error/reinit": "starting",
  "start_error/shutdown": "shutting_down",
  "shutting_down/stopped": "off",
};

// The wire contract's states: the machine must handle every one of them.
const lifecycleStates = AgentLifecycleState.anyOf.map((s) => s.const);

describe("agent lifecycle", () => {
  for (const state of lifecycleStates) {
    for (const event of events) {
      const expected = allowed[`${state}/${event}`];
      test(`GIVEN ${state} WHEN ${event} THEN ${expected ?? "refused"}`, () => {
        assert.equal(canTransition(state, event), expected !== undefined);
        if (expected) {
          assert.equal(nextState(state, event), expected);
        } else {
          assert.throws(
            () => nextState(state, event),
            (err: unknown) =>
              err instanceof LifecycleTransitionError &&
              err.message === `agent lifecycle: cannot ${event} while ${state}`,
          );
        }
      });
    }
  }

  test("GIVEN a prebuild's agent WHEN it starts, is claimed, and is stopped THEN the path is the one reported to the server", () => {
    const path: LifecycleEvent[] = ["start", "started", "reinit", "started", "shutdown", "stopped"];
    const states: LifecycleState[] = [];
    let state: LifecycleState = "created";
    for (const event of path) {
      state = nextState(state, event);
      states.push(state);
    }
    assert.deepEqual(states, ["starting", "ready", "starting", "ready", "shutting_down", "off"]);
    assert.equal(state, "off");
    for (const event of events) assert.equal(canTransition("off", event), false, `off is final (${event})`);
  });
});
