// Which owner a workspace's agents run for, read from the store (the decision is rules.ts ownerOfLatestStart).

import { PREBUILDS_USERNAME } from "../prebuilds/system-user.js";
import { jobStatusSql } from "../store/job-status.js";
import type { Executor } from "../store/store.js";
import { getUserById } from "../store/users.js";
import type { Workspace } from "../store/workspaces.js";
import { ownerOfLatestStart } from "./rules.js";

/** The workspace's latest start build whose job succeeded (prebuild stage and creation time), if any. */
export async function latestSuccessfulStart(
  db: Executor,
  workspaceId: string,
): Promise<{ prebuildStage: string; createdAt: Date } | undefined> {
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

async function ownerUsername(db: Executor, workspace: Workspace): Promise<string> {
  return (await getUserById(db, workspace.ownerId))?.username ?? "";
}

/** The owner the workspace's agents run for now, and since when (the claim build's creation, if claimed). */
export async function agentOwnerOf(
  db: Executor,
  workspace: Workspace,
): Promise<{ ownerName: string; since: Date | null }> {
  const start = await latestSuccessfulStart(db, workspace.id);
  const ownerName = ownerOfLatestStart(start, {
    current: await ownerUsername(db, workspace),
    prebuilds: PREBUILDS_USERNAME,
  });
  return { ownerName, since: start?.createdAt ?? null };
}

/** The owner an agent row's own build ran for (the manifest's `ownerName`). */
export async function ownerOfBuild(
  db: Executor,
  workspace: Workspace,
  build: { prebuildStage: string },
): Promise<string> {
  return ownerOfLatestStart(build, {
    current: await ownerUsername(db, workspace),
    prebuilds: PREBUILDS_USERNAME,
  });
}
