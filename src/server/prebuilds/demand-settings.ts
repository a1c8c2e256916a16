// The presets service of demand-driven pools (issue 13), for owners through the API, the CLI and the dashboard:
// turn autoscaling on or off and set replace-ahead and the rollout strategy of a preset of a template's active
// version. Settings are stored per template and preset NAME (store/preset-settings.ts), so they apply to the
// presets of later versions too. Each change asks every replica's reconciler for a cycle. Invalid input is a
// DomainError naming the field.
import { isKnownTimezone } from "../../planning/local-time.js";
import { type AuditActor, audit, target } from "../audit.js";
import type { ServerContext } from "../context.js";
import { invalid } from "../domain-errors.js";
import {
  type AutoscaleSetting,
  type PresetSettings,
  type PresetSettingsPatch,
  updatePresetSettings,
} from "../store/preset-settings.js";
import type { Preset } from "../store/presets.js";
import type { Template, TemplateVersion } from "../store/templates.js";
import { requireActivePreset } from "../templates/service.js";
import { requestReconcile } from "./operations.js";

export interface PresetWithSettings {
  template: Template;
  version: TemplateVersion;
  preset: Preset;
  settings: PresetSettings;
}

/** Checks a policy (the dashboard's form has no schema; the API's cannot say min ≤ max or know timezones). */
function validateAutoscale(policy: AutoscaleSetting): void {
  for (const field of ["min", "max"] as const) {
    const n = policy[field];
    if (!Number.isSafeInteger(n) || n < 0 || n > 10_000)
      throw invalid(`autoscale ${field} must be a whole number from 0 to 10000, got ${n}`, { field });
  }
  if (policy.min > policy.max) {
    throw invalid(`autoscale max (${policy.max}) must be at least min (${policy.min})`, { field: "max" });
  }
  if (!(policy.targetHitRate > 0 && policy.targetHitRate < 1)) {
    throw invalid(`target hit rate must be between 0 and 1 (exclusive), got ${policy.targetHitRate}`, {
      field: "targetHitRate",
    });
  }
  if (policy.timezone !== null && !isKnownTimezone(policy.timezone)) {
    throw invalid(`unknown timezone "${policy.timezone}" (use an IANA name such as Europe/Berlin)`, {
      field: "timezone",
    });
  }
}

async function change(
  ctx: ServerContext,
  by: AuditActor,
  templateName: string,
  presetName: string,
  patch: PresetSettingsPatch,
  reason: string,
): Promise<PresetWithSettings> {
  const found = await requireActivePreset(ctx, templateName, presetName);
  const now = ctx.clock.now();
  const settings = await ctx.store.transaction(async (tx) => {
    const updated = await updatePresetSettings(tx, found.template.id, found.preset.name, patch, now);
    await audit(tx, now, {
      actor: by,
      action: "preset.settings",
      target: target.preset(found.template.name, found.preset.name),
      detail: { ...patch },
    });
    return updated;
  });
  ctx.logger.info({ template: templateName, preset: presetName, ...patch }, reason);
  await requestReconcile(ctx.store, reason);
  return { ...found, settings };
}

/** Autoscale on (a policy) or off (null). */
export function setAutoscale(
  ctx: ServerContext,
  by: AuditActor,
  templateName: string,
  presetName: string,
  policy: AutoscaleSetting | null,
): Promise<PresetWithSettings> {
  if (policy) validateAutoscale(policy);
  return change(
    ctx,
    by,
    templateName,
    presetName,
    { autoscale: policy },
    policy ? "autoscale on" : "autoscale off",
  );
}

/** Replace-ahead and/or rollout (absent keys stay; null: back to the default). */
export function setPresetSettings(
  ctx: ServerContext,
  by: AuditActor,
  templateName: string,
  presetName: string,
  patch: Pick<PresetSettingsPatch, "replaceAhead" | "rollout">,
): Promise<PresetWithSettings> {
  if (patch.replaceAhead === undefined && patch.rollout === undefined) {
    throw invalid("nothing to change: set replaceAhead and/or rollout", { field: "replaceAhead" });
  }
  const { replaceAhead } = patch;
  if (typeof replaceAhead === "number" && !(Number.isSafeInteger(replaceAhead) && replaceAhead >= 0)) {
    throw invalid(`replace-ahead must be "auto" or whole seconds, got ${replaceAhead}`, {
      field: "replaceAhead",
    });
  }
  return change(ctx, by, templateName, presetName, patch, "preset settings changed");
}
