// The landing page: every prebuild pool grouped by template, with its bar, TTL, schedule window (or, autoscaled,
// the sizing model's reason), status badges, claim hit rate over the last hour, idle cost (24 h / 7 d) and
// history chart — for an autoscaled pool also desired over time against claims — plus the reconciler's state. The `#pools` section
// reloads itself every few seconds through htmx (without JavaScript the page is simply static); its links carry
// ids so htmx gives keyboard focus back to the same link after each swap.

import { matchingSchedule, nextScheduleChange, type Scheduling } from "../../../planning/schedule.js";
import type { ServerContext } from "../../context.js";
import { selectClaimTimes } from "../../prebuilds/demand-queries.js";
import { costKey, type IdleCost, readIdleCosts } from "../../prebuilds/idle-cost.js";
import { countPrebuildEvents, countPresetEvents } from "../../prebuilds/queries.js";
import type { Reconciler } from "../../prebuilds/reconciler.js";
import { type ClaimRehearsal, claimRehearsals } from "../../prebuilds/rehearsal.js";
import {
  type LiveCyclePlan,
  type PresetPoolStatus,
  poolStatuses,
  readCyclePlan,
} from "../../prebuilds/status.js";
import { type PoolSample, readPoolHistory } from "../../store/pool-history.js";
import { listPresets, type Preset } from "../../store/presets.js";
import { demandChart, historyChart, poolBar } from "../charts.js";
import { type Html, html } from "../html.js";
import { badge, formatDuration, time } from "../layout.js";

export const HISTORY_WINDOW_MS = 3 * 3_600_000;
const HIT_RATE_WINDOW_MS = 3_600_000;

export interface PoolRow {
  status: PresetPoolStatus;
  preset: Preset | undefined;
  hits: number;
  misses: number;
  history: PoolSample[];
  /** The claim rehearsal (null: not run yet) and how many real claims replaced resources. */
  rehearsal: ClaimRehearsal | null;
  claimReplacements: number;
  /** Idle prebuild-hours and cost of the preset name (undefined: no prebuilds yet). */
  cost: IdleCost | undefined;
  /** Claim request times in the history window (autoscaled presets only). */
  claims: number[];
}

export interface ReconcilerState {
  paused: boolean;
  intervalMs: number;
  inFlightJobs: number;
  maxInFlightJobs: number;
  lastCycleAt: Date | null;
  lastCycleMs: number | null;
  lastOutcome: string | null;
}

export interface PoolsData {
  now: Date;
  reconciler: ReconcilerState;
  pools: PoolRow[];
  /** The next cycle's plan the page was built from (the reconciler page lists its actions). */
  plan: LiveCyclePlan;
}

export function schedulingOf(preset: Preset | undefined): Scheduling | null {
  if (!preset || preset.schedulingTimezone === "" || preset.schedules.length === 0) return null;
  return { timezone: preset.schedulingTimezone, schedules: preset.schedules };
}

export async function loadPools(ctx: ServerContext, reconciler: Reconciler): Promise<PoolsData> {
  const now = ctx.clock.now();
  const db = ctx.store.db;
  const plan = await readCyclePlan(ctx.store, now, reconciler.planConfig);
  const statuses = poolStatuses(plan);
  const ids = statuses.map((p) => p.presetId);
  const autoscaled = statuses.filter((s) => s.autoscale).map((s) => s.presetId);
  const [presets, events, history, rehearsals, replaced, costs, claims] = await Promise.all([
    listPresets(db, { presetIds: ids }),
    countPrebuildEvents(db, new Date(now.getTime() - HIT_RATE_WINDOW_MS)),
    readPoolHistory(db, ids, new Date(now.getTime() - HISTORY_WINDOW_MS)),
    claimRehearsals(db, ids),
    countPresetEvents(db, ids, "replacement"),
    readIdleCosts(db, now, { recentOnly: true }),
    selectClaimTimes(db, autoscaled, now.getTime() - HISTORY_WINDOW_MS),
  ]);
  const byId = new Map(presets.map((p) => [p.id, p]));
  const count = (id: string, type: string) =>
    events.find((e) => e.presetId === id && e.type === type)?.count ?? 0;
  const last = reconciler.lastReport;
  return {
    now,
    reconciler: {
      paused: plan.paused,
      intervalMs: reconciler.intervalMs,
      inFlightJobs: plan.inFlight,
      maxInFlightJobs: plan.maxInFlight ?? 0,
      lastCycleAt: last?.startedAt ?? null,
      lastCycleMs: last?.durationMs ?? null,
      lastOutcome: last?.outcome ?? null,
    },
    plan,
    pools: statuses.map((s) => ({
      status: s,
      preset: byId.get(s.presetId),
      hits: count(s.presetId, "claim_succeeded"),
      misses: count(s.presetId, "claim_missed"),
      history: history.get(s.presetId) ?? [],
      rehearsal: rehearsals.get(s.presetId) ?? null,
      claimReplacements: replaced.get(s.presetId) ?? 0,
      cost: costs.get(costKey(s.template, s.preset)),
      claims: claims.filter((c) => c.preset_id === s.presetId).map((c) => Number(c.created_at)),
    })),
  };
}

export function reconcilerSummary(r: ReconcilerState, now: Date): Html {
  const leader =
    r.lastOutcome === null
      ? "no cycle yet"
      : r.lastOutcome === "not_leader"
        ? "another replica leads"
        : "this replica";
  return html`<dl class="kv" data-testid="reconciler-state">
<dt>State</dt><dd>${r.paused ? badge("paused", "warn") : badge("running", "ok")}</dd>
<dt>Last cycle</dt><dd>${r.lastCycleAt ? html`${time(r.lastCycleAt, now)}, took ${Math.round(r.lastCycleMs ?? 0)} ms (${r.lastOutcome})` : "none yet"}</dd>
<dt>Interval</dt><dd>${formatDuration(r.intervalMs / 1000)}</dd>
<dt>Leader</dt><dd>${leader}</dd>
<dt>Prebuild jobs in flight</dt><dd>${r.inFlightJobs} of at most ${r.maxInFlightJobs}</dd>
</dl>`;
}

/** One line for the overview; the reconciler page shows the full list. */
export function reconcilerStrip(r: ReconcilerState, now: Date): Html {
  return html`<div class="card strip" data-testid="reconciler-strip"><strong>Reconciler</strong>
${r.paused ? badge("paused", "warn") : badge("running", "ok")}
<span>last cycle ${r.lastCycleAt ? html`${time(r.lastCycleAt, now)} (${Math.round(r.lastCycleMs ?? 0)} ms)` : "not yet"}</span>
<span>every ${formatDuration(r.intervalMs / 1000)}</span>
<span>leader: ${r.lastOutcome === "not_leader" ? "another replica" : "this replica"}</span>
<span>jobs in flight: ${r.inFlightJobs}/${r.maxInFlightJobs}</span></div>`;
}

/**
 * The chart's time span: from the first sample to now, between 10 minutes and HISTORY_WINDOW_MS, so a young
 * pool's history is readable instead of a sliver at the right edge.
 */
export function chartWindowMs(history: readonly PoolSample[], now: Date): number {
  const first = history[0]?.at.getTime() ?? now.getTime();
  const span = now.getTime() - first;
  return Math.min(HISTORY_WINDOW_MS, Math.max(10 * 60_000, Math.ceil(span / 600_000) * 600_000));
}

export function scheduleWindow(preset: Preset | undefined, s: PresetPoolStatus, now: Date): Html {
  if (s.autoscale) {
    const pct = Number((s.autoscale.targetHitRate * 100).toFixed(1));
    return html`autoscaled ${s.autoscale.min}–${s.autoscale.max} for ${pct}% <span class="muted">(${s.autoscaleTimezone})</span>: ${s.desiredReason}`;
  }
  const scheduling = schedulingOf(preset);
  if (!scheduling) return html`always ${s.desiredInstances ?? 0}`;
  const index = matchingSchedule(scheduling, now);
  const current = index === null ? undefined : scheduling.schedules[index];
  const next = nextScheduleChange(
    { desiredInstances: s.desiredInstances ?? 0, active: s.active, scheduling },
    now,
  );
  return html`${
    current
      ? html`<code>${current.cron}</code> → ${current.instances}`
      : html`outside every schedule → ${s.desiredInstances ?? 0}`
  } <span class="muted">(${scheduling.timezone})</span>${next && html`; changes ${time(next, now)}`}`;
}

export function statusBadges(s: PresetPoolStatus, paused: boolean, now: Date): Html[] {
  const out: Html[] = [];
  if (paused) out.push(badge("paused", "warn"));
  if (!s.active) out.push(badge("inactive version", "idle"));
  if (s.status === "hard_limited") out.push(badge("hard-limited", "bad"));
  if (s.status === "validation_failed") out.push(badge("validation failed", "bad"));
  if (s.backoffUntil && s.backoffUntil > now)
    out.push(badge(`backing off until ${s.backoffUntil.toISOString().slice(11, 19)} UTC`, "warn"));
  if (out.length === 0) {
    const full = s.prebuilds.eligible >= s.prebuilds.desired;
    out.push(full ? badge("full", "ok") : badge("filling", "warn"));
  }
  return out;
}

/**
 * A claim of this pool rebuilds instead of handing over — the rehearsal found it before anyone claimed, or real
 * claims did: say which resources, and what to do about it.
 */
export function claimWarning(row: PoolRow): Html {
  const replacing = row.rehearsal?.status === "replacements" ? row.rehearsal.replacements : [];
  if (replacing.length === 0 && row.claimReplacements === 0) return html``;
  return html`<p class="notice bad small" data-testid="claim-warning"><strong>Claims rebuild instead of handing over.</strong>
${replacing.length > 0 && html`The claim rehearsal found that a claim replaces ${replacing.map((r) => html`<code>${r.resource}</code> (${r.paths.join(", ") || "?"}) `)}.`}
${row.claimReplacements > 0 && html`${row.claimReplacements} claim${row.claimReplacements === 1 ? "" : "s"} replaced resources.`}
Add the changing attributes to <code>lifecycle { ignore_changes = [...] }</code> (docs/terraform-templates.md, "Preventing replacement on claim").</p>`;
}

function hitRate(row: PoolRow): Html {
  const total = row.hits + row.misses;
  if (total === 0) return html`<span class="muted">no claims in the last hour</span>`;
  return html`${Math.round((row.hits / total) * 100)}% <span class="muted">(${row.hits} of ${total} claims warm, last hour)</span>`;
}

const money = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(2));

function idleCost(row: PoolRow): Html {
  const c = row.cost;
  if (!c) return html`<span class="muted">no prebuilds yet</span>`;
  const perClaim = c.costPerClaim24h === null ? "no claims" : `${money(c.costPerClaim24h)} per claim`;
  return html`24 h: ${c.idleHours24h.toFixed(1)} prebuild-h, ${money(c.idleCost24h)} (${perClaim}, ${c.wasted24h} wasted)
<span class="muted">· 7 d: ${c.idleHours7d.toFixed(1)} prebuild-h, ${money(c.idleCost7d)}, ${c.wasted7d} wasted</span>`;
}

function poolCard(row: PoolRow, data: PoolsData): Html {
  const s = row.status;
  const p = s.prebuilds;
  const window = chartWindowMs(row.history, data.now);
  return html`<article class="card" data-testid="pool" data-preset="${s.preset}" data-template="${s.template}" data-eligible="${p.eligible}" data-desired="${p.desired}">
<h3>${s.preset} <span class="muted small">${s.templateVersion}</span></h3>
<div>${statusBadges(s, data.reconciler.paused, data.now)}</div>
${claimWarning(row)}
${poolBar(p)}
<div class="legend"><span><span class="sw eligible"></span>${p.eligible} eligible</span>
<span><span class="sw notready"></span>${Math.max(0, p.running - p.eligible - p.expired)} not ready</span>
<span><span class="sw expired"></span>${p.expired} expired</span>
<span><span class="sw starting"></span>${p.starting} starting</span>
<span><span class="sw desired"></span>${p.desired} desired</span></div>
<dl class="kv small">
<dt>Running</dt><dd>${p.running}</dd>
<dt>TTL</dt><dd>${s.ttlSeconds ? formatDuration(s.ttlSeconds) : "never expires"}</dd>
<dt>Desired</dt><dd>${scheduleWindow(row.preset, s, data.now)}</dd>
<dt>Claim hit rate</dt><dd>${hitRate(row)}</dd>
<dt>Idle cost</dt><dd data-testid="idle-cost">${idleCost(row)}</dd>
</dl>
<h4 class="small">History, last ${formatDuration(window / 1000)}</h4>
${historyChart(row.history, data.now, window)}
<div class="legend"><span><span class="sw desired"></span>desired (dashed)</span><span><span class="sw running"></span>running</span><span><span class="sw eligible"></span>eligible</span></div>
${
  s.autoscale &&
  html`<h4 class="small">Demand, last ${formatDuration(HISTORY_WINDOW_MS / 1000)}</h4>
${demandChart(row.history, row.claims, data.now, HISTORY_WINDOW_MS)}
<div class="legend"><span><span class="sw starting"></span>claims per 10 min</span><span><span class="sw desired"></span>desired</span></div>`
}
</article>`;
}

/** The self-refreshing section (also served alone as the htmx fragment). */
export function poolsSection(data: PoolsData): Html {
  const byTemplate = new Map<string, PoolRow[]>();
  for (const row of data.pools) {
    const list = byTemplate.get(row.status.template) ?? [];
    list.push(row);
    byTemplate.set(row.status.template, list);
  }
  return html`<section id="pools" hx-get="/fragments/pools" hx-trigger="every 2s" hx-swap="outerHTML" aria-live="off">
${reconcilerStrip(data.reconciler, data.now)}
${
  byTemplate.size === 0
    ? html`<p class="notice">No prebuild pools yet. Push a template whose presets declare prebuilds, e.g.
<code>prewarm templates push echo-demo -d examples/templates/echo-demo --provisioner echo --activate</code>.</p>`
    : [...byTemplate].map(
        ([
          template,
          rows,
        ]) => html`<h2><a id="pools-template-${template}" href="/templates/${encodeURIComponent(template)}">${template}</a></h2>
<div class="grid">${rows.map((r) => poolCard(r, data))}</div>`,
      )
}
<p class="muted small">Updated ${data.now.toISOString().slice(11, 19)} UTC.</p>
</section>`;
}
