// Idle cost, visible (issue 13): per template and preset name, the prebuild-hours spent waiting unclaimed and
// what they cost (their resources' `daily_cost`), over the last 24 hours and 7 days, the prebuilds claimed and
// wasted (ended unclaimed), and the cost per claim. Counted in the database at read time
// (demand-queries.ts `selectIdleUsage`), so every replica and every view agrees; the metrics' idle counters read
// the all-time columns of the same statement.
import type { Executor } from "../store/store.js";
import { selectIdleUsage } from "./demand-queries.js";

export interface IdleCost {
  templateName: string;
  presetName: string;
  idleHours24h: number;
  idleCost24h: number;
  idleHours7d: number;
  idleCost7d: number;
  claims24h: number;
  claims7d: number;
  costPerClaim24h: number | null;
  costPerClaim7d: number | null;
  wasted24h: number;
  wasted7d: number;
  /** All time: the metrics' counters. */
  idleSecondsTotal: number;
  idleCostTotal: number;
}

/** Map key of a (template name, preset name). */
export const costKey = (templateName: string, presetName: string) => `${templateName}\u0000${presetName}`;

const round = (n: number, digits: number) => Number(n.toFixed(digits));

/**
 * Idle cost of every (template name, preset name) with prebuilds, at `now`, in one statement. `recentOnly`
 * reads only what the 24 h / 7 d figures need (the views); the all-time totals are then partial.
 */
export async function readIdleCosts(
  db: Executor,
  now: Date,
  filter: { templateName?: string; recentOnly?: boolean } = {},
): Promise<Map<string, IdleCost>> {
  const rows = await selectIdleUsage(db, now, filter);
  const out = new Map<string, IdleCost>();
  for (const r of rows) {
    const cost24 = Number(r.idle_cost_day ?? 0);
    const cost7 = Number(r.idle_cost_week ?? 0);
    const claims24 = Number(r.claimed_day ?? 0);
    const claims7 = Number(r.claimed_week ?? 0);
    out.set(costKey(r.template_name, r.preset_name), {
      templateName: r.template_name,
      presetName: r.preset_name,
      idleHours24h: round(Number(r.idle_ms_day ?? 0) / 3_600_000, 3),
      idleCost24h: round(cost24, 4),
      idleHours7d: round(Number(r.idle_ms_week ?? 0) / 3_600_000, 3),
      idleCost7d: round(cost7, 4),
      claims24h: claims24,
      claims7d: claims7,
      costPerClaim24h: claims24 > 0 ? round(cost24 / claims24, 4) : null,
      costPerClaim7d: claims7 > 0 ? round(cost7 / claims7, 4) : null,
      wasted24h: Number(r.wasted_day ?? 0),
      wasted7d: Number(r.wasted_week ?? 0),
      idleSecondsTotal: Number(r.idle_ms_total ?? 0) / 1000,
      idleCostTotal: Number(r.idle_cost_total ?? 0),
    });
  }
  return out;
}
