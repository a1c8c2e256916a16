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
 * Why a build ran. Known values: "initiator" (a user asked), "prebuild" (the reconciler created a
 * prebuild), "claim" (a prebuild was handed to its new owner), and for reconciler deletes the plan's
 * reason: "expired", "extraneous", "stopped", "failed", "outdated".
 */
export const BuildReason = Type.String();

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
    latestBuild: Build,
    resources: Type.Array(Resource),
  },
  { title: "Workspace" },
);

export const CreateWorkspaceRequest = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 64, pattern: "^[a-zA-Z0-9][a-zA-Z0-9_-]*$" }),
  template: Type.String({ minLength: 1 }),
  /** Default: the active version. A prebuild is only claimed on the active version. */
  templateVersion: Type.Optional(Type.String()),
  /** Named preset; without one, a preset whose values all equal `parameters` is used if there is one. */
  preset: Type.Optional(Type.String({ minLength: 1 })),
  parameters: Type.Optional(Type.Record(Type.String(), Type.String())),
  /** Owners only: create it for another user. */
  owner: Type.Optional(Type.String()),
});

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
