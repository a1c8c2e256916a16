// Prebuild-specific SQL: the reconciler's snapshot reads, the claim, the delete re-check, preset status and
// events (written and counted), the pause switch and the metrics counters. Every statement is written out here so it can be audited
// in one place; rows come back typed and are converted by the callers (snapshot.ts, claim.ts, metrics.ts).
//
// Definitions used throughout:
// - a *prebuild workspace* is a live workspace (`deleted = 0`) owned by the prebuilds system user; a claim
//   changes the owner, so a claimed workspace stops being one at that instant;
// - its *latest build* is the one with the highest build_number;
// - its *preset* is the preset of its most recent build that names one (delete builds may not);
// - a *prebuild creation build* is a `start` build with prebuild_stage `create` (what the reconciler enqueues).
// Job status is store/job-status.ts's derivation (`jobStatusSql`), the one rule: "succeeded" = completed, no
// error, not cancelled; "failed" = an error and not cancelled (a cancel is nobody's template failing).
//
// Dialect branches (named, four): a claim (`takeOldestClaimable`) locks its candidate with FOR UPDATE SKIP
// LOCKED on PostgreSQL and relies on SQLite's single writer otherwise, and records its hit in the same
// statement on PostgreSQL; `lockUnclaimedPrebuild` takes a row lock on PostgreSQL; `selectPrebuildWorkspaces`
// words the latest build so that each planner looks it up by index. Everything else is the same SQL on both.
import { type Selectable, sql } from "kysely";
import { SERVER_RESTARTED_ERROR_CODE, STORAGE_UNAVAILABLE_ERROR_CODE } from "../jobs/reaper.js";
import { activeVersionSql } from "../store/active-version.js";
import { jobStatusSql } from "../store/job-status.js";
import type {
  ClaimRehearsalsTable,
  LeaseExpiry,
  PrebuildEventType,
  PresetStatus,
  Transition,
  WorkspacesTable,
} from "../store/schema.js";
import type { Dialect, Executor } from "../store/store.js";
import { PREBUILDS_USER_ID } from "./system-user.js";

const PB = PREBUILDS_USER_ID;

/** The site_config key of the reconciler's pause switch (value "true" / "false"). */
export const PAUSED_KEY = "prebuilds.reconciliation_paused";

const failedSql = (j: string) => sql`(${jobStatusSql(j)} = 'failed')`;
/**
 * A job that ended through no fault of its template — its daemon died with the server process (reaper.ts
 * SERVER_RESTARTED_ERROR_CODE), or the database went away as it was handed out (STORAGE_UNAVAILABLE) — counts
 * toward neither the failure backoff nor the hard limit.
 */
const infrastructureFailureSql = (j: string) =>
  sql`(coalesce(${sql.ref(`${j}.error_code`)}, '') in (${SERVER_RESTARTED_ERROR_CODE}, ${STORAGE_UNAVAILABLE_ERROR_CODE}))`;
/** A failure the template is to blame for (backoff, hard limit, the failure streak). */
const templateFailedSql = (j: string) => sql`(${failedSql(j)} and not ${infrastructureFailureSql(j)})`;
const succeededSql = (j: string) => sql`(${jobStatusSql(j)} = 'succeeded')`;

/** The latest build of the workspace `w` joined as `b` (use in a join's ON clause). */
const latestBuildOf = (w: string, b: string) =>
  sql`${sql.ref(`${b}.workspace_id`)} = ${sql.ref(`${w}.id`)} and ${sql.ref(`${b}.build_number`)} =
    (select max(x.build_number) from workspace_builds x where x.workspace_id = ${sql.ref(`${w}.id`)})`;

/** True when no agent of the build job `jobRef` is in a lifecycle state other than ready (none at all: true). */
const agentsReadySql = (jobRef: string) => sql`not exists (
    select 1 from workspace_resources r join workspace_agents a on a.resource_id = r.id
    where r.job_id = ${sql.ref(jobRef)} and a.lifecycle_state <> 'ready')`;

// ---- snapshot reads (a fixed number of statements, whatever the number of presets) -----------------------
//
// Each takes an optional `scope`: template ids to read only (the incremental snapshot re-reads the templates
// that changed, snapshot-reader.ts); absent, every template. A scope is never empty (the caller skips the read).

/** `and <column> in (<scope>)`, or nothing without a scope. */
export const inTemplates = (column: string, scope: readonly string[] | undefined) =>
  scope === undefined ? sql`` : sql`and ${sql.ref(column)} in (${sql.join([...scope])})`;

/**
 * The same for a preset id column of builds: through the presets of the scope's versions, so the builds are
 * found by their preset index rather than by scanning every creation.
 */
export const inTemplatePresets = (column: string, scope: readonly string[] | undefined) =>
  scope === undefined
    ? sql``
    : sql`and ${sql.ref(column)} in (select sp.id from presets sp join template_versions sv on sv.id = sp.template_version_id
                                     where sv.template_id in (${sql.join([...scope])}))`;

export interface SnapshotPresetRow {
  id: string;
  name: string;
  desired_instances: number | null;
  ttl_seconds: number;
  scheduling_timezone: string;
  status: PresetStatus;
  last_invalidated_at: number | null;
  version_id: string;
  version_name: string;
  template_id: string;
  template_name: string;
  /** 1 when the version is the template's active version and the template is neither deleted nor deprecated. */
  active: number;
  /** 1 when the preset has a claim rehearsal (of any outcome). */
  rehearsed: number;
}

/**
 * Presets the reconciler must look at: every preset that declares prebuilds on an active version, plus every
 * preset (of any version, deleted template or not) that still has prebuild workspaces. Presets of old versions
 * without prebuilds have nothing to do and are not read.
 */
export async function selectSnapshotPresets(
  db: Executor,
  scope?: readonly string[],
): Promise<SnapshotPresetRow[]> {
  const { rows } = await sql<SnapshotPresetRow>`
    select p.id, p.name, p.desired_instances, p.ttl_seconds, p.scheduling_timezone, p.status, p.last_invalidated_at,
           v.id as version_id, v.name as version_name, t.id as template_id, t.name as template_name,
           case when ${activeVersionSql("t", "v.id")} then 1 else 0 end as active,
           case when exists (select 1 from claim_rehearsals r where r.preset_id = p.id) then 1 else 0 end as rehearsed
    from presets p
    join template_versions v on v.id = p.template_version_id
    join templates t on t.id = v.template_id
    where ((p.desired_instances is not null and ${activeVersionSql("t", "v.id")})
       or p.id in (select b.preset_id from workspaces w join workspace_builds b on b.workspace_id = w.id
                   where w.owner_id = ${PB} and w.deleted = 0 and b.preset_id is not null))
       ${inTemplates("t.id", scope)}
    order by t.name, v.created_at, v.name, p.name, p.id`.execute(db);
  return rows;
}

export interface ScheduleRow {
  preset_id: string;
  cron: string;
  instances: number;
}

/** Schedules of prebuild-declaring presets on active versions (inactive presets desire 0 anyway), in order. */
export async function selectActiveSchedules(db: Executor, scope?: readonly string[]): Promise<ScheduleRow[]> {
  const { rows } = await sql<ScheduleRow>`
    select s.preset_id, s.cron, s.instances
    from preset_schedules s
    join presets p on p.id = s.preset_id
    join templates t on ${activeVersionSql("t", "p.template_version_id")}
    where p.desired_instances is not null and p.scheduling_timezone <> '' ${inTemplates("t.id", scope)}
    order by s.preset_id, s.ordinal`.execute(db);
  return rows;
}

export interface PrebuildWorkspaceRow {
  id: string;
  template_id: string;
  created_at: number;
  /** The preset of the most recent build naming one; null when none does (such a workspace is ignored). */
  preset_id: string | null;
  transition: Transition;
  build_number: number;
  worker_id: string | null;
  started_at: number | null;
  completed_at: number | null;
  canceled_at: number | null;
  error: string | null;
  job_updated_at: number;
  /** 1 when every agent of the latest build is ready (or it has none). */
  agents_ready: number;
}

/**
 * Every prebuild workspace with its latest build's job and agent readiness.
 *
 * PostgreSQL (dialect branch): the latest build is a LATERAL top-1 of the workspace's builds, and readiness a
 * count of not-ready agents. With the join-on-max form PostgreSQL misestimates the join and hashes every
 * build of every workspace, and it runs `not exists` over agents as one scan of all agents: a scoped read of
 * one template (100 prebuilds) took 10 ms instead of 1 ms. SQLite has no LATERAL and plans the join-on-max
 * form as index lookups.
 */
export async function selectPrebuildWorkspaces(
  db: Executor,
  dialect: Dialect,
  scope?: readonly string[],
): Promise<PrebuildWorkspaceRow[]> {
  // Index lookups per live prebuild (its latest build by the (workspace_id, build_number) key, its job by id,
  // the preset of its latest build that names one), not a window over every build of every prebuild: the
  // cycle's largest read, so its cost is what the pool's size costs, not what its history does.
  const latestBuild =
    dialect === "postgres"
      ? sql`cross join lateral (select x.preset_id, x.transition, x.build_number, x.job_id from workspace_builds x
                                where x.workspace_id = w.id order by x.build_number desc limit 1) b`
      : sql`join workspace_builds b on ${latestBuildOf("w", "b")}`;
  const agentsReady =
    dialect === "postgres"
      ? sql`(select count(*) from workspace_resources r join workspace_agents a on a.resource_id = r.id
             where r.job_id = b.job_id and a.lifecycle_state <> 'ready') = 0`
      : agentsReadySql("b.job_id");
  const { rows } = await sql<PrebuildWorkspaceRow>`
    select w.id, w.template_id, w.created_at,
           coalesce(b.preset_id, (select p.preset_id from workspace_builds p
                                  where p.workspace_id = w.id and p.preset_id is not null
                                  order by p.build_number desc limit 1)) as preset_id,
           b.transition, b.build_number,
           j.worker_id, j.started_at, j.completed_at, j.canceled_at, j.error, j.updated_at as job_updated_at,
           case when ${agentsReady} then 1 else 0 end as agents_ready
    from workspaces w
    ${latestBuild}
    join provisioner_jobs j on j.id = b.job_id
    where w.owner_id = ${PB} and w.deleted = 0 ${inTemplates("w.template_id", scope)}
    order by w.created_at, w.id`.execute(db);
  return rows;
}

export interface FailureRow {
  preset_id: string;
  completed_at: number;
}

/**
 * Backoff input: the failed prebuild creation builds whose job ended at or after `sinceMs` and after their
 * preset's latest successful creation (a success ends a failure streak), one row each — not a count, so a
 * reader can drop the ones that age out of the look-back window as time passes without reading again.
 */
export async function selectFailures(
  db: Executor,
  sinceMs: number,
  scope?: readonly string[],
): Promise<FailureRow[]> {
  // The latest success per preset is computed once (a correlated subquery per failed row would rescan the
  // preset's whole history for each failure: quadratic in a failure storm).
  const { rows } = await sql<FailureRow>`
    with last_ok as (
      select b.preset_id, max(j.completed_at) as at
      from workspace_builds b join provisioner_jobs j on j.id = b.job_id
      where b.prebuild_stage = 'create' and b.transition = 'start' and b.preset_id is not null
        and ${succeededSql("j")} ${inTemplatePresets("b.preset_id", scope)}
      group by b.preset_id)
    select b.preset_id, j.completed_at
    from workspace_builds b join provisioner_jobs j on j.id = b.job_id
    left join last_ok o on o.preset_id = b.preset_id
    where b.prebuild_stage = 'create' and b.transition = 'start' and b.preset_id is not null
      and j.completed_at >= ${sinceMs} and ${templateFailedSql("j")}
      and j.completed_at > coalesce(o.at, -1) ${inTemplatePresets("b.preset_id", scope)}`.execute(db);
  return rows;
}

/**
 * Presets whose last `limit` finished prebuild creation builds all failed (§5 rule 7). Cancelled builds do not
 * count either way. Only builds created after the preset's latest `hard_limited` event count, so resuming a
 * preset gives it `limit` fresh attempts instead of re-limiting it at once from the same history.
 *
 * "The last `limit` all failed" is "at least `limit` failures created after the latest success": one pass over
 * the finished creations with each preset's latest `hard_limited` event and latest success computed once, so
 * a cycle's cost grows with the history linearly (it was a row_number() over every creation with a
 * per-row subquery over the preset's events: quadratic, 56 ms of a 60 ms cycle after 2,000 claims). Builds
 * of one preset created in the same millisecond as its latest success do not count as after it.
 */
export async function selectHardLimitedPresets(
  db: Executor,
  limit: number,
  scope?: readonly string[],
): Promise<string[]> {
  if (limit <= 0) return [];
  const { rows } = await sql<{ preset_id: string }>`
    with last_limit as (
      select preset_id, max(created_at) as at from prebuild_events e
      where event_type = 'hard_limited' ${inTemplatePresets("e.preset_id", scope)} group by preset_id),
    finished as (
      select b.preset_id, b.created_at, case when ${failedSql("j")} then 1 else 0 end as failed
      from workspace_builds b join provisioner_jobs j on j.id = b.job_id
      left join last_limit l on l.preset_id = b.preset_id
      where b.prebuild_stage = 'create' and b.transition = 'start' and b.preset_id is not null
        and ${jobStatusSql("j")} in ('failed', 'succeeded') and not ${infrastructureFailureSql("j")}
        and b.created_at > coalesce(l.at, -1) ${inTemplatePresets("b.preset_id", scope)}),
    last_ok as (select preset_id, max(created_at) as at from finished where failed = 0 group by preset_id)
    select f.preset_id from finished f left join last_ok o on o.preset_id = f.preset_id
    where f.failed = 1 and f.created_at > coalesce(o.at, -1)
    group by f.preset_id having count(*) >= ${limit}`.execute(db);
  return rows.map((r) => r.preset_id);
}

export interface FailedCreationRow {
  preset_id: string;
  workspace_id: string;
  build_number: number;
  /** 1: the failed prebuild was deleted since (its build is gone from the workspace pages). */
  workspace_deleted: number;
  error: string | null;
  completed_at: number;
}

/** The failure streak behind backoff and the hard limit: failed creations after the preset's latest success. */
const failureStreakSql = (presetIds: readonly string[]) => sql`from workspace_builds b
    join provisioner_jobs j on j.id = b.job_id
    join workspaces w on w.id = b.workspace_id
    where b.prebuild_stage = 'create' and b.transition = 'start'
      and b.preset_id in (${sql.join([...presetIds])}) and ${templateFailedSql("j")}
      and j.completed_at > coalesce((
        select max(j2.completed_at) from workspace_builds b2 join provisioner_jobs j2 on j2.id = b2.job_id
        where b2.preset_id = b.preset_id and b2.prebuild_stage = 'create' and b2.transition = 'start'
          and ${succeededSql("j2")}), -1)`;

/** Per preset: how many creations failed since its latest successful one (the dashboard's failure count). */
export async function countFailureStreaks(
  db: Executor,
  presetIds: readonly string[],
): Promise<Map<string, number>> {
  if (presetIds.length === 0) return new Map();
  const { rows } = await sql<{ preset_id: string; n: number }>`
    select b.preset_id, count(*) as n ${failureStreakSql(presetIds)} group by b.preset_id`.execute(db);
  return new Map(rows.map((r) => [r.preset_id, Number(r.n)]));
}

/** The most recent failed creations of the streak, newest first, at most `limit` per call. */
export async function selectFailureStreak(
  db: Executor,
  presetIds: readonly string[],
  limit: number,
): Promise<FailedCreationRow[]> {
  if (presetIds.length === 0) return [];
  const { rows } = await sql<FailedCreationRow>`
    select b.preset_id, b.workspace_id, b.build_number, w.deleted as workspace_deleted, j.error, j.completed_at
    ${failureStreakSql(presetIds)} order by j.completed_at desc, b.id desc limit ${limit}`.execute(db);
  return rows.map((r) => ({
    ...r,
    completed_at: Number(r.completed_at),
    build_number: Number(r.build_number),
    workspace_deleted: Number(r.workspace_deleted),
  }));
}

/** Prebuild jobs not yet finished (pending, running or cancelling): what the in-flight cap limits. */
export async function countInFlightPrebuildJobs(db: Executor): Promise<number> {
  const { rows } = await sql<{ n: number }>`
    select count(*) as n from provisioner_jobs where is_prebuild = 1 and completed_at is null`.execute(db);
  return Number(rows[0]?.n ?? 0);
}

export async function readPaused(db: Executor): Promise<boolean> {
  const row = await db
    .selectFrom("site_config")
    .select("value")
    .where("key", "=", PAUSED_KEY)
    .executeTakeFirst();
  return row?.value === "true";
}

export async function writePaused(db: Executor, paused: boolean): Promise<void> {
  await db
    .insertInto("site_config")
    .values({ key: PAUSED_KEY, value: String(paused) })
    .onConflict((oc) => oc.column("key").doUpdateSet({ value: String(paused) }))
    .execute();
}

// ---- claims --------------------------------------------------------------------------------------------

/** The claimed workspace's row, as the claim left it. */
export type ClaimedRow = Selectable<WorkspacesTable>;

/** The lease a claim gives the workspace (null or absent: the prebuild's own, which is none). */
export interface ClaimLease {
  seconds: number;
  onExpiry: LeaseExpiry;
}

/** What a claim sets on the workspace it takes. */
export interface ClaimTake {
  newOwnerId: string;
  newName: string;
  now: Date;
  lease?: ClaimLease | null;
}

/** The smallest SQL integer either dialect compares `created_at` with: "nothing expires". */
const NO_BOUND = Number.MIN_SAFE_INTEGER;

/**
 * §5 rule 2 (plan.ts `isExpired`, negated term by term) as a lower bound on `w.created_at` for the preset
 * row `p`: created at or after its last invalidation (when set), and at or after now − TTL (when TTL > 0).
 * Exactly TTL old is not expired; created exactly at the invalidation instant is not invalidated.
 * claim.test.ts checks it against isExpired at the boundaries on both dialects. The casts keep PostgreSQL in
 * 64-bit integers (`ttl_seconds` is a 32-bit one: a year's TTL in ms overflows it).
 */
const notExpiredSql = (nowMs: number) =>
  sql`w.created_at >= coalesce(p.last_invalidated_at, cast(${NO_BOUND} as bigint))
      and w.created_at >= case when p.ttl_seconds > 0 then cast(${nowMs} as bigint) - p.ttl_seconds * cast(1000 as bigint)
                               else cast(${NO_BOUND} as bigint) end`;

/**
 * Hands the oldest claimable prebuild of `presetId` (migration 0012's column, kept by triggers: an unclaimed
 * live prebuild whose latest build is a successful start of the preset with every agent ready) that has not
 * expired over to the new owner — owner and name change, `updated_at = now`, and it leaves the claim index —
 * and records the hit as a `claim_succeeded` event of `hitPresetId` (the preset asked for). With `activeOnly`,
 * only while the preset is on its template's active version (active-version.ts).
 *
 * PostgreSQL (dialect branch): ONE statement, the event inserted by a data-modifying CTE from the claimed row
 * (none claimed, none inserted). The candidate is locked with FOR UPDATE SKIP LOCKED, so concurrent claims
 * never wait on each other nor take the same row. A write that made the candidate unclaimable and committed
 * after the statement's snapshot — another claim, or a reconciler delete (whose new build clears the column
 * in the delete's transaction) — is seen when the row is locked: READ COMMITTED re-checks the locked row's
 * newest version against the WHERE clause, and the next candidate is tried (the lock is taken below the
 * LIMIT). Accepted staleness: a template change (deprecated, new active version) that commits while the
 * statement runs is not re-checked; that is the same instant, from the user's view.
 * SQLite (dialect branch): the same UPDATE without the lock, then the event's INSERT (SQLite has no DML in
 * CTEs); the caller's transaction is BEGIN IMMEDIATE, so claims and deletes are serialised.
 */
async function takeOldestClaimable(
  tx: Executor,
  dialect: Dialect,
  presetId: string,
  activeOnly: boolean,
  request: ClaimTake & { hitPresetId: string },
): Promise<ClaimedRow | null> {
  const nowMs = request.now.getTime();
  // The lease counts from usable: the deadline is set when the claim build makes the workspace usable.
  const lease = request.lease
    ? sql`, lease_seconds = ${request.lease.seconds}, lease_on_expiry = ${request.lease.onExpiry}, lease_deadline = null`
    : sql``;
  const active = activeOnly
    ? sql`join template_versions v on v.id = p.template_version_id
          join templates t on t.id = v.template_id and ${activeVersionSql("t", "v.id")}`
    : sql``;
  const lock = dialect === "postgres" ? sql`for update of w skip locked` : sql``;
  const claim = sql`
    update workspaces set owner_id = ${request.newOwnerId}, name = ${request.newName}, updated_at = ${nowMs},
                          claimable_preset_id = null ${lease}
    where id = (select w.id from presets p ${active}
                join workspaces w on w.claimable_preset_id = p.id
                where p.id = ${presetId} and w.claimable_preset_id is not null and ${notExpiredSql(nowMs)}
                order by w.created_at, w.id limit 1 ${lock})
    returning *`;
  if (dialect === "postgres") {
    const { rows } = await sql<ClaimedRow>`
      with claimed as (${claim}),
           hit as (insert into prebuild_events (preset_id, event_type, created_at)
                   select ${request.hitPresetId}, 'claim_succeeded', ${nowMs} from claimed)
      select * from claimed`.execute(tx);
    return rows[0] ?? null;
  }
  const { rows } = await sql<ClaimedRow>`${claim}`.execute(tx);
  const row = rows[0];
  if (row) await insertPrebuildEvent(tx, request.hitPresetId, "claim_succeeded", nowMs);
  return row ?? null;
}

/**
 * Takes the oldest claimable, unexpired prebuild of the preset, if the preset is on its template's active
 * version and the template is live and not deprecated, and records the hit (takeOldestClaimable). Null when
 * none (nothing recorded).
 */
export function claimOldestPrebuild(
  tx: Executor,
  dialect: Dialect,
  request: ClaimTake & { presetId: string },
): Promise<ClaimedRow | null> {
  return takeOldestClaimable(tx, dialect, request.presetId, true, {
    ...request,
    hitPresetId: request.presetId,
  });
}

export interface OutdatedClaimedRow extends ClaimedRow {
  preset_id: string;
  template_version_id: string;
}

/**
 * Surge rollout (issue 13): while the active preset has no eligible prebuild, a claim may take one of a
 * preset of the same name on an OLDER version of the same live, non-deprecated template — unless the preset
 * name's rollout is `replace` (preset_settings). The newest such version first, its oldest non-expired,
 * eligible prebuild (expiry by that old preset's own TTL and invalidation). Same statement as a claim; the
 * hit is recorded for the preset asked for.
 */
export async function claimOldestOutdatedPrebuild(
  tx: Executor,
  dialect: Dialect,
  request: ClaimTake & { presetId: string },
): Promise<OutdatedClaimedRow | null> {
  const { rows: olds } = await sql<{ preset_id: string; version_id: string }>`
    select op.id as preset_id, op.template_version_id as version_id
    from presets p
    join templates t on ${activeVersionSql("t", "p.template_version_id")}
    join template_versions ov on ov.template_id = t.id and ov.id <> p.template_version_id
    join presets op on op.template_version_id = ov.id and op.name = p.name
    left join preset_settings s on s.template_id = t.id and s.preset_name = p.name
    where p.id = ${request.presetId} and coalesce(s.rollout, 'surge') = 'surge'
    order by ov.created_at desc, ov.id desc`.execute(tx);
  for (const old of olds) {
    const row = await takeOldestClaimable(tx, dialect, old.preset_id, false, {
      ...request,
      hitPresetId: request.presetId,
    });
    if (row) return { ...row, preset_id: old.preset_id, template_version_id: old.version_id };
  }
  return null;
}

export interface UnclaimedPrebuildRow {
  id: string;
  template_id: string;
  created_at: number;
}

/**
 * Re-checks, inside the caller's write transaction, that the workspace is still an unclaimed, live prebuild,
 * and locks it against a concurrent claim (PostgreSQL: FOR UPDATE, waiting for a claim in progress and then
 * re-reading the row, so a committed claim makes this return null; SQLite: the transaction is already
 * exclusive). Null means: claimed meanwhile (or gone) — do not delete.
 */
export async function lockUnclaimedPrebuildRow(
  tx: Executor,
  dialect: Dialect,
  workspaceId: string,
): Promise<UnclaimedPrebuildRow | null> {
  const lock = dialect === "postgres" ? sql`for update` : sql``;
  const { rows } = await sql<UnclaimedPrebuildRow>`
    select id, template_id, created_at from workspaces
    where id = ${workspaceId} and owner_id = ${PB} and deleted = 0 ${lock}`.execute(tx);
  return rows[0] ?? null;
}

export interface PendingPrebuildJobRow {
  job_id: string;
  workspace_id: string;
}

/**
 * Pending, not yet acquired FIRST-BUILD `start` jobs of the preset's prebuild workspaces (what `cancel_pending`
 * cancels; §5 rules 5 and 10): creations of an outdated version that never began. Queued stops and deletes of
 * its prebuilds are not listed — they must run, or the infrastructure they tear down would live on. Run inside
 * the cancelling transaction and re-check each job's state when cancelling.
 */
export async function selectPendingPrebuildJobs(
  db: Executor,
  presetId: string,
): Promise<PendingPrebuildJobRow[]> {
  const { rows } = await sql<PendingPrebuildJobRow>`
    select j.id as job_id, w.id as workspace_id
    from workspaces w
    join workspace_builds b on ${latestBuildOf("w", "b")}
    join provisioner_jobs j on j.id = b.job_id
    where w.owner_id = ${PB} and w.deleted = 0 and b.preset_id = ${presetId}
      and b.build_number = 1 and b.transition = 'start'
      and j.started_at is null and j.completed_at is null and j.canceled_at is null and j.worker_id is null
    order by j.created_at, j.id`.execute(db);
  return rows;
}

// ---- preset status and events --------------------------------------------------------------------------

export async function insertPrebuildEvent(
  db: Executor,
  presetId: string,
  type: PrebuildEventType,
  nowMs: number,
): Promise<void> {
  await db
    .insertInto("prebuild_events")
    .values({ preset_id: presetId, event_type: type, created_at: nowMs })
    .execute();
}

/**
 * Moves a healthy preset to `status` and records the matching event, once: a conditional update, so a second
 * call (or a second replica) changes nothing. True when this call changed it.
 */
export async function markPresetUnhealthy(
  db: Executor,
  presetId: string,
  status: "hard_limited" | "validation_failed",
  nowMs: number,
): Promise<boolean> {
  const result = await db
    .updateTable("presets")
    .set({ status })
    .where("id", "=", presetId)
    .where("status", "=", "healthy")
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) === 0) return false;
  await insertPrebuildEvent(db, presetId, status, nowMs);
  return true;
}

/** hard_limited / validation_failed → healthy. Returns the previous status (undefined: no such preset). */
export async function markPresetHealthy(db: Executor, presetId: string): Promise<PresetStatus | undefined> {
  const before = await db
    .selectFrom("presets")
    .select("status")
    .where("id", "=", presetId)
    .executeTakeFirst();
  if (!before) return undefined;
  if (before.status !== "healthy") {
    await db.updateTable("presets").set({ status: "healthy" }).where("id", "=", presetId).execute();
  }
  return before.status;
}

// ---- claim rehearsals ----------------------------------------------------------------------------------

/** A rehearsal with its job's state (a failed or canceled job is a failed rehearsal, see rehearsal.ts). */
export type RehearsalRow = Selectable<ClaimRehearsalsTable> & {
  job_started_at: number | null;
  job_completed_at: number | null;
  job_canceled_at: number | null;
  job_error: string | null;
};

export async function selectRehearsals(db: Executor, presetIds: readonly string[]): Promise<RehearsalRow[]> {
  if (presetIds.length === 0) return [];
  return db
    .selectFrom("claim_rehearsals as r")
    .innerJoin("provisioner_jobs as j", "j.id", "r.job_id")
    .selectAll("r")
    .select([
      "j.started_at as job_started_at",
      "j.completed_at as job_completed_at",
      "j.canceled_at as job_canceled_at",
      "j.error as job_error",
    ])
    .where("r.preset_id", "in", [...presetIds])
    .execute();
}

/** Records a pending rehearsal unless the preset has one; true when this call recorded it. */
export async function insertPendingRehearsal(
  db: Executor,
  row: { presetId: string; workspaceId: string; jobId: string; now: Date },
): Promise<boolean> {
  const result = await db
    .insertInto("claim_rehearsals")
    .values({
      preset_id: row.presetId,
      workspace_id: row.workspaceId,
      job_id: row.jobId,
      status: "pending",
      replacements: "[]",
      error: null,
      created_at: row.now.getTime(),
      completed_at: null,
    })
    .onConflict((oc) => oc.column("preset_id").doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
}

/** Records the rehearsal's result, in its job's completing transaction. */
export async function finishRehearsal(
  db: Executor,
  jobId: string,
  result: {
    status: "clean" | "replacements";
    replacements: readonly { resource: string; paths: string[] }[];
    now: Date;
  },
): Promise<void> {
  await db
    .updateTable("claim_rehearsals")
    .set({
      status: result.status,
      replacements: JSON.stringify(result.replacements),
      completed_at: result.now.getTime(),
    })
    .where("job_id", "=", jobId)
    .execute();
}

/**
 * Every prebuild event ever, as (preset_id, event_type, n) rows to sum: each row still in prebuild_events counts
 * 1, each prebuild_event_totals row its total (what retention deleted, retention/prune.ts). The one place
 * all-time event counts come from, so pruning never makes one drop.
 */
const allTimeEventCounts = sql`(select preset_id, event_type, 1 as n from prebuild_events
  union all select preset_id, event_type, total as n from prebuild_event_totals)`;

/**
 * How many events of `type` each of the presets ever had (absent: none), in one query: the rows still there
 * plus those retention deleted (prebuild_event_totals).
 */
export async function countPresetEvents(
  db: Executor,
  presetIds: readonly string[],
  type: PrebuildEventType,
): Promise<Map<string, number>> {
  if (presetIds.length === 0) return new Map();
  const { rows } = await sql<{ preset_id: string; n: number }>`
    select e.preset_id, sum(e.n) as n from ${allTimeEventCounts} e
    where e.preset_id in (${sql.join([...presetIds])}) and e.event_type = ${type}
    group by e.preset_id`.execute(db);
  return new Map(rows.map((r) => [r.preset_id, Number(r.n)]));
}

/**
 * Counts per preset and event type since `since`, in one query (the pools page's hit rate). A window, not a
 * total: retention never deletes events that recent (its floor is 28 days), so no persisted total is added.
 */
export async function countPrebuildEvents(
  db: Executor,
  since: Date,
): Promise<{ presetId: string; type: PrebuildEventType; count: number }[]> {
  const rows = await db
    .selectFrom("prebuild_events")
    .select((eb) => ["preset_id", "event_type", eb.fn.countAll<number>().as("n")])
    .where("created_at", ">=", since.getTime())
    .groupBy(["preset_id", "event_type"])
    .orderBy("preset_id")
    .orderBy("event_type")
    .execute();
  return rows.map((r) => ({ presetId: r.preset_id, type: r.event_type, count: Number(r.n) }));
}

// ---- metrics counters (derived from history, so restarts and replicas agree) ---------------------------

export interface PrebuildCounterRow {
  template_name: string;
  preset_name: string;
  created: number;
  failed: number;
  claimed: number;
}

/**
 * Per (template name, preset name): prebuild workspaces ever created (their first build is a prebuild
 * creation), how many of those first builds failed, and how many were claimed (owner no longer the prebuilds
 * user). Soft-deleted workspaces still count, so the numbers only grow.
 */
export async function selectPrebuildCounters(db: Executor): Promise<PrebuildCounterRow[]> {
  const { rows } = await sql<PrebuildCounterRow>`
    select t.name as template_name, p.name as preset_name,
           count(*) as created,
           sum(case when ${failedSql("j")} then 1 else 0 end) as failed,
           sum(case when w.owner_id <> ${PB} then 1 else 0 end) as claimed
    from workspace_builds b
    join workspaces w on w.id = b.workspace_id
    join provisioner_jobs j on j.id = b.job_id
    join presets p on p.id = b.preset_id
    join template_versions v on v.id = p.template_version_id
    join templates t on t.id = v.template_id
    where b.build_number = 1 and b.prebuild_stage = 'create'
    group by t.name, p.name`.execute(db);
  return rows;
}

export interface ClaimEventCountRow {
  template_name: string;
  preset_name: string;
  event_type: PrebuildEventType;
  n: number;
}

/** All-time claim and replacement counts (the metrics' counters): the rows plus what retention deleted. */
export async function selectClaimEventCounts(db: Executor): Promise<ClaimEventCountRow[]> {
  const { rows } = await sql<ClaimEventCountRow>`
    select t.name as template_name, p.name as preset_name, e.event_type, sum(e.n) as n
    from ${allTimeEventCounts} e
    join presets p on p.id = e.preset_id
    join template_versions v on v.id = p.template_version_id
    join templates t on t.id = v.template_id
    where e.event_type in ('claim_succeeded', 'claim_missed', 'replacement')
    group by t.name, p.name, e.event_type`.execute(db);
  return rows;
}

const RECENT_TARGET_JOBS = 1_000;

/**
 * The distinct (provisioner, tags) of the latest prebuild jobs created since `since`: where the reconciler's
 * recent work had to run (status.ts counts the daemons that can take it). Read every cycle, so bounded: the
 * newest RECENT_TARGET_JOBS by the (is_prebuild, created_at) index, not every job of the lookback.
 */
export async function recentPrebuildJobTargets(
  db: Executor,
  since: number,
): Promise<Array<{ provisioner: string; tags: string }>> {
  const rows = await db
    .selectFrom("provisioner_jobs")
    .select(["provisioner", "tags"])
    .where("is_prebuild", "=", 1)
    .where("created_at", ">=", since)
    .orderBy("created_at", "desc")
    .limit(RECENT_TARGET_JOBS)
    .execute();
  const distinct = new Map(rows.map((r) => [`${r.provisioner}\u0000${r.tags}`, r]));
  return [...distinct.values()];
}
