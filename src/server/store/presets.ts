// Presets of template versions, with their parameter values and prebuild schedules. Written once by the
// import job's completion (validated before: see the templates domain); afterwards only `status` and
// `last_invalidated_at` change. Reads batch over many versions so a reconciler snapshot stays a constant
// number of queries.
import { randomUUID } from "node:crypto";
import type { Selectable } from "kysely";
import { toBool, toDate, toDateOrNull, toFlag, toMillis } from "./rows.js";
import type { PresetStatus, PresetsTable } from "./schema.js";
import type { Executor } from "./store.js";

export interface PresetSchedule {
  cron: string;
  instances: number;
}

export interface NewPreset {
  id?: string;
  name: string;
  isDefault?: boolean;
  description?: string;
  icon?: string;
  /** null = no prebuilds. */
  desiredInstances: number | null;
  /** 0 = never expire. */
  ttlSeconds?: number;
  /** "" = no scheduling. */
  schedulingTimezone?: string;
  /** In the template's order (the first matching schedule wins). */
  schedules?: readonly PresetSchedule[];
  parameters?: Readonly<Record<string, string>>;
}

export interface Preset {
  id: string;
  templateVersionId: string;
  name: string;
  isDefault: boolean;
  description: string;
  icon: string;
  desiredInstances: number | null;
  ttlSeconds: number;
  schedulingTimezone: string;
  status: PresetStatus;
  lastInvalidatedAt: Date | null;
  createdAt: Date;
  schedules: PresetSchedule[];
  parameters: Record<string, string>;
}

function presetFromRow(
  row: Selectable<PresetsTable>,
  schedules: PresetSchedule[],
  parameters: Record<string, string>,
): Preset {
  return {
    id: row.id,
    templateVersionId: row.template_version_id,
    name: row.name,
    isDefault: toBool(row.is_default),
    description: row.description,
    icon: row.icon,
    desiredInstances: row.desired_instances,
    ttlSeconds: row.ttl_seconds,
    schedulingTimezone: row.scheduling_timezone,
    status: row.status,
    lastInvalidatedAt: toDateOrNull(row.last_invalidated_at),
    createdAt: toDate(row.created_at),
    schedules,
    parameters,
  };
}

/**
 * Inserts a version's presets with their parameters and schedules (call inside the import-completion
 * transaction). Duplicate names violate `presets_version_name_key`; a second default violates
 * `presets_one_default_key`.
 */
export async function insertPresets(
  db: Executor,
  versionId: string,
  presets: readonly NewPreset[],
  now: Date,
): Promise<Preset[]> {
  if (presets.length === 0) return [];
  const withIds = presets.map((p) => ({ ...p, id: p.id ?? randomUUID() }));
  await db
    .insertInto("presets")
    .values(
      withIds.map((p) => ({
        id: p.id,
        template_version_id: versionId,
        name: p.name,
        is_default: toFlag(p.isDefault),
        description: p.description ?? "",
        icon: p.icon ?? "",
        desired_instances: p.desiredInstances,
        ttl_seconds: p.ttlSeconds ?? 0,
        scheduling_timezone: p.schedulingTimezone ?? "",
        status: "healthy" as const,
        last_invalidated_at: null,
        created_at: toMillis(now),
      })),
    )
    .execute();
  const parameters = withIds.flatMap((p) =>
    Object.entries(p.parameters ?? {}).map(([name, value]) => ({ preset_id: p.id, name, value })),
  );
  if (parameters.length > 0) await db.insertInto("preset_parameters").values(parameters).execute();
  const schedules = withIds.flatMap((p) =>
    (p.schedules ?? []).map((s, ordinal) => ({
      preset_id: p.id,
      ordinal,
      cron: s.cron,
      instances: s.instances,
    })),
  );
  if (schedules.length > 0) await db.insertInto("preset_schedules").values(schedules).execute();
  return listPresets(db, { versionIds: [versionId] });
}

/** Presets (with parameters and schedules) of the given versions and/or ids, in 3 queries. By version, name. */
export async function listPresets(
  db: Executor,
  filter: { versionIds?: readonly string[]; presetIds?: readonly string[] },
): Promise<Preset[]> {
  const versionIds = [...(filter.versionIds ?? [])];
  const presetIds = [...(filter.presetIds ?? [])];
  if (versionIds.length === 0 && presetIds.length === 0) return [];
  const rows = await db
    .selectFrom("presets")
    .selectAll()
    .where((eb) =>
      eb.or([
        ...(versionIds.length > 0 ? [eb("template_version_id", "in", versionIds)] : []),
        ...(presetIds.length > 0 ? [eb("id", "in", presetIds)] : []),
      ]),
    )
    .orderBy("template_version_id")
    .orderBy("name")
    .execute();
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const [params, schedules] = await Promise.all([
    db.selectFrom("preset_parameters").selectAll().where("preset_id", "in", ids).orderBy("name").execute(),
    db.selectFrom("preset_schedules").selectAll().where("preset_id", "in", ids).orderBy("ordinal").execute(),
  ]);
  return rows.map((row) =>
    presetFromRow(
      row,
      schedules.filter((s) => s.preset_id === row.id).map((s) => ({ cron: s.cron, instances: s.instances })),
      Object.fromEntries(params.filter((p) => p.preset_id === row.id).map((p) => [p.name, p.value])),
    ),
  );
}

export async function getPreset(db: Executor, id: string): Promise<Preset | undefined> {
  return (await listPresets(db, { presetIds: [id] }))[0];
}

/** A preset's metric labels: its template's name and its own ("" for a preset that is gone). */
export async function getPresetLabels(
  db: Executor,
  presetId: string,
): Promise<{ templateName: string; presetName: string }> {
  const row = await db
    .selectFrom("presets as p")
    .innerJoin("template_versions as v", "v.id", "p.template_version_id")
    .innerJoin("templates as t", "t.id", "v.template_id")
    .select(["t.name as templateName", "p.name as presetName"])
    .where("p.id", "=", presetId)
    .executeTakeFirst();
  return row ?? { templateName: "", presetName: "" };
}

/** Preset names by id, in one query. */
export async function getPresetNames(db: Executor, ids: readonly string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .selectFrom("presets")
    .select(["id", "name"])
    .where("id", "in", [...ids])
    .execute();
  return new Map(rows.map((r) => [r.id, r.name]));
}

export async function getPresetByName(
  db: Executor,
  versionId: string,
  name: string,
): Promise<Preset | undefined> {
  const row = await db
    .selectFrom("presets")
    .select("id")
    .where("template_version_id", "=", versionId)
    .where("name", "=", name)
    .executeTakeFirst();
  return row ? getPreset(db, row.id) : undefined;
}

/**
 * Marks every prebuild-declaring preset of the template's active version invalidated at `now` (prebuilds
 * created before it count as expired). Returns the presets touched.
 */
export async function invalidateTemplatePresets(
  db: Executor,
  templateId: string,
  now: Date,
): Promise<{ presetId: string; presetName: string; versionId: string }[]> {
  const rows = await db
    .selectFrom("presets")
    .innerJoin("templates", "templates.active_version_id", "presets.template_version_id")
    .select(["presets.id", "presets.name", "presets.template_version_id"])
    .where("templates.id", "=", templateId)
    .where("presets.desired_instances", "is not", null)
    .orderBy("presets.name")
    .execute();
  if (rows.length === 0) return [];
  await db
    .updateTable("presets")
    .set({ last_invalidated_at: toMillis(now) })
    .where(
      "id",
      "in",
      rows.map((r) => r.id),
    )
    .execute();
  return rows.map((r) => ({ presetId: r.id, presetName: r.name, versionId: r.template_version_id }));
}
