// The agent-facing HTTP API (`prewarm agent` ⇄ server), as data in the same shape as `routes` in
// ./contract.ts, so the server registers these verbatim and the agent derives its types from them.
//
// Authentication: every route except `agentBundle` takes `Authorization: Bearer <agent token>` (the
// `coder_agent` token of the workspace's latest build; a claim build keeps it, see
// `running_agent_auth_tokens`). An unknown token answers 401, and the agent exits on 401: a token never
// becomes valid later.
//
// Claim hand-over (`agentEvents`): an SSE stream, chosen over a long poll because the server can push the
// moment a claim build succeeds and one connection covers the agent's whole life. It is durable across
// reconnects without server-side memory: the agent passes the owner it last initialised for in
// `?knownOwner=`; the server sends `event: claimed` immediately if the workspace's owner (as of its latest
// *successful* start build) differs, otherwise later when a claim build succeeds. An agent that restarts
// with a fresh manifest passes the current owner and so never re-initialises spuriously. The server sends a
// `: keepalive` comment at least every 15 s so proxies keep the stream open.
//
// Upgrade hand-over (`event: updated`), the same way: a start build of a running workspace (a new template
// version, new parameters) hands the running agents their tokens, as a claim does, so the token now means that
// build's agent. The agent passes the agent id of its manifest in `?knownAgent=`; when the newest agent its
// token authenticates is another one, the server sends `updated` and the agent re-initialises with the new
// manifest — same process, no stop (Coder's agent drops off instead, coder/coder#17840).
//
// Lifecycle reports are idempotent per (state, changedAt): the agent may resend one after a lost reply.
// Transitions a server refuses answer 409; the agent logs and drops that report.
import { FormatRegistry, type Static, type TSchema, Type } from "@sinclair/typebox";
import type { RouteDef } from "./api.js";
import {
  AgentLifecycleState,
  type ErrorBody,
  errorResponses,
  LogLevel,
  NoContent,
  Timestamp,
} from "./common.js";

export const agentApiPrefix = "/api/v1/agent";

/**
 * Teaches TypeBox's `Value.Check` the `date-time` format the timestamps use (Fastify's Ajv knows it already;
 * TypeBox fails unknown formats). Idempotent; called by the agent's client before it validates anything.
 */
export function registerContractFormats(): void {
  if (!FormatRegistry.Has("date-time")) {
    FormatRegistry.Set(
      "date-time",
      (v) =>
        /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(v) &&
        !Number.isNaN(Date.parse(v)),
    );
  }
}

export const AgentScript = Type.Object(
  {
    displayName: Type.String({ description: "Names the script in logs, errors and `source` of agent logs" }),
    script: Type.String({ description: "Run with `sh -c` in the manifest directory" }),
    runOnStart: Type.Boolean(),
    runOnStop: Type.Boolean(),
    startBlocksLogin: Type.Boolean({ description: "Runs before the other start scripts" }),
    timeoutSeconds: Type.Integer({ minimum: 0, description: "0: no timeout" }),
    logPath: Type.String({
      description: "Relative to the agent's log directory, or absolute; empty: derived",
    }),
    cron: Type.String({ description: "6-field cron (with seconds) to run the script on; empty: none" }),
  },
  { title: "AgentScript" },
);

export const AgentMetadataDescription = Type.Object(
  {
    key: Type.String({ minLength: 1 }),
    displayName: Type.String(),
    script: Type.String(),
    intervalSeconds: Type.Integer({ minimum: 0, description: "0: collected once" }),
    timeoutSeconds: Type.Integer({
      minimum: 0,
      description: "0: the agent's default (the interval, at least 1 s)",
    }),
  },
  { title: "AgentMetadataDescription" },
);

export const AgentManifest = Type.Object(
  {
    agentId: Type.String(),
    name: Type.String(),
    workspaceId: Type.String(),
    workspaceName: Type.String(),
    ownerName: Type.String({ description: "`prebuilds` while the workspace is an unclaimed prebuild" }),
    directory: Type.String({
      description: "Working directory of scripts; empty: $HOME; a leading ~ is $HOME",
    }),
    env: Type.Record(Type.String(), Type.String(), { description: "Merged over the agent's environment" }),
    scripts: Type.Array(AgentScript),
    metadata: Type.Array(AgentMetadataDescription),
    connectionTimeoutSeconds: Type.Integer({
      minimum: 0,
      description:
        "The server shows the agent disconnected after this long without a heartbeat (the server sends the effective value: 120 when the template says 0)",
    }),
    motdFile: Type.String(),
  },
  { title: "AgentManifest" },
);

export const AgentLifecycleReport = Type.Object(
  {
    state: AgentLifecycleState,
    changedAt: Timestamp,
    detail: Type.Optional(
      Type.String({ description: "Why, for start_error: the failing script and its exit code or timeout" }),
    ),
  },
  { title: "AgentLifecycleReport" },
);

export const AgentLogEntry = Type.Object(
  {
    createdAt: Timestamp,
    level: LogLevel,
    output: Type.String({ description: "One line, without its newline" }),
    source: Type.String({ description: "The script's display name, or `agent` for the agent's own lines" }),
  },
  { title: "AgentLogEntry" },
);
export const AgentLogsRequest = Type.Object({ logs: Type.Array(AgentLogEntry, { maxItems: 1000 }) });

export const AgentMetadataResult = Type.Object(
  {
    key: Type.String({ minLength: 1 }),
    value: Type.String({ description: "Combined stdout+stderr, trimmed, at most 10 KiB" }),
    error: Type.String({ description: "Empty on success, else e.g. `exit code 2` or `timed out after 5s`" }),
    collectedAt: Timestamp,
  },
  { title: "AgentMetadataResult" },
);
export const AgentMetadataRequest = Type.Object({ results: Type.Array(AgentMetadataResult) });

export const AgentEventsQuery = Type.Object({
  knownOwner: Type.Optional(Type.String({ description: "The owner the agent last initialised for" })),
  knownAgent: Type.Optional(
    Type.String({ description: "The agent id of the manifest the agent last initialised with" }),
  ),
});

/** `data:` of `event: claimed` (JSON). */
export const AgentClaimedEvent = Type.Object(
  {
    ownerName: Type.String(),
    workspaceName: Type.String(),
    claimedAt: Timestamp,
  },
  { title: "AgentClaimedEvent" },
);

/** `data:` of `event: updated` (JSON): a later build of the running workspace carries this agent's token. */
export const AgentUpdatedEvent = Type.Object(
  {
    agentId: Type.String({ description: "The agent the token means now: fetch its manifest" }),
    workspaceName: Type.String(),
    updatedAt: Timestamp,
  },
  { title: "AgentUpdatedEvent" },
);

function route<const R extends RouteDef>(r: R): R {
  return r;
}

const agentAuth = { auth: "agent" } as const;
const tags = ["agents"];

/** An agent-authenticated POST of `body` answered with 204 (lifecycle, logs, metadata). */
function agentReport<const B extends TSchema>(path: string, summary: string, body: B) {
  return route({
    method: "POST",
    url: `${agentApiPrefix}/${path}`,
    config: agentAuth,
    schema: { summary, tags, body, response: { 204: NoContent, ...errorResponses(400, 401, 409) } },
  });
}

export const agentRoutes = {
  agentManifest: route({
    method: "GET",
    url: `${agentApiPrefix}/manifest`,
    config: agentAuth,
    schema: {
      summary: "The calling agent's manifest (scripts, env, directory, metadata definitions)",
      tags,
      response: { 200: AgentManifest, ...errorResponses(401) },
    },
  }),
  agentLifecycle: agentReport(
    "lifecycle",
    "Report a lifecycle transition (reports arrive in the order they happened)",
    AgentLifecycleReport,
  ),
  agentLogs: agentReport(
    "logs",
    "Append a batch of agent log lines (script output and the agent's own messages)",
    AgentLogsRequest,
  ),
  agentMetadata: agentReport(
    "metadata",
    "Report metadata values (the latest result per key wins)",
    AgentMetadataRequest,
  ),
  agentHeartbeat: route({
    method: "POST",
    url: `${agentApiPrefix}/heartbeat`,
    config: agentAuth,
    schema: {
      summary: "I am alive (the server marks the agent connected and updates lastSeenAt)",
      tags,
      response: { 204: NoContent, ...errorResponses(401) },
    },
  }),
  agentEvents: route({
    method: "GET",
    url: `${agentApiPrefix}/events`,
    config: agentAuth,
    schema: {
      summary:
        "SSE stream of events for the agent: `event: claimed` (AgentClaimedEvent) and `event: updated` (AgentUpdatedEvent)",
      tags,
      produces: ["text/event-stream"],
      querystring: AgentEventsQuery,
      response: { 200: Type.String(), ...errorResponses(401) },
    },
  }),
  agentBundle: route({
    method: "GET",
    url: `${agentApiPrefix}/bundle.js`,
    config: { auth: "none" },
    schema: {
      summary: "The agent as one self-contained CommonJS file: `node bundle.js` (no auth: it is public code)",
      tags,
      produces: ["application/javascript"],
      response: { 200: Type.String() },
    },
  }),
  agentBootstrap: route({
    method: "GET",
    url: `${agentApiPrefix}/bootstrap/:os/:arch`,
    config: { auth: "none" },
    schema: {
      summary:
        "The shell bootstrap for a platform (what CODER_AGENT_SCRIPT_<os>_<arch> holds), with this server's URL " +
        "filled in: `curl -fsSL URL | CODER_AGENT_TOKEN=… sh` downloads bundle.js and starts the agent",
      tags,
      produces: ["text/x-shellscript"],
      params: Type.Object({ os: Type.String(), arch: Type.String() }),
      response: { 200: Type.String(), ...errorResponses(404) },
    },
  }),
} as const;

/**
 * User-facing, not agent-facing: an agent's token, so an operator can start `prewarm agent` by hand for a
 * workspace (an echo template's, or a host outside Terraform). Owners (role) may read any agent's token, a
 * member only those of their own workspaces; the server never logs it. `agentId` is an agent of the
 * workspace's latest build (GET /workspaces/:id/agents).
 */
export const AgentToken = Type.Object(
  { agentId: Type.String(), agentName: Type.String(), token: Type.String() },
  { title: "AgentToken" },
);

export const workspaceAgentTokenRoute = route({
  method: "GET",
  url: "/api/v1/workspaces/:id/agents/:agentId/token",
  config: { auth: "user" },
  schema: {
    summary: "An agent's token, to start `prewarm agent` by hand (owners, or the workspace's own user)",
    tags: ["workspaces"],
    params: Type.Object({ id: Type.String(), agentId: Type.String() }),
    response: { 200: AgentToken, ...errorResponses(401, 404) },
  },
});

export type AgentManifestT = Static<typeof AgentManifest>;
export type AgentScriptT = Static<typeof AgentScript>;
export type AgentMetadataDescriptionT = Static<typeof AgentMetadataDescription>;
export type AgentLifecycleReportT = Static<typeof AgentLifecycleReport>;
export type AgentLogEntryT = Static<typeof AgentLogEntry>;
export type AgentMetadataResultT = Static<typeof AgentMetadataResult>;
export type AgentClaimedEventT = Static<typeof AgentClaimedEvent>;
export type AgentUpdatedEventT = Static<typeof AgentUpdatedEvent>;
export type AgentErrorBodyT = Static<typeof ErrorBody>;
