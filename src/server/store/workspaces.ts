// Workspaces and their builds (with each build's parameter values).
// A workspace's name is unique per owner among live workspaces (`workspaces_owner_name_live_key`), so a name
// can be reused after a delete. Build numbers are unique per workspace (`workspace_builds_number_key`): two
// builds started at once on one workspace cannot both commit — the loser gets a unique violation (409).
import { randomUUID } from "node:crypto";
import type { Selectable } from "kysely";
import type { BuildReasonName } from "../../contract/workspaces.js";
import { jobStatusSql } from "./job-status.js";
import { parseJsonColumn, toBool, toDate, toDateOrNull, toMillis } from "./rows.js";
import type {
  LeaseExpiry,
  PrebuildStage,
  Transition,
  WorkspaceBuildsTable,
  WorkspacesTable,
} from "./schema.js";
import type { Dialect, Executor } from "./store.js";

export interface Workspace {
  id: string;
  ownerId: string;
  templateId: string;
  name: string;
  createdAt: Date;
  updatedAt: Date;
  deleted: boolean;
  /** null: no lease. The deadline is null until the workspace became usable (the lease counts from there). */
  lease: WorkspaceLease | null;
}

export interface WorkspaceLease {
  seconds: number;
  onExpiry: LeaseExpiry;
  deadline: Date | null;
}

export function workspaceFromRow(row: Selectable<WorkspacesTable>): Workspace {
  return {
    id: row.id,
    ownerId: row.owner_id,
    templateId: row.template_id,
    name: row.name,
    createdAt: toDate(row.created_at),
    updatedAt: toDate(row.updated_at),
    deleted: toBool(row.deleted),
    lease:
      row.lease_seconds === null
        ? null
        : {
            seconds: row.lease_seconds,
            onExpiry: row.lease_on_expiry ?? "delete",
            deadline: toDateOrNull(row.lease_deadline),
          },
  };
}

export async function insertWorkspace(
  db: Executor,
  input: { id?: string; ownerId: string; templateId: string; name: string; now: Date },
): Promise<Workspace> {
  const row = await db
    .insertInto("workspaces")
    .values({
      id: input.id ?? randomUUID(),
      owner_id: input.ownerId,
      template_id: input.templateId,
      name: input.name,
      created_at: toMillis(input.now),
      updated_at: toMillis(input.now),
      deleted: 0,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return workspaceFromRow(row);
}

/** Sets or clears (null) the workspace's lease. */
export async function setWorkspaceLease(
  db: Executor,
  id: string,
  lease: WorkspaceLease | null,
): Promise<void> {
  await db
    .updateTable("workspaces")
    .set({
      lease_seconds: lease?.seconds ?? null,
      lease_on_expiry: lease?.onExpiry ?? null,
      lease_deadline: lease?.deadline ? toMillis(lease.deadline) : null,
    })
    .where("id", "=", id)
    .execute();
}

/** Live workspaces whose lease ran out at or before `now`, soonest first (at most `limit`). */
export async function selectExpiredLeases(db: Executor, now: Date, limit: number): Promise<string[]> {
  const rows = await db
    .selectFrom("workspaces")
    .select("id")
    .where("deleted", "=", 0)
    .where("lease_deadline", "is not", null)
    .where("lease_deadline", "<=", toMillis(now))
    .orderBy("lease_deadline")
    .limit(limit)
    .execute();
  return rows.map((r) => r.id);
}

/** The workspace an earlier create with this `Idempotency-Key` made, if any. */
export async function getCreateKey(db: Executor, ownerId: string, key: string): Promise<string | undefined> {
  const row = await db
    .selectFrom("workspace_create_keys")
    .select("workspace_id")
    .where("owner_id", "=", ownerId)
    .where("key", "=", key)
    .executeTakeFirst();
  return row?.workspace_id;
}

/** Remembers the create's key; a concurrent retry with the same key violates workspace_create_keys_pkey. */
export async function insertCreateKey(
  db: Executor,
  row: { ownerId: string; key: string; workspaceId: string; now: Date },
): Promise<void> {
  await db
    .insertInto("workspace_create_keys")
    .values({
      owner_id: row.ownerId,
      key: row.key,
      workspace_id: row.workspaceId,
      created_at: toMillis(row.now),
    })
    .execute();
}

/**
 * By id, row-locked for the caller's transaction on PostgreSQL (dialect branch; SQLite's write transactions
 * are exclusive already), so two replicas acting on the same workspace take turns.
 */
export async function getWorkspaceForUpdate(
  tx: Executor,
  dialect: Dialect,
  id: string,
): Promise<Workspace | undefined> {
  let query = tx.selectFrom("workspaces").selectAll().where("id", "=", id);
  if (dialect === "postgres") query = query.forUpdate();
  const row = await query.executeTakeFirst();
  return row ? workspaceFromRow(row) : undefined;
}

/** By id, deleted or not. */
export async function getWorkspace(db: Executor, id: string): Promise<Workspace | undefined> {
  const row = await db.selectFrom("workspaces").selectAll().where("id", "=", id).executeTakeFirst();
  return row ? workspaceFromRow(row) : undefined;
}

/** The owner's live workspace with this name. */
export async function getWorkspaceByOwnerAndName(
  db: Executor,
  ownerId: string,
  name: string,
): Promise<Workspace | undefined> {
  const row = await db
    .selectFrom("workspaces")
    .selectAll()
    .where("owner_id", "=", ownerId)
    .where("name", "=", name)
    .where("deleted", "=", 0)
    .executeTakeFirst();
  return row ? workspaceFromRow(row) : undefined;
}

/** Live workspaces (optionally of one owner / template), oldest first. */
export async function listWorkspaces(
  db: Executor,
  filter: { ownerId?: string; excludeOwnerId?: string; templateId?: string; includeDeleted?: boolean } = {},
): Promise<Workspace[]> {
  let query = db.selectFrom("workspaces").selectAll();
  if (!filter.includeDeleted) query = query.where("deleted", "=", 0);
  if (filter.ownerId !== undefined) query = query.where("owner_id", "=", filter.ownerId);
  if (filter.excludeOwnerId !== undefined) query = query.where("owner_id", "<>", filter.excludeOwnerId);
  if (filter.templateId !== undefined) query = query.where("template_id", "=", filter.templateId);
  const rows = await query.orderBy("created_at").orderBy("id").execute();
  return rows.map(workspaceFromRow);
}

/** Marks a workspace deleted (its name becomes free). True when a live workspace was deleted. */
export async function softDeleteWorkspace(db: Executor, id: string, now: Date): Promise<boolean> {
  const result = await db
    .updateTable("workspaces")
    .set({ deleted: 1, updated_at: toMillis(now) })
    .where("id", "=", id)
    .where("deleted", "=", 0)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

// ---- builds --------------------------------------------------------------------------------------------

export interface WorkspaceBuild {
  id: string;
  workspaceId: string;
  buildNumber: number;
  transition: Transition;
  templateVersionId: string;
  presetId: string | null;
  initiatorId: string;
  reason: BuildReasonName;
  prebuildStage: PrebuildStage;
  provisionerState: Buffer | null;
  jobId: string;
  /** What the build's plan replaced (destroy and re-create), as the provisioner reported it. */
  resourceReplacements: ResourceReplacementRecord[];
  /** When the workspace became usable with this build (agents ready; the build done for agent-less ones). */
  usableAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** One replaced resource: its address and the attribute paths whose change forced it. */
export interface ResourceReplacementRecord {
  resource: string;
  paths: string[];
}

export function buildFromRow(row: Selectable<WorkspaceBuildsTable>): WorkspaceBuild {
  return {
    id: row.id,
    workspaceId: row.workspace_id,
    buildNumber: row.build_number,
    transition: row.transition,
    templateVersionId: row.template_version_id,
    presetId: row.preset_id,
    initiatorId: row.initiator_id,
    reason: row.reason,
    prebuildStage: row.prebuild_stage,
    provisionerState: row.provisioner_state === null ? null : Buffer.from(row.provisioner_state),
    jobId: row.job_id,
    resourceReplacements: parseJsonColumn<ResourceReplacementRecord[]>(
      row.resource_replacements,
      "workspace_builds.resource_replacements",
    ),
    usableAt: toDateOrNull(row.usable_at),
    createdAt: toDate(row.created_at),
    updatedAt: toDate(row.updated_at),
  };
}

export interface NewWorkspaceBuild {
  id?: string;
  workspaceId: string;
  /** Default: the latest build's number + 1 (1 for the first). */
  buildNumber?: number;
  transition: Transition;
  templateVersionId: string;
  presetId?: string | null;
  initiatorId: string;
  reason?: BuildReasonName;
  prebuildStage?: PrebuildStage;
  /** Normally the previous build's state (carried forward; the job's result replaces it). */
  provisionerState: Uint8Array | null;
  /** The build's workspace_build job, enqueued first in the same transaction. */
  jobId: string;
  parameters?: Readonly<Record<string, string>>;
  now: Date;
}

/** Inserts a build and its parameter values (call inside the transaction that enqueued its job). */
export async function insertWorkspaceBuild(db: Executor, input: NewWorkspaceBuild): Promise<WorkspaceBuild> {
  const buildNumber =
    input.buildNumber ?? ((await getLatestBuild(db, input.workspaceId))?.buildNumber ?? 0) + 1;
  const id = input.id ?? randomUUID();
  const row = await db
    .insertInto("workspace_builds")
    .values({
      id,
      workspace_id: input.workspaceId,
      build_number: buildNumber,
      transition: input.transition,
      template_version_id: input.templateVersionId,
      preset_id: input.presetId ?? null,
      initiator_id: input.initiatorId,
      reason: input.reason ?? "initiator",
      prebuild_stage: input.prebuildStage ?? "none",
      provisioner_state: input.provisionerState === null ? null : Buffer.from(input.provisionerState),
      job_id: input.jobId,
      created_at: toMillis(input.now),
      updated_at: toMillis(input.now),
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  const parameters = Object.entries(input.parameters ?? {});
  if (parameters.length > 0) {
    await db
      .insertInto("workspace_build_parameters")
      .values(parameters.map(([name, value]) => ({ workspace_build_id: id, name, value })))
      .execute();
  }
  return buildFromRow(row);
}

export async function getBuild(db: Executor, id: string): Promise<WorkspaceBuild | undefined> {
  const row = await db.selectFrom("workspace_builds").selectAll().where("id", "=", id).executeTakeFirst();
  return row ? buildFromRow(row) : undefined;
}

export async function getBuildByJobId(db: Executor, jobId: string): Promise<WorkspaceBuild | undefined> {
  const row = await db
    .selectFrom("workspace_builds")
    .selectAll()
    .where("job_id", "=", jobId)
    .executeTakeFirst();
  return row ? buildFromRow(row) : undefined;
}

export async function getBuildByNumber(
  db: Executor,
  workspaceId: string,
  buildNumber: number,
): Promise<WorkspaceBuild | undefined> {
  const row = await db
    .selectFrom("workspace_builds")
    .selectAll()
    .where("workspace_id", "=", workspaceId)
    .where("build_number", "=", buildNumber)
    .executeTakeFirst();
  return row ? buildFromRow(row) : undefined;
}

/**
 * The newest build before `buildNumber` whose job succeeded: what runs now, as far as the server knows (a
 * failed upgrade in between changed nothing that was running).
 */
export async function getLatestSucceededBuildBefore(
  db: Executor,
  workspaceId: string,
  buildNumber: number,
): Promise<WorkspaceBuild | undefined> {
  // Build numbers start at 1: a first build (every prebuild's creation) has nothing before it to look up.
  if (buildNumber <= 1) return undefined;
  const row = await db
    .selectFrom("workspace_builds as b")
    .innerJoin("provisioner_jobs as j", "j.id", "b.job_id")
    .selectAll("b")
    .where("b.workspace_id", "=", workspaceId)
    .where("b.build_number", "<", buildNumber)
    .where(jobStatusSql("j"), "=", "succeeded")
    .orderBy("b.build_number", "desc")
    .limit(1)
    .executeTakeFirst();
  return row ? buildFromRow(row) : undefined;
}

export async function getLatestBuild(db: Executor, workspaceId: string): Promise<WorkspaceBuild | undefined> {
  const row = await db
    .selectFrom("workspace_builds")
    .selectAll()
    .where("workspace_id", "=", workspaceId)
    .orderBy("build_number", "desc")
    .limit(1)
    .executeTakeFirst();
  return row ? buildFromRow(row) : undefined;
}

/** The latest build of each given workspace, in one query. */
export async function getLatestBuilds(
  db: Executor,
  workspaceIds: readonly string[],
): Promise<Map<string, WorkspaceBuild>> {
  if (workspaceIds.length === 0) return new Map();
  const rows = await db
    .selectFrom("workspace_builds as b")
    .selectAll("b")
    .where("b.workspace_id", "in", [...workspaceIds])
    .where("b.build_number", "=", (eb) =>
      eb
        .selectFrom("workspace_builds as l")
        .select((l) => l.fn.max("l.build_number").as("n"))
        .whereRef("l.workspace_id", "=", "b.workspace_id"),
    )
    .execute();
  return new Map(rows.map((r) => [r.workspace_id, buildFromRow(r)]));
}

/** When each workspace was claimed (its first CLAIM-stage build), in one query; never-claimed ones are absent. */
export async function getClaimTimes(
  db: Executor,
  workspaceIds: readonly string[],
): Promise<Map<string, Date>> {
  if (workspaceIds.length === 0) return new Map();
  const rows = await db
    .selectFrom("workspace_builds")
    .select(["workspace_id"])
    .select((eb) => eb.fn.min("created_at").as("claimed_at"))
    .where("workspace_id", "in", [...workspaceIds])
    .where("prebuild_stage", "=", "claim")
    .groupBy("workspace_id")
    .execute();
  return new Map(rows.map((r) => [r.workspace_id, new Date(Number(r.claimed_at))]));
}

/** The workspace's latest start build whose job succeeded (prebuild stage and creation time), if any. */
export async function getLatestSuccessfulStart(
  db: Executor,
  workspaceId: string,
): Promise<{ prebuildStage: PrebuildStage; createdAt: Date } | undefined> {
  const row = await db
    .selectFrom("workspace_builds as b")
    .innerJoin("provisioner_jobs as j", "j.id", "b.job_id")
    .select(["b.prebuild_stage", "b.created_at"])
    .where("b.workspace_id", "=", workspaceId)
    .where("b.transition", "=", "start")
    .where(jobStatusSql("j"), "=", "succeeded")
    .orderBy("b.build_number", "desc")
    .limit(1)
    .executeTakeFirst();
  return row ? { prebuildStage: row.prebuild_stage, createdAt: new Date(Number(row.created_at)) } : undefined;
}

/** Newest first. */
export async function listBuilds(db: Executor, workspaceId: string): Promise<WorkspaceBuild[]> {
  const rows = await db
    .selectFrom("workspace_builds")
    .selectAll()
    .where("workspace_id", "=", workspaceId)
    .orderBy("build_number", "desc")
    .execute();
  return rows.map(buildFromRow);
}

export async function getBuildParameters(db: Executor, buildId: string): Promise<Record<string, string>> {
  const rows = await db
    .selectFrom("workspace_build_parameters")
    .select(["name", "value"])
    .where("workspace_build_id", "=", buildId)
    .orderBy("name")
    .execute();
  return Object.fromEntries(rows.map((r) => [r.name, r.value]));
}

/** Starts a pending lease: its deadline is `usableAt` + its seconds (once; a running lease is left alone). */
export async function startLeaseCountdown(db: Executor, workspaceId: string, usableAt: Date): Promise<void> {
  const row = await db
    .selectFrom("workspaces")
    .select("lease_seconds")
    .where("id", "=", workspaceId)
    .where("lease_deadline", "is", null)
    .executeTakeFirst();
  if (!row || row.lease_seconds === null) return;
  await db
    .updateTable("workspaces")
    .set({ lease_deadline: toMillis(usableAt) + row.lease_seconds * 1000 })
    .where("id", "=", workspaceId)
    .where("lease_deadline", "is", null)
    .execute();
}

/** Records, once, when the build's workspace became usable. True when this call set it. */
export async function markBuildUsable(db: Executor, buildId: string, at: Date): Promise<boolean> {
  const result = await db
    .updateTable("workspace_builds")
    .set({ usable_at: toMillis(at) })
    .where("id", "=", buildId)
    .where("usable_at", "is", null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Stores what a build's plan replaced (on completion). */
export async function setBuildResourceReplacements(
  db: Executor,
  buildId: string,
  replacements: readonly ResourceReplacementRecord[],
  now: Date,
): Promise<void> {
  await db
    .updateTable("workspace_builds")
    .set({ resource_replacements: JSON.stringify(replacements), updated_at: toMillis(now) })
    .where("id", "=", buildId)
    .execute();
}

/** Stores the state a build's job returned (on completion, or the partial state of a failure). */
export async function setBuildProvisionerState(
  db: Executor,
  buildId: string,
  state: Uint8Array | null,
  now: Date,
): Promise<void> {
  await db
    .updateTable("workspace_builds")
    .set({ provisioner_state: state === null ? null : Buffer.from(state), updated_at: toMillis(now) })
    .where("id", "=", buildId)
    .execute();
}
