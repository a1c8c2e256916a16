// The offline snapshot / plan JSON of `prewarm prebuilds plan --snapshot FILE` (ARCHITECTURE §5, "Offline plan
// format"). Field names are a public contract. Parsing is strict (json-reader.ts): unknown fields, wrong types
// and impossible values are errors naming the field path (`presets[0].prebuilds[2].createdAt: not an ISO-8601
// timestamp`), because a typo such as `ttlSecond` silently ignored would make the plan lie.
//
// Backward compatible: every input added later is optional and, when absent, leaves the plan and its JSON
// exactly as they were (issue 13's `autoscale`, `claims`, `replaceAheadSeconds`, `rollout`, ceilings… add
// output fields only where they are used).
import type { AutoscalePolicy } from "./autoscale.js";
import type { CycleAction, CycleBudget, CyclePlan, CycleSnapshot } from "./cycle.js";
import {
  describe,
  formatTimestamp,
  issuesMessage,
  type JsonIssue,
  join,
  type Obj,
  parseJsonText,
  Reader,
} from "./json-reader.js";
import { isKnownTimezone } from "./local-time.js";
import {
  defaultPlanSettings,
  type PlanSettings,
  PRESET_STATUSES,
  type PrebuildSnapshot,
  type PresetSnapshot,
  type PresetState,
  type PresetStatus,
  ROLLOUT_STRATEGIES,
  type RolloutStrategy,
} from "./plan.js";
import { type Schedule, type Scheduling, validateSchedule } from "./schedule.js";

export { formatTimestamp, parseTimestamp } from "./json-reader.js";

export type SnapshotIssue = JsonIssue;

/** A snapshot document that does not follow the format; `issues` lists every problem found, in input order. */
export class SnapshotFormatError extends Error {
  constructor(readonly issues: SnapshotIssue[]) {
    super(issuesMessage(issues, "invalid snapshot"));
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

const ROOT_FIELDS = ["now", "settings", "inFlight", "presets"] as const;
const SETTINGS_FIELDS = [
  "backoffIntervalSeconds",
  "failedRetentionSeconds",
  "maxInFlight",
  "maxPrebuilds",
  "maxIdleCost",
] as const;
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
  "autoscale",
  "claims",
  "claimsSince",
  "buildSeconds",
  "replaceAheadSeconds",
  "rollout",
  "successor",
  "dailyCost",
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
  const budget: CycleBudget = { maxInFlight: maxInFlight ?? null };
  // The ceilings appear in the budget only when given, so an older document reads exactly as before.
  if (o.maxPrebuilds !== undefined && o.maxPrebuilds !== null) {
    budget.maxPrebuilds = r.count(o.maxPrebuilds, join(path, "maxPrebuilds")) ?? null;
  }
  if (o.maxIdleCost !== undefined && o.maxIdleCost !== null) {
    budget.maxIdleCostPerDay = r.amount(o.maxIdleCost, join(path, "maxIdleCost")) ?? null;
  }
  return {
    settings: { backoffIntervalMs: (backoff ?? 0) * 1000, failedRetentionMs: (retention ?? 0) * 1000 },
    budget,
  };
}

/** `{ min, max, targetHitRate, timezone? }`, min ≤ max, a known IANA timezone. */
export function readAutoscalePolicy(r: Reader, value: unknown, path: string): AutoscalePolicy | undefined {
  const o = r.object(value, path, ["min", "max", "targetHitRate", "timezone"]);
  if (!o) return undefined;
  const min = r.count(o.min, join(path, "min"));
  const max = r.count(o.max, join(path, "max"));
  const targetHitRate = r.fraction(o.targetHitRate, join(path, "targetHitRate"));
  const timezone = r.optional<string | null>(o.timezone, null, (v) => {
    const tz = r.string(v, join(path, "timezone"));
    if (tz !== undefined && !isKnownTimezone(tz))
      return r.fail(join(path, "timezone"), `unknown timezone "${tz}"`);
    return tz;
  });
  if (min !== undefined && max !== undefined && min > max) {
    return r.fail(join(path, "max"), `must be at least min (${min}), got ${max}`);
  }
  if (min === undefined || max === undefined || targetHitRate === undefined || timezone === undefined)
    return undefined;
  return { min, max, targetHitRate, timezone };
}

/** A list of timestamps as ms since the epoch, ascending (the input may be in any order). */
function readInstants(r: Reader, value: unknown, path: string): number[] | undefined {
  const list = r.array(value, path);
  if (!list) return undefined;
  const out: number[] = [];
  let ok = true;
  list.forEach((item, i) => {
    const at = r.timestamp(item, `${path}[${i}]`);
    if (at) out.push(at.getTime());
    else ok = false;
  });
  return ok ? out.sort((a, b) => a - b) : undefined;
}

/** A list of non-negative durations in seconds, as ms, in input order. */
function readDurations(r: Reader, value: unknown, path: string): number[] | undefined {
  const list = r.array(value, path);
  if (!list) return undefined;
  const out: number[] = [];
  let ok = true;
  list.forEach((item, i) => {
    const seconds = r.seconds(item, `${path}[${i}]`);
    if (seconds === undefined) ok = false;
    else out.push(seconds * 1000);
  });
  return ok ? out : undefined;
}

/** Issue 13's optional preset inputs; each key is set on `preset` only when the document has it. */
function readDemandFields(r: Reader, o: Obj, path: string, preset: PresetSnapshot): boolean {
  const at = (key: string) => join(path, key);
  const present = (key: string) => o[key] !== undefined && o[key] !== null;
  let ok = true;
  const claims = present("claims") ? readInstants(r, o.claims, at("claims")) : [];
  const since = present("claimsSince") ? r.timestamp(o.claimsSince, at("claimsSince")) : null;
  if (claims === undefined || since === undefined) ok = false;
  if (present("autoscale")) {
    const policy = readAutoscalePolicy(r, o.autoscale, at("autoscale"));
    if (!policy) ok = false;
    else {
      preset.autoscale = {
        policy,
        // Absent: claims were recorded for the model's whole look-back.
        demand: { claims: claims ?? [], since: since ? since.getTime() : Number.NEGATIVE_INFINITY },
      };
    }
  } else if (present("claims") || present("claimsSince")) {
    r.fail(at(present("claims") ? "claims" : "claimsSince"), "only used with autoscale (set autoscale too)");
    ok = false;
  }
  if (present("buildSeconds")) {
    const durations = readDurations(r, o.buildSeconds, at("buildSeconds"));
    if (durations) preset.buildDurationsMs = durations;
    else ok = false;
  }
  if (present("replaceAheadSeconds")) {
    const lead = r.seconds(o.replaceAheadSeconds, at("replaceAheadSeconds"));
    if (lead === undefined) ok = false;
    else preset.replaceAheadSeconds = lead;
  }
  if (present("rollout")) {
    const rollout = r.oneOf<RolloutStrategy>(o.rollout, at("rollout"), ROLLOUT_STRATEGIES);
    if (rollout === undefined) ok = false;
    else preset.rollout = rollout;
  }
  if (present("successor")) {
    const successor = r.string(o.successor, at("successor"));
    if (successor === undefined) ok = false;
    else preset.successor = successor;
  }
  if (present("dailyCost")) {
    const cost = r.amount(o.dailyCost, at("dailyCost"));
    if (cost === undefined) ok = false;
    else preset.dailyCost = cost;
  }
  return ok;
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
  return readDemandFields(r, o, path, preset) ? preset : undefined;
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
  // A successor is an active preset of the same document (the one a surge rollout fills).
  const active = new Map(presets.map((p) => [p.id, p.active]));
  presets.forEach((p) => {
    if (p.successor === undefined || p.successor === null) return;
    const path = `${seenPresets.get(p.id) ?? "presets[?]"}.successor`;
    if (!active.has(p.successor)) r.fail(path, `no preset with id "${p.successor}"`);
    else if (!active.get(p.successor)) r.fail(path, `preset "${p.successor}" is not active`);
  });
  if (r.issues.length > 0) throw new SnapshotFormatError(r.issues);
  return { now: now ?? null, settings, budget, inFlight: inFlight ?? 0, presets };
}

/** Parses snapshot JSON text; malformed JSON is a SnapshotFormatError too. */
export function parseSnapshotText(text: string): OfflineSnapshot {
  const parsed = parseJsonText(text, "snapshot");
  if (!parsed.ok) throw new SnapshotFormatError([parsed.issue]);
  return parseSnapshot(parsed.value);
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
  | {
      type: "create";
      count: number;
      wanted?: number;
      granted?: number;
      limitedBy?: "max_prebuilds" | "max_idle_cost";
    };

export interface PresetPlanJson {
  id: string;
  state: PresetState;
  actions: PlanActionJson[];
  /** Why `state.desired` is what it is (autoscaled presets). */
  desiredReason?: string;
}

export interface PlanOutputJson {
  presets: PresetPlanJson[];
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
    case "create": {
      if (!capped) return { type: "create", count: action.count };
      const json: PlanActionJson = {
        type: "create",
        count: action.count,
        wanted: action.wanted,
        granted: action.granted,
      };
      if (action.limitedBy) json.limitedBy = action.limitedBy;
      return json;
    }
    case "backoff":
      return { type: "backoff", until: formatTimestamp(action.until) };
    case "blocked":
      return { type: "blocked", reason: action.reason };
  }
}

/** Whether creations were dealt against a cap or a ceiling (then `create` shows `wanted` and `granted`). */
function isCapped(plan: Pick<CyclePlan, "maxInFlight" | "ceilings">): boolean {
  return (
    plan.maxInFlight !== null ||
    (plan.ceilings?.maxPrebuilds ?? null) !== null ||
    (plan.ceilings?.maxIdleCostPerDay ?? null) !== null
  );
}

/**
 * One preset of a cycle plan as the §5 output (state keys in contract order). `desiredReason` is included for
 * autoscaled presets, or for every preset with `withReasons` (the live plan).
 */
export function presetPlanToJson(
  p: CyclePlan["presets"][number],
  plan: Pick<CyclePlan, "maxInFlight" | "ceilings">,
  options: { withReasons?: boolean } = {},
): PresetPlanJson {
  const state: PresetState = {
    desired: p.state.desired,
    running: p.state.running,
    expired: p.state.expired,
    eligible: p.state.eligible,
    extraneous: p.state.extraneous,
    starting: p.state.starting,
    stopping: p.state.stopping,
    deleting: p.state.deleting,
  };
  if (p.state.expiringSoon !== undefined) state.expiringSoon = p.state.expiringSoon;
  const json: PresetPlanJson = {
    id: p.id,
    state,
    actions: p.actions.map((a) => actionToJson(a, isCapped(plan))),
  };
  if (p.desiredReason !== undefined && (options.withReasons || p.preset.autoscale)) {
    json.desiredReason = p.desiredReason;
  }
  return json;
}

/** The §5 output document of a cycle plan. */
export function planToJson(plan: CyclePlan): PlanOutputJson {
  return { presets: plan.presets.map((p) => presetPlanToJson(p, plan)) };
}
