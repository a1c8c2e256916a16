// The HTTP API contract of prewarm (`/api/v1`), as data: every route's method, URL, auth requirement and
// TypeBox schemas. The Fastify server registers these verbatim (`app.route({ ...routes.x, handler })`, with
// `@fastify/type-provider-typebox` for typed handlers and `@fastify/swagger` for the OpenAPI document), and
// the CLI client derives its request and reply types from the same objects, so the two cannot drift.
//
// Conventions: JSON keys are lowerCamelCase; timestamps are ISO-8601 UTC strings; lists are bare arrays;
// every error is `ErrorBody` ({ message, detail?, field? }) with 400 invalid input, 401 no/bad token,
// 403 not allowed, 404 unknown, 409 conflict (413 for an oversized upload). URL parameters use Fastify
// syntax (`:name`). `config.auth` says who may call a route:
//   "none"  — anyone;  "user" — any user's API token (`Authorization: Bearer <token>`);
//   "owner" — a user with role `owner`;  "agent" — a workspace agent's token (Bearer), not a user token.
// Members see and change only their own workspaces; another user's workspace answers 404 to a member.
import { type Static, type TSchema, Type } from "@sinclair/typebox";
import { AuditPage, AuditQuery } from "./audit.js";
import { type ErrorBody, errorResponses, NoContent, StringEnum } from "./common.js";
import { AutoscalePolicy, PresetSettingsRequest } from "./demand.js";
import { Job, JobLog, JobLogsQuery } from "./jobs.js";
import { InvalidateResponse, Plan, PrebuildsSettings, PrebuildsStatus } from "./prebuilds.js";
import {
  CreateTemplateVersionRequest,
  FileUploadResponse,
  Preset,
  PresetsQuery,
  Template,
  TemplateDetail,
  TemplateVersion,
  TemplateVersionSummary,
  UpdateTemplateRequest,
} from "./templates.js";
import {
  CreateTokenRequest,
  CreateUserRequest,
  LoginRequest,
  LoginResponse,
  Token,
  TokenInfo,
  TokenParams,
  UpdateUserRequest,
  User,
  UserTokenParams,
} from "./users.js";
import {
  Agent,
  Build,
  BuildWithTimings,
  CreateBuildRequest,
  CreateWorkspaceRequest,
  ExtendLeaseRequest,
  Workspace,
  WorkspacesQuery,
  WorkspaceWaitQuery,
} from "./workspaces.js";

export * from "./audit.js";
export * from "./common.js";
export * from "./demand.js";
export * from "./jobs.js";
export * from "./prebuilds.js";
export * from "./templates.js";
export * from "./users.js";
export * from "./workspaces.js";

export const apiPrefix = "/api/v1";

export type AuthKind = "none" | "user" | "owner" | "agent";

/** The shape of one route entry (a subset of Fastify's route options). */
export interface RouteDef {
  method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
  url: string;
  config: { auth: AuthKind };
  schema: {
    summary: string;
    description?: string;
    tags: string[];
    consumes?: string[];
    produces?: string[];
    params?: TSchema;
    querystring?: TSchema;
    body?: TSchema;
    response: Record<number, TSchema>;
  };
}

/** One readiness check: ok, or failing with a message saying why. */
const ReadinessCheck = Type.Object({
  status: StringEnum(["ok", "failing"]),
  message: Type.Optional(Type.String()),
});
export const Readiness = Type.Object(
  {
    status: StringEnum(["ok", "unavailable"]),
    checks: Type.Object({ database: ReadinessCheck, migrations: ReadinessCheck, reconciler: ReadinessCheck }),
  },
  { title: "Readiness" },
);
export type ReadinessT = Static<typeof Readiness>;

const S = Type.String({ minLength: 1 });
const NameParams = Type.Object({ name: S });
const IdParams = Type.Object({ id: S });
const VersionParams = Type.Object({ name: S, version: S });

function route<const R extends RouteDef>(r: R): R {
  return r;
}

export const routes = {
  // ── meta ────────────────────────────────────────────────────────────────────────────────────────────
  healthz: route({
    method: "GET",
    url: "/healthz",
    config: { auth: "none" },
    schema: {
      summary: "Liveness: the process is up (nothing else is checked)",
      tags: ["meta"],
      response: { 200: Type.Object({ status: Type.Literal("ok") }) },
    },
  }),
  readyz: route({
    method: "GET",
    url: "/readyz",
    config: { auth: "none" },
    schema: {
      summary: "Readiness: the database answers, every migration is applied and the reconciler loop turns",
      description:
        "200 when every check passes, else 503; a paused reconciler or a replica that is not the leader is ready.",
      tags: ["meta"],
      response: { 200: Readiness, 503: Readiness },
    },
  }),
  buildInfo: route({
    method: "GET",
    url: `${apiPrefix}/buildinfo`,
    config: { auth: "none" },
    schema: {
      summary: "Server version and store",
      tags: ["meta"],
      response: {
        200: Type.Object({
          version: Type.String(),
          nodeVersion: Type.String(),
          database: Type.Union([Type.Literal("sqlite"), Type.Literal("postgres")]),
        }),
      },
    },
  }),
  openapi: route({
    method: "GET",
    url: `${apiPrefix}/openapi.json`,
    config: { auth: "none" },
    schema: { summary: "This API's OpenAPI 3 document", tags: ["meta"], response: { 200: Type.Any() } },
  }),

  // ── users and tokens ────────────────────────────────────────────────────────────────────────────────
  login: route({
    method: "POST",
    url: `${apiPrefix}/users/login`,
    config: { auth: "none" },
    schema: {
      summary: "Exchange a username and password for an API token",
      description:
        "Throttled per username and per client address: after 5 failures for a username or 20 from an address " +
        "(the defaults of --login-attempts-per-user/-address), each attempt waits a delay that doubles from 1 s up to 15 min (429 with Retry-After).",
      tags: ["users"],
      body: LoginRequest,
      response: { 201: LoginResponse, ...errorResponses(400, 401, 429) },
    },
  }),
  me: route({
    method: "GET",
    url: `${apiPrefix}/users/me`,
    config: { auth: "user" },
    schema: { summary: "The calling user", tags: ["users"], response: { 200: User, ...errorResponses(401) } },
  }),
  listUsers: route({
    method: "GET",
    url: `${apiPrefix}/users`,
    config: { auth: "owner" },
    schema: {
      summary: "All users",
      tags: ["users"],
      response: { 200: Type.Array(User), ...errorResponses(401, 403) },
    },
  }),
  createUser: route({
    method: "POST",
    url: `${apiPrefix}/users`,
    config: { auth: "owner" },
    schema: {
      summary: "Create a user",
      tags: ["users"],
      body: CreateUserRequest,
      response: { 201: User, ...errorResponses(400, 401, 403, 409) },
    },
  }),
  updateUser: route({
    method: "PATCH",
    url: `${apiPrefix}/users/:name`,
    config: { auth: "owner" },
    schema: {
      summary: "Change a user's role (409 for the last owner's demotion)",
      tags: ["users"],
      params: NameParams,
      body: UpdateUserRequest,
      response: { 200: User, ...errorResponses(400, 401, 403, 404, 409) },
    },
  }),
  createToken: route({
    method: "POST",
    url: `${apiPrefix}/users/me/tokens`,
    config: { auth: "user" },
    schema: {
      summary: "Create an API token for the calling user",
      tags: ["users"],
      body: CreateTokenRequest,
      response: { 201: Token, ...errorResponses(400, 401) },
    },
  }),
  listMyTokens: route({
    method: "GET",
    url: `${apiPrefix}/users/me/tokens`,
    config: { auth: "user" },
    schema: {
      summary: "The calling user's API tokens (metadata, never the secret)",
      tags: ["users"],
      response: { 200: Type.Array(TokenInfo), ...errorResponses(401) },
    },
  }),
  deleteMyToken: route({
    method: "DELETE",
    url: `${apiPrefix}/users/me/tokens/:id`,
    config: { auth: "user" },
    schema: {
      summary: "Revoke one of the calling user's tokens (by id); the next request with it is refused",
      tags: ["users"],
      params: TokenParams,
      response: { 204: NoContent, ...errorResponses(401, 404) },
    },
  }),
  listUserTokens: route({
    method: "GET",
    url: `${apiPrefix}/users/:name/tokens`,
    config: { auth: "owner" },
    schema: {
      summary: "A user's API tokens (metadata, never the secret)",
      tags: ["users"],
      params: NameParams,
      response: { 200: Type.Array(TokenInfo), ...errorResponses(401, 403, 404) },
    },
  }),
  deleteUserToken: route({
    method: "DELETE",
    url: `${apiPrefix}/users/:name/tokens/:id`,
    config: { auth: "owner" },
    schema: {
      summary: "Revoke one of a user's tokens (by id); the next request with it is refused",
      tags: ["users"],
      params: UserTokenParams,
      response: { 204: NoContent, ...errorResponses(401, 403, 404) },
    },
  }),

  // ── audit log ───────────────────────────────────────────────────────────────────────────────────────
  listAudit: route({
    method: "GET",
    url: `${apiPrefix}/audit`,
    config: { auth: "owner" },
    schema: {
      summary: "Audit log entries, newest first, one page at a time (pass nextCursor as cursor for the next)",
      description:
        "Filters: action (an audited action name), actor (a username), since (ISO-8601 or a duration back from now such as 24h). limit: 1 to 1000, default 100.",
      tags: ["audit"],
      querystring: AuditQuery,
      response: { 200: AuditPage, ...errorResponses(400, 401, 403) },
    },
  }),

  // ── template files, templates, versions, presets ────────────────────────────────────────────────────
  uploadFile: route({
    method: "POST",
    url: `${apiPrefix}/files`,
    config: { auth: "user" },
    schema: {
      summary: "Upload a template archive (raw tar body, Content-Type application/x-tar)",
      description: "Content-addressed: 201 when stored now, 200 when the same bytes were already stored.",
      tags: ["templates"],
      consumes: ["application/x-tar"],
      response: { 200: FileUploadResponse, 201: FileUploadResponse, ...errorResponses(400, 401, 413) },
    },
  }),
  listTemplates: route({
    method: "GET",
    url: `${apiPrefix}/templates`,
    config: { auth: "user" },
    schema: {
      summary: "Templates",
      tags: ["templates"],
      response: { 200: Type.Array(Template), ...errorResponses(401) },
    },
  }),
  getTemplate: route({
    method: "GET",
    url: `${apiPrefix}/templates/:name`,
    config: { auth: "user" },
    schema: {
      summary: "A template with its versions and its active version's parameters, variables and presets",
      tags: ["templates"],
      params: NameParams,
      response: { 200: TemplateDetail, ...errorResponses(401, 404) },
    },
  }),
  updateTemplate: route({
    method: "PATCH",
    url: `${apiPrefix}/templates/:name`,
    config: { auth: "owner" },
    schema: {
      summary: "Deprecate or undeprecate a template; set its default and maximum workspace lease",
      tags: ["templates"],
      params: NameParams,
      body: UpdateTemplateRequest,
      response: { 200: Template, ...errorResponses(400, 401, 403, 404) },
    },
  }),
  deleteTemplate: route({
    method: "DELETE",
    url: `${apiPrefix}/templates/:name`,
    config: { auth: "owner" },
    schema: {
      summary: "Delete a template (409 while users' workspaces use it; its prebuilds are deleted)",
      tags: ["templates"],
      params: NameParams,
      response: { 204: NoContent, ...errorResponses(401, 403, 404, 409) },
    },
  }),
  createTemplateVersion: route({
    method: "POST",
    url: `${apiPrefix}/templates/:name/versions`,
    config: { auth: "owner" },
    schema: {
      summary: "Create a version from an uploaded file (creating the template if new) and start its import",
      tags: ["templates"],
      params: NameParams,
      body: CreateTemplateVersionRequest,
      response: { 201: TemplateVersion, ...errorResponses(400, 401, 403, 404) },
    },
  }),
  listTemplateVersions: route({
    method: "GET",
    url: `${apiPrefix}/templates/:name/versions`,
    config: { auth: "user" },
    schema: {
      summary: "A template's versions, newest first",
      tags: ["templates"],
      params: NameParams,
      response: { 200: Type.Array(TemplateVersionSummary), ...errorResponses(401, 404) },
    },
  }),
  getTemplateVersion: route({
    method: "GET",
    url: `${apiPrefix}/templates/:name/versions/:version`,
    config: { auth: "user" },
    schema: {
      summary: "One version (name like v3, or its number)",
      tags: ["templates"],
      params: VersionParams,
      response: { 200: TemplateVersion, ...errorResponses(401, 404) },
    },
  }),
  activateTemplateVersion: route({
    method: "POST",
    url: `${apiPrefix}/templates/:name/versions/:version/activate`,
    config: { auth: "owner" },
    schema: {
      summary: "Make a successfully imported version the active one",
      tags: ["templates"],
      params: VersionParams,
      response: { 200: Template, ...errorResponses(401, 403, 404, 409) },
    },
  }),
  listPresets: route({
    method: "GET",
    url: `${apiPrefix}/templates/:name/presets`,
    config: { auth: "user" },
    schema: {
      summary: "Presets of the active (or the given) version with their prebuild pools",
      tags: ["templates", "prebuilds"],
      params: NameParams,
      querystring: PresetsQuery,
      response: { 200: Type.Array(Preset), ...errorResponses(401, 404) },
    },
  }),

  // ── jobs ────────────────────────────────────────────────────────────────────────────────────────────
  getJob: route({
    method: "GET",
    url: `${apiPrefix}/jobs/:id`,
    config: { auth: "user" },
    schema: {
      summary: "A provisioner job",
      tags: ["jobs"],
      params: IdParams,
      response: { 200: Job, ...errorResponses(401, 404) },
    },
  }),
  getJobLogs: route({
    method: "GET",
    url: `${apiPrefix}/jobs/:id/logs`,
    config: { auth: "user" },
    schema: {
      summary:
        "A job's logs; with ?follow=true or Accept: text/event-stream, an SSE stream until the job ends",
      description:
        "SSE events: `log` (id: log id, data: JobLog), `job` (data: Job, on status change), `end` (data: Job, " +
        "then the stream closes), `error` (data: ErrorBody). Resume with ?after= or Last-Event-ID.",
      tags: ["jobs"],
      produces: ["application/json", "text/event-stream"],
      params: IdParams,
      querystring: JobLogsQuery,
      response: { 200: Type.Array(JobLog), ...errorResponses(400, 401, 404) },
    },
  }),
  cancelJob: route({
    method: "POST",
    url: `${apiPrefix}/jobs/:id/cancel`,
    config: { auth: "user" },
    schema: {
      summary: "Cancel a pending or running job (409 when it already ended)",
      tags: ["jobs"],
      params: IdParams,
      response: { 202: Job, ...errorResponses(401, 403, 404, 409) },
    },
  }),

  // ── workspaces and builds ───────────────────────────────────────────────────────────────────────────
  createWorkspace: route({
    method: "POST",
    url: `${apiPrefix}/workspaces`,
    config: { auth: "user" },
    schema: {
      summary: "Create a workspace, claiming an eligible prebuild of the preset when there is one",
      description:
        "With an `Idempotency-Key` header, a create retried with the same key returns the workspace the first one made (200), never a second workspace or claim.",
      tags: ["workspaces"],
      headers: Type.Object({
        "idempotency-key": Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
      }),
      body: CreateWorkspaceRequest,
      response: { 200: Workspace, 201: Workspace, ...errorResponses(400, 401, 403, 404, 409) },
    },
  }),
  listWorkspaces: route({
    method: "GET",
    url: `${apiPrefix}/workspaces`,
    config: { auth: "user" },
    schema: {
      summary: "Workspaces (the caller's by default)",
      tags: ["workspaces"],
      querystring: WorkspacesQuery,
      response: { 200: Type.Array(Workspace), ...errorResponses(400, 401, 403) },
    },
  }),
  getWorkspace: route({
    method: "GET",
    url: `${apiPrefix}/workspaces/:id`,
    config: { auth: "user" },
    schema: {
      summary: "A workspace by id; with wait=ready, answers once it is usable or its build failed",
      tags: ["workspaces"],
      params: IdParams,
      querystring: WorkspaceWaitQuery,
      response: { 200: Workspace, ...errorResponses(400, 401, 404) },
    },
  }),
  extendLease: route({
    method: "POST",
    url: `${apiPrefix}/workspaces/:id/lease/extend`,
    config: { auth: "user" },
    schema: {
      summary: "Extend a workspace's lease, capped at the template's maximum from now",
      tags: ["workspaces"],
      params: IdParams,
      body: ExtendLeaseRequest,
      response: { 200: Workspace, ...errorResponses(400, 401, 404, 409) },
    },
  }),
  getWorkspaceByName: route({
    method: "GET",
    url: `${apiPrefix}/users/:owner/workspaces/:name`,
    config: { auth: "user" },
    schema: {
      summary: "A workspace by owner (username or `me`) and name",
      tags: ["workspaces"],
      params: Type.Object({ owner: S, name: S }),
      response: { 200: Workspace, ...errorResponses(401, 404) },
    },
  }),
  createBuild: route({
    method: "POST",
    url: `${apiPrefix}/workspaces/:id/builds`,
    config: { auth: "user" },
    schema: {
      summary: "Start, stop or delete a workspace (409 while a build is in progress)",
      tags: ["workspaces"],
      params: IdParams,
      body: CreateBuildRequest,
      response: { 201: Build, ...errorResponses(400, 401, 403, 404, 409) },
    },
  }),
  listBuilds: route({
    method: "GET",
    url: `${apiPrefix}/workspaces/:id/builds`,
    config: { auth: "user" },
    schema: {
      summary: "A workspace's builds, newest first",
      tags: ["workspaces"],
      params: IdParams,
      response: { 200: Type.Array(Build), ...errorResponses(401, 404) },
    },
  }),
  getBuildByNumber: route({
    method: "GET",
    url: `${apiPrefix}/workspaces/:id/builds/:number`,
    config: { auth: "user" },
    schema: {
      summary: "A workspace's build by number",
      tags: ["workspaces"],
      params: Type.Object({ id: S, number: Type.Integer({ minimum: 1 }) }),
      response: { 200: BuildWithTimings, ...errorResponses(401, 404) },
    },
  }),
  getBuild: route({
    method: "GET",
    url: `${apiPrefix}/builds/:id`,
    config: { auth: "user" },
    schema: {
      summary: "A build with its timings",
      tags: ["workspaces"],
      params: IdParams,
      response: { 200: BuildWithTimings, ...errorResponses(401, 404) },
    },
  }),
  listAgents: route({
    method: "GET",
    url: `${apiPrefix}/workspaces/:id/agents`,
    config: { auth: "user" },
    schema: {
      summary: "The agents of a workspace's latest build",
      tags: ["workspaces"],
      params: IdParams,
      response: { 200: Type.Array(Agent), ...errorResponses(401, 404) },
    },
  }),
  // The agent-facing routes (POST /agent/lifecycle and the rest, authenticated by the agent token) are in
  // ./agent.ts (`agentRoutes`), in the same shape.

  // ── prebuilds ───────────────────────────────────────────────────────────────────────────────────────
  prebuildsStatus: route({
    method: "GET",
    url: `${apiPrefix}/prebuilds/status`,
    config: { auth: "owner" },
    schema: {
      summary: "Reconciler state and every preset's pool",
      tags: ["prebuilds"],
      response: { 200: PrebuildsStatus, ...errorResponses(401, 403) },
    },
  }),
  pausePrebuilds: route({
    method: "POST",
    url: `${apiPrefix}/prebuilds/pause`,
    config: { auth: "owner" },
    schema: {
      summary: "Pause the reconciler (persisted; claims keep working)",
      tags: ["prebuilds"],
      response: { 200: PrebuildsSettings, ...errorResponses(401, 403) },
    },
  }),
  resumePrebuilds: route({
    method: "POST",
    url: `${apiPrefix}/prebuilds/resume`,
    config: { auth: "owner" },
    schema: {
      summary: "Resume the reconciler",
      tags: ["prebuilds"],
      response: { 200: PrebuildsSettings, ...errorResponses(401, 403) },
    },
  }),
  invalidatePrebuilds: route({
    method: "POST",
    url: `${apiPrefix}/templates/:name/prebuilds/invalidate`,
    config: { auth: "owner" },
    schema: {
      summary: "Mark every current prebuild of the template's active version expired (they are replaced)",
      tags: ["prebuilds"],
      params: NameParams,
      response: { 200: InvalidateResponse, ...errorResponses(401, 403, 404) },
    },
  }),
  resumePreset: route({
    method: "POST",
    url: `${apiPrefix}/templates/:name/presets/:preset/resume`,
    config: { auth: "owner" },
    schema: {
      summary: "Clear a hard-limited or validation-failed preset of the active version (status → healthy)",
      tags: ["prebuilds"],
      params: Type.Object({ name: S, preset: S }),
      response: { 200: Preset, ...errorResponses(401, 403, 404) },
    },
  }),
  setPresetAutoscale: route({
    method: "PUT",
    url: `${apiPrefix}/templates/:name/presets/:preset/autoscale`,
    config: { auth: "owner" },
    schema: {
      summary: "Size the preset's pool from its claim history (replaces instances and schedules while on)",
      description:
        "Stored per template and preset name, so it applies to later versions too. 400 when min > max or the timezone is unknown.",
      tags: ["prebuilds"],
      params: Type.Object({ name: S, preset: S }),
      body: AutoscalePolicy,
      response: { 200: Preset, ...errorResponses(400, 401, 403, 404) },
    },
  }),
  deletePresetAutoscale: route({
    method: "DELETE",
    url: `${apiPrefix}/templates/:name/presets/:preset/autoscale`,
    config: { auth: "owner" },
    schema: {
      summary: "Turn autoscaling off (instances and schedules decide again)",
      tags: ["prebuilds"],
      params: Type.Object({ name: S, preset: S }),
      response: { 200: Preset, ...errorResponses(401, 403, 404) },
    },
  }),
  updatePresetSettings: route({
    method: "PATCH",
    url: `${apiPrefix}/templates/:name/presets/:preset/settings`,
    config: { auth: "owner" },
    schema: {
      summary: "Set the preset's replace-ahead and rollout strategy (per template and preset name)",
      tags: ["prebuilds"],
      params: Type.Object({ name: S, preset: S }),
      body: PresetSettingsRequest,
      response: { 200: Preset, ...errorResponses(400, 401, 403, 404) },
    },
  }),
  prebuildsPlan: route({
    method: "GET",
    url: `${apiPrefix}/prebuilds/plan`,
    config: { auth: "owner" },
    schema: {
      summary: "What the next reconciliation cycle would do, for every preset (nothing is executed)",
      tags: ["prebuilds"],
      response: { 200: Plan, ...errorResponses(401, 403) },
    },
  }),
} as const;

export type Routes = typeof routes;
export type RouteName = keyof Routes;

// ── static types ──────────────────────────────────────────────────────────────────────────────────────
export type ErrorBodyT = Static<typeof ErrorBody>;
export type UserT = Static<typeof User>;
export type LoginResponseT = Static<typeof LoginResponse>;
export type TokenT = Static<typeof Token>;
export type TokenInfoT = Static<typeof TokenInfo>;
export type JobT = Static<typeof Job>;
export type JobLogT = Static<typeof JobLog>;
export type TemplateT = Static<typeof Template>;
export type TemplateDetailT = Static<typeof TemplateDetail>;
export type TemplateVersionT = Static<typeof TemplateVersion>;
export type TemplateVersionSummaryT = Static<typeof TemplateVersionSummary>;
export type PresetT = Static<typeof Preset>;
export type WorkspaceT = Static<typeof Workspace>;
export type BuildT = Static<typeof Build>;
export type BuildWithTimingsT = Static<typeof BuildWithTimings>;
export type AgentT = Static<typeof Agent>;
export type PrebuildsStatusT = Static<typeof PrebuildsStatus>;
export type PlanT = Static<typeof Plan>;

/** The first 2xx response schema of a route, as a static type (void for 204). */
export type RouteReply<R extends RouteDef> = {
  [K in keyof R["schema"]["response"]]: K extends 200 | 201 | 202
    ? Static<R["schema"]["response"][K]>
    : K extends 204
      ? undefined
      : never;
}[keyof R["schema"]["response"]];
export type RouteParams<R extends RouteDef> = R["schema"]["params"] extends TSchema
  ? Static<R["schema"]["params"]>
  : undefined;
export type RouteQuery<R extends RouteDef> = R["schema"]["querystring"] extends TSchema
  ? Partial<Static<R["schema"]["querystring"]>>
  : undefined;
export type RouteBody<R extends RouteDef> = R["schema"]["body"] extends TSchema
  ? Static<R["schema"]["body"]>
  : undefined;
