// Which owner a workspace's agents run for, read from the store (the decision is rules.ts ownerOfLatestStart).
import { PREBUILDS_USERNAME } from "../prebuilds/system-user.js";
import type { Executor } from "../store/store.js";
import { getUserById } from "../store/users.js";
import { getLatestSuccessfulStart, type Workspace } from "../store/workspaces.js";
import { ownerOfLatestStart } from "./rules.js";

async function ownerUsername(db: Executor, workspace: Workspace): Promise<string> {
  return (await getUserById(db, workspace.ownerId))?.username ?? "";
}

/** The owner the workspace's agents run for now, and since when (the claim build's creation, if claimed). */
export async function agentOwnerOf(
  db: Executor,
  workspace: Workspace,
): Promise<{ ownerName: string; since: Date | null }> {
  const start = await getLatestSuccessfulStart(db, workspace.id);
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
