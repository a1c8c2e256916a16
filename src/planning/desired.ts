// A preset's desired pool size and why, in one place: inactive → 0 (§5 rule 1 and 5); autoscaled → the sizing
// model (autoscale.ts), which replaces `instances` and schedules while the policy is on; otherwise the first
// matching schedule, or `instances`. Pure; cycle.ts calls it once per preset per cycle and every view shows the
// result (`desired` and `desiredReason`).
import { type AutoscaleDecision, autoscaleDesired } from "./autoscale.js";
import type { PresetSnapshot } from "./plan.js";
import { desiredInstances, matchingSchedule } from "./schedule.js";

export interface DesiredDecision {
  desired: number;
  /** In words, e.g. "forecast 0.40 claims/min × refill 6m (p90) → 5 for 95%" or "instances 2". */
  reason: string;
  /** The sizing model's decision when the preset is autoscaled (and active). */
  autoscale: AutoscaleDecision | null;
}

/** The calendar's timezone of an autoscaled preset: the policy's, else the preset's schedule's, else UTC. */
export function autoscaleTimezone(preset: Pick<PresetSnapshot, "autoscale" | "scheduling">): string {
  const own = preset.autoscale?.policy.timezone;
  if (own) return own;
  const scheduled = preset.scheduling?.timezone;
  return scheduled && scheduled.trim() !== "" ? scheduled : "UTC";
}

export function resolveDesired(preset: PresetSnapshot, now: Date): DesiredDecision {
  if (!preset.active) return { desired: 0, reason: "inactive version: 0", autoscale: null };
  if (preset.autoscale) {
    const decision = autoscaleDesired(
      preset.autoscale,
      autoscaleTimezone(preset),
      preset.buildDurationsMs ?? [],
      now,
    );
    return { desired: decision.desired, reason: decision.reason, autoscale: decision };
  }
  const desired = desiredInstances(preset, now);
  const index = preset.scheduling ? matchingSchedule(preset.scheduling, now) : null;
  const schedule = index === null ? undefined : preset.scheduling?.schedules[index];
  if (preset.scheduling && schedule) {
    return {
      desired,
      reason: `schedule "${schedule.cron}" (${preset.scheduling.timezone}) → ${desired}`,
      autoscale: null,
    };
  }
  if (preset.scheduling && preset.scheduling.schedules.length > 0) {
    return { desired, reason: `no schedule matches → instances ${desired}`, autoscale: null };
  }
  return { desired, reason: `instances ${desired}`, autoscale: null };
}
