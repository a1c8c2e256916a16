// Batched reads behind the presenters: for a list of workspaces, builds, templates or versions, every related
// row (usernames, version names, jobs, daemons, resources, claims) is fetched in a fixed number of queries,
// never one query per listed item: each store lookup used here takes a list of ids and runs one query. The
// presenters (./presenters.ts) then turn the rows into contract JSON. No SQL here: it lives in the store.

import type {
  BuildT,
  BuildWithTimingsT,
  JobT,
  PresetT,
  TemplateT,
  TemplateVersionSummaryT,
  TemplateVersionT,
  WorkspaceT,
} from "../../contract/api.js";
import type { ServerContext } from "../context.js";
import { costKey, readIdleCosts } from "../prebuilds/idle-cost.js";
import { countPresetEvents } from "../prebuilds/queries.js";
import { claimRehearsals } from "../prebuilds/rehearsal.js";
import { type PlanConfig, type PresetPoolStatus, poolStatuses, readCyclePlan } from "../prebuilds/status.js";
import { PREBUILDS_USER_ID } from "../prebuilds/system-user.js";
import { isActiveVersion } from "../store/active-version.js";
import { getDaemonNames } from "../store/daemons.js";
import { getJobs, listJobTimings, type ProvisionerJob } from "../store/jobs.js";
import { listPresetSettings } from "../store/preset-settings.js";
import { getPresetNames, listPresets, type Preset } from "../store/presets.js";
import { listResourcesOfJobs } from "../store/resources.js";
import type { Executor } from "../store/store.js";
import {
  countLiveWorkspacesOfTemplates,
  getTemplatesByIds,
  getTemplateVersionsByIds,
  getTemplateVersionWorkspaceTags,
  listTemplateVersionParameters,
  listTemplateVersionVariables,
  type Template,
  type TemplateVersion,
} from "../store/templates.js";
import { getUsernames } from "../store/users.js";
import { getClaimTimes, getLatestBuilds, type Workspace, type WorkspaceBuild } from "../store/workspaces.js";
import {
  type PresetDemand,
  presentBuild,
  presentBuildWithTimings,
  presentJob,
  presentPreset,
  presentTemplate,
  presentVersion,
  presentVersionSummary,
  presentWorkspace,
} from "./presenters.js";

const unique = (ids: Iterable<string | null | undefined>): string[] =>
  [...new Set(ids)].filter((id): id is string => typeof id === "string");

// ---- jobs --------------------------------------------------------------------------------------------------

export async function jobViews(db: Executor, jobs: readonly ProvisionerJob[]): Promise<JobT[]> {
  const names = await getDaemonNames(db, unique(jobs.map((j) => j.workerId)));
  return jobs.map((j) => presentJob(j, j.workerId ? (names.get(j.workerId) ?? null) : null));
}

export async function jobView(db: Executor, job: ProvisionerJob): Promise<JobT> {
  return (await jobViews(db, [job]))[0] as JobT;
}

// ---- builds ------------------------------------------------------------------------------------------------

interface BuildRows {
  jobs: Map<string, ProvisionerJob>;
  versions: Map<string, TemplateVersion>;
  users: Map<string, string>;
}

async function buildRows(db: Executor, builds: readonly WorkspaceBuild[], extraUsers: string[] = []) {
  const [jobs, versions, users] = await Promise.all([
    getJobs(db, unique(builds.map((b) => b.jobId))),
    getTemplateVersionsByIds(db, unique(builds.map((b) => b.templateVersionId))),
    getUsernames(db, unique([...builds.map((b) => b.initiatorId), ...extraUsers])),
  ]);
  return { jobs: new Map(jobs.map((j) => [j.id, j])), versions, users } satisfies BuildRows;
}

function buildJson(build: WorkspaceBuild, rows: BuildRows): BuildT {
  const job = rows.jobs.get(build.jobId);
  if (!job) throw new Error(`build ${build.id}: its job ${build.jobId} is missing`);
  return presentBuild(build, {
    job,
    versionName: rows.versions.get(build.templateVersionId)?.name ?? "",
    initiator: rows.users.get(build.initiatorId) ?? "",
  });
}

export async function buildViews(db: Executor, builds: readonly WorkspaceBuild[]): Promise<BuildT[]> {
  const rows = await buildRows(db, builds);
  return builds.map((b) => buildJson(b, rows));
}

export async function buildWithTimingsView(db: Executor, build: WorkspaceBuild): Promise<BuildWithTimingsT> {
  const [rows, timings] = await Promise.all([buildRows(db, [build]), listJobTimings(db, build.jobId)]);
  const json = buildJson(build, rows);
  const job = rows.jobs.get(build.jobId) as ProvisionerJob;
  return presentBuildWithTimings(build, {
    job,
    versionName: json.templateVersion,
    initiator: json.initiator,
    timings,
  });
}

// ---- workspaces --------------------------------------------------------------------------------------------

/** Workspaces as JSON, in the given order; a workspace without any build is left out (it is being created). */
export async function workspaceViews(
  ctx: ServerContext,
  workspaces: readonly Workspace[],
): Promise<WorkspaceT[]> {
  const db = ctx.store.db;
  const ids = workspaces.map((w) => w.id);
  const latest = await getLatestBuilds(db, ids);
  const builds = [...latest.values()];
  const ownerIds = workspaces.map((w) => w.ownerId);
  const templateIds = workspaces.map((w) => w.templateId);
  const presetIds = builds.map((b) => b.presetId);
  const jobIds = builds.map((b) => b.jobId);
  const [rows, templates, presets, claims, resources] = await Promise.all([
    buildRows(db, builds, ownerIds),
    getTemplatesByIds(db, unique(templateIds)),
    getPresetNames(db, unique(presetIds)),
    getClaimTimes(db, ids),
    listResourcesOfJobs(db, jobIds),
  ]);
  const now = ctx.clock.now();
  const out: WorkspaceT[] = [];
  for (const workspace of workspaces) {
    const build = latest.get(workspace.id);
    if (!build) continue;
    const template = templates.get(workspace.templateId);
    out.push(
      presentWorkspace(workspace, {
        owner: rows.users.get(workspace.ownerId) ?? "",
        templateName: template?.name ?? "",
        activeVersionId: template?.activeVersionId ?? null,
        latestBuild: build,
        latestBuildJson: buildJson(build, rows),
        presetName: build.presetId ? (presets.get(build.presetId) ?? null) : null,
        claimedAt: claims.get(workspace.id) ?? null,
        resources: resources.filter((r) => r.jobId === build.jobId),
        now,
      }),
    );
  }
  return out;
}

export async function workspaceView(ctx: ServerContext, workspace: Workspace): Promise<WorkspaceT> {
  const [json] = await workspaceViews(ctx, [workspace]);
  if (!json) throw new Error(`workspace ${workspace.id} has no builds`);
  return json;
}

// ---- templates ---------------------------------------------------------------------------------------------

export async function templateViews(db: Executor, templates: readonly Template[]): Promise<TemplateT[]> {
  const activeIds = templates.map((t) => t.activeVersionId);
  const templateIds = templates.map((t) => t.id);
  const [versions, counts] = await Promise.all([
    getTemplateVersionsByIds(db, unique(activeIds)),
    // Users' workspaces only: prebuilds are not "in use".
    countLiveWorkspacesOfTemplates(db, templateIds, { excludeOwnerId: PREBUILDS_USER_ID }),
  ]);
  return templates.map((t) =>
    presentTemplate(
      t,
      t.activeVersionId ? versions.get(t.activeVersionId) : undefined,
      counts.get(t.id) ?? 0,
    ),
  );
}

export async function templateView(db: Executor, template: Template): Promise<TemplateT> {
  return (await templateViews(db, [template]))[0] as TemplateT;
}

export async function versionSummaryViews(
  db: Executor,
  template: Template,
  versions: readonly TemplateVersion[],
): Promise<TemplateVersionSummaryT[]> {
  const [jobs, users] = await Promise.all([
    getJobs(
      db,
      versions.map((v) => v.jobId),
    ).then((list) => jobViews(db, list)),
    getUsernames(db, unique(versions.map((v) => v.createdBy))),
  ]);
  const byId = new Map(jobs.map((j) => [j.id, j]));
  return versions.map((v) => {
    const job = byId.get(v.jobId);
    if (!job) throw new Error(`template version ${v.id}: its import job ${v.jobId} is missing`);
    return presentVersionSummary(v, {
      templateName: template.name,
      activeVersionId: template.activeVersionId,
      createdBy: users.get(v.createdBy) ?? "",
      job,
    });
  });
}

export async function versionView(
  db: Executor,
  template: Template,
  version: TemplateVersion,
): Promise<TemplateVersionT> {
  const [[summary], parameters, variables, presets, workspaceTags] = await Promise.all([
    versionSummaryViews(db, template, [version]),
    listTemplateVersionParameters(db, version.id),
    listTemplateVersionVariables(db, version.id),
    listPresets(db, { versionIds: [version.id] }),
    getTemplateVersionWorkspaceTags(db, version.id),
  ]);
  const s = summary as TemplateVersionSummaryT;
  return presentVersion(version, {
    templateName: template.name,
    activeVersionId: template.activeVersionId,
    createdBy: s.createdBy,
    job: s.job,
    parameters,
    variables,
    presets,
    workspaceTags,
  });
}

// ---- presets with their pools ------------------------------------------------------------------------------

/**
 * The pool of every preset the reconciler tracks, from ONE snapshot read planned as the next cycle would (the
 * same numbers and effective status `prebuilds status` shows). Presets without prebuilds are absent (their
 * counts are all zero).
 */
export async function poolsById(
  ctx: ServerContext,
  config: PlanConfig,
): Promise<Map<string, PresetPoolStatus>> {
  const plan = await readCyclePlan(ctx.store, ctx.clock.now(), config);
  return new Map(poolStatuses(plan).map((p) => [p.presetId, p]));
}

/** The template's prewarm-side preset settings and idle costs by preset name (two queries). */
export async function presetDemand(
  ctx: ServerContext,
  template: Template,
): Promise<(presetName: string) => PresetDemand> {
  const [settings, costs] = await Promise.all([
    listPresetSettings(ctx.store.db, [template.id]),
    readIdleCosts(ctx.store.db, ctx.clock.now(), { templateName: template.name, recentOnly: true }),
  ]);
  const byName = new Map(settings.map((s) => [s.presetName, s]));
  return (name) => ({ settings: byName.get(name), cost: costs.get(costKey(template.name, name)) });
}

/**
 * Presets of one version as JSON, with their pools (one snapshot read planned as the next cycle would), their
 * claim rehearsals, how many claims replaced resources, and their demand settings and idle costs — a fixed
 * number of queries for any number of presets.
 */
export async function presetViews(
  ctx: ServerContext,
  plan: PlanConfig,
  template: Template,
  version: TemplateVersion,
  presets: readonly Preset[],
): Promise<PresetT[]> {
  const ids = presets.map((p) => p.id);
  const [pools, rehearsals, replaced, demand] = await Promise.all([
    poolsById(ctx, plan),
    claimRehearsals(ctx.store.db, ids),
    countPresetEvents(ctx.store.db, ids, "replacement"),
    presetDemand(ctx, template),
  ]);
  const active = isActiveVersion(template, version.id);
  return presets.map((p) =>
    presentPreset(p, {
      templateName: template.name,
      versionName: version.name,
      active,
      pool: pools.get(p.id),
      rehearsal: rehearsals.get(p.id) ?? null,
      claimReplacements: replaced.get(p.id) ?? 0,
      demand: demand(p.name),
    }),
  );
}

/** The presets of one version with their pools, rehearsals, settings and costs. */
export async function presetsWithPoolsView(
  ctx: ServerContext,
  plan: PlanConfig,
  template: Template,
  version: TemplateVersion,
): Promise<PresetT[]> {
  const presets = await listPresets(ctx.store.db, { versionIds: [version.id] });
  return presetViews(ctx, plan, template, version, presets);
}
