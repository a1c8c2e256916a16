// Server-rendered SVG: the pool bar, the pool history chart and the build timings waterfall. Pure functions of
// their data (no I/O, `now` passed in); every number is computed here, nothing is drawn by the browser, and
// each chart carries a text alternative (aria-label / <title>) so it reads without images.
import { type Html, html } from "./html.js";

export interface BarCounts {
  desired: number;
  running: number;
  eligible: number;
  expired: number;
  starting: number;
}

const COLORS = {
  eligible: "#2da44e",
  notReady: "#54aeff",
  expired: "#d4a72c",
  starting: "#c8ced6",
  desired: "#15202b",
  running: "#54aeff",
};

const round = (n: number): number => Math.round(n * 10) / 10;

/** Eligible | running but not ready | expired | starting, on a scale fitting desired and actual; a desired tick. */
export function poolBar(c: BarCounts): Html {
  const width = 300;
  const height = 18;
  const notReady = Math.max(0, c.running - c.eligible - c.expired);
  const scale = Math.max(1, c.desired, c.running + c.starting);
  const unit = width / scale;
  const segments: { n: number; color: string }[] = [
    { n: c.eligible, color: COLORS.eligible },
    { n: notReady, color: COLORS.notReady },
    { n: c.expired, color: COLORS.expired },
    { n: c.starting, color: COLORS.starting },
  ];
  let x = 0;
  const rects: Html[] = [];
  for (const s of segments) {
    if (s.n <= 0) continue;
    rects.push(
      html`<rect x="${round(x)}" y="2" width="${round(s.n * unit)}" height="${height - 4}" fill="${s.color}" stroke="#fff" stroke-width="1"/>`,
    );
    x += s.n * unit;
  }
  const label = `${c.eligible} eligible, ${notReady} running but not ready, ${c.expired} expired, ${c.starting} starting, of ${c.desired} desired`;
  const tick = Math.min(width - 1.5, c.desired * unit);
  return html`<svg class="bar" viewBox="0 0 ${width} ${height}" role="img" aria-label="${label}" preserveAspectRatio="none">
<title>${label}</title>
<rect x="0" y="2" width="${width}" height="${height - 4}" fill="#eef0f3"/>
${rects}
<line x1="${round(tick)}" x2="${round(tick)}" y1="0" y2="${height}" stroke="${COLORS.desired}" stroke-width="3"/>
</svg>`;
}

export interface HistoryPoint {
  at: Date;
  desired: number;
  running: number;
  eligible: number;
}

interface TimeAxes {
  width: number;
  height: number;
  left: number;
  top: number;
  plotW: number;
  plotH: number;
  xOf(t: number): number;
  yOf(v: number): number;
}

/** The plot area of a 320-wide chart `height` high over [now - windowMs, now], values scaled to 0..max. */
function timeAxes(height: number, now: Date, windowMs: number, max: number): TimeAxes {
  const width = 320;
  const left = 26;
  const top = 6;
  const plotW = width - left - 4;
  const plotH = height - top - 16;
  const start = now.getTime() - windowMs;
  return {
    width,
    height,
    left,
    top,
    plotW,
    plotH,
    xOf: (t) => left + ((Math.max(t, start) - start) / windowMs) * plotW,
    yOf: (v) => top + plotH - (v / max) * plotH,
  };
}

/** SVG points of a step line: each sample holds until the next, the last one until `now` ("" without any). */
function stepLine(samples: readonly { at: Date; value: number }[], axes: TimeAxes, now: Date): string {
  const parts: string[] = [];
  samples.forEach((p, i) => {
    const x = round(axes.xOf(p.at.getTime()));
    if (i > 0) parts.push(`${x},${round(axes.yOf((samples[i - 1] as { value: number }).value))}`);
    parts.push(`${x},${round(axes.yOf(p.value))}`);
  });
  const last = samples[samples.length - 1];
  if (last) parts.push(`${round(axes.xOf(now.getTime()))},${round(axes.yOf(last.value))}`);
  return parts.join(" ");
}

/**
 * Step lines of desired (dashed), running and eligible over [now - windowMs, now]. A series holds its last value
 * until the next sample (pool counts are piecewise constant), and the last sample extends to `now`.
 */
export function historyChart(points: readonly HistoryPoint[], now: Date, windowMs: number): Html {
  const max = Math.max(1, ...points.flatMap((p) => [p.desired, p.running, p.eligible]));
  const axes = timeAxes(110, now, windowMs, max);
  const { width, height, left, top, plotW, plotH } = axes;
  const series = (key: "desired" | "running" | "eligible"): string =>
    stepLine(
      points.map((p) => ({ at: p.at, value: p[key] })),
      axes,
      now,
    );
  const minutes = windowMs / 60_000;
  const span = (m: number) => (m >= 60 ? `${round(m / 60)}h` : `${Math.round(m)}m`);
  const last = points[points.length - 1];
  const label =
    points.length === 0
      ? "no history recorded yet"
      : `last ${span(minutes)}: now ${last?.desired} desired, ${last?.running} running, ${last?.eligible} eligible; peak ${max}`;
  const ticks = [0, 0.5, 1].map((f) => ({
    x: round(left + f * plotW),
    text: f === 1 ? "now" : `-${span(minutes * (1 - f))}`,
  }));
  return html`<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="${label}">
<title>${label}</title>
<line x1="${left}" x2="${width - 4}" y1="${top + plotH}" y2="${top + plotH}" stroke="#aab2bd"/>
<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#aab2bd"/>
<text x="${left - 4}" y="${top + 8}" font-size="9" text-anchor="end" fill="#5b6470">${max}</text>
<text x="${left - 4}" y="${top + plotH}" font-size="9" text-anchor="end" fill="#5b6470">0</text>
${ticks.map((t, i) => html`<text x="${t.x}" y="${height - 3}" font-size="9" text-anchor="${i === 0 ? "start" : i === ticks.length - 1 ? "end" : "middle"}" fill="#5b6470">${t.text}</text>`)}
${
  points.length === 0
    ? html`<text x="${left + plotW / 2}" y="${top + plotH / 2}" font-size="10" text-anchor="middle" fill="#5b6470">no samples yet</text>`
    : html`<polyline fill="none" stroke="${COLORS.desired}" stroke-width="1.5" stroke-dasharray="4 3" points="${series("desired")}"/>
<polyline fill="none" stroke="${COLORS.running}" stroke-width="2" points="${series("running")}"/>
<polyline fill="none" stroke="${COLORS.eligible}" stroke-width="2" points="${series("eligible")}"/>`
}
</svg>`;
}

export interface TimingSpan {
  stage: string;
  action: string;
  resource: string;
  startedAt: Date;
  endedAt: Date;
}

/** One row per timing span, positioned on the build's time axis. */
export function waterfall(spans: readonly TimingSpan[]): Html {
  if (spans.length === 0) return html`<p class="muted">No timings were recorded for this build.</p>`;
  const t0 = Math.min(...spans.map((s) => s.startedAt.getTime()));
  const t1 = Math.max(...spans.map((s) => s.endedAt.getTime()));
  const total = Math.max(1, t1 - t0);
  const width = 600;
  const labelW = 210;
  const row = 18;
  const plotW = width - labelW - 50;
  const height = spans.length * row + 4;
  const rows = spans.map((s, i) => {
    const x = labelW + ((s.startedAt.getTime() - t0) / total) * plotW;
    const w = Math.max(1.5, ((s.endedAt.getTime() - s.startedAt.getTime()) / total) * plotW);
    const ms = s.endedAt.getTime() - s.startedAt.getTime();
    const name = `${s.stage}${s.resource ? ` · ${s.resource}` : ""}${s.action ? ` (${s.action})` : ""}`;
    const y = i * row + 2;
    return html`<g><title>${name}: ${ms} ms</title>
<text x="0" y="${y + 12}" font-size="10" fill="#1b1f24">${name.length > 38 ? `${name.slice(0, 37)}…` : name}</text>
<rect x="${round(x)}" y="${y + 2}" width="${round(w)}" height="${row - 6}" fill="#54aeff"/>
<text x="${round(x + w + 4)}" y="${y + 12}" font-size="10" fill="#5b6470">${ms} ms</text></g>`;
  });
  return html`<svg class="waterfall" viewBox="0 0 ${width} ${height}" role="img" aria-label="build timings: ${spans.length} spans over ${total} ms">
${rows}
</svg>`;
}

/**
 * Demand against the pool (issue 13, autoscaled presets): claims per bucket as bars and the desired count as a
 * step line over [now - windowMs, now], on one scale. 18 buckets (10 minutes each over 3 hours).
 */
export function demandChart(
  desired: readonly { at: Date; desired: number }[],
  claims: readonly number[],
  now: Date,
  windowMs: number,
): Html {
  const start = now.getTime() - windowMs;
  const buckets = 18;
  const bucketMs = windowMs / buckets;
  const counts = Array.from({ length: buckets }, () => 0);
  for (const t of claims) {
    const i = Math.floor((t - start) / bucketMs);
    if (i >= 0 && i < buckets) counts[i]!++;
  }
  const max = Math.max(1, ...counts, ...desired.map((d) => d.desired));
  const axes = timeAxes(90, now, windowMs, max);
  const { width, height, left, top, plotW, plotH, yOf } = axes;
  const bars = counts.map((n, i) => {
    if (n === 0) return html``;
    const x = left + (i / buckets) * plotW;
    return html`<rect x="${round(x + 1)}" y="${round(yOf(n))}" width="${round(plotW / buckets - 2)}" height="${round(top + plotH - yOf(n))}" fill="#c8ced6"/>`;
  });
  const steps = stepLine(
    desired.map((d) => ({ at: d.at, value: d.desired })),
    axes,
    now,
  );
  const last = desired[desired.length - 1];
  const total = counts.reduce((a, b) => a + b, 0);
  const label = `last ${Math.round(windowMs / 60_000)} minutes: ${total} claims (bars, per ${Math.round(bucketMs / 60_000)} minutes), desired now ${last?.desired ?? "unknown"} (line)`;
  return html`<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="${label}" data-testid="demand-chart">
<title>${label}</title>
<line x1="${left}" x2="${width - 4}" y1="${top + plotH}" y2="${top + plotH}" stroke="#aab2bd"/>
<text x="${left - 4}" y="${top + 8}" font-size="9" text-anchor="end" fill="#5b6470">${max}</text>
<text x="${left - 4}" y="${top + plotH}" font-size="9" text-anchor="end" fill="#5b6470">0</text>
${bars}
${steps !== "" && html`<polyline fill="none" stroke="${COLORS.desired}" stroke-width="1.5" points="${steps}"/>`}
</svg>`;
}
