// Timings from terraform's `-json` hook events: a span opens on *_start and closes on *_complete or
// *_errored. Only closed spans with a matching start become `Timing` entries (stage init|plan|graph|apply).
// Pure: events and times in, Timing messages out; the caller supplies times for the synthetic init/graph
// spans from its clock.
import { create } from "@bufbuild/protobuf";
import { type Timestamp, TimestampSchema } from "@bufbuild/protobuf/wkt";
import { type Timing, TimingSchema, TimingState } from "../../gen/provisioner/provisioner_pb.js";
import type { TerraformJsonLine } from "./logs.js";

export type TimingStage = "init" | "plan" | "graph" | "apply";

type EventKind = "start" | "complete" | "errored";

const eventKinds: Record<string, { kind: EventKind; category: string }> = {
  apply_start: { kind: "start", category: "apply" },
  apply_complete: { kind: "complete", category: "apply" },
  apply_errored: { kind: "errored", category: "apply" },
  provision_start: { kind: "start", category: "provision" },
  provision_complete: { kind: "complete", category: "provision" },
  provision_errored: { kind: "errored", category: "provision" },
  refresh_start: { kind: "start", category: "state refresh" },
  refresh_complete: { kind: "complete", category: "state refresh" },
};

/** Precise time of a terraform `@timestamp` (microseconds), kept as seconds + nanos. */
export interface PreciseTime {
  seconds: bigint;
  nanos: number;
}

/** Parses an RFC 3339 timestamp keeping its sub-millisecond digits; undefined when malformed. */
export function parseTimestamp(text: string | undefined): PreciseTime | undefined {
  if (!text) return undefined;
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(text);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms)) return undefined;
  // Truncated to microseconds, like terraform's own output.
  const micros = Number((m[2] ?? "").padEnd(9, "0").slice(0, 6));
  return { seconds: BigInt(Math.floor(ms / 1000)), nanos: micros * 1000 };
}

export function preciseFromDate(date: Date): PreciseTime {
  const ms = date.getTime();
  return { seconds: BigInt(Math.floor(ms / 1000)), nanos: (((ms % 1000) + 1000) % 1000) * 1_000_000 };
}

function compare(a: PreciseTime, b: PreciseTime): number {
  if (a.seconds !== b.seconds) return a.seconds < b.seconds ? -1 : 1;
  return a.nanos - b.nanos;
}

function toTimestamp(t: PreciseTime): Timestamp {
  return create(TimestampSchema, { seconds: t.seconds, nanos: t.nanos });
}

interface OpenSpan {
  start: PreciseTime;
  action: string;
  source: string;
  resource: string;
}

/** Aggregates the hook events of one command (one stage) into Timing entries. */
export class TimingAggregator {
  private readonly open = new Map<string, OpenSpan>();
  private readonly done: Timing[] = [];

  constructor(private readonly stage: TimingStage) {}

  /** Feeds one parsed `-json` line; lines that are not hook events are ignored. */
  ingest(msg: TerraformJsonLine): void {
    const known = msg.type ? eventKinds[msg.type] : undefined;
    const at = parseTimestamp(msg["@timestamp"]);
    if (!known || !at) return;
    const action = msg.hook?.action || known.category;
    const resource = msg.hook?.resource?.addr ?? "";
    const source = msg.hook?.resource?.implied_provider ?? "";
    const key = [known.category, action, resource, source].join("\u0000");
    if (known.kind === "start") {
      this.open.set(key, { start: at, action, source, resource });
      return;
    }
    const span = this.open.get(key);
    if (!span) return; // a close without its start carries no duration
    this.open.delete(key);
    const state = known.kind === "complete" ? TimingState.COMPLETED : TimingState.FAILED;
    this.done.push(spanTiming(this.stage, span, at, state));
  }

  /** The closed spans, in the order they closed. Spans still open (e.g. interrupted) are left out. */
  timings(): Timing[] {
    return [...this.done];
  }
}

function spanTiming(stage: TimingStage, span: OpenSpan, end: PreciseTime, state: TimingState): Timing {
  const start = compare(span.start, end) <= 0 ? span.start : end;
  return create(TimingSchema, {
    start: toTimestamp(start),
    end: toTimestamp(end),
    action: span.action,
    source: span.source,
    resource: span.resource,
    stage,
    state,
  });
}

const syntheticActions: Partial<Record<TimingStage, string>> = {
  init: "initializing terraform",
  graph: "building terraform dependency graph",
};

/** The span prewarm records around `terraform init` or the graph step. */
export function syntheticTiming(stage: "init" | "graph", start: Date, end: Date, failed: boolean): Timing {
  return spanTiming(
    stage,
    {
      start: preciseFromDate(start),
      action: syntheticActions[stage]!,
      source: "terraform",
      resource: "state file",
    },
    preciseFromDate(end),
    failed ? TimingState.FAILED : TimingState.COMPLETED,
  );
}
