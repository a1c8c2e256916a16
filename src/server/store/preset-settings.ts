// Prewarm-side preset settings (table `preset_settings`, migration 0006): the autoscale policy, replace-ahead
// and the rollout strategy, per template and preset NAME (they survive new versions). Written by the presets
// service (owners, through the API, the CLI and the dashboard), read in batches by the reconciler's snapshot
// (prebuilds/demand-queries.ts joins the table) and by the presets views.
import type { Executor } from "./store.js";

export interface PresetSettingsTable {
  template_id: string;
  preset_name: string;
  autoscale_min: number | null;
  autoscale_max: number | null;
  autoscale_target_hit_rate: number | null;
  autoscale_timezone: string | null;
  replace_ahead: string | null;
  rollout: string | null;
  updated_at: number;
}

// Typed here rather than in schema.ts: only this module and the snapshot's SQL use the table.
const settingsDb = (db: Executor) => db.withTables<{ preset_settings: PresetSettingsTable }>();

export type ReplaceAheadSetting = "auto" | number;
export type RolloutSetting = "surge" | "replace";

export interface AutoscaleSetting {
  min: number;
  max: number;
  targetHitRate: number;
  /** null: the preset's scheduling timezone, else UTC. */
  timezone: string | null;
}

export interface PresetSettings {
  templateId: string;
  presetName: string;
  /** null: off. */
  autoscale: AutoscaleSetting | null;
  /** Seconds, or "auto"; null: the server's default. */
  replaceAhead: ReplaceAheadSetting | null;
  /** null: the default (surge). */
  rollout: RolloutSetting | null;
  updatedAt: Date;
}

/** A change: each key present is set (null: back to the default / off); absent keys stay. */
export interface PresetSettingsPatch {
  autoscale?: AutoscaleSetting | null;
  replaceAhead?: ReplaceAheadSetting | null;
  rollout?: RolloutSetting | null;
}

/** The text form of a replace-ahead setting in the column (and in the snapshot's SQL): "auto" or seconds. */
export function parseReplaceAhead(text: string | null): ReplaceAheadSetting | null {
  if (text === null) return null;
  if (text === "auto") return "auto";
  const seconds = Number(text);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : null;
}

function fromRow(row: PresetSettingsTable): PresetSettings {
  const on =
    row.autoscale_min !== null && row.autoscale_max !== null && row.autoscale_target_hit_rate !== null;
  return {
    templateId: row.template_id,
    presetName: row.preset_name,
    autoscale: on
      ? {
          min: Number(row.autoscale_min),
          max: Number(row.autoscale_max),
          targetHitRate: Number(row.autoscale_target_hit_rate),
          timezone: row.autoscale_timezone,
        }
      : null,
    replaceAhead: parseReplaceAhead(row.replace_ahead),
    rollout: row.rollout === "surge" || row.rollout === "replace" ? row.rollout : null,
    updatedAt: new Date(Number(row.updated_at)),
  };
}

/** The settings of every preset name of the given templates that has a row, in one query. */
export async function listPresetSettings(
  db: Executor,
  templateIds: readonly string[],
): Promise<PresetSettings[]> {
  if (templateIds.length === 0) return [];
  const rows = await settingsDb(db)
    .selectFrom("preset_settings")
    .selectAll()
    .where("template_id", "in", [...templateIds])
    .orderBy("template_id")
    .orderBy("preset_name")
    .execute();
  return rows.map(fromRow);
}

async function getPresetSettings(
  db: Executor,
  templateId: string,
  presetName: string,
): Promise<PresetSettings | undefined> {
  const row = await settingsDb(db)
    .selectFrom("preset_settings")
    .selectAll()
    .where("template_id", "=", templateId)
    .where("preset_name", "=", presetName)
    .executeTakeFirst();
  return row ? fromRow(row) : undefined;
}

/** Applies a patch (creating the row on first use) in one statement; returns the settings after it. */
export async function updatePresetSettings(
  db: Executor,
  templateId: string,
  presetName: string,
  patch: PresetSettingsPatch,
  now: Date,
): Promise<PresetSettings> {
  const changes: Partial<PresetSettingsTable> = { updated_at: now.getTime() };
  if (patch.autoscale !== undefined) {
    changes.autoscale_min = patch.autoscale?.min ?? null;
    changes.autoscale_max = patch.autoscale?.max ?? null;
    changes.autoscale_target_hit_rate = patch.autoscale?.targetHitRate ?? null;
    changes.autoscale_timezone = patch.autoscale?.timezone ?? null;
  }
  if (patch.replaceAhead !== undefined)
    changes.replace_ahead = patch.replaceAhead === null ? null : String(patch.replaceAhead);
  if (patch.rollout !== undefined) changes.rollout = patch.rollout;
  await settingsDb(db)
    .insertInto("preset_settings")
    .values({
      template_id: templateId,
      preset_name: presetName,
      autoscale_min: null,
      autoscale_max: null,
      autoscale_target_hit_rate: null,
      autoscale_timezone: null,
      replace_ahead: null,
      rollout: null,
      ...changes,
      updated_at: now.getTime(),
    })
    .onConflict((oc) => oc.columns(["template_id", "preset_name"]).doUpdateSet(changes))
    .execute();
  const after = await getPresetSettings(db, templateId, presetName);
  if (!after) throw new Error(`preset settings of ${templateId}/${presetName} vanished`);
  return after;
}
