// Resources a job produced (an import's START/STOP plans, a build's apply), their agents, apps and scripts.
// Rows belong to the job; a workspace's current resources are those of its latest build's job.
//
// Agent tokens: stored in plain text *and* as sha256. Authentication looks up the hash; the plain value
// exists only so a CLAIM build can hand the running agents' existing tokens to the provisioner (see
// schema.ts). `Agent` objects never carry the token; `getAgentTokensOfJob` is the one reader.
import { createHash, randomUUID } from "node:crypto";
import type { Selectable } from "kysely";
import { parseJsonColumn, toBool, toDate, toDateOrNull, toFlag, toMillis } from "./rows.js";
import type {
  AgentLifecycleState,
  Transition,
  WorkspaceAgentMetadataTable,
  WorkspaceAgentsTable,
} from "./schema.js";
import type { Executor } from "./store.js";

export interface ResourceMetadataItem {
  key: string;
  value: string;
  sensitive: boolean;
}

export interface NewApp {
  slug: string;
  displayName?: string;
  command?: string;
  url?: string;
  icon?: string;
  subdomain?: boolean;
  external?: boolean;
  hidden?: boolean;
  order?: number;
  healthcheck?: { url: string; interval: number; threshold: number } | null;
}

export interface NewScript {
  displayName: string;
  icon?: string;
  script: string;
  cron?: string;
  startBlocksLogin?: boolean;
  runOnStart?: boolean;
  runOnStop?: boolean;
  timeoutSeconds?: number;
  logPath?: string;
}

/** A `coder_agent` metadata block: a script the agent runs every `intervalSeconds` to report a value. */
export interface NewAgentMetadata {
  key: string;
  displayName?: string;
  script: string;
  intervalSeconds?: number;
  timeoutSeconds?: number;
  order?: number;
}

export interface NewAgent {
  /** Kept when given (a provisioner's agent id); random otherwise. */
  id?: string;
  name: string;
  /** The agent's token from the provisioner; a random UUID when absent. */
  authToken?: string;
  architecture?: string;
  operatingSystem?: string;
  directory?: string;
  env?: Record<string, string>;
  connectionTimeoutSeconds?: number;
  troubleshootingUrl?: string;
  motdFile?: string;
  displayApps?: unknown;
  apiKeyScope?: string;
  order?: number;
  apps?: readonly NewApp[];
  scripts?: readonly NewScript[];
  metadata?: readonly NewAgentMetadata[];
}

export interface NewResource {
  type: string;
  name: string;
  hide?: boolean;
  icon?: string;
  instanceType?: string;
  dailyCost?: number;
  modulePath?: string;
  metadata?: readonly ResourceMetadataItem[];
  agents?: readonly NewAgent[];
}

export interface App {
  id: string;
  agentId: string;
  slug: string;
  displayName: string;
  command: string;
  url: string;
  icon: string;
  subdomain: boolean;
  external: boolean;
  hidden: boolean;
  order: number;
  healthcheck: { url: string; interval: number; threshold: number } | null;
}

export interface Script {
  id: string;
  agentId: string;
  displayName: string;
  icon: string;
  script: string;
  cron: string;
  startBlocksLogin: boolean;
  runOnStart: boolean;
  runOnStop: boolean;
  timeoutSeconds: number;
  logPath: string;
}

/** A metadata definition with its latest reported value (`collectedAt` null: none yet). */
export interface AgentMetadata {
  key: string;
  displayName: string;
  script: string;
  intervalSeconds: number;
  timeoutSeconds: number;
  order: number;
  value: string;
  error: string;
  collectedAt: Date | null;
}

export interface Agent {
  id: string;
  resourceId: string;
  name: string;
  architecture: string;
  operatingSystem: string;
  directory: string;
  env: Record<string, string>;
  connectionTimeoutSeconds: number;
  troubleshootingUrl: string;
  motdFile: string;
  displayApps: unknown;
  apiKeyScope: string;
  order: number;
  lifecycleState: AgentLifecycleState;
  firstConnectedAt: Date | null;
  lastConnectedAt: Date | null;
  readyAt: Date | null;
  lifecycleChangedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  apps: App[];
  scripts: Script[];
  metadata: AgentMetadata[];
}

export interface Resource {
  id: string;
  jobId: string;
  transition: Transition;
  type: string;
  name: string;
  hide: boolean;
  icon: string;
  instanceType: string;
  dailyCost: number;
  modulePath: string;
  metadata: ResourceMetadataItem[];
  createdAt: Date;
  agents: Agent[];
}

export const hashAgentToken = (token: string): Buffer => createHash("sha256").update(token).digest();

/** Inserts a job's resources with their agents, apps and scripts (inside the job's completion transaction). */
export async function insertResources(
  db: Executor,
  input: { jobId: string; transition: Transition; resources: readonly NewResource[]; now: Date },
): Promise<void> {
  const now = toMillis(input.now);
  for (const resource of input.resources) {
    const resourceId = randomUUID();
    await db
      .insertInto("workspace_resources")
      .values({
        id: resourceId,
        job_id: input.jobId,
        transition: input.transition,
        type: resource.type,
        name: resource.name,
        hide: toFlag(resource.hide),
        icon: resource.icon ?? "",
        instance_type: resource.instanceType ?? "",
        daily_cost: resource.dailyCost ?? 0,
        module_path: resource.modulePath ?? "",
        metadata: JSON.stringify(resource.metadata ?? []),
        created_at: now,
      })
      .execute();
    for (const agent of resource.agents ?? []) {
      // A provisioner's agent id is kept, unless an earlier build already used it (terraform state and echo
      // recordings repeat ids build after build; rows belong to one job each).
      const agentId =
        agent.id &&
        !(await db.selectFrom("workspace_agents").select("id").where("id", "=", agent.id).executeTakeFirst())
          ? agent.id
          : randomUUID();
      const token = agent.authToken || randomUUID();
      await db
        .insertInto("workspace_agents")
        .values({
          id: agentId,
          resource_id: resourceId,
          name: agent.name,
          auth_token: token,
          auth_token_hash: hashAgentToken(token),
          architecture: agent.architecture ?? "",
          operating_system: agent.operatingSystem ?? "",
          directory: agent.directory ?? "",
          env: JSON.stringify(agent.env ?? {}),
          connection_timeout_seconds: agent.connectionTimeoutSeconds ?? 0,
          troubleshooting_url: agent.troubleshootingUrl ?? "",
          motd_file: agent.motdFile ?? "",
          display_apps: JSON.stringify(agent.displayApps ?? null),
          api_key_scope: agent.apiKeyScope ?? "all",
          display_order: agent.order ?? 0,
          lifecycle_state: "created",
          first_connected_at: null,
          last_connected_at: null,
          ready_at: null,
          created_at: now,
          updated_at: now,
        })
        .execute();
      if (agent.apps?.length) {
        await db
          .insertInto("workspace_apps")
          .values(
            agent.apps.map((app) => ({
              id: randomUUID(),
              agent_id: agentId,
              slug: app.slug,
              display_name: app.displayName ?? "",
              command: app.command ?? "",
              url: app.url ?? "",
              icon: app.icon ?? "",
              subdomain: toFlag(app.subdomain),
              external: toFlag(app.external),
              hidden: toFlag(app.hidden),
              display_order: app.order ?? 0,
              healthcheck: JSON.stringify(app.healthcheck ?? null),
              created_at: now,
            })),
          )
          .execute();
      }
      if (agent.scripts?.length) {
        await db
          .insertInto("workspace_agent_scripts")
          .values(
            agent.scripts.map((s) => ({
              id: randomUUID(),
              agent_id: agentId,
              display_name: s.displayName,
              icon: s.icon ?? "",
              script: s.script,
              cron: s.cron ?? "",
              start_blocks_login: toFlag(s.startBlocksLogin),
              run_on_start: toFlag(s.runOnStart),
              run_on_stop: toFlag(s.runOnStop),
              timeout_seconds: s.timeoutSeconds ?? 0,
              log_path: s.logPath ?? "",
              created_at: now,
            })),
          )
          .execute();
      }
      if (agent.metadata?.length) {
        await db
          .insertInto("workspace_agent_metadata")
          .values(
            agent.metadata.map((m, i) => ({
              agent_id: agentId,
              key: m.key,
              display_name: m.displayName ?? "",
              script: m.script,
              interval_seconds: m.intervalSeconds ?? 0,
              timeout_seconds: m.timeoutSeconds ?? 0,
              display_order: m.order ?? i,
              value: "",
              error: "",
              collected_at: null,
            })),
          )
          .execute();
      }
    }
  }
}

type AgentRow = Omit<Selectable<WorkspaceAgentsTable>, "auth_token" | "auth_token_hash">;

const AGENT_COLUMNS = [
  "id",
  "resource_id",
  "name",
  "architecture",
  "operating_system",
  "directory",
  "env",
  "connection_timeout_seconds",
  "troubleshooting_url",
  "motd_file",
  "display_apps",
  "api_key_scope",
  "display_order",
  "lifecycle_state",
  "first_connected_at",
  "last_connected_at",
  "ready_at",
  "lifecycle_changed_at",
  "created_at",
  "updated_at",
] as const;

function agentFromRow(row: AgentRow, apps: App[], scripts: Script[], metadata: AgentMetadata[] = []): Agent {
  return {
    id: row.id,
    resourceId: row.resource_id,
    name: row.name,
    architecture: row.architecture,
    operatingSystem: row.operating_system,
    directory: row.directory,
    env: parseJsonColumn<Record<string, string>>(row.env, "workspace_agents.env"),
    connectionTimeoutSeconds: row.connection_timeout_seconds,
    troubleshootingUrl: row.troubleshooting_url,
    motdFile: row.motd_file,
    displayApps: parseJsonColumn<unknown>(row.display_apps, "workspace_agents.display_apps"),
    apiKeyScope: row.api_key_scope,
    order: row.display_order,
    lifecycleState: row.lifecycle_state,
    firstConnectedAt: toDateOrNull(row.first_connected_at),
    lastConnectedAt: toDateOrNull(row.last_connected_at),
    readyAt: toDateOrNull(row.ready_at),
    lifecycleChangedAt: toDateOrNull(row.lifecycle_changed_at),
    createdAt: toDate(row.created_at),
    updatedAt: toDate(row.updated_at),
    apps,
    scripts,
    metadata,
  };
}

/** Resources (with agents, apps, scripts) of the given jobs, in 4 queries; optionally one transition only. */
/** The lifecycle state and ready time of every agent of a job's resources (for "is it usable?"). */
export async function listAgentReadiness(
  db: Executor,
  jobId: string,
): Promise<{ lifecycleState: AgentLifecycleState; readyAt: Date | null }[]> {
  const rows = await db
    .selectFrom("workspace_agents as a")
    .innerJoin("workspace_resources as r", "r.id", "a.resource_id")
    .select(["a.lifecycle_state", "a.ready_at"])
    .where("r.job_id", "=", jobId)
    .execute();
  return rows.map((r) => ({ lifecycleState: r.lifecycle_state, readyAt: toDateOrNull(r.ready_at) }));
}

export async function listResourcesOfJobs(
  db: Executor,
  jobIds: readonly string[],
  transition?: Transition,
): Promise<Resource[]> {
  if (jobIds.length === 0) return [];
  let query = db
    .selectFrom("workspace_resources")
    .selectAll()
    .where("job_id", "in", [...jobIds]);
  if (transition) query = query.where("transition", "=", transition);
  const resources = await query.orderBy("created_at").orderBy("name").execute();
  if (resources.length === 0) return [];
  const agents = await db
    .selectFrom("workspace_agents")
    .select(AGENT_COLUMNS)
    .where(
      "resource_id",
      "in",
      resources.map((r) => r.id),
    )
    .orderBy("display_order")
    .orderBy("name")
    .execute();
  const agentIds = agents.map((a) => a.id);
  const [apps, scripts, metadata] =
    agentIds.length === 0
      ? [[], [], []]
      : await Promise.all([
          db
            .selectFrom("workspace_apps")
            .selectAll()
            .where("agent_id", "in", agentIds)
            .orderBy("display_order")
            .orderBy("slug")
            .execute(),
          db
            .selectFrom("workspace_agent_scripts")
            .selectAll()
            .where("agent_id", "in", agentIds)
            .orderBy("created_at")
            .orderBy("id")
            .execute(),
          listAgentMetadataRows(db, agentIds),
        ]);
  return resources.map((r) => ({
    id: r.id,
    jobId: r.job_id,
    transition: r.transition,
    type: r.type,
    name: r.name,
    hide: toBool(r.hide),
    icon: r.icon,
    instanceType: r.instance_type,
    dailyCost: r.daily_cost,
    modulePath: r.module_path,
    metadata: parseJsonColumn<ResourceMetadataItem[]>(r.metadata, "workspace_resources.metadata"),
    createdAt: toDate(r.created_at),
    agents: agents
      .filter((a) => a.resource_id === r.id)
      .map((a) =>
        agentFromRow(
          a,
          apps
            .filter((p) => p.agent_id === a.id)
            .map((p) => ({
              id: p.id,
              agentId: p.agent_id,
              slug: p.slug,
              displayName: p.display_name,
              command: p.command,
              url: p.url,
              icon: p.icon,
              subdomain: toBool(p.subdomain),
              external: toBool(p.external),
              hidden: toBool(p.hidden),
              order: p.display_order,
              healthcheck: parseJsonColumn<App["healthcheck"]>(p.healthcheck, "workspace_apps.healthcheck"),
            })),
          scripts
            .filter((s) => s.agent_id === a.id)
            .map((s) => ({
              id: s.id,
              agentId: s.agent_id,
              displayName: s.display_name,
              icon: s.icon,
              script: s.script,
              cron: s.cron,
              startBlocksLogin: toBool(s.start_blocks_login),
              runOnStart: toBool(s.run_on_start),
              runOnStop: toBool(s.run_on_stop),
              timeoutSeconds: s.timeout_seconds,
              logPath: s.log_path,
            })),
          metadata.filter((m) => m.agent_id === a.id).map(agentMetadataFromRow),
        ),
      ),
  }));
}

function listAgentMetadataRows(db: Executor, agentIds: readonly string[]) {
  return db
    .selectFrom("workspace_agent_metadata")
    .selectAll()
    .where("agent_id", "in", [...agentIds])
    .orderBy("display_order")
    .orderBy("key")
    .execute();
}

function agentMetadataFromRow(m: Selectable<WorkspaceAgentMetadataTable>): AgentMetadata {
  return {
    key: m.key,
    displayName: m.display_name,
    script: m.script,
    intervalSeconds: m.interval_seconds,
    timeoutSeconds: m.timeout_seconds,
    order: m.display_order,
    value: m.value,
    error: m.error,
    collectedAt: toDateOrNull(m.collected_at),
  };
}

/** One agent with its apps, scripts and metadata (the manifest's source), or undefined. */
export async function getAgentWithDetails(db: Executor, agentId: string): Promise<Agent | undefined> {
  const row = await db
    .selectFrom("workspace_agents")
    .select(AGENT_COLUMNS)
    .where("id", "=", agentId)
    .executeTakeFirst();
  if (!row) return undefined;
  const resource = await db
    .selectFrom("workspace_resources")
    .select("job_id")
    .where("id", "=", row.resource_id)
    .executeTakeFirst();
  if (!resource) return undefined;
  const resources = await listResourcesOfJobs(db, [resource.job_id]);
  return resources.flatMap((r) => r.agents).find((a) => a.id === agentId);
}

/** The agents' tokens of a job (for a CLAIM build's `running_agent_auth_tokens`). Never log these. */
export async function getAgentTokensOfJob(
  db: Executor,
  jobId: string,
): Promise<{ agentId: string; agentName: string; token: string }[]> {
  const rows = await db
    .selectFrom("workspace_agents")
    .innerJoin("workspace_resources", "workspace_resources.id", "workspace_agents.resource_id")
    .select(["workspace_agents.id", "workspace_agents.name", "workspace_agents.auth_token"])
    .where("workspace_resources.job_id", "=", jobId)
    .orderBy("workspace_agents.name")
    .execute();
  return rows.map((r) => ({ agentId: r.id, agentName: r.name, token: r.auth_token }));
}

/**
 * The agent a token authenticates, with the job that created it — the newest such agent when a token was
 * carried over to later builds. The caller checks the job belongs to the workspace's latest build.
 */
export async function getAgentByToken(
  db: Executor,
  token: string,
): Promise<{ agent: Agent; jobId: string } | undefined> {
  const row = await db
    .selectFrom("workspace_agents")
    .innerJoin("workspace_resources", "workspace_resources.id", "workspace_agents.resource_id")
    .select(AGENT_COLUMNS.map((c) => `workspace_agents.${c}` as const))
    .select("workspace_resources.job_id")
    .where("workspace_agents.auth_token_hash", "=", hashAgentToken(token))
    .orderBy("workspace_agents.created_at", "desc")
    .limit(1)
    .executeTakeFirst();
  return row ? { agent: agentFromRow(row, [], []), jobId: row.job_id } : undefined;
}

/**
 * The newest agent whose token is `agentId`'s token: `agentId` itself, or the agent of a later build that
 * was handed the token (a claim, an upgrade of a running workspace). Undefined when the agent is gone.
 */
export async function getNewestAgentIdSharingToken(
  db: Executor,
  agentId: string,
): Promise<string | undefined> {
  const row = await db
    .selectFrom("workspace_agents as newer")
    .innerJoin("workspace_agents as known", "known.auth_token_hash", "newer.auth_token_hash")
    .select("newer.id")
    .where("known.id", "=", agentId)
    .orderBy("newer.created_at", "desc")
    .limit(1)
    .executeTakeFirst();
  return row?.id;
}
