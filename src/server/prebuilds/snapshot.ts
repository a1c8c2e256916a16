// The reconciler's snapshot: ONE consistent read per cycle (SQLite: one transaction; PostgreSQL: a read-only
// REPEATABLE READ transaction, or the leader's lock transaction), a fixed number of statements whatever the
// number of presets (11, counted in `queryCount`), grouped in memory into one `PresetSnapshot` per preset,
// exactly as plan.ts's snapshot contract asks. Everything it reads belongs to one template, so it is read and
// assembled per template: `readSnapshotRows` (the statements, for all templates or a scope of them),
// `rowsByTemplate`, `assembleTemplate` (pure, at an instant) and `orderedPresets`. `readSnapshot` is the full
// read (the views); snapshot-reader.ts re-reads only the templates that changed (the reconciler).
// - prebuilds: prebuild workspaces whose latest build FINISHED — successful start → running (ready = all agents
//   ready, or none), successful stop → stopped, failed or cancelled → failed (failedAt = when the job ended);
//   a successful delete leaves the workspace soft-deleted, so it is not read at all;
// - inProgress: latest builds whose job is pending, running or cancelling, by transition;
// - pendingJobs: of those, start builds whose job nobody has acquired yet;
// - backoff: failed creations in the look-back window since the last successful one (queries.ts);
// - needsClaimRehearsal: the preset has no claim rehearsal yet (a column of the presets read, no extra statement);
// - hardLimitReached: the last N creations all failed (queries.ts) — the executor turns it into the persisted
//   `hard_limited` status; the planner only reads `status`;
// - demand-driven pools (demand-queries.ts, issue 13), by template and preset NAME so they span versions: the
//   autoscale policy and its claim history (the last 4 weeks), the measured create → eligible durations (the
//   latest 50), replace-ahead resolved (`auto` = their p90, off until one is measured; the server's default
//   when the preset has no setting), the rollout strategy (default surge) and, for an inactive preset, its
//   successor (the active version's preset of the same name), and what one prebuild costs per day.
// Time windows (look-back, claim history, timings, costs) are applied in `assembleTemplate` at the instant
// planned for, so rows read earlier can be assembled again later and give what a fresh read would.
import type {
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from "kysely";
import { AUTOSCALE_MODEL, measuredRefillMs } from "../../planning/autoscale.js";
import type { BackoffHistory, PrebuildSnapshot, PresetSnapshot } from "../../planning/plan.js";
import type { Schedule } from "../../planning/schedule.js";
import { jobStatus } from "../store/job-status.js";
import { parseReplaceAhead, type ReplaceAheadSetting } from "../store/preset-settings.js";
import type { Dialect, Executor, Store } from "../store/store.js";
import {
  type ClaimHistoryRow,
  type CreationTimingRow,
  type DemandSettingsRow,
  type PresetCostRow,
  selectClaimHistory,
  selectCreationTimings,
  selectDemandSettings,
  selectPresetDailyCosts,
} from "./demand-queries.js";
import {
  countInFlightPrebuildJobs,
  type FailureRow,
  type PrebuildWorkspaceRow,
  readPaused,
  type ScheduleRow,
  type SnapshotPresetRow,
  selectActiveSchedules,
  selectFailures,
  selectHardLimitedPresets,
  selectPrebuildWorkspaces,
  selectSnapshotPresets,
} from "./queries.js";

export interface SnapshotSettings {
  /** Failures older than this do not cause backoff (default 1 h). */
  lookbackMs: number;
  /** Consecutive failed creations that hard-limit a preset (default 3; 0 disables). */
  hardLimit: number;
  /** Replace-ahead of presets without their own setting (`--replace-ahead`; absent: "auto"). */
  replaceAhead?: ReplaceAheadSetting;
}

export const defaultSnapshotSettings: SnapshotSettings = {
  lookbackMs: 3_600_000,
  hardLimit: 3,
  replaceAhead: "auto",
};

/** Creations whose timing is read per preset name, and how far back (the model uses the latest 50). */
const TIMING_SAMPLES = AUTOSCALE_MODEL.refillSamples;
const TIMING_LOOKBACK_MS = AUTOSCALE_MODEL.lookbackMs;
/** How far back a preset's latest build gives its daily cost (older: its version's import). */
const COST_LOOKBACK_MS = 7 * 86_400_000;

/** A preset's snapshot plus what the executor, the status API and the metrics need to name it. */
export interface LivePresetSnapshot extends PresetSnapshot {
  presetName: string;
  templateId: string;
  templateName: string;
  versionId: string;
  versionName: string;
  /** As declared by the template; null = the preset declares no prebuilds (it only has leftovers). */
  declaredInstances: number | null;
}

/** When a creation became eligible: its job completed and every agent was ready; null while one is not. */
function eligibleAt(row: CreationTimingRow): number | null {
  const agents = Number(row.agents);
  if (agents === 0) return Number(row.completed_at);
  if (Number(row.agents_ready) < agents || row.last_ready_at === null) return null;
  return Math.max(Number(row.completed_at), Number(row.last_ready_at));
}

function pushTo(map: Map<string, number[]>, key: string, value: number): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

export interface ReconcileSnapshot {
  now: Date;
  paused: boolean;
  /** Prebuild jobs pending, running or cancelling, across all presets. */
  inFlightPrebuildJobs: number;
  presets: LivePresetSnapshot[];
  /** Statements this snapshot executed (counted as they run; a constant, whatever the number of presets). */
  queryCount: number;
}

/** Counts the statements run through the executor it is attached to. */
class StatementCounter implements KyselyPlugin {
  count = 0;
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    this.count++;
    return args.node;
  }
  transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return Promise.resolve(args.result);
  }
}

export interface ReadSnapshotOptions {
  /** Read inside this transaction (the leader's) instead of opening one. */
  tx?: Executor;
}

function toPrebuild(row: PrebuildWorkspaceRow): PrebuildSnapshot | "in_progress" | "ignored" {
  const createdAt = new Date(row.created_at);
  const status = jobStatus({
    startedAt: row.started_at,
    completedAt: row.completed_at,
    canceledAt: row.canceled_at,
    error: row.error,
  });
  switch (status) {
    case "pending":
    case "running":
    case "canceling":
      return "in_progress";
    case "failed":
    case "canceled":
      return {
        id: row.id,
        createdAt,
        status: "failed",
        failedAt: new Date(row.completed_at ?? row.job_updated_at),
      };
    case "succeeded":
      if (row.transition === "start")
        return { id: row.id, createdAt, status: "running", ready: row.agents_ready === 1 };
      if (row.transition === "stop") return { id: row.id, createdAt, status: "stopped" };
      // A finished delete soft-deletes the workspace in the same transaction; seeing one here means it is
      // about to disappear: neither running nor garbage.
      return "ignored";
  }
}

/** What the snapshot's statements return, for every template or for the templates of a scope. */
export interface SnapshotRows {
  presets: SnapshotPresetRow[];
  schedules: ScheduleRow[];
  workspaces: PrebuildWorkspaceRow[];
  failures: FailureRow[];
  hardLimited: string[];
  demandSettings: DemandSettingsRow[];
  claims: ClaimHistoryRow[];
  timings: CreationTimingRow[];
  costs: PresetCostRow[];
}

/**
 * The snapshot's per-template statements (9, whatever the number of presets), for every template or only those
 * of `scope`. Time windows are applied with `now` here AND again by `assembleTemplate` with the `now` it plans
 * at: rows read earlier are a superset of what a later window keeps, which is what lets the incremental reader
 * reuse them.
 */
export async function readSnapshotRows(
  db: Executor,
  dialect: Dialect,
  now: Date,
  settings: SnapshotSettings,
  scope?: readonly string[],
): Promise<SnapshotRows> {
  const nowMs = now.getTime();
  // Sequential on purpose: one transaction is one connection.
  return {
    presets: await selectSnapshotPresets(db, scope),
    schedules: await selectActiveSchedules(db, scope),
    workspaces: await selectPrebuildWorkspaces(db, dialect, scope),
    failures: await selectFailures(db, nowMs - settings.lookbackMs, scope),
    hardLimited: await selectHardLimitedPresets(db, settings.hardLimit, scope),
    demandSettings: await selectDemandSettings(db, scope),
    claims: await selectClaimHistory(db, nowMs - AUTOSCALE_MODEL.lookbackMs, scope),
    timings: await selectCreationTimings(db, nowMs - TIMING_LOOKBACK_MS, TIMING_SAMPLES, scope),
    costs: await selectPresetDailyCosts(db, nowMs - COST_LOOKBACK_MS, scope),
  };
}

const emptyRows = (): SnapshotRows => ({
  presets: [],
  schedules: [],
  workspaces: [],
  failures: [],
  hardLimited: [],
  demandSettings: [],
  claims: [],
  timings: [],
  costs: [],
});

/**
 * Splits rows by template (everything the snapshot reads belongs to exactly one). Rows of presets that are not
 * in `rows.presets` (old versions with nothing to do) are dropped: assembly would ignore them anyway.
 */
export function rowsByTemplate(rows: SnapshotRows): Map<string, SnapshotRows> {
  const parts = new Map<string, SnapshotRows>();
  const partOf = (templateId: string): SnapshotRows => {
    let part = parts.get(templateId);
    if (!part) {
      part = emptyRows();
      parts.set(templateId, part);
    }
    return part;
  };
  const templateOfPreset = new Map<string, string>();
  for (const p of rows.presets) {
    templateOfPreset.set(p.id, p.template_id);
    partOf(p.template_id).presets.push(p);
  }
  const byPreset = <K extends keyof SnapshotRows>(
    key: K,
    presetId: (row: SnapshotRows[K][number]) => string,
  ) => {
    for (const row of rows[key] as SnapshotRows[K][number][]) {
      const templateId = templateOfPreset.get(presetId(row));
      if (templateId !== undefined) (parts.get(templateId)![key] as SnapshotRows[K][number][]).push(row);
    }
  };
  byPreset("schedules", (r) => r.preset_id);
  byPreset("failures", (r) => r.preset_id);
  byPreset("hardLimited", (r) => r);
  byPreset("costs", (r) => r.preset_id);
  // Keyed by template: a template without snapshot presets has nothing to plan, so these go only where a part is.
  const byTemplate = <K extends "workspaces" | "demandSettings" | "claims" | "timings">(key: K) => {
    for (const row of rows[key] as SnapshotRows[K][number][]) {
      const part = parts.get(row.template_id);
      if (part) (part[key] as SnapshotRows[K][number][]).push(row);
    }
  };
  byTemplate("workspaces");
  byTemplate("demandSettings");
  byTemplate("claims");
  byTemplate("timings");
  return parts;
}

/** One template's presets, assembled at `now`, and the instant a time window would change them. */
export interface AssembledTemplate {
  templateId: string;
  templateName: string;
  presets: LivePresetSnapshot[];
  /** Assembling the same rows at or after this instant (ms) may give different presets: a row aged out. */
  validUntilMs: number;
}

/**
 * Turns one template's rows into its presets' snapshots at `now` (pure; the full and the incremental reader both
 * go through it, which is what makes them plan alike). Presets keep the rows' SQL order.
 */
export function assembleTemplate(
  templateId: string,
  rows: SnapshotRows,
  now: Date,
  settings: SnapshotSettings,
): AssembledTemplate {
  const nowMs = now.getTime();
  let validUntilMs = Number.POSITIVE_INFINITY;
  /** Keeps a row stamped `atMs` while it is inside a window of `windowMs`, noting when it leaves it. */
  const inWindow = (atMs: number, windowMs: number): boolean => {
    if (atMs < nowMs - windowMs) return false;
    validUntilMs = Math.min(validUntilMs, atMs + windowMs + 1);
    return true;
  };

  const settingsByName = new Map(rows.demandSettings.map((d) => [d.preset_name, d]));
  const claimsByName = new Map<string, number[]>();
  for (const c of rows.claims) {
    const atMs = Number(c.created_at);
    if (inWindow(atMs, AUTOSCALE_MODEL.lookbackMs)) pushTo(claimsByName, c.preset_name, atMs);
  }
  const durationsByName = new Map<string, number[]>();
  for (const t of rows.timings) {
    if (!inWindow(Number(t.completed_at), TIMING_LOOKBACK_MS)) continue;
    const eligible = eligibleAt(t);
    if (eligible === null) continue;
    pushTo(durationsByName, t.preset_name, Math.max(0, eligible - Number(t.started_at)));
  }
  // A preset's latest build says what its prebuilds cost; before one, its version's import estimates it.
  const costs = new Map<string, number>();
  for (const source of ["import", "build"] as const) {
    for (const c of rows.costs) {
      if (c.source !== source) continue;
      if (source === "build" && !inWindow(Number(c.completed_at), COST_LOOKBACK_MS)) continue;
      costs.set(c.preset_id, Number(c.daily_cost ?? 0));
    }
  }
  const failures = new Map<string, BackoffHistory>();
  for (const f of rows.failures) {
    const atMs = Number(f.completed_at);
    if (!inWindow(atMs, settings.lookbackMs)) continue;
    const seen = failures.get(f.preset_id);
    if (!seen) failures.set(f.preset_id, { numFailed: 1, lastFailedAt: new Date(atMs) });
    else {
      seen.numFailed++;
      if (atMs > seen.lastFailedAt.getTime()) seen.lastFailedAt = new Date(atMs);
    }
  }
  const hardLimited = new Set(rows.hardLimited);
  const serverReplaceAhead = settings.replaceAhead ?? "auto";

  const schedules = new Map<string, Schedule[]>();
  for (const s of rows.schedules) {
    const list = schedules.get(s.preset_id) ?? [];
    list.push({ cron: s.cron, instances: s.instances });
    schedules.set(s.preset_id, list);
  }

  const presets = new Map<string, LivePresetSnapshot>();
  for (const row of rows.presets) {
    const presetSchedules = schedules.get(row.id);
    const preset: LivePresetSnapshot = {
      id: row.id,
      desiredInstances: row.desired_instances ?? 0,
      ttlSeconds: row.ttl_seconds,
      lastInvalidatedAt: row.last_invalidated_at === null ? null : new Date(Number(row.last_invalidated_at)),
      active: Number(row.active) === 1,
      status: row.status,
      scheduling:
        row.scheduling_timezone !== "" && presetSchedules
          ? { timezone: row.scheduling_timezone, schedules: presetSchedules }
          : null,
      prebuilds: [],
      inProgress: { start: 0, stop: 0, delete: 0 },
      pendingJobs: 0,
      backoff: failures.get(row.id) ?? null,
      presetName: row.name,
      templateId: row.template_id,
      templateName: row.template_name,
      versionId: row.version_id,
      versionName: row.version_name,
      declaredInstances: row.desired_instances,
      hardLimitReached: hardLimited.has(row.id),
      needsClaimRehearsal: Number(row.rehearsed) === 0,
    };
    presets.set(row.id, preset);
    const own = settingsByName.get(row.name);
    const durations = durationsByName.get(row.name) ?? [];
    preset.buildDurationsMs = durations;
    preset.dailyCost = costs.get(row.id) ?? 0;
    const replaceAhead = parseReplaceAhead(own?.replace_ahead ?? null) ?? serverReplaceAhead;
    const lead = replaceAhead === "auto" ? (measuredRefillMs(durations) ?? 0) / 1000 : replaceAhead;
    if (lead > 0) preset.replaceAheadSeconds = lead;
    preset.rollout = own?.rollout === "replace" ? "replace" : "surge";
    if (
      own &&
      own.autoscale_min !== null &&
      own.autoscale_max !== null &&
      own.autoscale_target_hit_rate !== null
    ) {
      // No history start yet: the history starts now, which moves with every cycle.
      if (own.history_since === null) validUntilMs = Math.min(validUntilMs, nowMs + 1);
      preset.autoscale = {
        policy: {
          min: Number(own.autoscale_min),
          max: Number(own.autoscale_max),
          targetHitRate: Number(own.autoscale_target_hit_rate),
          timezone: own.autoscale_timezone,
        },
        demand: {
          claims: claimsByName.get(row.name) ?? [],
          since: own.history_since === null ? nowMs : Number(own.history_since),
        },
      };
    }
  }
  // An inactive preset's successor: the active preset of the same name in the same template.
  const activeByName = new Map<string, string>();
  for (const row of rows.presets) if (Number(row.active) === 1) activeByName.set(row.name, row.id);
  for (const row of rows.presets) {
    if (Number(row.active) === 1) continue;
    presets.get(row.id)!.successor = activeByName.get(row.name) ?? null;
  }

  for (const row of rows.workspaces) {
    const preset = row.preset_id === null ? undefined : presets.get(row.preset_id);
    if (!preset) continue;
    const prebuild = toPrebuild(row);
    if (prebuild === "ignored") continue;
    if (prebuild !== "in_progress") {
      preset.prebuilds.push(prebuild);
      continue;
    }
    preset.inProgress[row.transition]++;
    if (
      row.transition === "start" &&
      row.started_at === null &&
      row.canceled_at === null &&
      row.worker_id === null
    ) {
      preset.pendingJobs++;
    }
  }
  return {
    templateId,
    templateName: rows.presets[0]?.template_name ?? "",
    presets: [...presets.values()],
    validUntilMs,
  };
}

/** Code-unit order, not a database collation: both readers must order templates alike. */
const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Every template's presets in one list, templates by name then id (each template's presets in SQL order). */
export function orderedPresets(templates: Iterable<AssembledTemplate>): LivePresetSnapshot[] {
  const sorted = [...templates].sort(
    (a, b) => byCodeUnits(a.templateName, b.templateName) || byCodeUnits(a.templateId, b.templateId),
  );
  return sorted.flatMap((t) => t.presets);
}

/** The part of a snapshot read on every cycle, whatever else is re-read: neither is kept between cycles. */
export async function readGlobals(db: Executor): Promise<{ paused: boolean; inFlightPrebuildJobs: number }> {
  return { paused: await readPaused(db), inFlightPrebuildJobs: await countInFlightPrebuildJobs(db) };
}

/** Counts statements on `reader` while `fn` runs. */
export async function counting<T>(
  reader: Executor,
  fn: (db: Executor) => Promise<T>,
): Promise<{ value: T; queryCount: number }> {
  const counter = new StatementCounter();
  const value = await fn(reader.withPlugin(counter));
  return { value, queryCount: counter.count };
}

async function readAll(
  reader: Executor,
  dialect: Dialect,
  now: Date,
  settings: SnapshotSettings,
): Promise<ReconcileSnapshot> {
  const { value, queryCount } = await counting(reader, async (db) => ({
    globals: await readGlobals(db),
    rows: await readSnapshotRows(db, dialect, now, settings),
  }));
  const templates = [...rowsByTemplate(value.rows)].map(([id, rows]) =>
    assembleTemplate(id, rows, now, settings),
  );
  return { now, ...value.globals, presets: orderedPresets(templates), queryCount };
}

/**
 * Reads every preset the reconciler must consider, consistently, in a fixed number of statements. Presets are
 * ordered by template name, version, preset name.
 */
export function readSnapshot(
  store: Store,
  now: Date,
  settings: SnapshotSettings = defaultSnapshotSettings,
  options: ReadSnapshotOptions = {},
): Promise<ReconcileSnapshot> {
  if (options.tx) return readAll(options.tx, store.dialect, now, settings);
  return store.transaction((tx) => readAll(tx, store.dialect, now, settings), {
    isolation: "repeatable read",
    readOnly: true,
  });
}
