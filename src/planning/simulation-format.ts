// The simulator's input and output JSON (`prewarm prebuilds simulate --input FILE`, issue 13). Field names are
// a public contract, documented in docs/prebuilds-autoscaling.md. Parsing is strict, in the offline snapshot's
// style (json-reader.ts): every problem is reported with its field path, nothing unknown is ignored.
import {
  formatTimestamp,
  issuesMessage,
  type JsonIssue,
  join,
  parseJsonText,
  Reader,
} from "./json-reader.js";
import { isKnownTimezone } from "./local-time.js";
import { type Scheduling, validateSchedule } from "./schedule.js";
import type { SimulationInput, SimulationPolicy, SimulationResult } from "./simulate.js";
import { readAutoscalePolicy } from "./snapshot-format.js";

/** A simulation input that does not follow the format; `issues` lists every problem found. */
export class SimulationFormatError extends Error {
  constructor(readonly issues: JsonIssue[]) {
    super(issuesMessage(issues, "invalid simulation input"));
    this.name = "SimulationFormatError";
  }
}

const ROOT_FIELDS = [
  "start",
  "end",
  "measureFrom",
  "timezone",
  "buildSeconds",
  "ttlSeconds",
  "reconcileIntervalSeconds",
  "replaceAheadSeconds",
  "claims",
  "policy",
] as const;

/** A bound on the work one run may ask for (cycles at ticks); a typo of a unit should not hang the CLI. */
const MAX_TICKS = 2_000_000;

function readScheduling(r: Reader, value: unknown, path: string): Scheduling | undefined {
  const o = r.object(value, path, ["timezone", "schedules"]);
  if (!o) return undefined;
  const timezone = r.string(o.timezone, join(path, "timezone"));
  const list = r.array(o.schedules, join(path, "schedules"));
  if (timezone === undefined || !list) return undefined;
  const schedules: Scheduling["schedules"] = [];
  let ok = true;
  list.forEach((item, i) => {
    const at = `${join(path, "schedules")}[${i}]`;
    const s = r.object(item, at, ["cron", "instances"]);
    const cron = s ? r.string(s.cron, join(at, "cron")) : undefined;
    const instances = s ? r.count(s.instances, join(at, "instances")) : undefined;
    if (cron === undefined || instances === undefined) ok = false;
    else schedules.push({ cron, instances });
  });
  if (!ok) return undefined;
  const scheduling = { timezone, schedules };
  const issues = validateSchedule(scheduling);
  for (const issue of issues) r.fail(join(path, issue.path), issue.message);
  return issues.length === 0 ? scheduling : undefined;
}

function readPolicy(r: Reader, value: unknown, timezone: string | undefined): SimulationPolicy | undefined {
  const path = "policy";
  const type = (value as { type?: unknown } | null)?.type;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    r.object(value, path, []);
    return undefined;
  }
  switch (type) {
    case "static": {
      const o = r.object(value, path, ["type", "instances"]);
      const instances = o ? r.count(o.instances, join(path, "instances")) : undefined;
      return instances === undefined ? undefined : { type, instances };
    }
    case "schedule": {
      const o = r.object(value, path, ["type", "instances", "scheduling"]);
      const instances = o ? r.count(o.instances, join(path, "instances")) : undefined;
      const scheduling = o ? readScheduling(r, o.scheduling, join(path, "scheduling")) : undefined;
      return instances === undefined || !scheduling ? undefined : { type, instances, scheduling };
    }
    case "autoscale": {
      const { type: _type, ...rest } = value as Record<string, unknown>;
      const policy = readAutoscalePolicy(r, rest, path);
      if (!policy) return undefined;
      if (policy.timezone !== null && policy.timezone !== timezone) {
        r.fail(join(path, "timezone"), "set the calendar's timezone with the top-level `timezone`");
        return undefined;
      }
      return { type, min: policy.min, max: policy.max, targetHitRate: policy.targetHitRate };
    }
    default:
      r.fail(join(path, "type"), `expected one of static, schedule, autoscale, got ${JSON.stringify(type)}`);
      return undefined;
  }
}

/**
 * Validates a parsed simulation document and converts it to the simulator's input. Defaults: `measureFrom` =
 * `start`, `timezone` UTC, `ttlSeconds` 0, `reconcileIntervalSeconds` 60, `replaceAheadSeconds` 0. Required:
 * `start`, `end`, `buildSeconds`, `claims` (ascending, within [start, end)), `policy`. Throws
 * SimulationFormatError listing every problem.
 */
export function parseSimulation(document: unknown): SimulationInput {
  const r = new Reader("input");
  const o = r.object(document, "", ROOT_FIELDS);
  if (!o) throw new SimulationFormatError(r.issues);
  const start = r.timestamp(o.start, "start");
  const end = r.timestamp(o.end, "end");
  const measureFrom = r.optional<Date | null>(o.measureFrom, null, (v) => r.timestamp(v, "measureFrom"));
  const timezone = r.optional(o.timezone, "UTC", (v) => {
    const tz = r.string(v, "timezone");
    return tz !== undefined && !isKnownTimezone(tz) ? r.fail("timezone", `unknown timezone "${tz}"`) : tz;
  });
  const buildSeconds = r.seconds(o.buildSeconds, "buildSeconds");
  const ttlSeconds = r.optional(o.ttlSeconds, 0, (v) => r.seconds(v, "ttlSeconds"));
  const interval = r.optional(o.reconcileIntervalSeconds, 60, (v) => {
    const n = r.seconds(v, "reconcileIntervalSeconds");
    return n !== undefined && n < 1 ? r.fail("reconcileIntervalSeconds", `must be at least 1, got ${n}`) : n;
  });
  const replaceAhead = r.optional(o.replaceAheadSeconds, 0, (v) => r.seconds(v, "replaceAheadSeconds"));
  const policy = readPolicy(r, o.policy, timezone);

  if (start && end && end <= start) r.fail("end", "must be after start");
  if (start && end && measureFrom && (measureFrom < start || measureFrom > end)) {
    r.fail("measureFrom", "must be within [start, end]");
  }
  if (start && end && interval && (end.getTime() - start.getTime()) / (interval * 1000) > MAX_TICKS) {
    r.fail("reconcileIntervalSeconds", `more than ${MAX_TICKS} ticks between start and end`);
  }

  const claims: number[] = [];
  const list = r.array(o.claims, "claims") ?? [];
  list.forEach((item, i) => {
    const at = r.timestamp(item, `claims[${i}]`);
    if (!at) return;
    const ms = at.getTime();
    const previous = claims[claims.length - 1];
    if (previous !== undefined && ms < previous)
      r.fail(`claims[${i}]`, "claims must be sorted (earlier than the one before)");
    else if (start && end && (ms < start.getTime() || ms >= end.getTime()))
      r.fail(`claims[${i}]`, "outside [start, end)");
    claims.push(ms);
  });

  if (
    r.issues.length > 0 ||
    !start ||
    !end ||
    measureFrom === undefined ||
    timezone === undefined ||
    buildSeconds === undefined ||
    ttlSeconds === undefined ||
    interval === undefined ||
    replaceAhead === undefined ||
    !policy
  ) {
    throw new SimulationFormatError(r.issues.length > 0 ? r.issues : [{ path: "input", message: "invalid" }]);
  }
  return {
    start,
    end,
    measureFrom: measureFrom ?? start,
    timezone,
    buildMs: buildSeconds * 1000,
    ttlMs: ttlSeconds * 1000,
    reconcileIntervalMs: interval * 1000,
    replaceAheadMs: replaceAhead * 1000,
    claims,
    policy,
  };
}

export function parseSimulationText(text: string): SimulationInput {
  const parsed = parseJsonText(text, "input");
  if (!parsed.ok) throw new SimulationFormatError([parsed.issue]);
  return parseSimulation(parsed.value);
}

export interface SimulationResultJson {
  claims: number;
  hits: number;
  hitRate: number | null;
  prebuildSeconds: number;
  created: number;
  desired: [string, number][];
}

/** The output document: `hitRate` to 4 decimals, `prebuildSeconds` to the millisecond. */
export function simulationToJson(result: SimulationResult): SimulationResultJson {
  return {
    claims: result.claims,
    hits: result.hits,
    hitRate: result.hitRate === null ? null : Math.round(result.hitRate * 10_000) / 10_000,
    prebuildSeconds: Math.round(result.prebuildSeconds * 1000) / 1000,
    created: result.created,
    desired: result.desired.map(([at, n]) => [formatTimestamp(at), n]),
  };
}
