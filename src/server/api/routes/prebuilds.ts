// Prebuild operations (owners only): reconciler status, pause/resume, invalidate a template's pools, resume a
// hard-limited or validation-failed preset, and the next cycle's plan.

import type { FastifyRequest } from "fastify";
import { routes } from "../../../contract/api.js";
import { presetPlanToJson } from "../../../planning/snapshot-format.js";
import { notFound } from "../../domain-errors.js";
import { setAutoscale, setPresetSettings } from "../../prebuilds/demand-settings.js";
import { invalidatePresets, resumePreset, setPaused } from "../../prebuilds/operations.js";
import { poolStatuses, readCyclePlan } from "../../prebuilds/status.js";
import { getPreset } from "../../store/presets.js";
import { getTemplateVersion } from "../../store/templates.js";
import { requireActivePreset, requireTemplate } from "../../templates/service.js";
import type { App } from "../app.js";
import type { ApiDeps } from "../deps.js";
import { presetViews } from "../views.js";
import { actorOf } from "./caller.js";

export function registerPrebuildRoutes(app: App, deps: ApiDeps): void {
  const { ctx } = deps;
  const { store } = ctx;
  /** The preset a settings route changed, as `presets list` shows it. */
  const onePreset = async (done: Awaited<ReturnType<typeof setAutoscale>>) => {
    const [json] = await presetViews(ctx, deps.reconciler().planConfig, done.template, done.version, [
      done.preset,
    ]);
    if (!json) throw notFound(`preset "${done.preset.name}"`);
    return json;
  };

  app.route({
    ...routes.prebuildsStatus,
    handler: async () => {
      const reconciler = deps.reconciler();
      const plan = await readCyclePlan(store, ctx.clock.now(), reconciler.planConfig);
      const last = reconciler.lastReport;
      return {
        paused: plan.paused,
        reconcileIntervalSeconds: reconciler.intervalMs / 1000,
        lastReconcileAt: last ? last.startedAt.toISOString() : null,
        lastReconcileDurationMs: last ? last.durationMs : null,
        inFlightJobs: plan.inFlight,
        maxInFlightJobs: plan.maxInFlight ?? 0,
        presets: poolStatuses(plan).map((p) => ({
          ...p,
          backoffUntil: p.backoffUntil ? p.backoffUntil.toISOString() : null,
        })),
      };
    },
  });

  /** The persisted pause switch; claims keep working while paused. */
  const pauseSwitch = (paused: boolean) => async (request: FastifyRequest) => {
    await setPaused(store, paused, { actor: actorOf(request), now: ctx.clock.now() });
    ctx.logger.info(`prebuilds reconciliation ${paused ? "paused" : "resumed"}`);
    return { paused };
  };
  app.route({ ...routes.pausePrebuilds, handler: pauseSwitch(true) });
  app.route({ ...routes.resumePrebuilds, handler: pauseSwitch(false) });

  app.route({
    ...routes.invalidatePrebuilds,
    handler: async (request) => {
      const template = await requireTemplate(ctx, request.params.name);
      const touched = await invalidatePresets(store, template, {
        actor: actorOf(request),
        now: ctx.clock.now(),
      });
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
      const before = await resumePreset(store, preset.id, {
        actor: actorOf(request),
        now: ctx.clock.now(),
        template: template.name,
        preset: preset.name,
      });
      if (before !== undefined && before !== "healthy") {
        ctx.logger.info({ template: name, preset: presetName, was: before }, "preset resumed");
      }
      const fresh = await getPreset(store.db, preset.id);
      if (!fresh) throw notFound(`preset "${presetName}"`);
      const [json] = await presetViews(ctx, deps.reconciler().planConfig, template, version, [fresh]);
      if (!json) throw notFound(`preset "${presetName}"`);
      return json;
    },
  });

  // Demand-driven pools: autoscale, replace-ahead and rollout (per template and preset name).
  app.route({
    ...routes.setPresetAutoscale,
    handler: async (request) => {
      const { name, preset } = request.params;
      const { min, max, targetHitRate, timezone } = request.body;
      const done = await setAutoscale(ctx, actorOf(request), name, preset, {
        min,
        max,
        targetHitRate,
        timezone: timezone ?? null,
      });
      return onePreset(done);
    },
  });
  app.route({
    ...routes.deletePresetAutoscale,
    handler: async (request) => {
      const done = await setAutoscale(
        ctx,
        actorOf(request),
        request.params.name,
        request.params.preset,
        null,
      );
      return onePreset(done);
    },
  });
  app.route({
    ...routes.updatePresetSettings,
    handler: async (request) => {
      const done = await setPresetSettings(
        ctx,
        actorOf(request),
        request.params.name,
        request.params.preset,
        request.body,
      );
      return onePreset(done);
    },
  });

  app.route({
    ...routes.prebuildsPlan,
    handler: async () => {
      const plan = await readCyclePlan(store, ctx.clock.now(), deps.reconciler().planConfig);
      return {
        now: plan.now.toISOString(),
        paused: plan.paused,
        inFlightJobs: plan.inFlight,
        maxInFlightJobs: plan.maxInFlight,
        creationBudget: plan.budget,
        ...(plan.ceilings ? { ceilings: plan.ceilings } : {}),
        presets: plan.presets.map((p) => ({
          ...presetPlanToJson(p, plan, { withReasons: true }),
          template: p.preset.templateName,
          templateVersion: p.preset.versionName,
          preset: p.preset.presetName,
          status: p.status,
        })),
      };
    },
  });
}
