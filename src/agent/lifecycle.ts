// The agent's lifecycle, as a pure state machine (no I/O, no clock).
//
//   created ──start──► starting ──started──► ready ──reinit (claimed)──► starting …
//                         │                    │
//                         └──startFailed──► start_error ──reinit──► starting …
//   created | starting | ready | start_error ──shutdown──► shutting_down ──stopped──► off
//
// `created` is the state the server gives a new agent row; the agent never reports it. Every other state is
// reported to the server, in order (see reporter.ts). `off` is final. A claim while `starting` is not a
// transition: the main loop remembers it and re-initialises once the start scripts are done, so a claim is
// never lost and never interrupts half-run scripts.
import type { Static } from "@sinclair/typebox";
import type { AgentLifecycleState } from "../contract/common.js";

/** The states are the wire contract's (`AgentLifecycleState`), so machine and API cannot drift apart. */
export type LifecycleState = Static<typeof AgentLifecycleState>;

export type LifecycleEvent = "start" | "started" | "startFailed" | "reinit" | "shutdown" | "stopped";

const transitions: Record<LifecycleEvent, { from: readonly LifecycleState[]; to: LifecycleState }> = {
  start: { from: ["created"], to: "starting" },
  started: { from: ["starting"], to: "ready" },
  startFailed: { from: ["starting"], to: "start_error" },
  reinit: { from: ["ready", "start_error"], to: "starting" },
  shutdown: { from: ["created", "starting", "ready", "start_error"], to: "shutting_down" },
  stopped: { from: ["shutting_down"], to: "off" },
};

export class LifecycleTransitionError extends Error {
  constructor(
    readonly state: LifecycleState,
    readonly event: LifecycleEvent,
  ) {
    super(`agent lifecycle: cannot ${event} while ${state}`);
    this.name = "LifecycleTransitionError";
  }
}

/** Whether `event` is allowed in `state`. */
export function canTransition(state: LifecycleState, event: LifecycleEvent): boolean {
  return transitions[event].from.includes(state);
}

/** The state after `event`; throws LifecycleTransitionError when the event is not allowed in `state`. */
export function nextState(state: LifecycleState, event: LifecycleEvent): LifecycleState {
  if (!canTransition(state, event)) throw new LifecycleTransitionError(state, event);
  return transitions[event].to;
}
