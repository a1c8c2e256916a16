// Domain objects → the HTTP API's JSON (src/contract/api.ts). The one place that decides how a stored
// row looks on the wire: names instead of ids where the contract says so, ISO-8601 strings, null for absent
// values. Pure: everything a presenter needs (usernames, version names, the job of a build) is passed in, so
// callers batch their reads (see ./views.ts) instead of querying per row.
import type { Static } from "@sinclair/typebox";
import type {
  AgentT,
  BuildT,
  BuildWithTimingsT,
  JobLogT,
  JobT,
  Parameter,
  PresetDefinition,
  PresetT,
  TemplateT,
  TemplateVersionSummaryT,
  TemplateVersionT,
  TokenInfoT,
  UserT,
  Variable,
  WorkspaceT,
} from "../../contract/api.js";
import { agentConnection } from "../agents/rules.js";
import type { IdleCost } from "../prebuilds/idle-cost.js";
import type { ClaimRehearsal } from "../prebuilds/rehearsal.js";
import type { PoolCounts, PresetPoolStatus } from "../prebuilds/status.js";
import type { JobLog, JobTiming, ProvisionerJob } from "../store/jobs.js";
import type { PresetSettings } from "../store/preset-settings.js";
import type { Preset } from "../store/presets.js";
import type { Agent, App, Resource } from "../store/resources.js";
import type { Template, TemplateParameter, TemplateVariable, TemplateVersion } from "../store/templates.js";
import type { ApiToken, User } from "../store/users.js";
import type { Workspace, WorkspaceBuild } from "../store/workspaces.js";

type ProvisionerName = TemplateVersionSummaryT["provisioner"];

const iso = (date: Date): string => date.toISOString();
const isoOrNull = (date: Date | null | undefined): string | null => (date ? date.toISOString() : null);
const emptyToNull = (text: string): string | null => (text === "" ? null : text);

export function presentUser(user: User): UserT {
  return {
    id: user.id,
    username: user.username,
    email: user.email,
    role: user.role,
    system: user.isSystem,
    createdAt: iso(user.createdAt),
  };
}

export function presentTokenInfo(token: ApiToken): TokenInfoT {
  return {
    id: token.id,
    name: token.name,
    createdAt: iso(token.createdAt),
    expiresAt: isoOrNull(token.expiresAt),
    lastUsedAt: isoOrNull(token.lastUsedAt),
  };
}

export function presentJob(job: ProvisionerJob, workerName: string | null): JobT {
  return {
    id: job.id,
    type: job.type,
    status: job.status,
    error: job.error === "" ? null : job.error,
    errorCode: job.errorCode === "" ? null : job.errorCode,
    workerName,
    tags: job.tags,
    createdAt: iso(job.createdAt),
    startedAt: isoOrNull(job.startedAt),
    updatedAt: iso(job.updatedAt),
    completedAt: isoOrNull(job.completedAt),
    canceledAt: isoOrNull(job.canceledAt),
  };
}

export function presentJobLog(log: JobLog): JobLogT {
  return {
    id: log.id,
    createdAt: iso(log.createdAt),
    source: log.source,
    level: log.level,
    stage: log.stage,
    output: log.output,
  };
}

// ---- templates ---------------------------------------------------------------------------------------------

export function presentTemplate(
  template: Template,
  activeVersion: TemplateVersion | undefined,
  workspaceCount: number,
): TemplateT {
  return {
    id: template.id,
    name: template.name,
    activeVersion: activeVersion
      ? {
          id: activeVersion.id,
          name: activeVersion.name,
          provisioner: activeVersion.provisioner as ProvisionerName,
        }
      : null,
    deprecated: template.deprecated !== "",
    deprecationMessage: emptyToNull(template.deprecated),
    defaultLeaseSeconds: template.defaultLeaseSeconds,
    maxLeaseSeconds: template.maxLeaseSeconds,
    createdAt: iso(template.createdAt),
    updatedAt: iso(template.updatedAt),
    workspaceCount,
  };
}

export interface VersionContext {
  templateName: string;
  /** The template's active version id. */
  activeVersionId: string | null;
  createdBy: string;
  job: JobT;
}

export function presentVersionSummary(version: TemplateVersion, c: VersionContext): TemplateVersionSummaryT {
  return {
    id: version.id,
    template: c.templateName,
    name: version.name,
    number: versionNumber(version.name),
    provisioner: version.provisioner as ProvisionerName,
    message: emptyToNull(version.message),
    active: c.activeVersionId === version.id,
    createdAt: iso(version.createdAt),
    createdBy: c.createdBy,
    job: c.job,
  };
}

/** "v3" → 3 (the server names versions v1, v2, …). */
export function versionNumber(name: string): number {
  const n = Number(/^v(\d+)$/.exec(name)?.[1]);
  return Number.isInteger(n) && n > 0 ? n : 1;
}

export function presentVersion(
  version: TemplateVersion,
  c: VersionContext & {
    parameters: TemplateParameter[];
    variables: TemplateVariable[];
    presets: Preset[];
    workspaceTags: Record<string, string>;
  },
): TemplateVersionT {
  return {
    ...presentVersionSummary(version, c),
    readme: emptyToNull(version.readme),
    parameters: c.parameters.map(presentParameter),
    variables: c.variables.map(presentVariable),
    presets: c.presets.map(presentPresetDefinition),
    workspaceTags: c.workspaceTags,
  };
}

export function presentParameter(p: TemplateParameter): Static<typeof Parameter> {
  const hasValidation =
    p.validationRegex !== "" ||
    p.validationError !== "" ||
    p.validationMin !== null ||
    p.validationMax !== null ||
    p.validationMonotonic !== "";
  return {
    name: p.name,
    displayName: emptyToNull(p.displayName),
    description: p.description,
    type: p.type as Static<typeof Parameter>["type"],
    mutable: p.mutable,
    required: p.required,
    ephemeral: p.ephemeral,
    // A required parameter has no default (Coder's rule); otherwise "" is a real default.
    defaultValue: p.required ? null : p.defaultValue,
    options: p.options.map((o) => ({
      name: o.name,
      value: o.value,
      description: o.description,
      icon: o.icon,
    })),
    validation: hasValidation
      ? {
          regex: emptyToNull(p.validationRegex),
          error: emptyToNull(p.validationError),
          min: p.validationMin,
          max: p.validationMax,
          monotonic:
            p.validationMonotonic === "increasing" || p.validationMonotonic === "decreasing"
              ? p.validationMonotonic
              : null,
        }
      : null,
    order: p.displayOrder,
    icon: p.icon,
    formType: p.formType,
  };
}

export function presentVariable(v: TemplateVariable): Static<typeof Variable> {
  return {
    name: v.name,
    description: v.description,
    type: v.type,
    defaultValue: v.required ? null : v.defaultValue,
    required: v.required,
    sensitive: v.sensitive,
    value: v.sensitive ? null : v.value,
  };
}

export function presentPresetDefinition(p: Preset): Static<typeof PresetDefinition> {
  return {
    id: p.id,
    name: p.name,
    default: p.isDefault,
    description: p.description,
    icon: p.icon,
    parameters: p.parameters,
    desiredInstances: p.desiredInstances,
    ttlSeconds: p.desiredInstances === null ? null : p.ttlSeconds,
    scheduling:
      p.schedulingTimezone !== "" && p.schedules.length > 0
        ? { timezone: p.schedulingTimezone, schedules: p.schedules.map((s) => ({ ...s })) }
        : null,
  };
}

export const emptyPool: PoolCounts = { desired: 0, running: 0, eligible: 0, expired: 0, starting: 0 };

export interface PresetDemand {
  /** The preset name's prewarm-side settings (undefined: all defaults). */
  settings: PresetSettings | undefined;
  /** Its idle cost (undefined: no prebuilds ever). */
  cost: IdleCost | undefined;
}

export function presentPreset(
  preset: Preset,
  c: {
    templateName: string;
    versionName: string;
    active: boolean;
    pool: PresetPoolStatus | undefined;
    rehearsal: ClaimRehearsal | null;
    claimReplacements: number;
    demand?: PresetDemand;
  },
): PresetT {
  const settings = c.demand?.settings;
  const cost = c.demand?.cost;
  const autoscale = settings?.autoscale;
  return {
    ...presentPresetDefinition(preset),
    template: c.templateName,
    templateVersion: c.versionName,
    active: c.active,
    // The next cycle's status (a preset about to be hard-limited shows it), as `prebuilds status` shows it.
    status: c.pool?.status ?? preset.status,
    lastInvalidatedAt: isoOrNull(preset.lastInvalidatedAt),
    prebuilds: { ...(c.pool?.prebuilds ?? emptyPool) },
    claimRehearsal: c.rehearsal
      ? {
          status: c.rehearsal.status,
          replacements: c.rehearsal.replacements.map((r) => ({ resource: r.resource, paths: [...r.paths] })),
          at: iso(c.rehearsal.at),
          error: c.rehearsal.error,
        }
      : null,
    claimReplacements: c.claimReplacements,
    autoscale: autoscale
      ? {
          min: autoscale.min,
          max: autoscale.max,
          targetHitRate: autoscale.targetHitRate,
          timezone:
            c.pool?.autoscaleTimezone ??
            autoscale.timezone ??
            (preset.schedulingTimezone !== "" ? preset.schedulingTimezone : "UTC"),
        }
      : null,
    desiredReason: c.pool?.desiredReason ?? null,
    replaceAhead: { setting: settings?.replaceAhead ?? null, seconds: c.pool?.replaceAheadSeconds ?? 0 },
    rollout: settings?.rollout ?? "surge",
    cost: {
      dailyCostPerPrebuild: c.pool?.dailyCost ?? 0,
      idleHours24h: cost?.idleHours24h ?? 0,
      idleCost24h: cost?.idleCost24h ?? 0,
      idleHours7d: cost?.idleHours7d ?? 0,
      idleCost7d: cost?.idleCost7d ?? 0,
      claims24h: cost?.claims24h ?? 0,
      claims7d: cost?.claims7d ?? 0,
      costPerClaim24h: cost?.costPerClaim24h ?? null,
      costPerClaim7d: cost?.costPerClaim7d ?? null,
      wasted24h: cost?.wasted24h ?? 0,
      wasted7d: cost?.wasted7d ?? 0,
    },
  };
}

// ---- workspaces --------------------------------------------------------------------------------------------

export interface BuildContext {
  job: ProvisionerJob;
  versionName: string;
  initiator: string;
}

export function presentBuild(build: WorkspaceBuild, c: BuildContext): BuildT {
  return {
    id: build.id,
    workspaceId: build.workspaceId,
    number: build.buildNumber,
    transition: build.transition,
    status: c.job.status,
    reason: build.reason,
    prebuildStage: build.prebuildStage,
    templateVersion: c.versionName,
    initiator: c.initiator,
    jobId: build.jobId,
    error: c.job.error === "" ? null : c.job.error,
    createdAt: iso(build.createdAt),
    startedAt: isoOrNull(c.job.startedAt),
    completedAt: isoOrNull(c.job.completedAt),
    usableAt: isoOrNull(build.usableAt),
    resourceReplacements: build.resourceReplacements.map((r) => ({
      resource: r.resource,
      paths: [...r.paths],
    })),
  };
}

export function presentBuildWithTimings(
  build: WorkspaceBuild,
  c: BuildContext & { timings: JobTiming[] },
): BuildWithTimingsT {
  return {
    ...presentBuild(build, c),
    timings: c.timings.map((t) => ({
      stage: t.stage,
      source: t.source,
      action: t.action,
      resource: t.resource,
      startedAt: iso(t.startedAt),
      endedAt: iso(t.endedAt),
    })),
  };
}

/**
 * connecting: the agent never reported; disconnected: its last report is older than its connection timeout
 * (0: the default, 120 s, as in Coder); connected otherwise. See agents/rules.ts.
 */
export function agentStatus(agent: Agent, now: Date): AgentT["status"] {
  return agentConnection(agent, now);
}

function presentApp(app: App): AgentT["apps"][number] {
  return {
    slug: app.slug,
    displayName: app.displayName,
    url: emptyToNull(app.url),
    command: emptyToNull(app.command),
    external: app.external,
  };
}

export function presentAgent(agent: Agent, now: Date): AgentT {
  return {
    id: agent.id,
    name: agent.name,
    lifecycleState: agent.lifecycleState,
    status: agentStatus(agent, now),
    operatingSystem: agent.operatingSystem,
    architecture: agent.architecture,
    lastSeenAt: isoOrNull(agent.lastConnectedAt),
    apps: agent.apps.filter((a) => !a.hidden).map(presentApp),
    metadata: agent.metadata.map((m) => ({
      key: m.key,
      displayName: m.displayName || m.key,
      value: m.value,
      error: m.error,
      collectedAt: isoOrNull(m.collectedAt),
    })),
  };
}

export function presentResources(resources: Resource[], now: Date): WorkspaceT["resources"] {
  return resources
    .filter((r) => !r.hide)
    .map((r) => ({ name: r.name, type: r.type, agents: r.agents.map((a) => presentAgent(a, now)) }));
}

export interface WorkspaceContext {
  owner: string;
  templateName: string;
  activeVersionId: string | null;
  latestBuild: WorkspaceBuild;
  latestBuildJson: BuildT;
  presetName: string | null;
  /** When a CLAIM build made this workspace its owner's (null: never a claimed prebuild). */
  claimedAt: Date | null;
  resources: Resource[];
  now: Date;
}

export function presentWorkspace(workspace: Workspace, c: WorkspaceContext): WorkspaceT {
  return {
    id: workspace.id,
    name: workspace.name,
    owner: c.owner,
    template: c.templateName,
    templateVersion: c.latestBuildJson.templateVersion,
    outdated: c.activeVersionId !== null && c.latestBuild.templateVersionId !== c.activeVersionId,
    preset: c.presetName,
    claimedPrebuild: c.claimedAt !== null,
    claimedAt: isoOrNull(c.claimedAt),
    createdAt: iso(workspace.createdAt),
    lease: workspace.lease
      ? {
          deadline: isoOrNull(workspace.lease.deadline),
          onExpiry: workspace.lease.onExpiry,
          seconds: workspace.lease.seconds,
        }
      : null,
    latestBuild: c.latestBuildJson,
    resources: presentResources(c.resources, c.now),
  };
}
