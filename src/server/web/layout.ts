// The page shell (header, navigation, sign-out form) and small formatting helpers shared by the pages.
import { type Html, html, type Renderable, raw } from "./html.js";
import type { Session } from "./session.js";

export type NavItem = "pools" | "templates" | "workspaces" | "new" | "reconciler" | "audit" | "none";

export function page(options: {
  title: string;
  session: Session | undefined;
  nav?: NavItem;
  body: Renderable;
}): Html {
  const { session, nav } = options;
  const link = (item: NavItem, href: string, label: string) =>
    html`<a href="${href}" ${nav === item ? raw('aria-current="page"') : ""}>${label}</a>`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="htmx-config" content='{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false}'>
<title>${options.title} · prewarm</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/app.css">
<script src="/static/htmx.min.js" defer></script>
<script src="/static/app.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <a class="brand" href="/">prewarm</a>
  ${
    session &&
    html`<nav aria-label="Main">
    ${link("pools", "/", "Pools")}
    ${link("templates", "/templates", "Templates")}
    ${link("workspaces", "/workspaces", "Workspaces")}
    ${link("new", "/workspaces/new", "New workspace")}
    ${session.user.role === "owner" && link("reconciler", "/reconciler", "Reconciler")}
    ${session.user.role === "owner" && link("audit", "/audit", "Audit log")}
  </nav>
  <div class="who"><span>${session.user.username} (${session.user.role})</span>
    <form class="inline" method="post" action="/logout">${csrfField(session)}<button type="submit">Sign out</button></form>
  </div>`
  }
</header>
<main id="main">
${options.body}
</main>
</body>
</html>`;
}

export const csrfField = (session: Session): Html =>
  html`<input type="hidden" name="_csrf" value="${session.csrf}">`;

/** 90 → "1m 30s", 86400 → "24h". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  if (seconds < 1) return `${Math.round(seconds * 1000)}ms`;
  // Days only from 48 h on: "24h" reads better than "1d" for the usual TTLs.
  const units: [number, string][] = [
    ...(seconds >= 172_800 ? [[86_400, "d"] as [number, string]] : []),
    [3_600, "h"],
    [60, "m"],
    [1, "s"],
  ];
  const parts: string[] = [];
  let left = Math.round(seconds);
  for (const [size, name] of units) {
    if (left >= size) {
      parts.push(`${Math.floor(left / size)}${name}`);
      left %= size;
    }
    if (parts.length === 2) break;
  }
  return parts.join(" ") || "0s";
}

/** "12 s ago" / "in 3m" relative to now, for timestamps shown next to their ISO form. */
export function relative(date: Date, now: Date): string {
  const diff = (date.getTime() - now.getTime()) / 1000;
  if (Math.abs(diff) < 1) return "just now";
  return diff < 0 ? `${formatDuration(-diff)} ago` : `in ${formatDuration(diff)}`;
}

export function time(date: Date | string | null, now: Date): Html {
  if (date === null) return html`<span class="muted">—</span>`;
  const d = typeof date === "string" ? new Date(date) : date;
  return html`<time datetime="${d.toISOString()}" title="${d.toISOString()}">${relative(d, now)}</time>`;
}

export type Tone = "ok" | "warn" | "bad" | "idle";

export const badge = (text: string, tone: Tone): Html => html`<span class="badge ${tone}">${text}</span>`;

/** A job, preset, agent or workspace state (contract/workspace-state.ts) as a badge, toned by what it means. */
export function statusBadge(status: string): Html {
  const tone: Tone =
    status === "succeeded" || status === "running" || status === "ready" || status === "healthy"
      ? "ok"
      : status === "failed" ||
          status === "canceled" ||
          status === "start_error" ||
          status === "hard_limited" ||
          status === "validation_failed"
        ? "bad"
        : status === "pending" ||
            status === "starting" ||
            status === "stopping" ||
            status === "deleting" ||
            status === "canceling"
          ? "warn"
          : "idle";
  return badge(status, tone);
}
