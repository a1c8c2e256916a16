// When a running agent re-initialises (pure): an event from the server's events stream, compared with the
// manifest the agent runs now. `claimed` — the workspace was handed to a new owner; `updated` — a later
// build of the running workspace (a new template version, new parameters) carries this agent's token, so
// its manifest may have changed. Either way the agent fetches its manifest again and runs its start scripts
// again in the same process. An event that no longer differs (it was delivered twice, or raced with a
// reconnect) is ignored.
import type { AgentClaimedEventT, AgentManifestT, AgentUpdatedEventT } from "../contract/agent.js";

export type AgentEvent =
  | { kind: "claimed"; event: AgentClaimedEventT }
  | { kind: "updated"; event: AgentUpdatedEventT };

/** The line the agent logs when it re-initialises for `event`, or undefined when it need not. */
export function reinitReason(
  event: AgentEvent,
  manifest: Pick<AgentManifestT, "ownerName" | "agentId">,
): string | undefined {
  if (event.kind === "claimed") {
    return event.event.ownerName === manifest.ownerName
      ? undefined
      : `workspace claimed by ${event.event.ownerName}: re-initialising`;
  }
  return event.event.agentId === manifest.agentId
    ? undefined
    : `workspace rebuilt in place (agent ${event.event.agentId}): re-initialising with the new manifest`;
}
