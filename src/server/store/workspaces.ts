// Workspaces and their builds (with each build's parameter values).
// A workspace's name is unique per owner among live workspaces (`workspaces_owner_name_live_key`), so a name
// can be reused after a delete. Build numbers are unique per workspace (`workspace_builds_number_key`): two
// builds started at once on one workspace cannot both commit — the loser gets a unique violation (409).
import { randomUUID } from "node:crypto";
import type { Selectable } from "kysely";
import { jobStatusSql } from "./job-status.js";
import { toBool, toDate, toMillis } from "./rows.js";
import type { PrebuildStage, Transition, WorkspaceBuildsTable, WorkspacesTable } from "./schema.js";
import type { Executor } from "./store.js";

export interface Workspace {
  id: string;
  ownerId: string;
  templateId: string;
  name: string;
  createdAt: Date;
  updatedAt: Date;
  deleted: boolean;
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
  reason: string;
  prebuildStage: PrebuildStage;
  provisionerState: Buffer | null;
  jobId: string;
  createdAt: Date;
  updatedAt: Date;
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
  reason?: string;
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
