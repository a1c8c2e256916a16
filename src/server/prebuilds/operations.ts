// Reconciler operations the API and the dashboard call (owners only): ask for a cycle, the pause switch, resume
// a hard-limited or validation-failed preset, invalidate (recycle) a template's pools. Each persists its change
// and then asks every replica's reconciler for a cycle, so the effect shows within about one build time.
import { type AuditStamp, audit, target } from "../audit.js";
import { invalidateTemplatePresets } from "../store/presets.js";
import { channels, publishQuietly } from "../store/pubsub.js";
import type { PresetStatus } from "../store/schema.js";
import type { Store } from "../store/store.js";
import { markPresetHealthy, writePaused } from "./queries.js";

/** Asks every replica's reconciler for a cycle soon (after a claim, a finished prebuild build, an activation). */
export async function requestReconcile(store: Store, reason: string): Promise<void> {
  // Best effort: the periodic cycle catches up.
  await publishQuietly(store.pubsub, channels.reconcile, reason);
}

/** Persists the pause switch. While paused no cycle acts (claims keep working). */
export async function setPaused(store: Store, paused: boolean, by: AuditStamp): Promise<void> {
  await store.transaction(async (tx) => {
    await writePaused(tx, paused);
    await audit(tx, by.now, {
      actor: by.actor,
      action: paused ? "prebuilds.pause" : "prebuilds.resume",
      target: target.prebuilds(),
    });
  });
  if (!paused) await requestReconcile(store, "resumed");
}

/**
 * hard_limited / validation_failed → healthy. Returns the previous status (undefined: no such preset).
 * `preset` names it for the audit log.
 */
export async function resumePreset(
  store: Store,
  presetId: string,
  by: AuditStamp & { template: string; preset: string },
): Promise<PresetStatus | undefined> {
  const before = await store.transaction(async (tx) => {
    const was = await markPresetHealthy(tx, presetId);
    if (was !== undefined)
      await audit(tx, by.now, {
        actor: by.actor,
        action: "preset.resume",
        target: target.preset(by.template, by.preset),
        detail: { was },
      });
    return was;
  });
  if (before !== undefined && before !== "healthy") await requestReconcile(store, "preset resumed");
  return before;
}

/** Sets last_invalidated_at = now on the prebuild presets of the template's active version. */
export async function invalidatePresets(
  store: Store,
  template: { id: string; name: string },
  by: AuditStamp,
): Promise<{ presetId: string; presetName: string; versionId: string }[]> {
  const touched = await store.transaction(async (tx) => {
    const presets = await invalidateTemplatePresets(tx, template.id, by.now);
    await audit(tx, by.now, {
      actor: by.actor,
      action: "prebuilds.invalidate",
      target: target.template(template.name),
      detail: { presets: presets.map((p) => p.presetName) },
    });
    return presets;
  });
  if (touched.length > 0) await requestReconcile(store, "invalidated");
  return touched;
}
