// The database schema as Kysely sees it: one interface per table, column names exactly as in SQL.
//
// Representation rules (the same on SQLite and PostgreSQL, see docs/storage.md):
// - timestamps: `Millis` = integer milliseconds since the Unix epoch, UTC (BIGINT on PG, INTEGER on SQLite).
//   JavaScript `Date` has millisecond precision, so Date → Millis → Date round-trips exactly on both.
// - booleans: `Flag` = integer 0 or 1 (better-sqlite3 cannot bind JS booleans; one form keeps SQL identical).
// - JSON: TEXT holding JSON, parsed at the store boundary.
// - bytes: BYTEA on PG, BLOB on SQLite; both drivers return a Buffer.
// - ids: TEXT (random UUIDs), so a malformed id in a URL is simply "not found", never a cast error.
// Query modules convert rows to camelCase domain types with `Date` and `boolean` (see ./rows.ts helpers).
import type { ColumnType, Generated } from "kysely";
import type { BuildReasonName } from "../../contract/workspaces.js";
import type { PresetStatus } from "../../planning/plan.js";

export type Millis = number;
export type Flag = 0 | 1;
/** TEXT column holding JSON. */
export type JsonText = string;

export type UserRole = "owner" | "member";
export type LoginType = "password" | "token" | "none";
export type JobType = "template_version_import" | "workspace_build" | "claim_rehearsal";
export type Transition = "start" | "stop" | "delete";
export type PrebuildStage = "none" | "create" | "claim";
/** The one list of preset statuses lives with the planner that reads them. */
export type { PresetStatus };

export type AgentLifecycleState = "created" | "starting" | "ready" | "start_error" | "shutting_down" | "off";
export type LogSource = "provisioner_daemon" | "provisioner";
export type LogLevel = "trace" | "debug" | "info" | "warn" | "error";

export interface UsersTable {
  id: string;
  username: string;
  email: string;
  name: string;
  role: UserRole;
  login_type: LoginType;
  password_hash: string | null;
  /** 1 for built-in users (the `prebuilds` user): they cannot log in. */
  is_system: Flag;
  created_at: Millis;
  updated_at: Millis;
}

export interface ApiTokensTable {
  /** Public part of the token `<id>-<secret>`. */
  id: string;
  user_id: string;
  /** sha256 of the secret part. */
  hashed_secret: Buffer;
  name: string;
  created_at: Millis;
  expires_at: Millis | null;
  last_used_at: Millis | null;
}

export interface FilesTable {
  id: string;
  /** Hex sha256 of `data`; unique (content-addressed, deduplicated). */
  hash: string;
  mimetype: string;
  data: Buffer;
  size: number;
  created_by: string | null;
  created_at: Millis;
}

export interface TemplatesTable {
  id: string;
  /** Unique among non-deleted templates. */
  name: string;
  display_name: string;
  description: string;
  icon: string;
  /** No FK (versions reference templates); set once the first version's import succeeded. */
  active_version_id: string | null;
  /** Deprecation message; '' = not deprecated. */
  deprecated: string;
  deleted: Flag;
  /** Lease of a new workspace when its create names none (seconds; null = none), and the ceiling. */
  default_lease_seconds: number | null;
  max_lease_seconds: number | null;
  created_by: string;
  created_at: Millis;
  updated_at: Millis;
}

export interface TemplateVersionsTable {
  id: string;
  template_id: string | null;
  /** Unique per template. */
  name: string;
  message: string;
  file_id: string;
  provisioner: string;
  /** The template_version_import job. */
  job_id: string;
  readme: string;
  created_by: string;
  created_at: Millis;
  updated_at: Millis;
}

export interface TemplateVersionVariablesTable {
  template_version_id: string;
  name: string;
  description: string;
  type: string;
  default_value: string;
  /** The value used for this version (user-supplied or the default). */
  value: string;
  required: Flag;
  sensitive: Flag;
}

export interface TemplateVersionParametersTable {
  template_version_id: string;
  name: string;
  display_name: string;
  description: string;
  type: string;
  form_type: string;
  mutable: Flag;
  default_value: string;
  icon: string;
  /** JSON array of { name, description, value, icon }. */
  options: JsonText;
  validation_regex: string;
  validation_error: string;
  validation_min: number | null;
  validation_max: number | null;
  validation_monotonic: string;
  required: Flag;
  display_order: number;
  ephemeral: Flag;
}

export interface TemplateVersionWorkspaceTagsTable {
  template_version_id: string;
  key: string;
  value: string;
}

export interface PresetsTable {
  id: string;
  template_version_id: string;
  /** Unique per version. */
  name: string;
  /** At most one default per version (partial unique index). */
  is_default: Flag;
  description: string;
  icon: string;
  /** null = this preset declares no prebuilds. */
  desired_instances: number | null;
  /** 0 = prebuilds never expire. */
  ttl_seconds: number;
  /** '' = no scheduling. */
  scheduling_timezone: string;
  status: PresetStatus;
  last_invalidated_at: Millis | null;
  created_at: Millis;
}

export interface PresetParametersTable {
  preset_id: string;
  name: string;
  value: string;
}

export interface PresetSchedulesTable {
  preset_id: string;
  /** Position in the template's list: the first matching schedule wins. */
  ordinal: number;
  cron: string;
  instances: number;
}

export interface WorkspacesTable {
  id: string;
  owner_id: string;
  template_id: string;
  /** Unique per owner among non-deleted workspaces. */
  name: string;
  created_at: Millis;
  updated_at: Millis;
  deleted: Flag;
  /** The lease asked for (seconds) and what happens when it runs out; null = no lease. */
  lease_seconds: number | null;
  lease_on_expiry: LeaseExpiry | null;
  /** When the lease runs out; set once the workspace became usable (the lease counts from there). */
  lease_deadline: Millis | null;
  /** The preset a claim may take this prebuild for now; null otherwise. Kept by triggers (migration 0012). */
  claimable_preset_id: ColumnType<string | null, never, never>;
}

export type LeaseExpiry = "stop" | "delete";

export interface WorkspaceBuildsTable {
  id: string;
  workspace_id: string;
  /** 1, 2, 3 … unique per workspace. */
  build_number: number;
  transition: Transition;
  template_version_id: string;
  preset_id: string | null;
  initiator_id: string;
  /** contract/workspaces.ts BUILD_REASONS. */
  reason: BuildReasonName;
  prebuild_stage: PrebuildStage;
  /** Opaque provisioner state: set from the previous build at creation, replaced by the job's result. */
  provisioner_state: Buffer | null;
  job_id: string;
  /** JSON `[{ resource, paths }]`: what the build's plan replaced (`[]` until its job completes). */
  resource_replacements: Generated<JsonText>;
  /** When the workspace became usable with this (start) build; set once. */
  usable_at: Millis | null;
  created_at: Millis;
  updated_at: Millis;
}

export interface WorkspaceBuildParametersTable {
  workspace_build_id: string;
  name: string;
  value: string;
}

export interface ProvisionerJobsTable {
  id: string;
  type: JobType;
  provisioner: string;
  file_id: string;
  /** JSON; shape depends on `type`. */
  input: JsonText;
  /** JSON object of string → string, keys sorted (see jobs/tags.ts). */
  tags: JsonText;
  initiator_id: string;
  /** 1 when the initiator is the prebuilds user: acquired after human jobs. */
  is_prebuild: Flag;
  worker_id: string | null;
  created_at: Millis;
  updated_at: Millis;
  started_at: Millis | null;
  completed_at: Millis | null;
  canceled_at: Millis | null;
  error: string | null;
  error_code: string | null;
}

export interface ProvisionerJobLogsTable {
  id: Generated<number>;
  job_id: string;
  created_at: Millis;
  source: LogSource;
  level: LogLevel;
  stage: string;
  output: string;
}

export interface ProvisionerJobTimingsTable {
  id: Generated<number>;
  job_id: string;
  started_at: Millis;
  ended_at: Millis;
  stage: string;
  source: string;
  action: string;
  resource: string;
}

export interface WorkspaceResourcesTable {
  id: string;
  /** The job that produced it (an import job has START and STOP resources, a build job its own). */
  job_id: string;
  transition: Transition;
  type: string;
  name: string;
  hide: Flag;
  icon: string;
  instance_type: string;
  daily_cost: number;
  module_path: string;
  /** JSON array of { key, value, sensitive }. */
  metadata: JsonText;
  created_at: Millis;
}

export interface WorkspaceAgentsTable {
  id: string;
  resource_id: string;
  name: string;
  /**
   * The agent's token in plain text. Kept because a CLAIM build must hand the *existing* tokens of the running
   * agents to the provisioner (`running_agent_auth_tokens`); the same token is in the provisioner state bytes
   * anyway, so encrypting only this column would protect nothing. Never returned by the API or logged.
   */
  auth_token: string;
  /** sha256 of `auth_token`: what agent authentication looks up (unique). */
  auth_token_hash: Buffer;
  architecture: string;
  operating_system: string;
  directory: string;
  /** JSON object of env vars. */
  env: JsonText;
  connection_timeout_seconds: number;
  troubleshooting_url: string;
  motd_file: string;
  /** JSON of the proto DisplayApps, or 'null'. */
  display_apps: JsonText;
  api_key_scope: string;
  display_order: number;
  lifecycle_state: AgentLifecycleState;
  first_connected_at: Millis | null;
  last_connected_at: Millis | null;
  ready_at: Millis | null;
  /** The `changedAt` of the report that set `lifecycle_state` (migration 0004); null until the first one. */
  lifecycle_changed_at: Millis | null;
  created_at: Millis;
  updated_at: Millis;
}

/** Migration 0004: an agent's metadata definitions (from the template) and latest values (from the agent). */
export interface WorkspaceAgentMetadataTable {
  agent_id: string;
  key: string;
  display_name: string;
  script: string;
  interval_seconds: number;
  timeout_seconds: number;
  display_order: number;
  value: string;
  error: string;
  /** Null until the agent reported a value. */
  collected_at: Millis | null;
}

/** Migration 0004: an agent's log lines, bounded per agent. */
export interface WorkspaceAgentLogsTable {
  id: Generated<number>;
  agent_id: string;
  created_at: Millis;
  level: LogLevel;
  output: string;
  source: string;
}

export interface WorkspaceAppsTable {
  id: string;
  agent_id: string;
  /** Unique per agent. */
  slug: string;
  display_name: string;
  command: string;
  url: string;
  icon: string;
  subdomain: Flag;
  external: Flag;
  hidden: Flag;
  display_order: number;
  /** JSON { url, interval, threshold } or 'null'. */
  healthcheck: JsonText;
  created_at: Millis;
}

export interface WorkspaceAgentScriptsTable {
  id: string;
  agent_id: string;
  display_name: string;
  icon: string;
  script: string;
  cron: string;
  start_blocks_login: Flag;
  run_on_start: Flag;
  run_on_stop: Flag;
  timeout_seconds: number;
  log_path: string;
  created_at: Millis;
}

export interface ProvisionerDaemonsTable {
  id: string;
  /** Unique: a daemon that reconnects under the same name reuses its row. */
  name: string;
  /** JSON array of provisioner types. */
  provisioners: JsonText;
  /** JSON object of tags. */
  tags: JsonText;
  version: string;
  created_at: Millis;
  last_seen_at: Millis;
}

export interface SiteConfigTable {
  key: string;
  value: string;
}

export type PrebuildEventType =
  | "claim_succeeded"
  | "claim_missed"
  | "hard_limited"
  | "validation_failed"
  /** A claim build whose plan replaced resources. */
  | "replacement";

export interface PrebuildEventsTable {
  id: Generated<number>;
  preset_id: string;
  event_type: PrebuildEventType;
  created_at: Millis;
}

/** Migration 0008: events retention deleted, counted per preset and type (read with the rows still there). */
export interface PrebuildEventTotalsTable {
  preset_id: string;
  event_type: PrebuildEventType;
  total: number;
}

export type RehearsalStatus = "pending" | "clean" | "replacements" | "failed";

export interface ClaimRehearsalsTable {
  preset_id: string;
  /** The prebuild the rehearsal planned a claim of. */
  workspace_id: string;
  job_id: string;
  status: RehearsalStatus;
  /** JSON `[{ resource, paths }]`. */
  replacements: JsonText;
  error: string | null;
  created_at: Millis;
  completed_at: Millis | null;
}

export interface WorkspaceCreateKeysTable {
  owner_id: string;
  key: string;
  workspace_id: string;
  created_at: Millis;
}

export interface Database {
  users: UsersTable;
  api_tokens: ApiTokensTable;
  files: FilesTable;
  templates: TemplatesTable;
  template_versions: TemplateVersionsTable;
  template_version_variables: TemplateVersionVariablesTable;
  template_version_parameters: TemplateVersionParametersTable;
  template_version_workspace_tags: TemplateVersionWorkspaceTagsTable;
  presets: PresetsTable;
  preset_parameters: PresetParametersTable;
  preset_schedules: PresetSchedulesTable;
  workspaces: WorkspacesTable;
  claim_rehearsals: ClaimRehearsalsTable;
  workspace_create_keys: WorkspaceCreateKeysTable;
  workspace_builds: WorkspaceBuildsTable;
  workspace_build_parameters: WorkspaceBuildParametersTable;
  provisioner_jobs: ProvisionerJobsTable;
  provisioner_job_logs: ProvisionerJobLogsTable;
  provisioner_job_timings: ProvisionerJobTimingsTable;
  workspace_resources: WorkspaceResourcesTable;
  workspace_agents: WorkspaceAgentsTable;
  workspace_apps: WorkspaceAppsTable;
  workspace_agent_scripts: WorkspaceAgentScriptsTable;
  workspace_agent_metadata: WorkspaceAgentMetadataTable;
  workspace_agent_logs: WorkspaceAgentLogsTable;
  provisioner_daemons: ProvisionerDaemonsTable;
  site_config: SiteConfigTable;
  prebuild_events: PrebuildEventsTable;
  prebuild_event_totals: PrebuildEventTotalsTable;
}
