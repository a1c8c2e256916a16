// `GET /api/v1/agent/events?knownOwner=NAME&knownAgent=ID`: the claim and upgrade hand-overs as server-sent
// events.
//
// The stream keeps no memory of its own: it compares the owner the agent last initialised for (`knownOwner`)
// with the owner the workspace's agents run for now (owner.ts, as of the latest successful start build), and
// the agent id of the agent's manifest (`knownAgent`) with the newest agent its token authenticates (a later
// start build of the running workspace kept the token), and sends `event: claimed` or `event: updated`
// (rules.ts agentEventFor) whenever they differ, then remembers what it sent. It looks again on every pub/sub
// message for the workspace (a build finished, an agent reported) and every `pollMs` anyway, because pub/sub
// is best effort. A deleted workspace ends the stream; the agent's reconnect then gets 401 and stops.
import type { ServerResponse } from "node:http";
import type { AgentClaimedEventT, AgentUpdatedEventT } from "../../contract/agent.js";
import type { ServerContext } from "../context.js";
import { channels } from "../store/pubsub.js";
import { getWorkspace } from "../store/workspaces.js";
import { agentOwnerOf } from "./owner.js";
import { agentEventFor } from "./rules.js";

export interface AgentEventsOptions {
  /** `: keepalive` comment interval (the contract promises at most 15 s). */
  keepaliveMs?: number;
  /** Re-read the owner this often without a pub/sub hint. */
  pollMs?: number;
}

function write(res: ServerResponse, text: string): void {
  if (!res.writableEnded && !res.destroyed) res.write(text);
}

/**
 * "Look again" hints: `poke()` marks one pending; `next(ms)` resolves at once when one is pending (so a hint
 * arriving while the stream was reading is never lost), else on the next poke or after `ms`.
 */
class Hints {
  private pending = false;
  private waiter: (() => void) | undefined;

  poke(): void {
    this.pending = true;
    this.waiter?.();
  }

  async next(ms: number): Promise<void> {
    if (!this.pending) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        timer = setTimeout(resolve, ms);
      });
      clearTimeout(timer);
      this.waiter = undefined;
    }
    this.pending = false;
  }
}

export async function streamAgentEvents(
  ctx: ServerContext,
  res: ServerResponse,
  input: {
    workspaceId: string;
    knownOwner: string | undefined;
    knownAgent: string | undefined;
    /** The newest agent the caller's token authenticates now (undefined: none any more). */
    currentAgentId: () => Promise<string | undefined>;
  },
  options: AgentEventsOptions = {},
): Promise<void> {
  const db = ctx.store.db;
  const hints = new Hints();
  let closed = false;
  res.on("close", () => {
    closed = true;
    hints.poke();
  });
  const unsubscribe = ctx.store.pubsub.subscribe(channels.workspace, (payload) => {
    if (payload === input.workspaceId) hints.poke();
  });
  const keepalive = setInterval(() => write(res, ": keepalive\n\n"), options.keepaliveMs ?? 10_000);

  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache, no-transform",
    "x-accel-buffering": "no",
  });
  write(res, ": connected\n\n");

  let knownOwner = input.knownOwner;
  let knownAgent = input.knownAgent;
  try {
    await unsubscribe.ready;
    while (!closed) {
      const workspace = await getWorkspace(db, input.workspaceId);
      if (!workspace || workspace.deleted) break;
      const { ownerName, since } = await agentOwnerOf(db, workspace);
      const agentId = await input.currentAgentId();
      if (agentId === undefined) break;
      // Without `knownOwner`/`knownAgent` the agent did not say; it gets the current ones from its manifest.
      knownOwner ??= ownerName;
      knownAgent ??= agentId;
      const kind = agentEventFor({ owner: knownOwner, agentId: knownAgent }, { owner: ownerName, agentId });
      const at = (since ?? ctx.clock.now()).toISOString();
      if (kind === "claimed") {
        const event: AgentClaimedEventT = { ownerName, workspaceName: workspace.name, claimedAt: at };
        write(res, `event: claimed\ndata: ${JSON.stringify(event)}\n\n`);
      } else if (kind === "updated") {
        const event: AgentUpdatedEventT = { agentId, workspaceName: workspace.name, updatedAt: at };
        write(res, `event: updated\ndata: ${JSON.stringify(event)}\n\n`);
      }
      knownOwner = ownerName;
      knownAgent = agentId;
      await hints.next(options.pollMs ?? 5_000);
    }
  } catch (err) {
    ctx.logger.warn({ err, workspaceId: input.workspaceId }, "agent event stream failed");
  } finally {
    clearInterval(keepalive);
    unsubscribe();
    if (!res.writableEnded) res.end();
  }
}
