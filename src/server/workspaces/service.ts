// Workspace lifecycle: create (claiming a prebuild when one is ready), start/stop/delete builds, who may see a
// workspace or its jobs, and the prebuild executor the reconciler drives. Every change that spans rows
// (workspace + build + job) is one transaction; daemons are told about new jobs only after it commits.
// Failures are DomainErrors (../domain-errors.ts); the API and the dashboard choose the status codes.
import { randomBytes } from "node:crypto";
import { type BuildReasonName, workspaceNamePattern } from "../../contract/workspaces.js";
import type { DeleteReason } from "../../planning/plan.js";
import { audit, target } from "../audit.js";
import type { ServerContext } from "../context.js";
import { conflict, DomainError, forbidden, invalid, notFound } from "../domain-errors.js";
import {
  cancelIfPending,
  cancelJob,
  enqueueJob,
  JobStateError,
  notifyJobPosted,
  publishEndOfLogs,
} from "../jobs/queue.js";
import { buildJobTags, InvalidTagsError, type Tags, validateTags } from "../jobs/tags.js";
import { claimPrebuild, lockUnclaimedPrebuild } from "../prebuilds/claim.js";
import { selectPendingPrebuildJobs } from "../prebuilds/queries.js";
import type { PrebuildExecutor } from "../prebuilds/reconciler.js";
import { startRehearsal } from "../prebuilds/rehearsal.js";
import { PREBUILDS_USER_ID } from "../prebuilds/system-user.js";
import { isActiveVersion } from "../store/active-version.js";
import { isUniqueViolation } from "../store/errors.js";
import { getJob, type ProvisionerJob } from "../store/jobs.js";
import { getPreset, getPresetByName, listPresets, type Preset } from "../store/presets.js";
import type { Transition } from "../store/schema.js";
import type { Executor } from "../store/store.js";
import {
  getTemplateById,
  getTemplateByName,
  getTemplateVersion,
  getTemplateVersionWorkspaceTags,
  listTemplateVersionParameters,
  listTemplateVersionVariables,
  type Template,
  type TemplateParameter,
  type TemplateVersion,
} from "../store/templates.js";
import { getUserById, getUsernames, type User } from "../store/users.js";
import {
  getBuildByJobId,
  getBuildParameters,
  getCreateKey,
  getLatestBuild,
  getWorkspace,
  getWorkspaceForUpdate,
  insertCreateKey,
  insertWorkspace,
  insertWorkspaceBuild,
  listBuilds,
  setWorkspaceLease,
  softDeleteWorkspace,
  type Workspace,
  type WorkspaceBuild,
} from "../store/workspaces.js";
import { parameterDefinition } from "../templates/parameter-definitions.js";
import { notifyWorkspace } from "./build-results.js";
import { extendedLease, type LeaseRequest, leaseForCreate } from "./leases.js";
import { ParameterValidationError, type ResolveInput, resolveParameterValues } from "./parameters.js";
import { matchingPresets } from "./preset-match.js";
import { evaluateWorkspaceTags, WorkspaceTagError } from "./workspace-tags.js";

/** The contract's workspace name rule (letters, digits and inner hyphens, at most 32 characters). */
const WORKSPACE_NAME = new RegExp(workspaceNamePattern);

export interface CreateWorkspaceRequest {
  name: string;
  template: string;
  preset?: string | null;
  parameters?: Record<string, string>;
  /**
   * Build this version (of the same template, successfully imported) instead of the active one. A prebuild is
   * only ever claimed on the active version.
   */
  templateVersionId?: string;
  /** A lifetime counted from usable; default the template's default lease. */
  lease?: LeaseRequest;
  /**
   * The client's `Idempotency-Key`: a create retried with the same key (by the same owner) returns the workspace
   * the first one made — never a second workspace, never a second claim.
   */
  idempotencyKey?: string;
}

export interface CreatedWorkspace {
  workspace: Workspace;
  build: WorkspaceBuild;
  job: ProvisionerJob;
  /** True when an eligible prebuild was handed over instead of building from scratch. */
  claimedPrebuild: boolean;
  presetId: string | null;
  /** True when this answers a retry of an earlier create with the same idempotency key. */
  replayed?: boolean;
}

/** The build's parameter values by name; throws ParameterValidationError for a value that does not fit. */
function resolveValues(
  parameters: TemplateParameter[],
  input: Omit<ResolveInput, "parameters">,
): Record<string, string> {
  const values = resolveParameterValues({ parameters: parameters.map(parameterDefinition), ...input });
  return Object.fromEntries(values.map((v) => [v.name, v.value]));
}

/** resolveValues for a user's request: a misfit is the caller's invalid input, naming the parameter. */
function resolveOrThrow(parameters: TemplateParameter[], input: Omit<ResolveInput, "parameters">) {
  try {
    return resolveValues(parameters, input);
  } catch (err) {
    if (err instanceof ParameterValidationError) throw invalid(err.message, { field: err.parameter });
    throw err;
  }
}

/** The template's active version, or an `invalid` error saying why a workspace cannot be built from it. */
async function activeVersionOf(db: Executor, template: Template): Promise<TemplateVersion> {
  if (template.deprecated) {
    throw invalid(`template "${template.name}" is deprecated: ${template.deprecated}`, {
      field: "template",
    });
  }
  const version = template.activeVersionId
    ? await getTemplateVersion(db, template.activeVersionId)
    : undefined;
  if (!version) {
    throw invalid(
      `template "${template.name}" has no active version yet (its first import has not succeeded)`,
      {
        field: "template",
      },
    );
  }
  return version;
}

async function enqueueBuild(
  tx: Executor,
  ctx: ServerContext,
  input: {
    workspace: Workspace;
    version: TemplateVersion;
    transition: Transition;
    initiatorId: string;
    presetId: string | null;
    /** Only `claim` is given explicitly; otherwise the workspace's owner decides (see below). */
    claim?: boolean;
    reason?: BuildReasonName;
    parameters: Record<string, string>;
    state: Uint8Array | null;
  },
): Promise<{ build: WorkspaceBuild; job: ProvisionerJob }> {
  const now = ctx.clock.now();
  // Every build of an unclaimed prebuild — its creation, and any stop or delete later — is a prebuild build
  // (stage CREATE), as in Coder: templates see `is_prebuild` at destroy too. The claim is stage CLAIM.
  const stage = input.claim ? "claim" : input.workspace.ownerId === PREBUILDS_USER_ID ? "create" : "none";
  const buildId = crypto.randomUUID();
  const job = await enqueueJob(tx, {
    type: "workspace_build",
    input: { workspaceBuildId: buildId },
    provisioner: input.version.provisioner,
    fileId: input.version.fileId,
    tags: await jobTagsOf(tx, input, stage === "create"),
    initiatorId: input.initiatorId,
    now,
  });
  const build = await insertWorkspaceBuild(tx, {
    id: buildId,
    workspaceId: input.workspace.id,
    transition: input.transition,
    templateVersionId: input.version.id,
    presetId: input.presetId,
    initiatorId: input.initiatorId,
    reason: input.reason ?? "initiator",
    prebuildStage: stage,
    provisionerState: input.state,
    jobId: job.id,
    parameters: input.parameters,
    now,
  });
  return { build, job };
}

/**
 * The build job's tags (jobs/tags.ts buildJobTags): the version's tags, from its import job, for the owner,
 * with the template's workspace tags evaluated for this build. A tag that cannot be evaluated refuses the
 * build as invalid input (Coder answers 400 too).
 */
async function jobTagsOf(
  tx: Executor,
  input: {
    workspace: Workspace;
    version: TemplateVersion;
    transition: Transition;
    parameters: Record<string, string>;
  },
  isPrebuild: boolean,
): Promise<Tags> {
  const [importJob, expressions, variables, owner] = await Promise.all([
    getJob(tx, input.version.jobId),
    getTemplateVersionWorkspaceTags(tx, input.version.id),
    listTemplateVersionVariables(tx, input.version.id),
    getUserById(tx, input.workspace.ownerId),
  ]);
  try {
    const workspaceTags = evaluateWorkspaceTags(expressions, {
      variables: Object.fromEntries(variables.map((v) => [v.name, v.value])),
      parameters: input.parameters,
      owner: {
        id: input.workspace.ownerId,
        name: owner?.username ?? "",
        email: owner?.email ?? "",
        fullName: owner?.name ?? "",
        loginType: owner?.loginType ?? "",
      },
      workspace: {
        id: input.workspace.id,
        name: input.workspace.name,
        transition: input.transition,
        isPrebuild,
      },
    });
    return buildJobTags(importJob?.tags ?? {}, input.workspace.ownerId, validateTags(workspaceTags));
  } catch (err) {
    if (err instanceof WorkspaceTagError || err instanceof InvalidTagsError) {
      throw invalid(err.message, { field: "workspaceTags" });
    }
    throw err;
  }
}

export async function createWorkspace(
  ctx: ServerContext,
  owner: User,
  request: CreateWorkspaceRequest,
): Promise<CreatedWorkspace> {
  const { store } = ctx;
  if (request.idempotencyKey !== undefined) {
    const earlier = await replayCreate(ctx, owner, request.idempotencyKey);
    if (earlier) return earlier;
  }
  if (!WORKSPACE_NAME.test(request.name)) {
    throw invalid(
      `invalid workspace name "${request.name}": use letters, digits and hyphens (not at either end), at most 32 characters`,
      { field: "name" },
    );
  }
  const template = await getTemplateByName(store.db, request.template);
  if (!template) throw notFound(`template "${request.template}"`);
  const lease = leaseForCreate(template, request.lease);
  const active = await activeVersionOf(store.db, template);
  const chosen = request.templateVersionId
    ? await getTemplateVersion(store.db, request.templateVersionId)
    : undefined;
  if (chosen && chosen.templateId !== template.id) {
    throw invalid(`version ${chosen.name} is not a version of "${template.name}"`, {
      field: "templateVersion",
    });
  }
  const version = chosen ?? active;
  const parameters = await listTemplateVersionParameters(store.db, version.id);
  const provided = request.parameters ?? {};
  // Candidate presets, most preferred first: the one asked for, or those the request's values amount to.
  let candidates: Preset[];
  if (request.preset) {
    const named = await getPresetByName(store.db, version.id, request.preset);
    if (!named) {
      throw new DomainError(
        "not_found",
        `preset "${request.preset}" not found in the active version of "${template.name}"`,
        { field: "preset" },
      );
    }
    candidates = [named];
  } else {
    const requestValues = resolveOrThrow(parameters, { provided });
    const presets = await listPresets(store.db, { versionIds: [version.id] });
    candidates = matchingPresets(parameters.map(parameterDefinition), requestValues, presets);
  }
  const preset = candidates[0];
  // A contradiction between --preset and a parameter is a 400 naming the parameter (the resolver's rule).
  const values = resolveOrThrow(parameters, { provided, preset: preset?.parameters ?? {} });
  // Prebuilds are only claimed on the active version, from presets that keep a pool.
  const pools = version.id === active.id ? candidates.filter((p) => p.desiredInstances !== null) : [];

  let result: CreatedWorkspace;
  try {
    result = await store.transaction(async (tx) => {
      const now = ctx.clock.now();
      if (pools.length > 0) {
        const claimed = await claimPrebuild(tx, store.dialect, {
          presetIds: pools.map((p) => p.id),
          newOwnerId: owner.id,
          newName: request.name,
          now,
          // Surge rollout: an older version's prebuild only for a request the old preset serves as is.
          allowOutdated: onlyPresetValues(request.parameters, preset?.parameters ?? {}),
          lease,
        });
        if (claimed) {
          const workspace = claimed.workspace;
          const previous = await getLatestBuild(tx, claimed.workspaceId);
          if (!previous) throw new Error(`claimed prebuild ${claimed.workspaceId} has no build`);
          await rememberKey(tx, owner, request, workspace.id, now);
          // An outdated prebuild's CLAIM build stays on its own version, preset and parameter values.
          const outdated = claimed.outdated;
          const claimVersion = outdated ? await getTemplateVersion(tx, outdated.templateVersionId) : version;
          if (!claimVersion)
            throw new Error(`version ${outdated?.templateVersionId} of a claimed prebuild vanished`);
          const { build, job } = await enqueueBuild(tx, ctx, {
            workspace,
            version: claimVersion,
            transition: "start",
            initiatorId: owner.id,
            presetId: outdated?.presetId ?? claimed.presetId,
            claim: true,
            reason: "claim",
            parameters: outdated ? await getBuildParameters(tx, previous.id) : values,
            state: previous.provisionerState,
          });
          return { workspace, build, job, claimedPrebuild: true, presetId: claimed.presetId };
        }
      }
      const inserted = await insertWorkspace(tx, {
        ownerId: owner.id,
        templateId: template.id,
        name: request.name,
        now,
      });
      const workspace = lease ? { ...inserted, lease: { ...lease, deadline: null } } : inserted;
      if (workspace.lease) await setWorkspaceLease(tx, workspace.id, workspace.lease);
      await rememberKey(tx, owner, request, workspace.id, now);
      const { build, job } = await enqueueBuild(tx, ctx, {
        workspace,
        version,
        transition: "start",
        initiatorId: owner.id,
        presetId: preset?.id ?? null,
        parameters: values,
        state: null,
      });
      return { workspace, build, job, claimedPrebuild: false, presetId: preset?.id ?? null };
    });
  } catch (err) {
    // A concurrent retry with the same key committed first: answer with what it made (everything this attempt
    // did, a claim included, rolled back). It may collide on the key or, earlier in the transaction, on the
    // workspace's name; either way, what the key names is the answer.
    if (isUniqueViolation(err) && request.idempotencyKey !== undefined) {
      const earlier = await replayCreate(ctx, owner, request.idempotencyKey);
      if (earlier) return earlier;
    }
    if (isUniqueViolation(err)) {
      throw conflict(`you already have a workspace named "${request.name}"`, { field: "name" });
    }
    throw err;
  }
  await notifyJobPosted(store, result.job);
  await notifyWorkspace(ctx, result.workspace.id);
  if (result.claimedPrebuild) ctx.events.reconcileSoon("claim");
  // Claims and misses at info: how often a create found a warm prebuild is what an operator sizes pools by.
  if (pools.length > 0) {
    const fields = {
      workspaceId: result.workspace.id,
      workspace: result.workspace.name,
      owner: owner.username,
      template: template.name,
      preset: pools.find((p) => p.id === result.presetId)?.name ?? preset?.name ?? null,
    };
    if (result.claimedPrebuild) ctx.logger.info({ ...fields, jobId: result.job.id }, "prebuild claimed");
    else ctx.logger.info(fields, "prebuild claim missed: no ready prebuild, building from scratch");
  }
  return result;
}

async function rememberKey(
  tx: Executor,
  owner: User,
  request: CreateWorkspaceRequest,
  workspaceId: string,
  now: Date,
): Promise<void> {
  if (request.idempotencyKey === undefined) return;
  await insertCreateKey(tx, { ownerId: owner.id, key: request.idempotencyKey, workspaceId, now });
}

/** What an earlier create with this key made, as that create answered (its first build). */
async function replayCreate(
  ctx: ServerContext,
  owner: User,
  key: string,
): Promise<CreatedWorkspace | undefined> {
  const db = ctx.store.db;
  const workspaceId = await getCreateKey(db, owner.id, key);
  const workspace = workspaceId ? await getWorkspace(db, workspaceId) : undefined;
  if (!workspace) return undefined;
  const builds = await listBuilds(db, workspace.id);
  // The create's build: the claim build of a claimed prebuild, else build 1.
  const build = builds.find((b) => b.prebuildStage === "claim") ?? builds.find((b) => b.buildNumber === 1);
  const job = build ? await getJob(db, build.jobId) : undefined;
  if (!build || !job) return undefined;
  return {
    workspace,
    build,
    job,
    claimedPrebuild: build.prebuildStage === "claim",
    presetId: build.presetId,
    replayed: true,
  };
}

/**
 * `prewarm extend`: more time for the workspace's lease, capped at the template's maximum from now. A
 * workspace without a lease is a conflict (there is nothing to extend).
 */
export async function extendLease(
  ctx: ServerContext,
  user: User,
  workspaceId: string,
  seconds: number,
): Promise<Workspace> {
  const { store } = ctx;
  const workspace = await workspaceForUser(store.db, user, workspaceId);
  if (!workspace.lease) throw conflict(`workspace "${workspace.name}" has no lease to extend`);
  const template = await getTemplateById(store.db, workspace.templateId);
  const next = extendedLease(workspace.lease, seconds, ctx.clock.now(), template?.maxLeaseSeconds ?? null);
  await setWorkspaceLease(store.db, workspace.id, next);
  await notifyWorkspace(ctx, workspace.id);
  return (await getWorkspace(store.db, workspace.id)) ?? workspace;
}

/**
 * The lease sweep's act on one workspace whose deadline passed: a stop or delete build (reason
 * `lease_expired`, initiated by the owner's lease) and the lease cleared, in one transaction so it happens once.
 * A workspace whose latest build is still running is left for the next sweep. True when a build was enqueued.
 */
export async function expireLease(ctx: ServerContext, workspaceId: string): Promise<boolean> {
  const { store } = ctx;
  const job = await store.transaction(async (tx) => {
    const now = ctx.clock.now();
    const workspace = await getWorkspaceForUpdate(tx, store.dialect, workspaceId);
    const lease = workspace?.lease;
    if (!workspace || workspace.deleted || !lease?.deadline || lease.deadline > now) return null;
    const latest = await getLatestBuild(tx, workspace.id);
    const latestJob = latest ? await getJob(tx, latest.jobId) : undefined;
    if (!latest || !latestJob || latestJob.completedAt === null) return null;
    const version = await getTemplateVersion(tx, latest.templateVersionId);
    if (!version) return null;
    await setWorkspaceLease(tx, workspace.id, null);
    if (lease.onExpiry === "stop" && latest.transition !== "start") return null; // nothing left running
    return (
      await enqueueBuild(tx, ctx, {
        workspace,
        version,
        transition: lease.onExpiry,
        initiatorId: workspace.ownerId,
        presetId: latest.presetId,
        reason: "lease_expired",
        parameters: await getBuildParameters(tx, latest.id),
        state: latest.provisionerState,
      })
    ).job;
  });
  if (!job) return false;
  await notifyJobPosted(store, job);
  await notifyWorkspace(ctx, workspaceId);
  return true;
}

/** Whether a request sets no parameter beyond the preset's own values (an outdated prebuild serves it as is). */
function onlyPresetValues(
  requested: Readonly<Record<string, string>> | undefined,
  presetValues: Readonly<Record<string, string>>,
): boolean {
  return Object.entries(requested ?? {}).every(([name, value]) => presetValues[name] === value);
}

/** Owners may act on any workspace; members only on their own (others' are reported as not found). */
export async function workspaceForUser(db: Executor, user: User, workspaceId: string): Promise<Workspace> {
  const workspace = await getWorkspace(db, workspaceId);
  if (!workspace || workspace.deleted) throw notFound(`workspace ${workspaceId}`);
  if (user.role !== "owner" && workspace.ownerId !== user.id) throw notFound(`workspace ${workspaceId}`);
  return workspace;
}

/**
 * The job if `user` may see it: a template import's job is visible to every user (templates are), a workspace
 * build's job to owners and the workspace's owner; another user's build job is "not found", like its workspace.
 */
export async function jobForUser(db: Executor, user: User, jobId: string): Promise<ProvisionerJob> {
  const job = await getJob(db, jobId);
  if (!job) throw notFound(`job ${jobId}`);
  if (job.type === "claim_rehearsal" && user.role !== "owner") throw notFound(`job ${jobId}`);
  if (job.type === "workspace_build" && user.role !== "owner") {
    const build = await getBuildByJobId(db, job.id);
    const workspace = build ? await getWorkspace(db, build.workspaceId) : undefined;
    if (workspace?.ownerId !== user.id) throw notFound(`job ${jobId}`);
  }
  return job;
}

/**
 * Cancels a job `user` may see (jobForUser): a pending job ends at once, a running one is asked to stop.
 * Template imports are the owners' to cancel; a job that already ended is a conflict. The API's
 * POST /jobs/{id}/cancel and the dashboard's Cancel button both come here.
 */
export async function cancelJobFor(ctx: ServerContext, user: User, jobId: string): Promise<ProvisionerJob> {
  const db = ctx.store.db;
  const job = await jobForUser(db, user, jobId);
  if (job.type === "template_version_import" && user.role !== "owner") {
    throw forbidden("only owners may cancel a template import");
  }
  try {
    return (await cancelJob(ctx.store, job.id, ctx.clock.now())).job;
  } catch (err) {
    if (err instanceof JobStateError && err.kind === "completed") {
      const now = await getJob(db, job.id);
      throw conflict(`job ${job.id} has already ended (${now?.status ?? job.status})`);
    }
    if (err instanceof JobStateError && err.kind === "not_found") throw notFound(`job ${job.id}`);
    throw err;
  }
}

/**
 * Starts a start, stop or delete build on the latest build's version, carrying its state and parameters.
 * `present` builds the caller's answer inside the same transaction: a read after the commit could fail while
 * the build stands (the database going away), turning a done delete into a 503 whose retry then finds the
 * workspace gone.
 */
export async function startBuild<V = undefined>(
  ctx: ServerContext,
  user: User,
  workspaceId: string,
  transition: Transition,
  parameters: Record<string, string> = {},
  options: {
    /** Build this version (of the workspace's template) instead of the latest build's. */
    templateVersionId?: string;
    /** The caller's client address, for the audit log. */
    address?: string;
    present?: (tx: Executor, build: WorkspaceBuild) => Promise<V>;
  } = {},
): Promise<{ build: WorkspaceBuild; job: ProvisionerJob; view: V | undefined }> {
  const { store } = ctx;
  const workspace = await workspaceForUser(store.db, user, workspaceId);
  if (workspace.ownerId === PREBUILDS_USER_ID && user.role !== "owner") throw forbidden();
  // Deleting someone else's workspace is audited (an owner's delete of a member's workspace or of a prebuild);
  // deleting one's own is everyday work, not recorded.
  const deletesOthers = transition === "delete" && workspace.ownerId !== user.id;
  let result: { build: WorkspaceBuild; job: ProvisionerJob; view: V | undefined };
  try {
    result = await store.transaction(async (tx) => {
      const latest = await getLatestBuild(tx, workspace.id);
      if (!latest) throw conflict(`workspace "${workspace.name}" has no builds`);
      const latestJob = await getJob(tx, latest.jobId);
      if (latestJob && latestJob.completedAt === null) {
        throw conflict(
          `workspace "${workspace.name}" has a build in progress (#${latest.buildNumber}); wait or cancel it`,
        );
      }
      const versionId = options.templateVersionId ?? latest.templateVersionId;
      const version = await getTemplateVersion(tx, versionId);
      if (!version) throw notFound(`template version ${versionId}`);
      if (version.templateId !== workspace.templateId) {
        throw invalid(`version ${version.name} is not a version of this workspace's template`, {
          field: "templateVersion",
        });
      }
      const definitions = await listTemplateVersionParameters(tx, version.id);
      const previous = await getBuildParameters(tx, latest.id);
      const values =
        transition === "start" ? resolveOrThrow(definitions, { provided: parameters, previous }) : previous;
      const enqueued = await enqueueBuild(tx, ctx, {
        workspace,
        version,
        transition,
        initiatorId: user.id,
        presetId: latest.presetId,
        parameters: values,
        state: latest.provisionerState,
      });
      if (deletesOthers) {
        const owner =
          (await getUsernames(tx, [workspace.ownerId])).get(workspace.ownerId) ?? workspace.ownerId;
        await audit(tx, ctx.clock.now(), {
          actor: { id: user.id, username: user.username, address: options.address },
          action: "workspace.delete",
          target: target.workspace(owner, workspace.name),
        });
      }
      return { ...enqueued, view: await options.present?.(tx, enqueued.build) };
    });
  } catch (err) {
    if (isUniqueViolation(err))
      throw conflict(`another build of workspace "${workspace.name}" started at the same time`);
    throw err;
  }
  await notifyJobPosted(store, result.job);
  await notifyWorkspace(ctx, workspace.id);
  return result;
}

/** The reconciler's hands: create and delete prebuilds, cancel outdated pending ones. */
export function createPrebuildExecutor(ctx: ServerContext): PrebuildExecutor {
  const { store } = ctx;
  return {
    async createPrebuilds(presetId: string, count: number): Promise<{ created: number; invalid?: string }> {
      const preset = await getPreset(store.db, presetId);
      if (!preset) return { created: 0 };
      const version = await getTemplateVersion(store.db, preset.templateVersionId);
      const template = version?.templateId ? await getTemplateById(store.db, version.templateId) : undefined;
      if (!version || !template || !isActiveVersion(template, version.id)) return { created: 0 };
      const definitions = await listTemplateVersionParameters(store.db, version.id);
      let values: Record<string, string>;
      try {
        values = resolveValues(definitions, { preset: preset.parameters });
      } catch (err) {
        // Only a preset value that does not fit its parameter makes the preset `validation_failed` (persisted,
        // until a new version or resume-preset). Anything else (the database, a bug) propagates: the
        // reconciler reports it as this cycle's error and the next cycle tries again.
        if (err instanceof ParameterValidationError) return { created: 0, invalid: err.message };
        throw err;
      }
      let created = 0;
      for (let i = 0; i < count; i++) {
        const job = await store
          .transaction(async (tx) => {
            const now = ctx.clock.now();
            const workspace = await insertWorkspace(tx, {
              ownerId: PREBUILDS_USER_ID,
              templateId: template.id,
              name: `prebuild-${randomBytes(5).toString("hex")}`,
              now,
            });
            return (
              await enqueueBuild(tx, ctx, {
                workspace,
                version,
                transition: "start",
                initiatorId: PREBUILDS_USER_ID,
                presetId: preset.id,
                reason: "prebuild",
                parameters: values,
                state: null,
              })
            ).job;
          })
          // A workspace tag that cannot be evaluated for the prebuilds user fails every creation alike: the
          // preset becomes `validation_failed`, as for a preset value that does not fit its parameter.
          .catch((err) => {
            if (err instanceof DomainError && err.kind === "invalid" && err.field === "workspaceTags")
              return err;
            throw err;
          });
        if (job instanceof DomainError) return { created, invalid: job.message };
        created++;
        await notifyJobPosted(store, job);
      }
      return { created };
    },

    async deletePrebuild(workspaceId: string, reason: DeleteReason): Promise<boolean> {
      const job = await store.transaction(async (tx) => {
        const locked = await lockUnclaimedPrebuild(tx, store.dialect, workspaceId);
        if (!locked) return null;
        const workspace = await getWorkspace(tx, workspaceId);
        const latest = await getLatestBuild(tx, workspaceId);
        if (!workspace || !latest) return null;
        const version = await getTemplateVersion(tx, latest.templateVersionId);
        if (!version) return null;
        return (
          await enqueueBuild(tx, ctx, {
            workspace,
            version,
            transition: "delete",
            initiatorId: PREBUILDS_USER_ID,
            presetId: latest.presetId,
            reason: `prebuild_${reason}`,
            parameters: await getBuildParameters(tx, latest.id),
            state: latest.provisionerState,
          })
        ).job;
      });
      if (!job) return false;
      await notifyJobPosted(store, job);
      return true;
    },

    rehearseClaim: (presetId: string, prebuildId: string) => startRehearsal(ctx, presetId, prebuildId),

    async cancelPendingPrebuildJobs(presetId: string): Promise<number> {
      // One transaction: each never-started creation is cancelled and its workspace, which never got any
      // infrastructure, removed without a provisioner — together or not at all. One acquired meanwhile is
      // skipped: it runs to completion and the next cycle deletes it as outdated.
      const canceled = await store.transaction(async (tx) => {
        const now = ctx.clock.now();
        const jobs: string[] = [];
        for (const pending of await selectPendingPrebuildJobs(tx, presetId)) {
          if (!(await cancelIfPending(tx, store, pending.job_id, now))) continue;
          await softDeleteWorkspace(tx, pending.workspace_id, now);
          jobs.push(pending.job_id);
        }
        return jobs;
      });
      for (const jobId of canceled) await publishEndOfLogs(store, jobId);
      return canceled.length;
    },
  };
}
