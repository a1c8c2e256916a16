// The offline snapshot / plan JSON of `prewarm prebuilds plan --snapshot FILE` (ARCHITECTURE §5, "Offline plan
// format"). Field names are a public contract. Parsing is strict: unknown fields, wrong types and impossible
// values are errors naming the field path (`presets[0].prebuilds[2].createdAt: not an ISO-8601 timestamp`),
// because a typo such as `ttlSecond` silently ignored would make the plan lie.
import type { CycleAction, CycleBudget, CyclePlan, CycleSnapshot } from "./cycle.js";
import {
  defaultPlanSettings,
  type PlanSettings,
  PRESET_STATUSES,
  type PrebuildSnapshot,
  type PresetSnapshot,
  type PresetState,
  type PresetStatus,
} from "./plan.js";
import { type Schedule, type Scheduling, validateSchedule } from "./schedule.js";

export interface SnapshotIssue {
  path: string;
  message: string;
}

/** A snapshot document that does not follow the format; `issues` lists every problem found, in input order. */
export class SnapshotFormatError extends Error {
  constructor(readonly issues: SnapshotIssue[]) {
    const first = issues[0];
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : "";
    super(first ? `${first.path}: ${first.message}${more}` : "invalid snapshot");
    this.name = "SnapshotFormatError";
  }
}

export interface OfflineSnapshot {
  /** null when the document has no `now`: the caller decides (the CLI uses the current time). */
  now: Date | null;
  settings: PlanSettings;
  /** `settings.maxInFlight`; absent: no cap. */
  budget: CycleBudget;
  /** Prebuild jobs in flight (`inFlight`; absent: 0). */
  inFlight: number;
  presets: PresetSnapshot[];
}

/** The planner's input for an offline snapshot planned at `now` (never paused: the format has no switch). */
export function offlineCycleSnapshot(snapshot: OfflineSnapshot, now: Date): CycleSnapshot {
  return { now, paused: false, inFlight: snapshot.inFlight, presets: snapshot.presets };
}

// --- reading -------------------------------------------------------------------------------------------------

type Obj = Record<string, unknown>;

/** Collects issues while walking the document, so one run reports every problem. */
class Reader {
  readonly issues: SnapshotIssue[] = [];

  /** `path` "" is the document itself. */
  fail(path: string, message: string): undefined {
    this.issues.push({ path: path === "" ? "snapshot" : path, message });
    return undefined;
  }

  object(value: unknown, path: string, allowed: readonly string[]): Obj | undefined {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      return this.fail(path, `expected an object, got ${describe(value)}`);
    }
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) this.fail(join(path, key), "unknown field");
    }
    return value as Obj;
  }

  array(value: unknown, path: string): unknown[] | undefined {
    if (!Array.isArray(value)) return this.fail(path, `expected an array, got ${describe(value)}`);
    return value;
  }

  string(value: unknown, path: string): string | undefined {
    if (typeof value !== "string") return this.fail(path, `expected a string, got ${describe(value)}`);
    if (value === "") return this.fail(path, "must not be empty");
    return value;
  }

  boolean(value: unknown, path: string): boolean | undefined {
    if (typeof value !== "boolean") return this.fail(path, `expected true or false, got ${describe(value)}`);
    return value;
  }

  count(value: unknown, path: string): number | undefined {
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
      return this.fail(path, `expected a non-negative integer, got ${describe(value)}`);
    }
    return value;
  }

  seconds(value: unknown, path: string): number | undefined {
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
      return this.fail(path, `expected a non-negative number of seconds, got ${describe(value)}`);
    }
    return value;
  }

  timestamp(value: unknown, path: string): Date | undefined {
    const date = typeof value === "string" ? parseTimestamp(value) : null;
    if (!date) return this.fail(path, `not an ISO-8601 timestamp with a timezone (got ${describe(value)})`);
    return date;
  }

  optional<T>(value: unknown, fallback: T, read: (v: unknown) => T | undefined): T | undefined {
    return value === undefined || value === null ? fallback : read(value);
  }
}

function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === "object") return "an object";
  return String(value);
}

// RFC 3339 profile of ISO-8601: a date, a time, and a mandatory offset (a timestamp without one would be read in
// the machine's local zone, so the same file would plan differently on different machines).
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})$/i;

/** Parses an ISO-8601 timestamp with an offset; null when malformed or impossible (Feb 30, 25:00). */
export function parseTimestamp(text: string): Date | null {
  const m = TIMESTAMP.exec(text);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map((v) => Number(v ?? 0)) as number[];
  const daysInMonth = new Date(Date.UTC(year!, month!, 0)).getUTCDate();
  if (month! < 1 || month! > 12 || day! < 1 || day! > daysInMonth) return null;
  if (hour! > 23 || minute! > 59 || second! > 59) return null;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : new Date(ms);
}

const ROOT_FIELDS = ["now", "settings", "inFlight", "presets"] as const;
const SETTINGS_FIELDS = ["backoffIntervalSeconds", "failedRetentionSeconds", "maxInFlight"] as const;
const PRESET_FIELDS = [
  "id",
  "desiredInstances",
  "ttlSeconds",
  "lastInvalidatedAt",
  "active",
  "status",
  "hardLimitReached",
  "needsClaimRehearsal",
  "scheduling",
  "prebuilds",
  "inProgress",
  "pendingJobs",
  "backoff",
] as const;
const PREBUILD_FIELDS = ["id", "createdAt", "status", "ready", "failedAt"] as const;
const PREBUILD_STATUSES = ["running", "stopped", "failed"] as const;

function readSettings(r: Reader, value: unknown): { settings: PlanSettings; budget: CycleBudget } {
  const path = "settings";
  const o = value === undefined || value === null ? {} : r.object(value, path, SETTINGS_FIELDS);
  if (!o) return { settings: defaultPlanSettings, budget: { maxInFlight: null } };
  const backoff = r.optional(o.backoffIntervalSeconds, defaultPlanSettings.backoffIntervalMs / 1000, (v) =>
    r.seconds(v, join(path, "backoffIntervalSeconds")),
  );
  const retention = r.optional(o.failedRetentionSeconds, defaultPlanSettings.failedRetentionMs / 1000, (v) =>
    r.seconds(v, join(path, "failedRetentionSeconds")),
  );
  const maxInFlight = r.optional<number | null>(o.maxInFlight, null, (v) =>
    r.count(v, join(path, "maxInFlight")),
  );
  return {
    settings: { backoffIntervalMs: (backoff ?? 0) * 1000, failedRetentionMs: (retention ?? 0) * 1000 },
    budget: { maxInFlight: maxInFlight ?? null },
  };
}

function readScheduling(r: Reader, value: unknown, path: string): Scheduling | null {
  if (value === undefined || value === null) return null;
  const o = r.object(value, path, ["timezone", "schedules"]);
  if (!o) return null;
  // An empty timezone is fine without schedules (validateSchedule says when it is not).
  const timezone =
    typeof o.timezone === "string"
      ? o.timezone
      : r.fail(join(path, "timezone"), `expected a string, got ${describe(o.timezone)}`);
  const list = r.array(o.schedules, join(path, "schedules")) ?? [];
  const schedules: Schedule[] = [];
  let shapeOk = timezone !== undefined;
  list.forEach((item, i) => {
    const itemPath = `${join(path, "schedules")}[${i}]`;
    const s = r.object(item, itemPath, ["cron", "instances"]);
    const cron = s ? r.string(s.cron, join(itemPath, "cron")) : undefined;
    const instances = s ? r.count(s.instances, join(itemPath, "instances")) : undefined;
    if (cron === undefined || instances === undefined) shapeOk = false;
    else schedules.push({ cron, instances });
  });
  if (!shapeOk || timezone === undefined) return null;
  const scheduling = { timezone, schedules };
  for (const issue of validateSchedule(scheduling)) r.fail(join(path, issue.path), issue.message);
  return scheduling;
}

function readPrebuild(r: Reader, value: unknown, path: string): PrebuildSnapshot | undefined {
  const o = r.object(value, path, PREBUILD_FIELDS);
  if (!o) return undefined;
  const id = r.string(o.id, join(path, "id"));
  const createdAt = r.timestamp(o.createdAt, join(path, "createdAt"));
  const status = o.status;
  if (!PREBUILD_STATUSES.includes(status as (typeof PREBUILD_STATUSES)[number])) {
    return r.fail(
      join(path, "status"),
      `expected one of ${PREBUILD_STATUSES.join(", ")}, got ${describe(status)}`,
    );
  }
  // `ready` and `failedAt` only mean something for one status each; elsewhere they are accepted and ignored, so a
  // dump of every column still parses.
  if (status === "running") {
    const ready = r.boolean(o.ready, join(path, "ready"));
    if (id === undefined || createdAt === undefined || ready === undefined) return undefined;
    return { id, createdAt, status, ready };
  }
  if (o.ready !== undefined) r.boolean(o.ready, join(path, "ready"));
  if (status === "failed") {
    const failedAt = r.timestamp(o.failedAt, join(path, "failedAt"));
    if (id === undefined || createdAt === undefined || failedAt === undefined) return undefined;
    return { id, createdAt, status, failedAt };
  }
  if (o.failedAt !== undefined && o.failedAt !== null) r.timestamp(o.failedAt, join(path, "failedAt"));
  if (id === undefined || createdAt === undefined) return undefined;
  return { id, createdAt, status: "stopped" };
}

function readPreset(r: Reader, value: unknown, path: string, seenPrebuilds: Map<string, string>) {
  const o = r.object(value, path, PRESET_FIELDS);
  if (!o) return undefined;
  const at = (key: string) => join(path, key);
  const id = r.string(o.id, at("id"));
  const desired = r.count(o.desiredInstances, at("desiredInstances"));
  const ttlSeconds = r.optional(o.ttlSeconds, 0, (v) => r.count(v, at("ttlSeconds")));
  const lastInvalidatedAt = r.optional<Date | null>(o.lastInvalidatedAt, null, (v) =>
    r.timestamp(v, at("lastInvalidatedAt")),
  );
  const active = r.boolean(o.active, at("active"));
  const status = r.optional<PresetStatus>(o.status, "healthy", (v) =>
    PRESET_STATUSES.includes(v as PresetStatus)
      ? (v as PresetStatus)
      : r.fail(at("status"), `expected one of ${PRESET_STATUSES.join(", ")}, got ${describe(v)}`),
  );
  const hardLimitReached = r.optional(o.hardLimitReached, false, (v) => r.boolean(v, at("hardLimitReached")));
  const needsClaimRehearsal = r.optional(o.needsClaimRehearsal, false, (v) =>
    r.boolean(v, at("needsClaimRehearsal")),
  );
  const scheduling = readScheduling(r, o.scheduling, at("scheduling"));

  const prebuilds: PrebuildSnapshot[] = [];
  const list = r.optional<unknown[]>(o.prebuilds, [], (v) => r.array(v, at("prebuilds"))) ?? [];
  list.forEach((item, i) => {
    const itemPath = `${at("prebuilds")}[${i}]`;
    const p = readPrebuild(r, item, itemPath);
    if (!p) return;
    const earlier = seenPrebuilds.get(p.id);
    // A workspace belongs to one preset and appears once; a duplicate would be deleted or counted twice.
    if (earlier) r.fail(join(itemPath, "id"), `duplicate prebuild id "${p.id}" (also at ${earlier})`);
    else seenPrebuilds.set(p.id, itemPath);
    prebuilds.push(p);
  });

  const inProgressObj = r.optional<Obj>(o.inProgress, {}, (v) =>
    r.object(v, at("inProgress"), ["start", "stop", "delete"]),
  );
  const inProgressCount = (key: "start" | "stop" | "delete") =>
    r.optional(inProgressObj?.[key], 0, (v) => r.count(v, join(at("inProgress"), key)));
  const inProgress = {
    start: inProgressCount("start"),
    stop: inProgressCount("stop"),
    delete: inProgressCount("delete"),
  };
  const pendingJobs = r.optional(o.pendingJobs, 0, (v) => r.count(v, at("pendingJobs")));

  let backoff: PresetSnapshot["backoff"] = null;
  if (o.backoff !== undefined && o.backoff !== null) {
    const b = r.object(o.backoff, at("backoff"), ["numFailed", "lastFailedAt"]);
    const numFailed = b ? r.count(b.numFailed, join(at("backoff"), "numFailed")) : undefined;
    const lastFailedAt = b ? r.timestamp(b.lastFailedAt, join(at("backoff"), "lastFailedAt")) : undefined;
    if (numFailed !== undefined && lastFailedAt !== undefined) backoff = { numFailed, lastFailedAt };
  }

  if (
    id === undefined ||
    desired === undefined ||
    ttlSeconds === undefined ||
    lastInvalidatedAt === undefined ||
    active === undefined ||
    status === undefined ||
    hardLimitReached === undefined ||
    needsClaimRehearsal === undefined ||
    inProgress.start === undefined ||
    inProgress.stop === undefined ||
    inProgress.delete === undefined ||
    pendingJobs === undefined
  ) {
    return undefined;
  }
  const preset: PresetSnapshot = {
    id,
    desiredInstances: desired,
    ttlSeconds,
    lastInvalidatedAt,
    active,
    status,
    hardLimitReached,
    needsClaimRehearsal,
    scheduling,
    prebuilds,
    inProgress: { start: inProgress.start, stop: inProgress.stop, delete: inProgress.delete },
    pendingJobs,
    backoff,
  };
  return preset;
}

/**
 * Validates a parsed snapshot document (§5 offline format) and converts it to planner input. Optional fields and
 * their defaults: `now` (null: caller decides), `settings` and each of its fields (60 s, 86400 s, `maxInFlight`
 * absent: no cap), `inFlight` (0), `ttlSeconds` (0), `lastInvalidatedAt`, `scheduling`, `backoff` (null),
 * `status` ("healthy"), `hardLimitReached` (false), `prebuilds` ([]), `inProgress` and each count, `pendingJobs`
 * (0). Required: `presets`, and per preset `id`, `desiredInstances`, `active`. Throws SnapshotFormatError listing
 * every problem.
 */
export function parseSnapshot(document: unknown): OfflineSnapshot {
  const r = new Reader();
  const root = r.object(document, "", ROOT_FIELDS);
  if (!root) throw new SnapshotFormatError(r.issues);
  const now = r.optional<Date | null>(root.now, null, (v) => r.timestamp(v, "now"));
  const { settings, budget } = readSettings(r, root.settings);
  const inFlight = r.optional(root.inFlight, 0, (v) => r.count(v, "inFlight"));
  const presets: PresetSnapshot[] = [];
  const seenPresets = new Map<string, string>();
  const seenPrebuilds = new Map<string, string>();
  const list = r.array(root.presets, "presets") ?? [];
  list.forEach((item, i) => {
    const path = `presets[${i}]`;
    const preset = readPreset(r, item, path, seenPrebuilds);
    if (!preset) return;
    const earlier = seenPresets.get(preset.id);
    if (earlier) r.fail(`${path}.id`, `duplicate preset id "${preset.id}" (also at ${earlier})`);
    else seenPresets.set(preset.id, path);
    presets.push(preset);
  });
  if (r.issues.length > 0) throw new SnapshotFormatError(r.issues);
  return { now: now ?? null, settings, budget, inFlight: inFlight ?? 0, presets };
}

/** Parses snapshot JSON text; malformed JSON is a SnapshotFormatError too. */
export function parseSnapshotText(text: string): OfflineSnapshot {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new SnapshotFormatError([{ path: "snapshot", message: `not valid JSON: ${reason}` }]);
  }
  return parseSnapshot(document);
}

// --- writing -------------------------------------------------------------------------------------------------

/**
 * A CycleAction as JSON: the same fields, with `until` as an ISO-8601 string. `wanted`/`granted` appear only when
 * the plan had an in-flight cap: without one they always equal `count`, and the output of a snapshot written
 * before the cap existed stays exactly what it was.
 */
export type PlanActionJson =
  | Exclude<CycleAction, { type: "backoff" | "create" }>
  | { type: "backoff"; until: string }
  | { type: "create"; count: number; wanted?: number; granted?: number };

export interface PresetPlanJson {
  id: string;
  state: PresetState;
  actions: PlanActionJson[];
}

export interface PlanOutputJson {
  presets: PresetPlanJson[];
}

/** `2026-01-05T10:01:00Z`; milliseconds only when there are any. */
export function formatTimestamp(date: Date): string {
  const iso = date.toISOString();
  return iso.endsWith(".000Z") ? `${iso.slice(0, -5)}Z` : iso;
}

function actionToJson(action: CycleAction, capped: boolean): PlanActionJson {
  switch (action.type) {
    case "set_status":
      return { type: "set_status", status: action.status };
    case "rehearse_claim":
      return { type: "rehearse_claim", prebuildId: action.prebuildId };
    case "delete":
      return { type: "delete", reason: action.reason, ids: [...action.ids] };
    case "cancel_pending":
      return { type: "cancel_pending" };
    case "create":
      return capped
        ? { type: "create", count: action.count, wanted: action.wanted, granted: action.granted }
        : { type: "create", count: action.count };
    case "backoff":
      return { type: "backoff", until: formatTimestamp(action.until) };
    case "blocked":
      return { type: "blocked", reason: action.reason };
  }
}

/** One preset of a cycle plan as the §5 output (state keys in contract order). */
export function presetPlanToJson(
  p: CyclePlan["presets"][number],
  plan: Pick<CyclePlan, "maxInFlight">,
): PresetPlanJson {
  return {
    id: p.id,
    state: {
      desired: p.state.desired,
      running: p.state.running,
      expired: p.state.expired,
      eligible: p.state.eligible,
      extraneous: p.state.extraneous,
      starting: p.state.starting,
      stopping: p.state.stopping,
      deleting: p.state.deleting,
    },
    actions: p.actions.map((a) => actionToJson(a, plan.maxInFlight !== null)),
  };
}

/** The §5 output document of a cycle plan. */
export function planToJson(plan: CyclePlan): PlanOutputJson {
  return { presets: plan.presets.map((p) => presetPlanToJson(p, plan)) };
}
