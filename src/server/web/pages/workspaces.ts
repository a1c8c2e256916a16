// Workspaces: the list (members: their own; owners: everyone's, prebuilds on request) and the detail page with
// the actions the latest build allows (Cancel while it runs; Start, Stop, Delete after), build history,
// resources and agents, the selected build's logs (stored lines server-rendered with timestamps and stage
// durations, then followed live over SSE by /static/app.js until the build ends, when the server-rendered
// lines replace the streamed ones) and, for a finished build, its timings waterfall. Workspace states are
// worded as in the CLI (contract/workspace-state.ts).
import type { BuildT, BuildWithTimingsT, WorkspaceT } from "../../../contract/api.js";
import { type Transition, workspaceState } from "../../../contract/workspace-state.js";
import { buildViews, buildWithTimingsView, workspaceView, workspaceViews } from "../../api/views.js";
import type { ServerContext } from "../../context.js";
import { PREBUILDS_USER_ID } from "../../prebuilds/system-user.js";
import { isTerminal } from "../../store/job-status.js";
import { listJobLogs } from "../../store/jobs.js";
import type { User } from "../../store/users.js";
import { listBuilds, listWorkspaces, type Workspace } from "../../store/workspaces.js";
import { waterfall } from "../charts.js";
import { type Html, html } from "../html.js";
import { badge, csrfField, statusBadge, time } from "../layout.js";
import { type LogLine, logLines } from "../log-view.js";
import type { Session } from "../session.js";

const wsPath = (w: { id: string }) => `/workspaces/${encodeURIComponent(w.id)}`;

export async function listPage(ctx: ServerContext, user: User, withPrebuilds: boolean): Promise<Html> {
  const db = ctx.store.db;
  const owner = user.role === "owner";
  const workspaces = await listWorkspaces(
    db,
    owner ? { excludeOwnerId: withPrebuilds ? undefined : PREBUILDS_USER_ID } : { ownerId: user.id },
  );
  const views = await workspaceViews(ctx, workspaces);
  const now = ctx.clock.now();
  return html`<h1>Workspaces</h1>
<p><a class="button" href="/workspaces/new">New workspace</a>
${owner && (withPrebuilds ? html` <a href="/workspaces">Hide unclaimed prebuilds</a>` : html` <a href="/workspaces?prebuilds=1">Show unclaimed prebuilds</a>`)}</p>
${
  views.length === 0
    ? html`<p class="notice">No workspaces yet.</p>`
    : html`<div class="table-wrap"><table data-testid="workspaces">
<thead><tr><th>Name</th><th>Owner</th><th>Template</th><th class="opt">Preset</th><th>Status</th><th>From a prebuild</th><th class="opt">Created</th></tr></thead>
<tbody>${views.map(
        (w) => html`<tr><td><a href="${wsPath(w)}">${w.name}</a></td><td>${w.owner}</td>
<td><a href="/templates/${encodeURIComponent(w.template)}">${w.template}</a> <span class="muted small">${w.templateVersion}</span></td>
<td class="opt">${w.preset ?? html`<span class="muted">—</span>`}</td>
<td data-testid="ws-state">${stateBadge(w.latestBuild)}</td>
<td>${w.claimedPrebuild ? badge("claimed", "ok") : html`<span class="muted">no</span>`}</td>
<td class="opt">${time(w.createdAt, now)}</td></tr>`,
      )}</tbody></table></div>`
}`;
}

/** The workspace's state in the CLI's words, e.g. "stopped", as a badge. */
export const stateBadge = (build: { transition: Transition; status: string }): Html =>
  statusBadge(workspaceState(build));

export type WorkspaceAction = "cancel" | "start" | "stop" | "delete";

/**
 * What the workspace page offers for a latest build: Cancel while it is pending or running; nothing while it is
 * being cancelled; after a successful start Stop and Delete, after a successful stop Start and Delete; after a
 * failed or cancelled build all three, so a failed start can be retried, stopped or removed.
 */
export function workspaceActions(build: { transition: Transition; status: string }): WorkspaceAction[] {
  switch (build.status) {
    case "pending":
    case "running":
      return ["cancel"];
    case "canceling":
      return [];
    case "succeeded":
      if (build.transition === "delete") return [];
      return build.transition === "start" ? ["stop", "delete"] : ["start", "delete"];
    default:
      return ["start", "stop", "delete"];
  }
}

export interface DetailData {
  workspace: WorkspaceT;
  builds: BuildT[];
  /** The build whose logs are shown (the latest unless `?build=N`). */
  shown: BuildWithTimingsT;
  logs: LogLine[];
}

export async function loadDetail(
  ctx: ServerContext,
  workspace: Workspace,
  buildNumber?: number,
): Promise<DetailData> {
  const db = ctx.store.db;
  const [view, builds] = await Promise.all([workspaceView(ctx, workspace), listBuilds(db, workspace.id)]);
  const chosen =
    (buildNumber !== undefined ? builds.find((b) => b.buildNumber === buildNumber) : undefined) ??
    builds.reduce((a, b) => (b.buildNumber > a.buildNumber ? b : a));
  const [buildJson, shown, logs] = await Promise.all([
    buildViews(db, builds),
    buildWithTimingsView(db, chosen),
    listJobLogs(db, chosen.jobId),
  ]);
  return {
    workspace: view,
    builds: buildJson.sort((a, b) => b.number - a.number),
    shown,
    logs: logs.map((l) => ({
      id: l.id,
      createdAt: l.createdAt,
      level: l.level,
      output: l.output,
      stage: l.stage,
      source: l.source,
    })),
  };
}

/** The shown build's log lines (also served alone: app.js swaps them in when the streamed build ends). */
export function logSection(data: DetailData): Html {
  const b = data.shown;
  return logLines(data.logs, b.completedAt ? new Date(b.completedAt) : null);
}

const running = (status: string) => !isTerminal(status as Parameters<typeof isTerminal>[0]);

/**
 * Actions, status, resources and agents; polls itself while the latest build runs, and once more when it ends,
 * so the buttons follow the build (Cancel while it runs, then Start / Stop / Delete).
 */
export function statusSection(data: DetailData, session: Session, now: Date): Html {
  const w = data.workspace;
  const live = running(w.latestBuild.status);
  return html`<section id="ws-status" ${live ? html`hx-get="${wsPath(w)}/status" hx-trigger="every 2s, build-ended from:body" hx-swap="outerHTML"` : ""} data-status="${w.latestBuild.status}">
${actions(data, session)}
<div class="card"><dl class="kv">
<dt>Owner</dt><dd>${w.owner}</dd>
<dt>Template</dt><dd><a href="/templates/${encodeURIComponent(w.template)}">${w.template}</a> ${w.templateVersion}${w.outdated && html` ${badge("outdated", "warn")}`}</dd>
<dt>Preset</dt><dd>${w.preset ?? "—"}</dd>
<dt>Prebuild</dt><dd>${w.claimedPrebuild ? html`${badge("claimed from a prebuild", "ok")} ${time(w.claimedAt, now)}` : "built from scratch"}</dd>
<dt>Status</dt><dd data-testid="ws-state">${stateBadge(w.latestBuild)}</dd>
<dt>Latest build</dt><dd data-testid="latest-build">#${w.latestBuild.number} ${w.latestBuild.transition} ${statusBadge(w.latestBuild.status)}${w.latestBuild.error && html` <span class="error">${w.latestBuild.error}</span>`}</dd>
${
  w.latestBuild.resourceReplacements.length > 0 &&
  html`<dt>Replaced</dt><dd data-testid="replaced"><span class="badge warn">rebuilt, not handed over</span> ${w.latestBuild.resourceReplacements.map((r) => html`<code>${r.resource}</code> (${r.paths.join(", ") || "?"}) `)}</dd>`
}
${w.lease && html`<dt>Lease</dt><dd data-testid="lease">${w.lease.deadline ? html`${w.lease.onExpiry} at ${w.lease.deadline}` : html`${w.lease.seconds} s once usable, then ${w.lease.onExpiry}`}</dd>`}
</dl></div>
<h2>Resources and agents</h2>
${
  w.resources.length === 0
    ? html`<p class="muted">No resources${live ? " yet" : ""}.</p>`
    : html`<div class="table-wrap"><table><thead><tr><th>Resource</th><th>Agent</th><th>Lifecycle</th><th>Connection</th><th>Metadata</th><th class="opt">OS / arch</th></tr></thead><tbody>
${w.resources.flatMap((r) =>
  r.agents.length === 0
    ? [html`<tr><td>${r.type}.${r.name}</td><td colspan="5" class="muted">no agent</td></tr>`]
    : r.agents.map(
        (
          a,
        ) => html`<tr><td>${r.type}.${r.name}</td><td>${a.name}</td><td>${statusBadge(a.lifecycleState)}</td>
<td>${a.status}${a.lastSeenAt && html` <span class="muted small">(${time(a.lastSeenAt, now)})</span>`}</td>
<td>${a.metadata.length === 0 ? html`<span class="muted">—</span>` : a.metadata.map((m) => html`<div class="small">${m.displayName || m.key}: ${m.error ? html`<span class="error">${m.error}</span>` : m.value}</div>`)}</td><td class="opt">${a.operatingSystem} / ${a.architecture}</td></tr>`,
      ),
)}</tbody></table></div>`
}
</section>`;
}

const ACTION_LABELS: Record<WorkspaceAction, string> = {
  cancel: "Cancel build",
  start: "Start",
  stop: "Stop",
  delete: "Delete",
};

/**
 * The buttons of workspaceActions. Delete asks once more (a disclosure with the real button inside, so it works
 * without JavaScript). The server re-checks everything: who may act (owners, or the workspace's owner), and that
 * no build is in progress.
 */
function actions(data: DetailData, session: Session): Html {
  const w = data.workspace;
  const form = (action: WorkspaceAction, cls: string) =>
    action === "cancel"
      ? html`<form class="inline" method="post" action="${wsPath(w)}/cancel">${csrfField(session)}<button type="submit" class="${cls}" data-action="cancel">${ACTION_LABELS.cancel}</button></form>`
      : html`<form class="inline" method="post" action="${wsPath(w)}/builds">${csrfField(session)}<input type="hidden" name="transition" value="${action}"><button type="submit" class="${cls}" data-action="${action}">${ACTION_LABELS[action]}</button></form>`;
  const buttons = workspaceActions(w.latestBuild).map((a) =>
    a === "delete"
      ? html`<details class="confirm"><summary data-action="delete-ask">Delete…</summary><p class="small">Deleting destroys the workspace's resources; this cannot be undone.</p>${form("delete", "danger")}</details>`
      : form(a, a === "cancel" ? "danger" : "secondary"),
  );
  if (buttons.length === 0) return html``;
  return html`<div class="actions" data-testid="ws-actions">${buttons}</div>`;
}

export function detailPage(data: DetailData, session: Session, now: Date, notice?: string): Html {
  const w = data.workspace;
  const b = data.shown;
  const live = running(b.status);
  return html`<h1>${w.owner}/${w.name}</h1>
${notice && html`<p class="notice ok" role="status">${notice}</p>`}
${statusSection(data, session, now)}
<h2 id="logs">Logs of build #${b.number} (${b.transition})</h2>
<p id="log-status" class="muted" role="status">${live ? "the build is running; logs so far:" : `the build ended: ${b.status}`}</p>
<pre class="logs" data-testid="logs" tabindex="0" aria-labelledby="logs" data-log-state="${live ? "static" : "ended"}"
${live ? html`data-log-stream="${wsPath(w)}/builds/${b.number}/logs" data-log-html="${wsPath(w)}/builds/${b.number}/log-lines" data-after="${data.logs.at(-1)?.id ?? 0}" data-log-status="log-status"` : ""}>${logSection(data)}</pre>
${live && html`<noscript><p class="muted">Reload the page to see new lines.</p></noscript>`}
${
  !live &&
  html`<h2>Timings</h2>${waterfall(
    b.timings.map((t) => ({
      stage: t.stage,
      action: t.action,
      resource: t.resource,
      startedAt: new Date(t.startedAt),
      endedAt: new Date(t.endedAt),
    })),
  )}`
}
<h2>Build history</h2>
<div class="table-wrap"><table data-testid="builds"><thead><tr><th>#</th><th>Transition</th><th>Status</th><th class="opt">Reason</th><th>Initiator</th><th>Started</th><th>Ended</th></tr></thead><tbody>
${data.builds.map(
  (
    x,
  ) => html`<tr><td><a href="${wsPath(w)}?build=${x.number}#logs">${x.number}</a></td><td>${x.transition}${x.prebuildStage !== "none" && html` <span class="muted small">(${x.prebuildStage})</span>`}</td>
<td>${statusBadge(x.status)}</td><td class="opt">${x.reason}</td><td>${x.initiator}</td><td>${time(x.startedAt, now)}</td><td>${time(x.completedAt, now)}</td></tr>`,
)}</tbody></table></div>`;
}
