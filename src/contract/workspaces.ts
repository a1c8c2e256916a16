// Workspaces, builds, resources and agents as users see them (the agent-facing API is ./agent.ts).
import { Type } from "@sinclair/typebox";
import {
  AgentLifecycleState,
  AgentStatus,
  JobStatus,
  Nullable,
  NullableTimestamp,
  StringEnum,
  Timestamp,
  Transition,
} from "./common.js";

export const App = Type.Object({
  slug: Type.String(),
  displayName: Type.String(),
  url: Nullable(Type.String()),
  command: Nullable(Type.String()),
  external: Type.Boolean(),
});

export const AgentMetadataItem = Type.Object(
  {
    key: Type.String(),
    displayName: Type.String(),
    value: Type.String(),
    /** Empty when the last collection succeeded. */
    error: Type.String(),
    /** Null: not reported yet. */
    collectedAt: NullableTimestamp,
  },
  { title: "AgentMetadataItem" },
);

export const Agent = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    lifecycleState: AgentLifecycleState,
    /** connecting: never reported yet; disconnected: no report for a while. */
    status: AgentStatus,
    operatingSystem: Type.String(),
    architecture: Type.String(),
    lastSeenAt: NullableTimestamp,
    apps: Type.Array(App),
    /** The agent's metadata (template definitions) with the latest values it reported. */
    metadata: Type.Array(AgentMetadataItem),
  },
  { title: "Agent" },
);

export const Resource = Type.Object(
  {
    name: Type.String(),
    type: Type.String(),
    agents: Type.Array(Agent),
  },
  { title: "Resource" },
);

/**
 * Why a build ran: "initiator" (a user asked), "claim" (a prebuild was handed to its new owner), "prebuild"
 * (the reconciler created a prebuild), "prebuild_<reason>" (the reconciler deleted one; the plan's reason),
 * "lease_expired" (the workspace's lease ran out).
 */
export const BUILD_REASONS = [
  "initiator",
  "claim",
  "prebuild",
  "prebuild_expired",
  "prebuild_extraneous",
  "prebuild_stopped",
  "prebuild_failed",
  "prebuild_outdated",
  "lease_expired",
] as const;
export type BuildReasonName = (typeof BUILD_REASONS)[number];
export const BuildReason = StringEnum(BUILD_REASONS);

/** A resource a build's plan destroyed and re-created, with the attribute paths that forced it. */
export const ResourceReplacement = Type.Object(
  { resource: Type.String(), paths: Type.Array(Type.String()) },
  { title: "ResourceReplacement" },
);

export const Build = Type.Object(
  {
    id: Type.String(),
    workspaceId: Type.String(),
    number: Type.Integer({ minimum: 1 }),
    transition: Transition,
    status: JobStatus,
    reason: BuildReason,
    prebuildStage: StringEnum(["none", "create", "claim"]),
    templateVersion: Type.String({ description: "version name" }),
    initiator: Type.String({ description: "username" }),
    jobId: Type.String(),
    error: Nullable(Type.String()),
    createdAt: Timestamp,
    startedAt: NullableTimestamp,
    completedAt: NullableTimestamp,
    /** When the workspace became usable with this build (its agents ready; the build done without agents). */
    usableAt: NullableTimestamp,
    /** What the build's plan replaced; on a claim that means the prebuild was rebuilt, not handed over. */
    resourceReplacements: Type.Array(ResourceReplacement),
  },
  { title: "Build" },
);

export const BuildTiming = Type.Object({
  stage: Type.String({ description: "init | plan | graph | apply | …" }),
  source: Type.String({ description: "provisioner type or resource provider" }),
  action: Type.String(),
  resource: Type.String(),
  startedAt: Timestamp,
  endedAt: Timestamp,
});

export const BuildWithTimings = Type.Composite([Build, Type.Object({ timings: Type.Array(BuildTiming) })], {
  title: "BuildWithTimings",
});

export const Workspace = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    owner: Type.String({ description: "username" }),
    template: Type.String(),
    templateVersion: Type.String({ description: "version name of the latest build" }),
    /** The latest build's version is not the template's active version. */
    outdated: Type.Boolean(),
    preset: Nullable(Type.String()),
    /** True when this workspace was a prebuild handed to its owner. */
    claimedPrebuild: Type.Boolean(),
    claimedAt: NullableTimestamp,
    createdAt: Timestamp,
    /** The workspace's lease: stopped or deleted at `deadline` (null until it is usable: the lease counts from then). */
    lease: Nullable(
      Type.Object({
        deadline: NullableTimestamp,
        onExpiry: StringEnum(["stop", "delete"]),
        seconds: Type.Integer(),
      }),
    ),
    latestBuild: Build,
    resources: Type.Array(Resource),
  },
  { title: "Workspace" },
);

export const Lease = Type.Object({
  /** How long the workspace lives once usable. */
  seconds: Type.Integer({ minimum: 1 }),
  /** What happens at the deadline (default delete). */
  onExpiry: Type.Optional(StringEnum(["stop", "delete"])),
});

/**
 * Coder's workspace name rule: letters, digits and inner hyphens, at most 32 characters. The server checks it
 * (workspaces/service.ts, with a friendlier message than schema validation gives) from this same pattern.
 */
export const workspaceNamePattern = "^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,30}[a-zA-Z0-9])?$";

export const CreateWorkspaceRequest = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 32, pattern: workspaceNamePattern }),
  template: Type.String({ minLength: 1 }),
  /** Default: the active version. A prebuild is only claimed on the active version. */
  templateVersion: Type.Optional(Type.String()),
  /** Named preset; without one, a preset whose values all equal `parameters` is used if there is one. */
  preset: Type.Optional(Type.String({ minLength: 1 })),
  parameters: Type.Optional(Type.Record(Type.String(), Type.String())),
  /** Owners only: create it for another user. */
  owner: Type.Optional(Type.String()),
  /** A lifetime: default the template's default lease; at most the template's maximum. */
  lease: Type.Optional(Lease),
});

export const WorkspaceWaitQuery = Type.Object({
  /** `ready`: answer once the workspace is usable (agents ready) or its latest build failed or was canceled. */
  wait: Type.Optional(StringEnum(["ready"])),
  /** How long to wait at most, with a unit (`60s`, `5m`; default 60s, at most 10m); then the current state. */
  timeout: Type.Optional(Type.String({ pattern: "^[0-9]+(ms|s|m)$" })),
});

export const ExtendLeaseRequest = Type.Object({ seconds: Type.Integer({ minimum: 1 }) });

export const WorkspacesQuery = Type.Object({
  /** A username or "me"; default "me". */
  owner: Type.Optional(Type.String()),
  /** Owners only: every user's workspaces. */
  all: Type.Optional(Type.Boolean()),
  /** Owners only, with `all`: include unclaimed prebuilds (owned by `prebuilds`). */
  prebuilds: Type.Optional(Type.Boolean()),
  template: Type.Optional(Type.String()),
});

export const CreateBuildRequest = Type.Object({
  transition: Transition,
  /** Default: the latest build's version for stop/delete, the active version for start. */
  templateVersion: Type.Optional(Type.String()),
  parameters: Type.Optional(Type.Record(Type.String(), Type.String())),
});
