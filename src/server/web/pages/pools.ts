// The landing page: every prebuild pool as one row of a dense, sortable table (pool-table.ts has the rules) —
// status badges, a bar, the counts, desired (schedule window or autoscale), TTL, claim hit rate over the last
// hour, idle cost over 24 h and failed creations — and under a pool in trouble a problem row: why (hard-limited,
// validation failed, backing off), the last error, the failure count with a link to the failed builds, the claim
// rehearsal's warning, and for owners Resume / Invalidate right there. Plus the reconciler's state.
// Each pool's page (/pools/ID) has the full card: legend, schedule, idle cost over 7 d, the history chart and,
// for an autoscaled pool, the demand chart, and the failed creation builds.
// The `#pools` section reloads itself every few seconds through htmx (without JavaScript the page is simply
// static), keeping the sort; its links carry ids so htmx gives keyboard focus back to the same link after a swap.

import { matchingSchedule, nextScheduleChange, type Scheduling } from "../../../planning/schedule.js";
import type { ServerContext } from "../../context.js";
import { selectClaimTimes } from "../../prebuilds/demand-queries.js";
import { costKey, type IdleCost, readIdleCosts } from "../../prebuilds/idle-cost.js";
import {
  countFailureStreaks,
  countPrebuildEvents,
  countPresetEvents,
  type FailedCreationRow,
  selectFailureStreak,
} from "../../prebuilds/queries.js";
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
import { badge, csrfField, formatDuration, time } from "../layout.js";
import {
  DEFAULT_SORT,
  hasProblem,
  type PoolHealth,
  type PoolSort,
  queryOf,
  hitRate as rateOf,
  type SortablePool,
  type SortKey,
  severity,
  sortPools,
  sortQuery,
} from "../pool-table.js";
import type { Session } from "../session.js";

export const HISTORY_WINDOW_MS = 3 * 3_600_000;
const HIT_RATE_WINDOW_MS = 3_600_000;
/** How many failed creations a pool's page lists. */
const FAILED_SHOWN = 20;

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
  /** Failed creations since the last successful one, and the newest of them (undefined: none). */
  failures: number;
  lastFailure: FailedCreationRow | undefined;
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
  const [presets, events, history, rehearsals, replaced, costs, claims, failures] = await Promise.all([
    listPresets(db, { presetIds: ids }),
    countPrebuildEvents(db, new Date(now.getTime() - HIT_RATE_WINDOW_MS)),
    readPoolHistory(db, ids, new Date(now.getTime() - HISTORY_WINDOW_MS)),
    claimRehearsals(db, ids),
    countPresetEvents(db, ids, "replacement"),
    readIdleCosts(db, now, { recentOnly: true }),
    selectClaimTimes(db, autoscaled, now.getTime() - HISTORY_WINDOW_MS),
    countFailureStreaks(db, ids),
  ]);
  // The last error only for the few presets with a failure streak.
  const failing = [...failures.keys()];
  const lastFailures = new Map(
    (await Promise.all(failing.map((id) => selectFailureStreak(db, [id], 1)))).flatMap((rows) =>
      rows[0] ? [[rows[0].preset_id, rows[0]] as const] : [],
    ),
  );
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
      failures: failures.get(s.presetId) ?? 0,
      lastFailure: lastFailures.get(s.presetId),
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

function hitRateText(row: PoolRow): Html {
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

const poolPath = (row: { status: { presetId: string } }) =>
  `/pools/${encodeURIComponent(row.status.presetId)}`;

function healthOf(row: PoolRow, now: Date): PoolHealth {
  const s = row.status;
  return {
    status: s.status,
    backingOff: s.backoffUntil !== null && s.backoffUntil > now,
    eligible: s.prebuilds.eligible,
    desired: s.prebuilds.desired,
    failures: row.failures,
    claimsRebuild:
      (row.rehearsal?.status === "replacements" && row.rehearsal.replacements.length > 0) ||
      row.claimReplacements > 0,
  };
}

function sortableOf(row: PoolRow, now: Date): SortablePool {
  const s = row.status;
  return {
    template: s.template,
    preset: s.preset,
    templateVersion: s.templateVersion,
    severity: severity(healthOf(row, now)),
    ...s.prebuilds,
    hits: row.hits,
    misses: row.misses,
    cost24h: row.cost ? row.cost.idleCost24h : null,
    failures: row.failures,
  };
}

/** The full card of one pool (its page): everything the table row abbreviates, and the charts. */
function poolCard(row: PoolRow, data: PoolsData): Html {
  const s = row.status;
  const p = s.prebuilds;
  const window = chartWindowMs(row.history, data.now);
  return html`<article class="card" data-testid="pool-card" data-preset="${s.preset}" data-template="${s.template}" data-eligible="${p.eligible}" data-desired="${p.desired}">
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
<dt>Claim hit rate</dt><dd>${hitRateText(row)}</dd>
<dt>Idle cost</dt><dd data-testid="idle-cost">${idleCost(row)}</dd>
</dl>
<h2 class="small">History, last ${formatDuration(window / 1000)}</h2>
${historyChart(row.history, data.now, window)}
<div class="legend"><span><span class="sw desired"></span>desired (dashed)</span><span><span class="sw running"></span>running</span><span><span class="sw eligible"></span>eligible</span></div>
${
  s.autoscale &&
  html`<h2 class="small">Demand, last ${formatDuration(HISTORY_WINDOW_MS / 1000)}</h2>
${demandChart(row.history, row.claims, data.now, HISTORY_WINDOW_MS)}
<div class="legend"><span><span class="sw starting"></span>claims per 10 min</span><span><span class="sw desired"></span>desired</span></div>`
}
</article>`;
}

/** Why the pool is in trouble, in one sentence. */
function problemReason(row: PoolRow, now: Date): string {
  const s = row.status;
  if (s.status === "validation_failed")
    return "Validation failed: the reconciler stopped creating prebuilds of this preset until it is resumed.";
  if (s.status === "hard_limited")
    return "Hard-limited: its latest creations all failed, so the reconciler stopped creating prebuilds until it is resumed.";
  if (s.backoffUntil && s.backoffUntil > now)
    return `Backing off after failed creations: the next attempt is at ${s.backoffUntil.toISOString().slice(11, 19)} UTC.`;
  if (row.failures > 0) return "Creations failed recently.";
  return "";
}

/**
 * The problem of a pool where it shows (its table row, its page): the reason, the failure count with the last
 * error and a link to the failed builds, the claim warning, and owners' Resume / Invalidate. The buttons post
 * to the template routes with `back=pools` (a fixed code), which send the owner back to the pools.
 */
function problem(row: PoolRow, data: PoolsData, session: Session, back: "pools" | "pool"): Html {
  const s = row.status;
  const f = row.lastFailure;
  const owner = session.user.role === "owner";
  const tpl = `/templates/${encodeURIComponent(s.template)}`;
  const id = s.presetId;
  const reason = problemReason(row, data.now);
  return html`${reason && html`<strong>${reason}</strong> `}
${
  row.failures > 0 &&
  html`<span data-testid="failure-count">${row.failures} failed creation${row.failures === 1 ? "" : "s"} since the last successful one</span>${
    f &&
    html`, the last ${time(new Date(f.completed_at), data.now)}: <code class="error" data-testid="last-error">${f.error || "no error text"}</code>`
  }
${back === "pools" && html` <a id="failures-${id}" href="${poolPath(row)}#failures">failed builds</a>`}`
}
${claimWarning(row)}
${
  owner &&
  s.active &&
  html`<span class="actions">${
    s.status !== "healthy" &&
    html`<form class="inline" method="post" action="${tpl}/presets/${encodeURIComponent(s.preset)}/resume">${csrfField(session)}<input type="hidden" name="back" value="${back}"><input type="hidden" name="preset_id" value="${id}"><button type="submit" id="resume-${id}" data-action="resume">Resume preset</button></form>`
  }
<form class="inline" method="post" action="${tpl}/invalidate">${csrfField(session)}<input type="hidden" name="back" value="${back}"><input type="hidden" name="preset_id" value="${id}"><button type="submit" class="secondary" id="invalidate-${id}" data-action="invalidate" title="replaces every prebuild of ${s.template}'s active version">Invalidate prebuilds</button></form></span>`
}`;
}

interface Column {
  key: SortKey | null;
  label: string;
  /** "opt": hidden on narrow screens; "num": right-aligned. */
  cls?: string;
}

const COLUMNS: Column[] = [
  { key: "pool", label: "Pool" },
  { key: "status", label: "Status" },
  { key: "eligible", label: "Eligible" },
  { key: "desired", label: "Desired", cls: "num" },
  { key: "running", label: "Running", cls: "opt num" },
  { key: "starting", label: "Starting", cls: "opt num" },
  { key: "expired", label: "Expired", cls: "opt num" },
  { key: null, label: "TTL", cls: "opt" },
  { key: "hitrate", label: "Hit rate (1\u00a0h)", cls: "num" },
  { key: "cost", label: "Idle cost (24\u00a0h)", cls: "opt num" },
  { key: "failures", label: "Failures", cls: "num" },
];

function header(sort: PoolSort): Html {
  return html`<thead><tr>${COLUMNS.map((c) => {
    const cls = c.cls ? html` class="${c.cls}"` : "";
    if (!c.key) return html`<th scope="col"${cls}>${c.label}</th>`;
    const current = sort.key === c.key;
    const ariaSort = current ? (sort.dir === "asc" ? "ascending" : "descending") : "none";
    const arrow = current ? (sort.dir === "asc" ? " ▲" : " ▼") : "";
    return html`<th scope="col"${cls} aria-sort="${ariaSort}"><a id="sort-${c.key}" href="/${sortQuery(sort, c.key)}" data-sort="${c.key}">${c.label}<span aria-hidden="true">${arrow}</span></a></th>`;
  })}</tr></thead>`;
}

/** The Desired cell: the count, and what decides it (title: the whole reason). */
function desiredCell(row: PoolRow): Html {
  const s = row.status;
  const how = s.autoscale
    ? `autoscaled ${s.autoscale.min}–${s.autoscale.max}`
    : schedulingOf(row.preset)
      ? "scheduled"
      : "";
  return html`<td class="num" title="${s.desiredReason}">${s.prebuilds.desired}${how && html` <span class="muted small">${how}</span>`}</td>`;
}

function tableRow(row: PoolRow, data: PoolsData, session: Session): Html {
  const s = row.status;
  const p = s.prebuilds;
  const health = healthOf(row, data.now);
  const rate = rateOf(row);
  const trouble = hasProblem(health);
  const c = row.cost;
  return html`<tr data-testid="pool" data-preset="${s.preset}" data-template="${s.template}" data-preset-id="${s.presetId}" data-eligible="${p.eligible}" data-desired="${p.desired}" data-failures="${row.failures}" data-status="${s.status}" class="${trouble ? "trouble" : ""}">
<td><a id="pools-template-${s.presetId}" href="/templates/${encodeURIComponent(s.template)}">${s.template}</a> / <a id="pool-${s.presetId}" href="${poolPath(row)}" data-testid="pool-link">${s.preset}</a> <span class="muted small">${s.templateVersion}</span></td>
<td class="status">${statusBadges(s, data.reconciler.paused, data.now)}</td>
<td class="barcell">${poolBar(p)}<span data-testid="counts">${p.eligible}/${p.desired}</span></td>
${desiredCell(row)}
<td class="opt num">${p.running}</td><td class="opt num">${p.starting}</td><td class="opt num">${p.expired}</td>
<td class="opt">${s.ttlSeconds ? formatDuration(s.ttlSeconds) : "never"}</td>
<td class="num" data-testid="hit-rate">${rate === null ? html`<span class="muted">—</span>` : html`${Math.round(rate * 100)}% <span class="muted small">(${row.hits}/${row.hits + row.misses})</span>`}</td>
<td class="opt num" data-testid="idle-cost">${c ? html`${money(c.idleCost24h)} <span class="muted small">(${c.idleHours24h.toFixed(1)} h)</span>` : html`<span class="muted">—</span>`}</td>
<td class="num">${row.failures > 0 ? html`<a id="failcount-${s.presetId}" href="${poolPath(row)}#failures" class="error">${row.failures}</a>` : html`<span class="muted">0</span>`}</td>
</tr>
${trouble && html`<tr class="problem" data-testid="pool-problem" data-preset="${s.preset}" data-template="${s.template}"><td colspan="${COLUMNS.length}"><div class="problem-body">${problem(row, data, session, "pools")}</div></td></tr>`}`;
}

/** The self-refreshing section (also served alone as the htmx fragment), sorted as asked. */
export function poolsSection(data: PoolsData, session: Session, sort: PoolSort = DEFAULT_SORT): Html {
  const rows = sortPools(data.pools, sort, (r) => sortableOf(r, data.now));
  return html`<section id="pools" hx-get="/fragments/pools${queryOf(sort)}" hx-trigger="every 2s" hx-swap="outerHTML" aria-live="off">
${reconcilerStrip(data.reconciler, data.now)}
${
  rows.length === 0
    ? html`<p class="notice">No prebuild pools yet. Push a template whose presets declare prebuilds, e.g.
<code>prewarm templates push echo-demo -d examples/templates/echo-demo --provisioner echo --activate</code>.</p>`
    : html`<div class="table-wrap"><table class="pools dense" data-testid="pools-table" data-sort="${sort.key}" data-dir="${sort.dir}">
<caption class="sr-only">Prebuild pools, sorted by ${sort.key} (${sort.dir === "asc" ? "ascending" : "descending"}); pools in trouble have a row below them</caption>
${header(sort)}<tbody>${rows.map((r) => tableRow(r, data, session))}</tbody></table></div>`
}
<p class="muted small">Updated ${data.now.toISOString().slice(11, 19)} UTC. Sort by a column's header; a pool's name opens its history.</p>
</section>`;
}

/** One pool's page: its problem (if any), the full card with the charts, and its failed creation builds. */
export function poolPage(
  row: PoolRow,
  data: PoolsData,
  failed: readonly FailedCreationRow[],
  session: Session,
  notice?: string,
): Html {
  const s = row.status;
  const owner = session.user.role === "owner";
  const trouble = hasProblem(healthOf(row, data.now));
  return html`<h1>Pool <a href="/templates/${encodeURIComponent(s.template)}">${s.template}</a> / ${s.preset} <span class="muted small">${s.templateVersion}</span></h1>
${notice && html`<p class="notice ok" role="status">${notice}</p>`}
<p><a href="/">All pools</a></p>
${trouble && html`<div class="notice bad" data-testid="pool-problem">${problem(row, data, session, "pool")}</div>`}
${poolCard(row, data)}
<h2 id="failures">Failed creations since the last successful one</h2>
${
  failed.length === 0
    ? html`<p class="muted">None.</p>`
    : html`<div class="table-wrap"><table data-testid="failed-builds"><thead><tr><th scope="col">Ended</th><th scope="col">Build</th><th scope="col">Error</th></tr></thead><tbody>
${failed.map(
  (f) => html`<tr><td>${time(new Date(f.completed_at), data.now)}</td>
<td>${
    owner && !f.workspace_deleted
      ? html`<a href="/workspaces/${encodeURIComponent(f.workspace_id)}?build=${f.build_number}#logs">build #${f.build_number}</a>`
      : html`build #${f.build_number}${f.workspace_deleted ? html` <span class="muted small">(prebuild deleted since)</span>` : ""}`
  }</td>
<td><code class="error">${f.error || "no error text"}</code></td></tr>`,
)}</tbody></table></div>
${failed.length >= FAILED_SHOWN && html`<p class="muted small">The ${FAILED_SHOWN} most recent of ${row.failures}.</p>`}`
}`;
}

/** A pool's page data: the pool among all (so paused, reconciler state and badges agree with the table). */
export async function loadPool(
  ctx: ServerContext,
  reconciler: Reconciler,
  presetId: string,
): Promise<{ data: PoolsData; row: PoolRow; failed: FailedCreationRow[] } | undefined> {
  const data = await loadPools(ctx, reconciler);
  const row = data.pools.find((r) => r.status.presetId === presetId);
  if (!row) return undefined;
  const failed = await selectFailureStreak(ctx.store.db, [presetId], FAILED_SHOWN);
  return { data, row, failed };
}
