// The reconciler page (owners): state, pause / resume, and the live plan — what the next cycle would do for every
// preset: the CyclePlan the pools section was built from (one snapshot read; nothing is executed).
import type { CycleAction } from "../../../planning/cycle.js";
import type { ServerContext } from "../../context.js";
import type { Reconciler } from "../../prebuilds/reconciler.js";
import { type Html, html } from "../html.js";
import { csrfField } from "../layout.js";
import type { Session } from "../session.js";
import { loadPools, reconcilerSummary } from "./pools.js";

function describe(action: CycleAction): string {
  switch (action.type) {
    case "rehearse_claim":
      return `rehearse a claim of ${action.prebuildId}`;
    case "set_status":
      return `mark ${action.status.replace("_", "-")}`;
    case "create":
      return action.count === action.wanted
        ? `create ${action.count}`
        : `create ${action.count} of ${action.wanted} (${action.wanted - action.count} deferred by the in-flight cap)`;
    case "delete":
      return `delete ${action.ids.length} (${action.reason})`;
    case "cancel_pending":
      return "cancel pending jobs";
    case "backoff":
      return `back off until ${action.until.toISOString()}`;
    case "blocked":
      return `blocked: ${action.reason}`;
    default:
      return action satisfies never;
  }
}

export async function reconcilerPage(
  ctx: ServerContext,
  reconciler: Reconciler,
  session: Session,
  notice?: string,
): Promise<Html> {
  const pools = await loadPools(ctx, reconciler);
  const { now } = pools;
  const plans = pools.plan.presets;
  const paused = pools.reconciler.paused;
  return html`<h1>Reconciler</h1>
${notice && html`<p class="notice ok" role="status">${notice}</p>`}
<div class="card">${reconcilerSummary(pools.reconciler, now)}
<form method="post" action="/reconciler/${paused ? "resume" : "pause"}">${csrfField(session)}
<p><button type="submit" data-testid="pause-toggle">${paused ? "Resume reconciliation" : "Pause reconciliation"}</button>
<span class="muted small">${paused ? "Nothing is created or deleted while paused; claims keep working." : "Pausing stops creations and deletions; claims keep working."}</span></p>
</form></div>
<h2>Live plan <span class="muted small">(what the next cycle would do${paused ? " once resumed" : ""})</span></h2>
<div class="table-wrap"><table data-testid="plan"><thead><tr><th>Template</th><th>Preset</th><th>Desired</th><th>Running</th><th>Eligible</th><th class="opt">Expired</th><th class="opt">Starting</th><th>Actions</th></tr></thead><tbody>
${plans.map(
  (
    p,
  ) => html`<tr><td>${p.preset.templateName} <span class="muted small">${p.preset.versionName}</span></td><td>${p.preset.presetName}</td>
<td>${p.state.desired}</td><td>${p.state.running}</td><td>${p.state.eligible}</td><td class="opt">${p.state.expired}</td><td class="opt">${p.state.starting}</td>
<td>${p.actions.length === 0 ? html`<span class="muted">nothing to do</span>` : p.actions.map((a) => html`<div>${describe(a)}</div>`)}</td></tr>`,
)}
${plans.length === 0 && html`<tr><td colspan="8" class="muted">no presets with prebuilds</td></tr>`}
</tbody></table></div>`;
}
