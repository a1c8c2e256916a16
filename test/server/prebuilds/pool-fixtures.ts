// Named database fixtures for the snapshot, claim, reconciler and metrics tests: templates, versions, presets
// and prebuild workspaces in a chosen state, written with the store's own query functions (plus direct job
// column updates to put a job in a given status, which the job queue would reach through a daemon).
import { randomUUID } from "node:crypto";
import type { Insertable } from "kysely";
import { enqueueJob } from "../../../src/server/jobs/queue.js";
import { PREBUILDS_USER_ID } from "../../../src/server/prebuilds/system-user.js";
import { insertFile } from "../../../src/server/store/files.js";
import { insertPresets, type NewPreset } from "../../../src/server/store/presets.js";
import type {
  AgentLifecycleState,
  Transition,
  WorkspaceAgentsTable,
  WorkspaceResourcesTable,
} from "../../../src/server/store/schema.js";
import type { Executor, Store } from "../../../src/server/store/store.js";
import {
  insertTemplate,
  insertTemplateVersion,
  updateTemplate,
} from "../../../src/server/store/templates.js";
import { insertUser } from "../../../src/server/store/users.js";
import { insertWorkspace, insertWorkspaceBuild } from "../../../src/server/store/workspaces.js";

export const T0 = new Date("2026-01-05T10:00:00.000Z");
export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const at = (offsetMs: number): Date => new Date(T0.getTime() + offsetMs);

export type JobOutcome = "pending" | "running" | "succeeded" | "failed" | "canceled" | "canceling";

export interface BuildSpec {
  transition?: Transition;
  outcome?: JobOutcome;
  /** When the build and its job were created (default: the workspace's createdAt). */
  at?: Date;
  /** When its job ended (default: `at` + 1 minute). */
  endedAt?: Date;
  /** Agent lifecycle states of this build's resources (default: none). */
  agents?: AgentLifecycleState[];
  /** The build's preset (default: the workspace's preset for start builds, none otherwise). */
  presetId?: string | null;
  stage?: "none" | "create" | "claim";
  versionId?: string;
}

export interface PrebuildSpec extends BuildSpec {
  createdAt?: Date;
  /** Default: the prebuilds user. */
  ownerId?: string;
  name?: string;
}

export interface TemplateFixture {
  templateId: string;
  versionId: string;
  name: string;
}

export class PoolFixture {
  private constructor(
    readonly store: Store,
    readonly userId: string,
    readonly fileId: string,
  ) {}

  static async create(store: Store): Promise<PoolFixture> {
    const user = await insertUser(store.db, { username: "alice", role: "owner", now: T0 });
    const file = await insertFile(store.db, { data: Buffer.from("archive"), createdBy: user.id, now: T0 });
    return new PoolFixture(store, user.id, file.id);
  }

  get db(): Executor {
    return this.store.db;
  }

  async user(username: string): Promise<string> {
    return (await insertUser(this.db, { username, role: "member", now: T0 })).id;
  }

  /** A template with one version (its import succeeded) that is the active version. */
  async template(name: string): Promise<TemplateFixture> {
    const template = await insertTemplate(this.db, { name, createdBy: this.userId, now: T0 });
    const versionId = await this.version(template.id, { activate: true });
    return { templateId: template.id, versionId, name };
  }

  /** A further version of the template; `activate` makes it the active one. */
  async version(templateId: string, options: { activate?: boolean } = {}): Promise<string> {
    const job = await enqueueJob(this.db, {
      type: "template_version_import",
      input: { templateVersionId: "v" },
      provisioner: "echo",
      fileId: this.fileId,
      initiatorId: this.userId,
      now: T0,
    });
    const version = await insertTemplateVersion(this.db, {
      templateId,
      name: `v-${randomUUID().slice(0, 8)}`,
      fileId: this.fileId,
      provisioner: "echo",
      jobId: job.id,
      createdBy: this.userId,
      now: T0,
    });
    await this.setJob(job.id, "succeeded", T0, T0);
    if (options.activate) await this.activate(templateId, version.id);
    return version.id;
  }

  async activate(templateId: string, versionId: string): Promise<void> {
    await updateTemplate(this.db, templateId, { activeVersionId: versionId, now: T0 });
  }

  async preset(versionId: string, preset: Partial<NewPreset> & { name: string }): Promise<string> {
    // insertPresets returns all of the version's presets.
    const created = (await insertPresets(this.db, versionId, [{ desiredInstances: 1, ...preset }], T0)).find(
      (p) => p.name === preset.name,
    );
    if (!created) throw new Error("fixture: preset not created");
    return created.id;
  }

  /** A prebuild workspace of the preset whose first build is a creation build in the given state. */
  async prebuild(presetId: string, spec: PrebuildSpec = {}): Promise<string> {
    const preset = await this.db
      .selectFrom("presets")
      .innerJoin("template_versions", "template_versions.id", "presets.template_version_id")
      .select(["template_versions.template_id", "template_versions.id as version_id"])
      .where("presets.id", "=", presetId)
      .executeTakeFirstOrThrow();
    const createdAt = spec.createdAt ?? T0;
    const workspace = await insertWorkspace(this.db, {
      ownerId: spec.ownerId ?? PREBUILDS_USER_ID,
      templateId: preset.template_id as string,
      name: spec.name ?? `prebuild-${randomUUID().slice(0, 12)}`,
      now: createdAt,
    });
    await this.build(workspace.id, {
      transition: "start",
      presetId,
      stage: "create",
      versionId: preset.version_id,
      at: createdAt,
      ...spec,
    });
    return workspace.id;
  }

  /** Appends a build (default: a successful start) to a workspace. */
  async build(workspaceId: string, spec: BuildSpec = {}): Promise<string> {
    const at = spec.at ?? T0;
    const versionId = spec.versionId ?? (await this.latestBuild(workspaceId)).template_version_id;
    const job = await enqueueJob(this.db, {
      type: "workspace_build",
      input: { workspaceBuildId: "b" },
      provisioner: "echo",
      fileId: this.fileId,
      initiatorId: PREBUILDS_USER_ID,
      now: at,
    });
    const build = await insertWorkspaceBuild(this.db, {
      workspaceId,
      transition: spec.transition ?? "start",
      templateVersionId: versionId,
      presetId: spec.presetId ?? null,
      initiatorId: PREBUILDS_USER_ID,
      prebuildStage: spec.stage ?? "none",
      provisionerState: null,
      jobId: job.id,
      now: at,
    });
    await this.setJob(
      job.id,
      spec.outcome ?? "succeeded",
      at,
      spec.endedAt ?? new Date(at.getTime() + MINUTE),
    );
    for (const [i, state] of (spec.agents ?? []).entries()) await this.agent(job.id, `agent${i}`, state, at);
    return build.id;
  }

  /** The workspace's latest build's job and version. */
  async latestBuild(workspaceId: string): Promise<{ job_id: string; template_version_id: string }> {
    return this.db
      .selectFrom("workspace_builds")
      .select(["job_id", "template_version_id"])
      .where("workspace_id", "=", workspaceId)
      .orderBy("build_number", "desc")
      .executeTakeFirstOrThrow();
  }

  async agent(jobId: string, name: string, state: AgentLifecycleState, at: Date): Promise<void> {
    const resource = resourceRow(jobId, name, at.getTime());
    await this.db.insertInto("workspace_resources").values(resource).execute();
    await this.db
      .insertInto("workspace_agents")
      .values(agentRow(resource.id, name, state, at.getTime()))
      .execute();
  }

  /** Puts a job in `outcome` by setting its columns (what the queue would do through a daemon). */
  async setJob(jobId: string, outcome: JobOutcome, startedAt: Date, endedAt: Date): Promise<void> {
    const s = startedAt.getTime();
    const e = endedAt.getTime();
    const columns = {
      pending: { started_at: null, completed_at: null, canceled_at: null, error: null, worker_id: null },
      running: { started_at: s, completed_at: null, canceled_at: null, error: null, worker_id: "daemon" },
      canceling: { started_at: s, completed_at: null, canceled_at: e, error: null, worker_id: "daemon" },
      succeeded: { started_at: s, completed_at: e, canceled_at: null, error: null, worker_id: "daemon" },
      failed: { started_at: s, completed_at: e, canceled_at: null, error: "boom", worker_id: "daemon" },
      canceled: { started_at: null, completed_at: e, canceled_at: e, error: null, worker_id: null },
    }[outcome];
    await this.db.updateTable("provisioner_jobs").set(columns).where("id", "=", jobId).execute();
  }

  async ownerOf(workspaceId: string): Promise<string> {
    const row = await this.db
      .selectFrom("workspaces")
      .select("owner_id")
      .where("id", "=", workspaceId)
      .executeTakeFirstOrThrow();
    return row.owner_id;
  }
}

/** A workspace_resources row of a build job (also used by bench/prebuild-fixtures.ts). */
export function resourceRow(jobId: string, name: string, atMs: number): Insertable<WorkspaceResourcesTable> {
  return {
    id: randomUUID(),
    job_id: jobId,
    transition: "start",
    type: "echo_instance",
    name,
    hide: 0,
    icon: "",
    instance_type: "",
    daily_cost: 0,
    module_path: "",
    metadata: "[]",
    created_at: atMs,
  };
}

/** A workspace_agents row with a fresh token in the given lifecycle state. */
export function agentRow(
  resourceId: string,
  name: string,
  state: AgentLifecycleState,
  atMs: number,
): Insertable<WorkspaceAgentsTable> {
  const token = randomUUID();
  return {
    id: randomUUID(),
    resource_id: resourceId,
    name,
    auth_token: token,
    auth_token_hash: Buffer.from(token),
    architecture: "amd64",
    operating_system: "linux",
    directory: "",
    env: "{}",
    connection_timeout_seconds: 120,
    troubleshooting_url: "",
    motd_file: "",
    display_apps: "null",
    api_key_scope: "all",
    display_order: 0,
    lifecycle_state: state,
    first_connected_at: null,
    last_connected_at: null,
    ready_at: null,
    created_at: atMs,
    updated_at: atMs,
  };
}
