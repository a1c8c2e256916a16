// Static assets of the dashboard, served from memory: the stylesheet, the small script that follows build logs
// over SSE, and htmx (read once from the installed `htmx.org` package: no CDN, no build step). Kept in a .ts
// module rather than loose files so a compiled copy of the server finds them without a copy step.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

export const stylesheet = `
:root { --fg:#1b1f24; --muted:#5b6470; --bg:#f6f7f9; --card:#fff; --line:#d9dde3; --accent:#1f5fbf;
  --ok:#1a7f37; --warn:#9a6700; --bad:#c62828; --idle:#8c959f; color-scheme: light; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--fg); background:var(--bg); }
a { color:var(--accent); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, summary:focus-visible { outline:3px solid #f0b400; outline-offset:2px; }
header.top { display:flex; flex-wrap:wrap; gap:.5rem 1.25rem; align-items:center; padding:.6rem 1rem; background:#15202b; color:#fff; }
header.top a { color:#fff; text-decoration:none; }
header.top a[aria-current=page] { text-decoration:underline; text-underline-offset:4px; }
header.top .brand { font-weight:700; margin-right:.5rem; }
header.top nav { display:flex; flex-wrap:wrap; gap:.25rem 1rem; }
header.top .who { margin-left:auto; display:flex; gap:.5rem; align-items:center; font-size:.9rem; }
header.top .who button { background:transparent; color:#fff; border:1px solid #6b7b8c; }
.skip { position:absolute; left:-999px; } .skip:focus { left:.5rem; top:.5rem; background:#fff; color:#000; padding:.3rem; z-index:9; }
main { max-width:1400px; margin:0 auto; padding:1rem; }
.sr-only { position:absolute; width:1px; height:1px; overflow:hidden; clip:rect(0 0 0 0); white-space:nowrap; }
.card > h2:first-child { margin-top:0; }
.strip { display:flex; flex-wrap:wrap; gap:.3rem 1.2rem; align-items:center; }
.card.strip { padding:.4rem 1rem; margin-bottom:.6rem; }
h4 { margin:.6rem 0 .2rem; }
h1 { font-size:1.45rem; margin:.3rem 0 1rem; } h2 { font-size:1.15rem; margin:1.4rem 0 .6rem; } h3 { font-size:1rem; margin:0 0 .4rem; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:.9rem 1rem; margin:0 0 1rem; }
.filters { display:flex; flex-wrap:wrap; gap:.6rem 1rem; align-items:flex-end; }
.grid { display:grid; gap:1rem; grid-template-columns:repeat(auto-fill, minmax(320px, 1fr)); }
.muted { color:var(--muted); } .small { font-size:.85rem; }
.badge { display:inline-block; border-radius:999px; padding:.05rem .55rem; font-size:.8rem; font-weight:600; border:1px solid currentColor; margin:0 .25rem .25rem 0; }
.badge.ok { color:var(--ok); } .badge.warn { color:var(--warn); } .badge.bad { color:var(--bad); } .badge.idle { color:var(--idle); }
table { border-collapse:collapse; width:100%; } th, td { text-align:left; padding:.35rem .5rem; border-bottom:1px solid var(--line); vertical-align:top; }
th { font-size:.85rem; color:var(--muted); font-weight:600; }
.table-wrap { overflow-x:auto; }
table.dense { font-size:.87rem; background:var(--card); } table.dense th, table.dense td { padding:.2rem .45rem; vertical-align:middle; white-space:nowrap; }
table.dense th { white-space:normal; vertical-align:bottom; } table.dense td.status { white-space:normal; min-width:7rem; }
table.dense th a { color:inherit; text-decoration:none; } table.dense th a:hover { text-decoration:underline; }
table.dense th[aria-sort=ascending] a, table.dense th[aria-sort=descending] a { color:var(--fg); }
table.dense .badge { margin:.05rem .2rem .05rem 0; font-size:.75rem; white-space:nowrap; }
th.num, td.num { text-align:right; }
td.barcell { min-width:10rem; } td.barcell svg.bar { display:inline-block; width:6.5rem; height:.8rem; vertical-align:middle; margin-right:.4rem; }
tr.trouble td { border-bottom:none; } tr.trouble td:first-child { box-shadow:inset 3px 0 0 var(--bad); }
tr.problem td { white-space:normal; background:#fdeeee; box-shadow:inset 3px 0 0 var(--bad); padding:.3rem .6rem .45rem; }
tr.problem .notice { margin:.2rem 0; background:transparent; }
/* On a screen narrower than the table, the problem stays in view (and wraps) while the table scrolls. */
tr.problem .problem-body { position:sticky; left:.6rem; max-width:calc(100vw - 2.5rem); }
code.error { background:#fff; font-weight:normal; }
.actions { display:inline-flex; flex-wrap:wrap; gap:.4rem; align-items:center; margin:.2rem 0 .6rem; }
tr.problem .actions { margin:0 0 0 .6rem; vertical-align:middle; } tr.problem button { padding:.15rem .6rem; font-size:.85rem; }
details.confirm { display:inline-block; } details.confirm summary { cursor:pointer; padding:.35rem .8rem; border:1px solid var(--bad); color:var(--bad); border-radius:6px; list-style:none; }
details.confirm[open] { padding:.3rem .6rem; border:1px solid var(--line); border-radius:8px; background:var(--card); }
dl.kv { display:grid; grid-template-columns:max-content 1fr; gap:.2rem 1rem; margin:0; } dl.kv dt { color:var(--muted); } dl.kv dd { margin:0; }
svg.bar, svg.chart, svg.waterfall { width:100%; height:auto; display:block; }
.legend { display:flex; flex-wrap:wrap; gap:.2rem .9rem; font-size:.85rem; margin:.3rem 0; }
.sw { display:inline-block; width:.8rem; height:.8rem; border-radius:2px; vertical-align:-1px; margin-right:.25rem; }
.sw.eligible { background:#2da44e; } .sw.notready { background:#54aeff; } .sw.expired { background:#d4a72c; } .sw.starting { background:#c8ced6; } .sw.desired { background:#15202b; }
.sw.running { background:#54aeff; }
form.inline { display:inline; }
button, .button { font:inherit; padding:.35rem .8rem; border-radius:6px; border:1px solid #1b4fa0; background:var(--accent); color:#fff; cursor:pointer; text-decoration:none; display:inline-block; }
button.secondary, .button.secondary { background:#fff; color:var(--accent); }
button.danger { background:var(--bad); border-color:#8e1b1b; }
label { display:block; font-weight:600; margin:.6rem 0 .2rem; }
.field { margin:.2rem 0 .6rem; } label.check { font-weight:normal; display:flex; gap:.5rem; align-items:center; margin:.35rem 0; }
fieldset.field legend { font-weight:600; } input[type=range] { width:100%; max-width:28rem; display:block; }
input[type=text], input[type=password], input[type=number], input:not([type]), select, textarea { font:inherit; padding:.4rem .5rem; border:1px solid #aab2bd; border-radius:6px; width:100%; max-width:28rem; background:#fff; }
fieldset { border:1px solid var(--line); border-radius:8px; margin:.8rem 0; padding:.4rem .9rem .8rem; }
legend { font-weight:600; }
.radio { font-weight:normal; display:flex; gap:.5rem; align-items:flex-start; margin:.35rem 0; }
.error { color:var(--bad); font-weight:600; margin:.2rem 0; }
.notice { border-left:4px solid var(--accent); padding:.5rem .8rem; background:#eef4fd; margin:.6rem 0; }
.notice.bad { border-color:var(--bad); background:#fdeeee; }
.notice.ok { border-color:var(--ok); background:#eefbf1; }
pre.logs { background:#0d1117; color:#e6edf3; padding:.7rem; border-radius:8px; max-height:28rem; overflow:auto; font-size:.82rem; white-space:pre-wrap; word-break:break-word; }
pre.logs .stage { color:#7ee787; font-weight:600; } pre.logs .ts { color:#8b949e; font-weight:normal; } pre.logs .dur { color:#a5d6ff; font-weight:normal; } pre.logs .lvl-warn { color:#e3b341; } pre.logs .lvl-error { color:#ff7b72; }
code { background:#eef0f3; padding:0 .25rem; border-radius:4px; }
@media (max-width: 600px) { main { padding:.6rem; } .grid { grid-template-columns:1fr; } header.top .who { margin-left:0; } th.opt, td.opt { display:none; } }
`;

/**
 * Follows build logs: <pre data-log-stream=URL data-log-html=URL data-after=ID data-log-status=ELEMENT_ID>.
 * Streamed lines get their time of day like the server-rendered ones (log-view.ts); when the build ends the
 * server's rendering of all lines (with stage durations) replaces them.
 */
export const clientScript = `
(function () {
  "use strict";
  function follow(pre) {
    var url = pre.getAttribute("data-log-stream");
    var after = pre.getAttribute("data-after") || "0";
    var status = document.getElementById(pre.getAttribute("data-log-status") || "");
    var say = function (text) { if (status) status.textContent = text; };
    if (!window.EventSource) return;
    var streamed = 0;
    var es = new EventSource(url + (url.indexOf("?") < 0 ? "?" : "&") + "after=" + encodeURIComponent(after));
    pre.setAttribute("data-log-state", "streaming");
    say("following the build's logs live…");
    es.addEventListener("log", function (ev) {
      var line = JSON.parse(ev.data);
      var stick = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
      var span = document.createElement("span");
      var header = line.output === "" && line.source === "provisioner_daemon";
      span.className = header ? "stage" : "lvl-" + line.level;
      var ts = document.createElement("span");
      ts.className = "ts";
      ts.textContent = String(line.createdAt || "").slice(11, 23) + " ";
      span.appendChild(ts);
      span.appendChild(document.createTextNode((header ? "\u25b8 " + (line.stage || "\u2026") : line.output) + "\\n"));
      pre.appendChild(span);
      streamed++;
      pre.setAttribute("data-streamed", String(streamed));
      if (stick) pre.scrollTop = pre.scrollHeight;
    });
    es.addEventListener("end", function (ev) {
      es.close();
      var job = JSON.parse(ev.data);
      say("the build ended: " + job.status + (job.error ? " (" + job.error + ")" : ""));
      document.body.dispatchEvent(new CustomEvent("build-ended"));
      var done = function () { pre.setAttribute("data-log-state", "ended"); };
      var lines = pre.getAttribute("data-log-html");
      if (!lines || !window.fetch) return done();
      fetch(lines, { credentials: "same-origin", headers: { "hx-request": "true" } })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (text) { pre.innerHTML = text; pre.scrollTop = pre.scrollHeight; }, function () {})
        .then(done);
    });
    es.addEventListener("error", function (ev) {
      if (ev.data) { es.close(); pre.setAttribute("data-log-state", "failed"); say(JSON.parse(ev.data).message); }
    });
  }
  function start() {
    var list = document.querySelectorAll("pre[data-log-stream]");
    for (var i = 0; i < list.length; i++) follow(list[i]);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
`;

let htmxSource: string | undefined;

/** htmx 2's minified build from node_modules (read once). */
export function htmxScript(): string {
  if (htmxSource === undefined) {
    const require = createRequire(import.meta.url);
    htmxSource = readFileSync(require.resolve("htmx.org/dist/htmx.min.js"), "utf8");
  }
  return htmxSource;
}
