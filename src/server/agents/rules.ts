// Pure decisions about agent reports and connection status (no I/O, no clock).
//
// Lifecycle reports, as the server accepts them (the agent's own machine is src/agent/lifecycle.ts):
//
//   any state ──starting──► starting        (a fresh agent process, or a re-initialisation after a claim)
//   starting ──ready | start_error──► …
//   created | starting | ready | start_error ──shutting_down──► shutting_down ──off──► off
//
// The same (state, changedAt) again is a duplicate (the agent resends after a lost reply): accepted, changes
// nothing but the connection time. A report older than the one that set the current state, `created`, or a
// transition outside the graph is refused (409), and the agent drops it.
import type { AgentLifecycleState } from "../store/schema.js";

/** Coder's default `connection_timeout`; used when the template leaves it 0. */
export const DEFAULT_CONNECTION_TIMEOUT_SECONDS = 120;

const allowedFrom: Record<AgentLifecycleState, readonly AgentLifecycleState[] | "any"> = {
  created: [],
  starting: "any",
  ready: ["starting"],
  start_error: ["starting"],
  shutting_down: ["created", "starting", "ready", "start_error"],
  off: ["shutting_down"],
};

export type LifecycleDecision =
  | { kind: "apply" }
  | { kind: "duplicate" }
  | { kind: "refuse"; reason: string };

export function decideLifecycleReport(
  current: { state: AgentLifecycleState; changedAt: Date | null },
  report: { state: AgentLifecycleState; changedAt: Date },
): LifecycleDecision {
  const changedAt = current.changedAt?.getTime();
  if (changedAt !== undefined && report.changedAt.getTime() < changedAt) {
    return {
      kind: "refuse",
      reason: `the report (${report.state} at ${report.changedAt.toISOString()}) is older than the current state (${current.state} since ${current.changedAt?.toISOString()})`,
    };
  }
  if (report.state === current.state) return { kind: "duplicate" };
  const from = allowedFrom[report.state];
  if (from === "any" || from.includes(current.state)) return { kind: "apply" };
  return { kind: "refuse", reason: `an agent cannot go from ${current.state} to ${report.state}` };
}

/** The connection timeout in effect: the template's, or the default when it is 0. */
export function effectiveConnectionTimeoutSeconds(configured: number): number {
  return configured > 0 ? configured : DEFAULT_CONNECTION_TIMEOUT_SECONDS;
}

export type AgentConnection = "connecting" | "connected" | "disconnected";

/**
 * connecting: the agent never reported; disconnected: nothing from it (heartbeat or report) for longer than
 * its connection timeout; connected otherwise.
 */
export function agentConnection(
  agent: { lastConnectedAt: Date | null; connectionTimeoutSeconds: number },
  now: Date,
): AgentConnection {
  if (agent.lastConnectedAt === null) return "connecting";
  const timeoutMs = effectiveConnectionTimeoutSeconds(agent.connectionTimeoutSeconds) * 1000;
  return now.getTime() - agent.lastConnectedAt.getTime() > timeoutMs ? "disconnected" : "connected";
}

/**
 * The owner an agent runs for: the workspace's owner as of its latest successful start build. A prebuild's
 * CREATE build ran for the prebuilds user; a claim build (and any later build) for the workspace's owner. So
 * while a claim build is still running the agent keeps its prebuild identity, and it learns of the claim
 * only once the claim build has produced the new manifest.
 */
export function ownerOfLatestStart(
  latestSuccessfulStart: { prebuildStage: string } | undefined,
  owners: { current: string; prebuilds: string },
): string {
  return latestSuccessfulStart?.prebuildStage === "create" ? owners.prebuilds : owners.current;
}

/**
 * Whether a build hands the running agents' tokens to the provisioner (`running_agent_auth_tokens`), so
 * terraform's `coder_agent.token` stays the token the agent process already runs with: any start build whose
 * latest succeeded predecessor (`running`: what runs now) is a start — a claim (Coder does this too), and an
 * upgrade or parameter change of a running workspace, also when an earlier attempt failed (Coder mints new
 * tokens then, and the running agent drops off: coder/coder#17840). Chosen over
 * sending the agent a new token because the running agent then needs nothing it does not have: its next
 * request already authenticates as the new build's agent, and the events stream tells it to re-initialise
 * (`updated`). After a stop nothing runs, so a start mints fresh tokens.
 */
export function keepsRunningAgentTokens(
  build: { transition: string },
  running: { transition: string } | undefined,
): boolean {
  return build.transition === "start" && running?.transition === "start";
}

export type AgentEventKind = "claimed" | "updated";

/**
 * What the events stream tells a running agent: `claimed` when the owner it runs for changed (it matters
 * more, and a claim is also a new build), `updated` when its token now means another agent — a later build
 * of the running workspace kept it — so the manifest may have changed; nothing otherwise.
 */
export function agentEventFor(
  known: { owner: string; agentId: string },
  current: { owner: string; agentId: string },
): AgentEventKind | undefined {
  if (current.owner !== known.owner) return "claimed";
  if (current.agentId !== known.agentId) return "updated";
  return undefined;
}
