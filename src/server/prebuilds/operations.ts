// Reconciler operations the API and the dashboard call (owners only): ask for a cycle, the pause switch, resume
// a hard-limited or validation-failed preset, invalidate (recycle) a template's pools. Each persists its change
// and then asks every replica's reconciler for a cycle, so the effect shows within about one build time.
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
export async function setPaused(store: Store, paused: boolean): Promise<void> {
  await writePaused(store.db, paused);
  if (!paused) await requestReconcile(store, "resumed");
}

/** hard_limited / validation_failed → healthy. Returns the previous status (undefined: no such preset). */
export async function resumePreset(store: Store, presetId: string): Promise<PresetStatus | undefined> {
  const before = await store.transaction((tx) => markPresetHealthy(tx, presetId));
  if (before !== undefined && before !== "healthy") await requestReconcile(store, "preset resumed");
  return before;
}

/** Sets last_invalidated_at = now on the prebuild presets of the template's active version. */
export async function invalidatePresets(
  store: Store,
  templateId: string,
  now: Date,
): Promise<{ presetId: string; presetName: string; versionId: string }[]> {
  const touched = await store.transaction((tx) => invalidateTemplatePresets(tx, templateId, now));
  if (touched.length > 0) await requestReconcile(store, "invalidated");
  return touched;
}
