// Templates: upload an archive, create a version (and the template on first push) with its import job,
// activate, deprecate, delete; and the lookups callers share (a template, a version, the active version's
// presets), which fail with DomainErrors. An upload is checked with the same extraction rules a provisioner
// applies, so a malicious or malformed archive is refused at the door and nothing is stored.
import { defaultUploadQuotaBytes } from "../../contract/templates.js";
import { ArchiveError, DEFAULT_ARCHIVE_LIMITS, planExtraction } from "../../provisionersdk/archive.js";
import { type AuditActor, audit, target } from "../audit.js";
import type { ServerContext } from "../context.js";
import { conflict, invalid, notFound, tooLarge } from "../domain-errors.js";
import { enqueueJob, notifyJobPosted } from "../jobs/queue.js";
import { InvalidTagsError, mutateTags, type Tags, validateTags } from "../jobs/tags.js";
import { PREBUILDS_USER_ID } from "../prebuilds/system-user.js";
import { isUniqueViolation } from "../store/errors.js";
import { getFileMeta, insertFile, sha256Hex, storedBytesOf } from "../store/files.js";
import { getJob } from "../store/jobs.js";
import { getPresetByName, type Preset } from "../store/presets.js";
import {
  countLiveWorkspacesOfTemplate,
  getTemplateByName,
  getTemplateVersion,
  getTemplateVersionByName,
  insertTemplate,
  insertTemplateVersion,
  listTemplateVersions,
  softDeleteTemplate,
  type Template,
  type TemplateVersion,
  updateTemplate,
} from "../store/templates.js";
import type { User } from "../store/users.js";

export interface TemplateSettings {
  /** Largest accepted archive (bytes). */
  maxArchiveBytes: number;
  /** Provisioner types a version may use. */
  provisionerTypes: readonly string[];
  /**
   * `--upload-quota`: the most bytes of uploads a member may have stored (all their files together); 0 is no
   * quota. Owners are exempt: they administer the server and its disk. Absent: the contract's default.
   */
  uploadQuotaBytes?: number;
}

const TEMPLATE_NAME = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;

export async function uploadTemplateFile(
  ctx: ServerContext,
  user: User,
  data: Uint8Array,
  settings: TemplateSettings,
): Promise<{ hash: string; created: boolean }> {
  if (data.byteLength === 0)
    throw invalid("the upload is empty: send a tar archive of the template directory");
  if (data.byteLength > settings.maxArchiveBytes) {
    throw tooLarge(`template archive is ${data.byteLength} bytes; the limit is ${settings.maxArchiveBytes}`);
  }
  try {
    planExtraction(data, { ...DEFAULT_ARCHIVE_LIMITS, maxBytes: settings.maxArchiveBytes * 4 });
  } catch (err) {
    if (err instanceof ArchiveError) throw invalid(`invalid template archive: ${err.message}`);
    throw err;
  }
  await checkUploadQuota(ctx, user, data, settings.uploadQuotaBytes ?? defaultUploadQuotaBytes);
  const file = await insertFile(ctx.store.db, { data, createdBy: user.id, now: ctx.clock.now() });
  return { hash: file.hash, created: file.created };
}

/**
 * Refuses an upload that would take a member past their quota. Bytes already stored (by anyone) are free:
 * they are not stored again. Checked before the insert, not in one transaction with it: two uploads racing
 * can overshoot by one archive, which is the limit's precision, not a way around it.
 */
async function checkUploadQuota(ctx: ServerContext, user: User, data: Uint8Array, quota: number) {
  if (quota === 0 || user.role === "owner") return;
  if (await getFileMeta(ctx.store.db, { hash: sha256Hex(data) })) return;
  const stored = await storedBytesOf(ctx.store.db, user.id);
  if (stored + data.byteLength > quota) {
    throw tooLarge(
      `upload quota exceeded: you have ${stored} bytes of uploads stored, and this archive of ${data.byteLength} bytes would pass your quota of ${quota} bytes (--upload-quota)`,
    );
  }
}

export interface CreateVersionInput {
  fileHash: string;
  provisioner: string;
  activate?: boolean;
  message?: string | null;
  variables?: Array<{ name: string; value: string }>;
  /** Provisioner tags of the version (its import job and, through it, every build of it); jobs/tags.ts. */
  tags?: Record<string, string>;
}

/** Creates the version and enqueues its import; the template is created on its first push. */
export async function createTemplateVersion(
  ctx: ServerContext,
  user: AuditActor,
  templateName: string,
  input: CreateVersionInput,
  settings: TemplateSettings,
): Promise<{ template: Template; version: TemplateVersion }> {
  const { store } = ctx;
  if (!TEMPLATE_NAME.test(templateName)) {
    throw invalid(
      `invalid template name "${templateName}": use lower-case letters, digits and inner hyphens`,
      { field: "name" },
    );
  }
  if (!settings.provisionerTypes.includes(input.provisioner)) {
    throw invalid(
      `provisioner "${input.provisioner}" is not available on this server (available: ${settings.provisionerTypes.join(", ")})`,
      { field: "provisioner" },
    );
  }
  const file = await getFileMeta(store.db, { hash: input.fileHash });
  if (!file)
    throw invalid(`no uploaded file with hash ${input.fileHash}: upload it first`, { field: "fileHash" });
  let tags: Tags;
  try {
    tags = mutateTags(user.id, validateTags(input.tags));
  } catch (err) {
    if (err instanceof InvalidTagsError) throw invalid(err.message, { field: "tags" });
    throw err;
  }
  const variables: Record<string, string> = {};
  for (const v of input.variables ?? []) {
    if (v.name in variables) throw invalid(`variable "${v.name}" is given twice`, { field: "variables" });
    variables[v.name] = v.value;
  }
  for (let attempt = 0; ; attempt++) {
    try {
      const result = await store.transaction(async (tx) => {
        const now = ctx.clock.now();
        const template =
          (await getTemplateByName(tx, templateName)) ??
          (await insertTemplate(tx, { name: templateName, createdBy: user.id, now }));
        const number = (await listTemplateVersions(tx, template.id)).length + 1;
        const versionId = crypto.randomUUID();
        const job = await enqueueJob(tx, {
          type: "template_version_import",
          input: {
            templateVersionId: versionId,
            userVariableValues: variables,
            activate: input.activate ?? false,
          },
          provisioner: input.provisioner,
          fileId: file.id,
          tags,
          initiatorId: user.id,
          now,
        });
        const version = await insertTemplateVersion(tx, {
          id: versionId,
          templateId: template.id,
          name: `v${number}`,
          message: input.message ?? "",
          fileId: file.id,
          provisioner: input.provisioner,
          jobId: job.id,
          createdBy: user.id,
          now,
        });
        await audit(tx, now, {
          actor: user,
          action: "template.push",
          target: target.template(template.name),
          detail: {
            version: version.name,
            provisioner: input.provisioner,
            activate: input.activate ?? false,
          },
        });
        return { template, version, job };
      });
      await notifyJobPosted(store, result.job);
      return { template: result.template, version: result.version };
    } catch (err) {
      // Two pushes at once may pick the same version number or both create the template: retry once.
      if (isUniqueViolation(err) && attempt === 0) continue;
      if (isUniqueViolation(err))
        throw conflict(`another push to template "${templateName}" happened at the same time`);
      throw err;
    }
  }
}

export async function requireTemplate(ctx: ServerContext, name: string): Promise<Template> {
  const template = await getTemplateByName(ctx.store.db, name);
  if (!template) throw notFound(`template "${name}"`);
  return template;
}

/** `v3` or `3`. */
export async function requireVersion(
  ctx: ServerContext,
  template: Template,
  ref: string,
): Promise<TemplateVersion> {
  const name = /^\d+$/.test(ref) ? `v${ref}` : ref;
  const version = await getTemplateVersionByName(ctx.store.db, template.id, name);
  if (!version) throw notFound(`version "${ref}" of template "${template.name}"`);
  return version;
}

/** The template's active version, if it has one (a template whose first import has not succeeded has none). */
export async function getActiveVersion(
  ctx: ServerContext,
  template: Template,
): Promise<TemplateVersion | undefined> {
  return template.activeVersionId ? getTemplateVersion(ctx.store.db, template.activeVersionId) : undefined;
}

/** A preset of the template's active version by name, with the template and version. */
export async function requireActivePreset(
  ctx: ServerContext,
  templateName: string,
  presetName: string,
): Promise<{ template: Template; version: TemplateVersion; preset: Preset }> {
  const template = await requireTemplate(ctx, templateName);
  const version = await getActiveVersion(ctx, template);
  const preset = version ? await getPresetByName(ctx.store.db, version.id, presetName) : undefined;
  if (!version || !preset)
    throw notFound(`preset "${presetName}" of the active version of "${templateName}"`);
  return { template, version, preset };
}

/** The version by reference (see requireVersion); its import must have succeeded before anything is built. */
export async function requireImportedVersion(
  ctx: ServerContext,
  template: Template,
  ref: string,
): Promise<TemplateVersion> {
  const version = await requireVersion(ctx, template, ref);
  const job = await getJob(ctx.store.db, version.jobId);
  if (job?.status !== "succeeded") {
    throw invalid(
      `version ${version.name} of "${template.name}" cannot be built: its import ${job?.status ?? "is missing"}`,
      { field: "templateVersion" },
    );
  }
  return version;
}

export async function activateVersion(
  ctx: ServerContext,
  by: AuditActor,
  templateName: string,
  ref: string,
): Promise<Template> {
  const template = await requireTemplate(ctx, templateName);
  const version = await requireVersion(ctx, template, ref);
  const job = await getJob(ctx.store.db, version.jobId);
  if (job?.status !== "succeeded") {
    throw conflict(
      `version ${version.name} cannot be activated: its import ${job ? job.status : "is missing"}`,
    );
  }
  const now = ctx.clock.now();
  const updated = await ctx.store.transaction(async (tx) => {
    const changed = await updateTemplate(tx, template.id, { activeVersionId: version.id, now });
    if (changed)
      await audit(tx, now, {
        actor: by,
        action: "template.activate",
        target: target.template(template.name),
        detail: { version: version.name },
      });
    return changed;
  });
  if (!updated) throw notFound(`template "${templateName}"`);
  ctx.events.reconcileSoon("new active version");
  return updated;
}

/** An empty message undeprecates (recorded as template.deprecate with `deprecated: false`). */
export async function setDeprecation(
  ctx: ServerContext,
  by: AuditActor,
  templateName: string,
  message: string,
): Promise<Template> {
  const template = await requireTemplate(ctx, templateName);
  const now = ctx.clock.now();
  const updated = await ctx.store.transaction(async (tx) => {
    const changed = await updateTemplate(tx, template.id, { deprecated: message, now });
    if (changed)
      await audit(tx, now, {
        actor: by,
        action: "template.deprecate",
        target: target.template(template.name),
        detail: { deprecated: message !== "", message },
      });
    return changed;
  });
  if (!updated) throw notFound(`template "${templateName}"`);
  ctx.events.reconcileSoon("template deprecation changed");
  return updated;
}

/**
 * The template's lease policy: the lease of a workspace whose create names none, and the longest a create or
 * an extend may give (undefined: unchanged, null: none). A default longer than the maximum is refused.
 * Existing leases are left as they are.
 */
export async function setLeasePolicy(
  ctx: ServerContext,
  template: Template,
  policy: { defaultLeaseSeconds?: number | null; maxLeaseSeconds?: number | null },
): Promise<Template> {
  const defaultLease =
    policy.defaultLeaseSeconds === undefined ? template.defaultLeaseSeconds : policy.defaultLeaseSeconds;
  const maxLease = policy.maxLeaseSeconds === undefined ? template.maxLeaseSeconds : policy.maxLeaseSeconds;
  if (defaultLease !== null && maxLease !== null && defaultLease > maxLease) {
    throw invalid(`the default lease (${defaultLease} s) is longer than the maximum (${maxLease} s)`, {
      field: "defaultLeaseSeconds",
    });
  }
  const updated = await updateTemplate(ctx.store.db, template.id, {
    defaultLeaseSeconds: defaultLease,
    maxLeaseSeconds: maxLease,
    now: ctx.clock.now(),
  });
  if (!updated) throw notFound(`template "${template.name}"`);
  return updated;
}

/** Refused while users' workspaces use it; its prebuilds become outdated and the reconciler removes them. */
export async function deleteTemplate(
  ctx: ServerContext,
  by: AuditActor,
  templateName: string,
): Promise<void> {
  const template = await requireTemplate(ctx, templateName);
  const live = await countLiveWorkspacesOfTemplate(ctx.store.db, template.id, {
    excludeOwnerId: PREBUILDS_USER_ID,
  });
  if (live > 0) {
    throw conflict(`template "${templateName}" is used by ${live} workspace(s); delete them first`);
  }
  const now = ctx.clock.now();
  await ctx.store.transaction(async (tx) => {
    if (await softDeleteTemplate(tx, template.id, now))
      await audit(tx, now, { actor: by, action: "template.delete", target: target.template(template.name) });
  });
  ctx.events.reconcileSoon("template deleted");
}
