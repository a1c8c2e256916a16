// Build logs as the workspace page shows them: every line with its time of day (UTC, to the millisecond, the
// same clock as the server's own logs), and every stage header with how long the stage took. Pure: the lines,
// the build's end (null while it runs) in, markup out.
//
// A stage starts at its header line (an empty provisioner_daemon line, as in Coder) and lasts until the next
// header, or until the build ended; the last stage of a running build has no duration yet ("running").
import { type Html, html } from "./html.js";
import { formatDuration } from "./layout.js";

export interface LogLine {
  id: number;
  createdAt: Date;
  level: string;
  source: string;
  stage: string;
  output: string;
}

const isStageHeader = (l: Pick<LogLine, "output" | "source">): boolean =>
  l.output === "" && l.source === "provisioner_daemon";

export interface StageSpan {
  stage: string;
  /** Index of the header line in the input. */
  index: number;
  startedAt: Date;
  /** null: the build still runs and this is its current stage. */
  durationMs: number | null;
}

/** The stages of a build's log, in order, with their durations. */
export function stageSpans(lines: readonly LogLine[], endedAt: Date | null): StageSpan[] {
  const headers = lines.flatMap((l, index) => (isStageHeader(l) ? [{ l, index }] : []));
  return headers.map(({ l, index }, i) => {
    const next = headers[i + 1]?.l.createdAt ?? endedAt;
    return {
      stage: l.stage || "…",
      index,
      startedAt: l.createdAt,
      durationMs: next ? Math.max(0, next.getTime() - l.createdAt.getTime()) : null,
    };
  });
}

/** "10:04:05.123": the time of day in UTC (app.js formats streamed lines the same way: ISO characters 11–23). */
const timeOfDay = (d: Date): string => d.toISOString().slice(11, 23);

/** Stages are often seconds long: tenths up to a minute ("1.5s"), then formatDuration's "1m 30s". */
export function stageDuration(ms: number): string {
  if (ms >= 1_000 && ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  return formatDuration(ms / 1000);
}

export function logLines(lines: readonly LogLine[], endedAt: Date | null): Html {
  const spans = new Map(stageSpans(lines, endedAt).map((s) => [s.index, s]));
  return html`${lines.map((l, i) => {
    const ts = html`<span class="ts">${timeOfDay(l.createdAt)} </span>`;
    const span = spans.get(i);
    if (span) {
      const took = span.durationMs === null ? "running" : stageDuration(span.durationMs);
      return html`<span class="stage" data-stage="${span.stage}">${ts}▸ ${span.stage} <span class="dur">(${took})</span>\n</span>`;
    }
    return html`<span class="lvl-${l.level}">${ts}${l.output}\n</span>`;
  })}`;
}
