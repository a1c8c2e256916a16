// Named fixtures for store tests: a user, a template with an imported version, workspaces with builds.
import { randomUUID } from "node:crypto";
import { enqueueJob } from "../../../src/server/jobs/queue.js";
import { insertFile } from "../../../src/server/store/files.js";
import type { Store } from "../../../src/server/store/store.js";
import {
  insertTemplate,
  insertTemplateVersion,
  type Template,
  type TemplateVersion,
  updateTemplate,
} from "../../../src/server/store/templates.js";
import { insertUser, type User } from "../../../src/server/store/users.js";
import {
  insertWorkspace,
  insertWorkspaceBuild,
  type Workspace,
  type WorkspaceBuild,
} from "../../../src/server/store/workspaces.js";

export const T0 = new Date("2026-01-05T10:00:00.000Z");
export const at = (offsetMs: number): Date => new Date(T0.getTime() + offsetMs);

export interface World {
  store: Store;
  alice: User;
  template: Template;
  version: TemplateVersion;
  fileId: string;
}

/** Alice, and template "dev" whose version "v1" (echo) is active. */
export async function world(store: Store): Promise<World> {
  const alice = await insertUser(store.db, {
    username: "alice",
    email: "alice@example.com",
    role: "owner",
    now: T0,
  });
  const file = await insertFile(store.db, { data: Buffer.from("tar bytes"), createdBy: alice.id, now: T0 });
  const version = await store.transaction(async (tx) => {
    const versionId = randomUUID();
    const job = await enqueueJob(tx, {
      type: "template_version_import",
      input: { templateVersionId: versionId },
      provisioner: "echo",
      fileId: file.id,
      initiatorId: alice.id,
      now: T0,
    });
    return insertTemplateVersion(tx, {
      id: versionId,
      templateId: null,
      name: "v1",
      fileId: file.id,
      provisioner: "echo",
      jobId: job.id,
      createdBy: alice.id,
      now: T0,
    });
  });
  const template = await insertTemplate(store.db, {
    name: "dev",
    activeVersionId: version.id,
    createdBy: alice.id,
    now: T0,
  });
  await store.db
    .updateTable("template_versions")
    .set({ template_id: template.id })
    .where("id", "=", version.id)
    .execute();
  return {
    store,
    alice,
    template: (await updateTemplate(store.db, template.id, { now: T0 }))!,
    version,
    fileId: file.id,
  };
}

/** A workspace of `ownerId` with one build (its job enqueued in the same transaction). */
export async function workspaceWithBuild(
  w: World,
  options: { ownerId?: string; name?: string; state?: Buffer | null; now?: Date } = {},
): Promise<{ workspace: Workspace; build: WorkspaceBuild }> {
  const now = options.now ?? T0;
  return w.store.transaction(async (tx) => {
    const workspace = await insertWorkspace(tx, {
      ownerId: options.ownerId ?? w.alice.id,
      templateId: w.template.id,
      name: options.name ?? "ws",
      now,
    });
    const build = await addBuild(tx, w, workspace.id, { state: options.state ?? null, now });
    return { workspace, build };
  });
}

export async function addBuild(
  db: Store["db"],
  w: World,
  workspaceId: string,
  options: {
    transition?: "start" | "stop" | "delete";
    state?: Buffer | null;
    now?: Date;
    parameters?: Record<string, string>;
    buildNumber?: number;
  } = {},
): Promise<WorkspaceBuild> {
  const now = options.now ?? T0;
  const buildId = randomUUID();
  const job = await enqueueJob(db, {
    type: "workspace_build",
    input: { workspaceBuildId: buildId },
    provisioner: "echo",
    fileId: w.fileId,
    initiatorId: w.alice.id,
    now,
  });
  return insertWorkspaceBuild(db, {
    id: buildId,
    workspaceId,
    buildNumber: options.buildNumber,
    transition: options.transition ?? "start",
    templateVersionId: w.version.id,
    initiatorId: w.alice.id,
    provisionerState: options.state ?? null,
    jobId: job.id,
    parameters: options.parameters,
    now,
  });
}
