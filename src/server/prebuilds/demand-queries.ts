// The SQL of demand-driven pools (issue 13), one module for the group: what the reconciler's snapshot reads on
// top of queries.ts (preset settings, claim history, measured create → eligible times, each preset's daily
// cost — each ONE statement for all presets) and the idle-usage accounting behind `presets list`'s `cost`, the
// dashboard and the idle metrics. Rows come back typed and are converted by the callers (snapshot.ts,
// idle-cost.ts). Everything is the same SQL on both dialects (no GREATEST/LEAST: CASE expressions instead).
//
// Definitions: a preset's *demand* is every claim event (hit or miss) of the presets with its name in its
// template (all versions); a *creation* is a prebuild creation build (`start`, prebuild_stage `create`).
import { sql } from "kysely";
import { jobStatusSql } from "../store/job-status.js";
import type { PresetSettingsTable } from "../store/preset-settings.js";
import type { Executor } from "../store/store.js";
import { inTemplatePresets, inTemplates } from "./queries.js";
import { PREBUILDS_USER_ID } from "./system-user.js";

const PB = PREBUILDS_USER_ID;

export type DemandSettingsRow = Omit<PresetSettingsTable, "updated_at"> & {
  /** When the first preset of that name in that template was created: claims are recorded since. */
  history_since: number | null;
};

/** Every preset_settings row (of the templates in `scope`), with the instant its preset name's claim history begins. */
export async function selectDemandSettings(
  db: Executor,
  scope?: readonly string[],
): Promise<DemandSettingsRow[]> {
  const { rows } = await sql<DemandSettingsRow>`
    select s.template_id, s.preset_name, s.autoscale_min, s.autoscale_max, s.autoscale_target_hit_rate,
           s.autoscale_timezone, s.replace_ahead, s.rollout,
           (select min(p.created_at) from presets p join template_versions v on v.id = p.template_version_id
            where v.template_id = s.template_id and p.name = s.preset_name) as history_since
    from preset_settings s
    where 1 = 1 ${inTemplates("s.template_id", scope)}
    order by s.template_id, s.preset_name`.execute(db);
  return rows;
}

export interface ClaimHistoryRow {
  template_id: string;
  preset_name: string;
  created_at: number;
}

/** Claim requests (hits and misses) since `sinceMs` of every autoscaled preset name, oldest first. */
export async function selectClaimHistory(
  db: Executor,
  sinceMs: number,
  scope?: readonly string[],
): Promise<ClaimHistoryRow[]> {
  const { rows } = await sql<ClaimHistoryRow>`
    select v.template_id, p.name as preset_name, e.created_at
    from prebuild_events e
    join presets p on p.id = e.preset_id
    join template_versions v on v.id = p.template_version_id
    join preset_settings s on s.template_id = v.template_id and s.preset_name = p.name
    where s.autoscale_min is not null and e.event_type in ('claim_succeeded', 'claim_missed')
      and e.created_at >= ${sinceMs} ${inTemplates("v.template_id", scope)}
    order by v.template_id, p.name, e.created_at, e.id`.execute(db);
  return rows;
}

/** Claim request times (hits and misses) of the given presets since `sinceMs`, oldest first (the dashboard). */
export async function selectClaimTimes(
  db: Executor,
  presetIds: readonly string[],
  sinceMs: number,
): Promise<{ preset_id: string; created_at: number }[]> {
  if (presetIds.length === 0) return [];
  return db
    .selectFrom("prebuild_events")
    .select(["preset_id", "created_at"])
    .where("preset_id", "in", [...presetIds])
    .where("event_type", "in", ["claim_succeeded", "claim_missed"])
    .where("created_at", ">=", sinceMs)
    .orderBy("created_at")
    .execute();
}

export interface CreationTimingRow {
  template_id: string;
  preset_name: string;
  /** When the creation build was created (the workspace with it). */
  started_at: number;
  completed_at: number;
  /** Agents of the build, how many report a `ready_at`, and the latest one. */
  agents: number;
  agents_ready: number;
  last_ready_at: number | null;
}

/**
 * The latest `perPreset` successful creations since `sinceMs` of every preset name, oldest first, with what it
 * takes to know when each became eligible (its job completed and, if it has agents, all of them were ready).
 */
export async function selectCreationTimings(
  db: Executor,
  sinceMs: number,
  perPreset: number,
  scope?: readonly string[],
): Promise<CreationTimingRow[]> {
  const { rows } = await sql<CreationTimingRow>`
    with creations as (
      select v.template_id, p.name as preset_name, b.created_at as started_at, j.completed_at, j.id as job_id,
             row_number() over (partition by v.template_id, p.name order by j.completed_at desc, b.id desc) as rn
      from workspace_builds b
      join provisioner_jobs j on j.id = b.job_id
      join presets p on p.id = b.preset_id
      join template_versions v on v.id = p.template_version_id
      where b.prebuild_stage = 'create' and b.transition = 'start' and ${jobStatusSql("j")} = 'succeeded'
        and j.completed_at >= ${sinceMs} ${inTemplatePresets("b.preset_id", scope)}
    )
    select c.template_id, c.preset_name, c.started_at, c.completed_at,
           count(a.id) as agents, count(a.ready_at) as agents_ready, max(a.ready_at) as last_ready_at
    from creations c
    left join workspace_resources r on r.job_id = c.job_id
    left join workspace_agents a on a.resource_id = r.id
    where c.rn <= ${perPreset}
    group by c.template_id, c.preset_name, c.started_at, c.completed_at, c.job_id
    order by c.template_id, c.preset_name, c.completed_at, c.job_id`.execute(db);
  return rows;
}

export interface PresetCostRow {
  preset_id: string;
  /** 'build': its latest successful creation since the cutoff; 'import': its version's import (START). */
  source: "build" | "import";
  daily_cost: number;
  /** 'build': when that creation's job completed (the reader drops it once it is older than the cutoff). */
  completed_at: number | null;
}

/**
 * What one prebuild of each preset costs per day: the summed `daily_cost` of the resources of its latest
 * successful creation (the last to COMPLETE: so when it ages out of the window, every other one has too, and a
 * reader can apply the window itself as time passes) since `sinceMs`, and, for every preset of a version, its
 * import's START resources (the estimate before anything was built). The caller prefers 'build'.
 */
export async function selectPresetDailyCosts(
  db: Executor,
  sinceMs: number,
  scope?: readonly string[],
): Promise<PresetCostRow[]> {
  const { rows } = await sql<PresetCostRow>`
    with latest as (
      select b.preset_id, b.job_id, j.completed_at,
             row_number() over (partition by b.preset_id order by j.completed_at desc, b.id desc) as rn
      from workspace_builds b join provisioner_jobs j on j.id = b.job_id
      where b.prebuild_stage = 'create' and b.transition = 'start' and b.preset_id is not null
        and ${jobStatusSql("j")} = 'succeeded' and j.completed_at >= ${sinceMs} ${inTemplatePresets("b.preset_id", scope)}
    )
    select l.preset_id, 'build' as source, coalesce(sum(r.daily_cost), 0) as daily_cost, l.completed_at
    from latest l left join workspace_resources r on r.job_id = l.job_id
    where l.rn = 1
    group by l.preset_id, l.completed_at
    union all
    select p.id as preset_id, 'import' as source, sum(r.daily_cost) as daily_cost, null as completed_at
    from presets p
    join template_versions v on v.id = p.template_version_id
    join workspace_resources r on r.job_id = v.job_id and r.transition = 'start'
    where p.desired_instances is not null ${inTemplates("v.template_id", scope)}
    group by p.id`.execute(db);
  return rows;
}

// ---- idle usage (cost accounting) --------------------------------------------------------------------------

export interface IdleUsageRow {
  template_name: string;
  preset_name: string;
  /** Idle prebuild-milliseconds and idle cost within [since, now) of each window. */
  idle_ms_day: number;
  idle_cost_day: number;
  idle_ms_week: number;
  idle_cost_week: number;
  /** Since the beginning (the metrics' counters). */
  idle_ms_total: number;
  idle_cost_total: number;
  /** Prebuilds handed to a user, and prebuilds that ended unclaimed (deleted: expired, extraneous, …). */
  claimed_day: number;
  claimed_week: number;
  wasted_day: number;
  wasted_week: number;
}

/** ms of [start, end) inside [from, to), as SQL (CASE, not GREATEST/LEAST: the same on both dialects). */
const overlapSql = (from: number, to: number) => sql`(case
  when (case when i.ended_at < ${to} then i.ended_at else ${to} end) >
       (case when i.started_at > ${from} then i.started_at else ${from} end)
  then (case when i.ended_at < ${to} then i.ended_at else ${to} end) -
       (case when i.started_at > ${from} then i.started_at else ${from} end)
  else 0 end)`;

/**
 * Idle time and cost per (template name, preset name), over the last day, the last week and all time, at `now`.
 * A prebuild is idle from its creation until it was claimed (its CLAIM build), its delete build started, or
 * now; it costs the summed `daily_cost` of its creation build's resources per day of that. Claimed and wasted
 * (deleted unclaimed) prebuilds are counted by when that happened. A creation that failed or was cancelled
 * never was a prebuild anyone could claim (and holds nothing): it is not counted.
 */
export async function selectIdleUsage(
  db: Executor,
  now: Date,
  filter: { templateName?: string; recentOnly?: boolean } = {},
): Promise<IdleUsageRow[]> {
  const nowMs = now.getTime();
  const onlyTemplate =
    filter.templateName === undefined
      ? sql``
      : sql`and w.template_id in (select id from templates where name = ${filter.templateName})`;
  // `recentOnly` (the views, refreshed every few seconds): only workspaces that are still unclaimed prebuilds
  // or changed within the week — a claim and a deletion touch `updated_at` — so the scan does not grow with
  // all history; the all-time columns are then partial (the metrics ask without it).
  const onlyRecent = filter.recentOnly
    ? sql`and ((w.owner_id = ${PB} and w.deleted = 0) or w.updated_at >= ${nowMs - 7 * 86_400_000})`
    : sql``;
  const day = nowMs - 86_400_000;
  const week = nowMs - 7 * 86_400_000;
  const { rows } = await sql<IdleUsageRow>`
    with prebuilds as (
      select w.id, w.created_at as started_at, b.preset_id, b.job_id,
             (select min(c.created_at) from workspace_builds c
              where c.workspace_id = w.id and c.prebuild_stage = 'claim') as claimed_at,
             (select min(d.created_at) from workspace_builds d
              where d.workspace_id = w.id and d.transition = 'delete' and d.initiator_id = ${PB}) as deleted_at
      from workspaces w
      join workspace_builds b on b.workspace_id = w.id and b.build_number = 1 and b.prebuild_stage = 'create'
      join provisioner_jobs j on j.id = b.job_id
      where ${jobStatusSql("j")} not in ('failed', 'canceled') ${onlyTemplate} ${onlyRecent}
    ),
    idle as (
      select pb.*, coalesce(pb.claimed_at, pb.deleted_at, ${nowMs}) as ended_at,
             coalesce((select sum(r.daily_cost) from workspace_resources r where r.job_id = pb.job_id), 0) as cost
      from prebuilds pb
    )
    select t.name as template_name, p.name as preset_name,
           sum(${overlapSql(day, nowMs)}) as idle_ms_day,
           sum(${overlapSql(day, nowMs)} * i.cost) / 86400000.0 as idle_cost_day,
           sum(${overlapSql(week, nowMs)}) as idle_ms_week,
           sum(${overlapSql(week, nowMs)} * i.cost) / 86400000.0 as idle_cost_week,
           sum(${overlapSql(0, nowMs)}) as idle_ms_total,
           sum(${overlapSql(0, nowMs)} * i.cost) / 86400000.0 as idle_cost_total,
           sum(case when i.claimed_at >= ${day} then 1 else 0 end) as claimed_day,
           sum(case when i.claimed_at >= ${week} then 1 else 0 end) as claimed_week,
           sum(case when i.claimed_at is null and i.deleted_at >= ${day} then 1 else 0 end) as wasted_day,
           sum(case when i.claimed_at is null and i.deleted_at >= ${week} then 1 else 0 end) as wasted_week
    from idle i
    join presets p on p.id = i.preset_id
    join template_versions v on v.id = p.template_version_id
    join templates t on t.id = v.template_id
    group by t.name, p.name
    order by t.name, p.name`.execute(db);
  return rows;
}
