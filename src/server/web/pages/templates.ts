// Templates: the list, and one template's page — versions (active marked), the active version's presets with
// their parameters, TTL, schedules and next schedule change, pool counts, demand-driven settings (autoscale,
// replace-ahead, rollout), and (owners) buttons to invalidate the template's prebuilds, to resume a
// hard-limited or validation-failed preset and a form to autoscale a preset or turn it off.

import { nextScheduleChange } from "../../../planning/schedule.js";
import { poolsById, presetDemand, templateViews, versionSummaryViews } from "../../api/views.js";
import type { ServerContext } from "../../context.js";
import type { PlanConfig, PresetPoolStatus } from "../../prebuilds/status.js";
import type { PresetSettings } from "../../store/preset-settings.js";
import { listPresets } from "../../store/presets.js";
import { listTemplates, listTemplateVersions, type Template } from "../../store/templates.js";
import { type Html, html } from "../html.js";
import { badge, csrfField, formatDuration, statusBadge, time } from "../layout.js";
import type { Session } from "../session.js";
import { schedulingOf } from "./pools.js";

const tPath = (name: string) => `/templates/${encodeURIComponent(name)}`;

/** Autoscale, replace-ahead and rollout of a preset (issue 13). */
function demandRows(settings: PresetSettings | undefined, pool: PresetPoolStatus | undefined): Html {
  const a = settings?.autoscale;
  const lead = pool?.replaceAheadSeconds ?? 0;
  const setting = settings?.replaceAhead ?? null;
  return html`<dt>Autoscale</dt><dd data-testid="autoscale">${
    a
      ? html`${a.min}–${a.max} for ${Number((a.targetHitRate * 100).toFixed(1))}%${pool?.desiredReason && html`: ${pool.desiredReason}`}`
      : "off"
  }</dd>
<dt>Replace-ahead</dt><dd>${setting === null ? "server default" : setting === "auto" ? "auto" : `${setting} s`} → ${lead > 0 ? formatDuration(lead) : "off"}</dd>
<dt>Rollout</dt><dd>${settings?.rollout ?? "surge"}</dd>`;
}

function autoscaleForm(
  template: string,
  preset: string,
  settings: PresetSettings | undefined,
  session: Session,
): Html {
  const a = settings?.autoscale;
  const action = `${tPath(template)}/presets/${encodeURIComponent(preset)}/autoscale`;
  return html`<form class="inline" method="post" action="${action}" data-testid="autoscale-form">${csrfField(session)}
<label>min <input name="min" type="number" min="0" value="${a?.min ?? 1}" required size="3"></label>
<label>max <input name="max" type="number" min="0" value="${a?.max ?? 5}" required size="3"></label>
<label>target % <input name="target" type="number" min="1" max="99.9" step="0.1" value="${a ? Number((a.targetHitRate * 100).toFixed(1)) : 95}" required size="4"></label>
<button type="submit" name="action" value="on">${a ? "Update autoscale" : "Autoscale"}</button>
${a && html`<button type="submit" name="action" value="off" class="secondary" formnovalidate>Turn off</button>`}
</form>`;
}

export async function templatesPage(ctx: ServerContext): Promise<Html> {
  const views = await templateViews(ctx.store.db, await listTemplates(ctx.store.db));
  const now = ctx.clock.now();
  return html`<h1>Templates</h1>
${
  views.length === 0
    ? html`<p class="notice">No templates yet: push one with <code>prewarm templates push</code>.</p>`
    : html`<div class="table-wrap"><table><thead><tr><th>Name</th><th>Active version</th><th>Workspaces</th><th class="opt">Updated</th></tr></thead><tbody>
${views.map(
  (
    t,
  ) => html`<tr><td><a href="${tPath(t.name)}">${t.name}</a>${t.deprecated && html` ${badge("deprecated", "warn")}`}</td>
<td>${t.activeVersion ? `${t.activeVersion.name} (${t.activeVersion.provisioner})` : "—"}</td><td>${t.workspaceCount}</td><td class="opt">${time(t.updatedAt, now)}</td></tr>`,
)}</tbody></table></div>`
}`;
}

export async function templatePage(
  ctx: ServerContext,
  plan: PlanConfig,
  template: Template,
  session: Session,
  notice?: string,
): Promise<Html> {
  const db = ctx.store.db;
  const now = ctx.clock.now();
  const owner = session.user.role === "owner";
  const versions = (await listTemplateVersions(db, template.id)).reverse();
  const [summaries, presets, pools, demand] = await Promise.all([
    versionSummaryViews(db, template, versions),
    template.activeVersionId
      ? listPresets(db, { versionIds: [template.activeVersionId] })
      : Promise.resolve([]),
    poolsById(ctx, plan),
    presetDemand(ctx, template),
  ]);
  const active = template.deprecated === "" && !template.deleted;
  return html`<h1>Template ${template.name}</h1>
${notice && html`<p class="notice ok" role="status">${notice}</p>`}
${template.deprecated && html`<p class="notice bad">Deprecated: ${template.deprecated}</p>`}
<p><a class="button" href="/workspaces/new?template=${encodeURIComponent(template.name)}">Create a workspace</a>
${
  owner &&
  html` <form class="inline" method="post" action="${tPath(template.name)}/invalidate">${csrfField(session)}<button type="submit" class="secondary">Invalidate prebuilds</button></form>
<span class="muted small">(replaces every prebuild of the active version)</span>`
}</p>
<h2>Presets of the active version</h2>
${presets.length === 0 && html`<p class="muted">The active version declares no presets.</p>`}
<div class="grid">${presets.map((p) => {
    const pool = pools.get(p.id)?.prebuilds;
    const status = pools.get(p.id)?.status ?? p.status;
    const scheduling = schedulingOf(p);
    const next = scheduling
      ? nextScheduleChange({ desiredInstances: p.desiredInstances ?? 0, active, scheduling }, now)
      : null;
    return html`<article class="card" data-testid="preset" data-preset="${p.name}">
<h3>${p.name}${p.isDefault && " (default)"} ${statusBadge(status)}</h3>
${p.description && html`<p>${p.description}</p>`}
<dl class="kv small">
<dt>Parameters</dt><dd>${Object.keys(p.parameters).length === 0 ? "—" : Object.entries(p.parameters).map(([k, v]) => html`<code>${k}=${v}</code> `)}</dd>
<dt>Prebuilds</dt><dd>${p.desiredInstances === null ? "none" : `${p.desiredInstances} instances`}</dd>
${p.desiredInstances !== null && html`<dt>TTL</dt><dd>${p.ttlSeconds > 0 ? formatDuration(p.ttlSeconds) : "never expires"}</dd>`}
${
  scheduling &&
  html`<dt>Schedules</dt><dd>${scheduling.timezone}: ${scheduling.schedules.map((s) => html`<code>${s.cron}</code> → ${s.instances}; `)}</dd>
<dt>Next change</dt><dd>${next ? time(next, now) : "none within 8 days"}</dd>`
}
${pool && html`<dt>Pool</dt><dd>${pool.eligible} eligible / ${pool.running} running / ${pool.desired} desired, ${pool.starting} starting, ${pool.expired} expired (<a href="/pools/${encodeURIComponent(p.id)}">history and failures</a>)</dd>`}
${p.lastInvalidatedAt && html`<dt>Invalidated</dt><dd>${time(p.lastInvalidatedAt, now)}</dd>`}
${p.desiredInstances !== null && demandRows(demand(p.name).settings, pools.get(p.id))}
</dl>
${owner && p.desiredInstances !== null && autoscaleForm(template.name, p.name, demand(p.name).settings, session)}
${
  owner &&
  status !== "healthy" &&
  html`<form method="post" action="${tPath(template.name)}/presets/${encodeURIComponent(p.name)}/resume">${csrfField(session)}<button type="submit">Resume preset</button></form>`
}
</article>`;
  })}</div>
<h2>Versions</h2>
<div class="table-wrap"><table><thead><tr><th>Version</th><th>Import</th><th class="opt">Message</th><th>By</th><th>Created</th></tr></thead><tbody>
${summaries.map(
  (
    v,
  ) => html`<tr><td>${v.name}${v.active && html` ${badge("active", "ok")}`}</td><td>${statusBadge(v.job.status)}${v.job.error && html` <span class="error small">${v.job.error}</span>`}</td>
<td class="opt">${v.message ?? ""}</td><td>${v.createdBy}</td><td>${time(v.createdAt, now)}</td></tr>`,
)}</tbody></table></div>`;
}
