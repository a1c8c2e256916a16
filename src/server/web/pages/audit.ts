// The audit log page (owners): a filter form (action, actor, since) and one page of entries, newest first, with
// a link to the next (older) page. Reads through the same service as GET /audit (../../audit.ts), so a bad
// filter is the same 400 with the same message.
import { AUDIT_ACTIONS, AUDIT_LIMIT_DEFAULT } from "../../../contract/audit.js";
import { presentAuditEntry, readAuditPage } from "../../audit.js";
import type { ServerContext } from "../../context.js";
import { type Html, html, raw } from "../html.js";
import { badge, time } from "../layout.js";

export interface AuditFilterForm {
  action: string;
  actor: string;
  since: string;
  cursor: string;
}

export function auditFilterOf(query: Record<string, unknown>): AuditFilterForm {
  const s = (v: unknown) => (typeof v === "string" ? v.trim() : "");
  return { action: s(query.action), actor: s(query.actor), since: s(query.since), cursor: s(query.cursor) };
}

export async function auditPage(ctx: ServerContext, filter: AuditFilterForm): Promise<Html> {
  const now = ctx.clock.now();
  const { entries, nextCursor } = await readAuditPage(ctx.store.db, now, {
    action: filter.action,
    actor: filter.actor,
    since: filter.since,
    cursor: filter.cursor,
    limit: AUDIT_LIMIT_DEFAULT,
  });
  const older = nextCursor
    ? `/audit?${new URLSearchParams({ action: filter.action, actor: filter.actor, since: filter.since, cursor: nextCursor })}`
    : undefined;
  const selected = (a: string) => (a === filter.action ? raw(" selected") : "");
  return html`<h1>Audit log</h1>
<form class="card filters" method="get" action="/audit" data-testid="audit-filters">
<label>Action <select name="action"><option value="">any</option>${AUDIT_ACTIONS.map((a) => html`<option value="${a}"${selected(a)}>${a}</option>`)}</select></label>
<label>Actor <input name="actor" value="${filter.actor}" placeholder="username"></label>
<label>Since <input name="since" value="${filter.since}" placeholder="24h or 2026-01-05T10:00:00Z"></label>
<button type="submit">Filter</button>
</form>
<div class="table-wrap"><table data-testid="audit"><thead><tr><th>Time</th><th>Actor</th><th>Action</th><th>Target</th><th>Outcome</th><th class="opt">Detail</th></tr></thead><tbody>
${entries.map(presentAuditEntry).map(
  (
    e,
  ) => html`<tr><td>${time(e.time, now)}</td><td>${e.actor ?? html`<span class="muted">—</span>`}</td><td>${e.action}</td><td>${e.target}</td>
<td>${badge(e.outcome, e.outcome === "success" ? "ok" : "bad")}</td><td class="opt"><code class="small">${Object.keys(e.detail).length > 0 ? JSON.stringify(e.detail) : ""}</code></td></tr>`,
)}
${entries.length === 0 && html`<tr><td colspan="6" class="muted">no entries${filter.action || filter.actor || filter.since ? " match these filters" : ""}</td></tr>`}
</tbody></table></div>
${older && html`<p><a href="${older}" data-testid="audit-older">Older entries</a></p>`}
<p class="muted small">Owner and security-relevant actions, newest first. Prebuilds the reconciler creates and deletes are not recorded.</p>`;
}
