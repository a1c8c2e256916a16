// Prebuild operations (owners only): reconciler status, pause/resume, invalidate a template's pools, resume a
// hard-limited or validation-failed preset, and the next cycle's plan.

import { routes } from "../../../contract/api.js";
import { plansToJson } from "../../../planning/snapshot-format.js";
import { notFound } from "../../domain-errors.js";
import {
  invalidatePresets,
  livePlan,
  reconcilerStatus,
  resumePreset,
  setPaused,
} from "../../prebuilds/reconciler.js";
import { getPreset } from "../../store/presets.js";
import { getTemplateVersion } from "../../store/templates.js";
import { requireActivePreset, requireTemplate } from "../../templates/service.js";
import type { App } from "../app.js";
import type { ApiDeps } from "../deps.js";
import { poolCounts, presetViews } from "../views.js";

export function registerPrebuildRoutes(app: App, deps: ApiDeps): void {
  const { ctx } = deps;
  const { store } = ctx;

  app.route({
    ...routes.prebuildsStatus,
    handler: async () => {
      const reconciler = deps.reconciler();
      const status = await reconcilerStatus(store, ctx.clock.now(), reconciler.settings);
      const last = reconciler.lastReport;
      return {
        paused: status.paused,
        reconcileIntervalSeconds: reconciler.intervalMs / 1000,
        lastReconcileAt: last ? last.startedAt.toISOString() : null,
        lastReconcileDurationMs: last ? last.durationMs : null,
        inFlightJobs: status.inFlightJobs,
        maxInFlightJobs: reconciler.maxInFlightJobs,
        presets: status.presets.map((p) => ({
          ...p,
          backoffUntil: p.backoffUntil ? p.backoffUntil.toISOString() : null,
        })),
      };
    },
  });

  /** The persisted pause switch; claims keep working while paused. */
  const pauseSwitch = (paused: boolean) => async () => {
    await setPaused(store, paused);
    ctx.logger.info(`prebuilds reconciliation ${paused ? "paused" : "resumed"}`);
    return { paused };
  };
  app.route({ ...routes.pausePrebuilds, handler: pauseSwitch(true) });
  app.route({ ...routes.resumePrebuilds, handler: pauseSwitch(false) });

  app.route({
    ...routes.invalidatePrebuilds,
    handler: async (request) => {
      const template = await requireTemplate(ctx, request.params.name);
      const touched = await invalidatePresets(store, template.id, ctx.clock.now());
      const versionNames = new Map<string, string>();
      for (const id of new Set(touched.map((t) => t.versionId))) {
        versionNames.set(id, (await getTemplateVersion(store.db, id))?.name ?? "");
      }
      if (touched.length > 0)
        ctx.logger.info({ template: template.name, presets: touched.length }, "prebuilds invalidated");
      return {
        invalidated: touched.map((t) => ({
          template: template.name,
          templateVersion: versionNames.get(t.versionId) ?? "",
          preset: t.presetName,
        })),
      };
    },
  });

  app.route({
    ...routes.resumePreset,
    handler: async (request) => {
      const { name, preset: presetName } = request.params;
      const { template, version, preset } = await requireActivePreset(ctx, name, presetName);
      const before = await resumePreset(store, preset.id);
      if (before !== undefined && before !== "healthy") {
        ctx.logger.info({ template: name, preset: presetName, was: before }, "preset resumed");
      }
      const fresh = await getPreset(store.db, preset.id);
      if (!fresh) throw notFound(`preset "${presetName}"`);
      const pools = await poolCounts(ctx, deps.reconciler().settings);
      return presetViews(template, version, [fresh], pools)[0] as NonNullable<
        ReturnType<typeof presetViews>[0]
      >;
    },
  });

  app.route({
    ...routes.prebuildsPlan,
    handler: async () => {
      const now = ctx.clock.now();
      const plans = await livePlan(store, now, deps.reconciler().settings);
      const json = plansToJson(plans);
      return {
        now: now.toISOString(),
        presets: json.presets.map((p, i) => {
          const named = plans[i];
          return {
            ...p,
            template: named?.template,
            templateVersion: named?.templateVersion,
            preset: named?.preset,
          };
        }),
      };
    },
  });
}
