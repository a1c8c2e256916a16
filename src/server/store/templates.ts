// Templates and template versions, with a version's variables, parameters and workspace tags (child tables,
// written once by the import job's completion and read by builds and validation).
import { randomUUID } from "node:crypto";
import type { Selectable } from "kysely";
import { parseJsonColumn, toBool, toDate, toFlag, toMillis } from "./rows.js";
import type { TemplatesTable, TemplateVersionsTable } from "./schema.js";
import type { Executor } from "./store.js";

export interface Template {
  id: string;
  name: string;
  displayName: string;
  description: string;
  icon: string;
  activeVersionId: string | null;
  /** Deprecation message; "" = not deprecated. */
  deprecated: string;
  deleted: boolean;
  /** Lease of a new workspace that names none, and the longest a lease may run (seconds; null = none). */
  defaultLeaseSeconds: number | null;
  maxLeaseSeconds: number | null;
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
}

export function templateFromRow(row: Selectable<TemplatesTable>): Template {
  return {
    id: row.id,
    name: row.name,
    displayName: row.display_name,
    description: row.description,
    icon: row.icon,
    activeVersionId: row.active_version_id,
    deprecated: row.deprecated,
    deleted: toBool(row.deleted),
    defaultLeaseSeconds: row.default_lease_seconds,
    maxLeaseSeconds: row.max_lease_seconds,
    createdBy: row.created_by,
    createdAt: toDate(row.created_at),
    updatedAt: toDate(row.updated_at),
  };
}

/** Inserts a template. A live template with the same name is a violation of `templates_name_live_key`. */
export async function insertTemplate(
  db: Executor,
  input: {
    id?: string;
    name: string;
    displayName?: string;
    description?: string;
    icon?: string;
    activeVersionId?: string | null;
    createdBy: string;
    now: Date;
  },
): Promise<Template> {
  const row = await db
    .insertInto("templates")
    .values({
      id: input.id ?? randomUUID(),
      name: input.name,
      display_name: input.displayName ?? "",
      description: input.description ?? "",
      icon: input.icon ?? "",
      active_version_id: input.activeVersionId ?? null,
      deprecated: "",
      deleted: 0,
      created_by: input.createdBy,
      created_at: toMillis(input.now),
      updated_at: toMillis(input.now),
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return templateFromRow(row);
}

export async function getTemplateById(db: Executor, id: string): Promise<Template | undefined> {
  const row = await db.selectFrom("templates").selectAll().where("id", "=", id).executeTakeFirst();
  return row ? templateFromRow(row) : undefined;
}

/** Templates by id (deleted ones included), in one query. */
export async function getTemplatesByIds(
  db: Executor,
  ids: readonly string[],
): Promise<Map<string, Template>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .selectFrom("templates")
    .selectAll()
    .where("id", "in", [...ids])
    .execute();
  return new Map(rows.map((r) => [r.id, templateFromRow(r)]));
}

/** The live (non-deleted) template with this name. */
export async function getTemplateByName(db: Executor, name: string): Promise<Template | undefined> {
  const row = await db
    .selectFrom("templates")
    .selectAll()
    .where("name", "=", name)
    .where("deleted", "=", 0)
    .executeTakeFirst();
  return row ? templateFromRow(row) : undefined;
}

/** Live templates by name. */
export async function listTemplates(db: Executor): Promise<Template[]> {
  const rows = await db
    .selectFrom("templates")
    .selectAll()
    .where("deleted", "=", 0)
    .orderBy("name")
    .execute();
  return rows.map(templateFromRow);
}

export interface TemplateChanges {
  displayName?: string;
  description?: string;
  icon?: string;
  activeVersionId?: string;
  /** "" un-deprecates. */
  deprecated?: string;
  /** null clears. */
  defaultLeaseSeconds?: number | null;
  maxLeaseSeconds?: number | null;
  now: Date;
}

export async function updateTemplate(
  db: Executor,
  id: string,
  changes: TemplateChanges,
): Promise<Template | undefined> {
  const row = await db
    .updateTable("templates")
    .set({
      ...(changes.displayName !== undefined && { display_name: changes.displayName }),
      ...(changes.description !== undefined && { description: changes.description }),
      ...(changes.icon !== undefined && { icon: changes.icon }),
      ...(changes.activeVersionId !== undefined && { active_version_id: changes.activeVersionId }),
      ...(changes.deprecated !== undefined && { deprecated: changes.deprecated }),
      ...(changes.defaultLeaseSeconds !== undefined && {
        default_lease_seconds: changes.defaultLeaseSeconds,
      }),
      ...(changes.maxLeaseSeconds !== undefined && { max_lease_seconds: changes.maxLeaseSeconds }),
      updated_at: toMillis(changes.now),
    })
    .where("id", "=", id)
    .where("deleted", "=", 0)
    .returningAll()
    .executeTakeFirst();
  return row ? templateFromRow(row) : undefined;
}

/** Soft delete: the name becomes free for a new template. True when a live template was deleted. */
export async function softDeleteTemplate(db: Executor, id: string, now: Date): Promise<boolean> {
  const result = await db
    .updateTable("templates")
    .set({ deleted: 1, updated_at: toMillis(now) })
    .where("id", "=", id)
    .where("deleted", "=", 0)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/**
 * Live workspaces still using a template (a template with workspaces should not be deleted), optionally not
 * counting one owner's (the prebuilds user's: its prebuilds go away with the template).
 */
export async function countLiveWorkspacesOfTemplate(
  db: Executor,
  templateId: string,
  options: { excludeOwnerId?: string } = {},
): Promise<number> {
  let query = db
    .selectFrom("workspaces")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("template_id", "=", templateId)
    .where("deleted", "=", 0);
  if (options.excludeOwnerId) query = query.where("owner_id", "!=", options.excludeOwnerId);
  const row = await query.executeTakeFirstOrThrow();
  return Number(row.n);
}

/** countLiveWorkspacesOfTemplate for many templates in one query; templates without any are absent. */
export async function countLiveWorkspacesOfTemplates(
  db: Executor,
  templateIds: readonly string[],
  options: { excludeOwnerId?: string } = {},
): Promise<Map<string, number>> {
  if (templateIds.length === 0) return new Map();
  let query = db
    .selectFrom("workspaces")
    .select(["template_id"])
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("template_id", "in", [...templateIds])
    .where("deleted", "=", 0);
  if (options.excludeOwnerId) query = query.where("owner_id", "!=", options.excludeOwnerId);
  const rows = await query.groupBy("template_id").execute();
  return new Map(rows.map((r) => [r.template_id, Number(r.n)]));
}

// ---- versions ------------------------------------------------------------------------------------------

export interface TemplateVersion {
  id: string;
  templateId: string | null;
  name: string;
  message: string;
  fileId: string;
  provisioner: string;
  jobId: string;
  readme: string;
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
}

export function templateVersionFromRow(row: Selectable<TemplateVersionsTable>): TemplateVersion {
  return {
    id: row.id,
    templateId: row.template_id,
    name: row.name,
    message: row.message,
    fileId: row.file_id,
    provisioner: row.provisioner,
    jobId: row.job_id,
    readme: row.readme,
    createdBy: row.created_by,
    createdAt: toDate(row.created_at),
    updatedAt: toDate(row.updated_at),
  };
}

/**
 * Inserts a version. Its import job must exist already (enqueue it first in the same transaction, with the
 * version id generated up front). A duplicate name within the template violates
 * `template_versions_template_name_key`.
 */
export async function insertTemplateVersion(
  db: Executor,
  input: {
    id?: string;
    templateId: string | null;
    name: string;
    message?: string;
    fileId: string;
    provisioner: string;
    jobId: string;
    createdBy: string;
    now: Date;
  },
): Promise<TemplateVersion> {
  const row = await db
    .insertInto("template_versions")
    .values({
      id: input.id ?? randomUUID(),
      template_id: input.templateId,
      name: input.name,
      message: input.message ?? "",
      file_id: input.fileId,
      provisioner: input.provisioner,
      job_id: input.jobId,
      readme: "",
      created_by: input.createdBy,
      created_at: toMillis(input.now),
      updated_at: toMillis(input.now),
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return templateVersionFromRow(row);
}

export async function getTemplateVersion(db: Executor, id: string): Promise<TemplateVersion | undefined> {
  const row = await db.selectFrom("template_versions").selectAll().where("id", "=", id).executeTakeFirst();
  return row ? templateVersionFromRow(row) : undefined;
}

/** Versions by id, in one query. */
export async function getTemplateVersionsByIds(
  db: Executor,
  ids: readonly string[],
): Promise<Map<string, TemplateVersion>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .selectFrom("template_versions")
    .selectAll()
    .where("id", "in", [...ids])
    .execute();
  return new Map(rows.map((r) => [r.id, templateVersionFromRow(r)]));
}

export async function getTemplateVersionByName(
  db: Executor,
  templateId: string,
  name: string,
): Promise<TemplateVersion | undefined> {
  const row = await db
    .selectFrom("template_versions")
    .selectAll()
    .where("template_id", "=", templateId)
    .where("name", "=", name)
    .executeTakeFirst();
  return row ? templateVersionFromRow(row) : undefined;
}

/** Newest first. */
export async function listTemplateVersions(db: Executor, templateId: string): Promise<TemplateVersion[]> {
  const rows = await db
    .selectFrom("template_versions")
    .selectAll()
    .where("template_id", "=", templateId)
    .orderBy("created_at", "desc")
    .orderBy("id", "desc")
    .execute();
  return rows.map(templateVersionFromRow);
}

export async function updateTemplateVersion(
  db: Executor,
  id: string,
  changes: { templateId?: string; readme?: string; now: Date },
): Promise<void> {
  await db
    .updateTable("template_versions")
    .set({
      ...(changes.templateId !== undefined && { template_id: changes.templateId }),
      ...(changes.readme !== undefined && { readme: changes.readme }),
      updated_at: toMillis(changes.now),
    })
    .where("id", "=", id)
    .execute();
}

// ---- variables -----------------------------------------------------------------------------------------

export interface TemplateVariable {
  name: string;
  description: string;
  type: string;
  defaultValue: string;
  /** The value this version uses (user-supplied, else the default). */
  value: string;
  required: boolean;
  sensitive: boolean;
}

/** Replaces the version's variables. */
export async function setTemplateVersionVariables(
  db: Executor,
  versionId: string,
  variables: readonly TemplateVariable[],
): Promise<void> {
  await db.deleteFrom("template_version_variables").where("template_version_id", "=", versionId).execute();
  if (variables.length === 0) return;
  await db
    .insertInto("template_version_variables")
    .values(
      variables.map((v) => ({
        template_version_id: versionId,
        name: v.name,
        description: v.description,
        type: v.type,
        default_value: v.defaultValue,
        value: v.value,
        required: toFlag(v.required),
        sensitive: toFlag(v.sensitive),
      })),
    )
    .execute();
}

export async function listTemplateVersionVariables(
  db: Executor,
  versionId: string,
): Promise<TemplateVariable[]> {
  const rows = await db
    .selectFrom("template_version_variables")
    .selectAll()
    .where("template_version_id", "=", versionId)
    .orderBy("name")
    .execute();
  return rows.map((r) => ({
    name: r.name,
    description: r.description,
    type: r.type,
    defaultValue: r.default_value,
    value: r.value,
    required: toBool(r.required),
    sensitive: toBool(r.sensitive),
  }));
}

// ---- parameters ----------------------------------------------------------------------------------------

export interface ParameterOption {
  name: string;
  description: string;
  value: string;
  icon: string;
}

export interface TemplateParameter {
  name: string;
  displayName: string;
  description: string;
  type: string;
  formType: string;
  mutable: boolean;
  defaultValue: string;
  icon: string;
  options: ParameterOption[];
  validationRegex: string;
  validationError: string;
  validationMin: number | null;
  validationMax: number | null;
  /** "" | "increasing" | "decreasing". */
  validationMonotonic: string;
  required: boolean;
  /** The template's `order`. */
  displayOrder: number;
  ephemeral: boolean;
}

export async function insertTemplateVersionParameters(
  db: Executor,
  versionId: string,
  parameters: readonly TemplateParameter[],
): Promise<void> {
  if (parameters.length === 0) return;
  await db
    .insertInto("template_version_parameters")
    .values(
      parameters.map((p) => ({
        template_version_id: versionId,
        name: p.name,
        display_name: p.displayName,
        description: p.description,
        type: p.type,
        form_type: p.formType,
        mutable: toFlag(p.mutable),
        default_value: p.defaultValue,
        icon: p.icon,
        options: JSON.stringify(p.options),
        validation_regex: p.validationRegex,
        validation_error: p.validationError,
        validation_min: p.validationMin,
        validation_max: p.validationMax,
        validation_monotonic: p.validationMonotonic,
        required: toFlag(p.required),
        display_order: p.displayOrder,
        ephemeral: toFlag(p.ephemeral),
      })),
    )
    .execute();
}

/** In display order (then name). */
export async function listTemplateVersionParameters(
  db: Executor,
  versionId: string,
): Promise<TemplateParameter[]> {
  const rows = await db
    .selectFrom("template_version_parameters")
    .selectAll()
    .where("template_version_id", "=", versionId)
    .orderBy("display_order")
    .orderBy("name")
    .execute();
  return rows.map((r) => ({
    name: r.name,
    displayName: r.display_name,
    description: r.description,
    type: r.type,
    formType: r.form_type,
    mutable: toBool(r.mutable),
    defaultValue: r.default_value,
    icon: r.icon,
    options: parseJsonColumn<ParameterOption[]>(r.options, "template_version_parameters.options"),
    validationRegex: r.validation_regex,
    validationError: r.validation_error,
    validationMin: r.validation_min,
    validationMax: r.validation_max,
    validationMonotonic: r.validation_monotonic,
    required: toBool(r.required),
    displayOrder: r.display_order,
    ephemeral: toBool(r.ephemeral),
  }));
}

// ---- workspace tags ------------------------------------------------------------------------------------

/** Replaces the version's workspace tags (raw key → value expressions from the template). */
export async function setTemplateVersionWorkspaceTags(
  db: Executor,
  versionId: string,
  tags: Readonly<Record<string, string>>,
): Promise<void> {
  await db
    .deleteFrom("template_version_workspace_tags")
    .where("template_version_id", "=", versionId)
    .execute();
  const entries = Object.entries(tags);
  if (entries.length === 0) return;
  await db
    .insertInto("template_version_workspace_tags")
    .values(entries.map(([key, value]) => ({ template_version_id: versionId, key, value })))
    .execute();
}

export async function getTemplateVersionWorkspaceTags(
  db: Executor,
  versionId: string,
): Promise<Record<string, string>> {
  const rows = await db
    .selectFrom("template_version_workspace_tags")
    .select(["key", "value"])
    .where("template_version_id", "=", versionId)
    .orderBy("key")
    .execute();
  return Object.fromEntries(rows.map((r) => [r.key, r.value]));
}
