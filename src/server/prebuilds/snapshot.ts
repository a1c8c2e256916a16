// The reconciler's snapshot: ONE consistent read per cycle (SQLite: one transaction; PostgreSQL: a read-only
// REPEATABLE READ transaction, or the leader's lock transaction), a fixed number of statements whatever the
// number of presets (11, counted in `queryCount`), grouped in memory into one `PresetSnapshot` per preset,
// exactly as plan.ts's snapshot contract asks:
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
import type {
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from "kysely";
import { AUTOSCALE_MODEL, measuredRefillMs } from "../../planning/autoscale.js";
import type { PrebuildSnapshot, PresetSnapshot } from "../../planning/plan.js";
import type { Schedule } from "../../planning/schedule.js";
import { jobStatus } from "../store/job-status.js";
import { parseReplaceAhead, type ReplaceAheadSetting } from "../store/preset-settings.js";
import type { Executor, Store } from "../store/store.js";
import {
  type CreationTimingRow,
  selectClaimHistory,
  selectCreationTimings,
  selectDemandSettings,
  selectPresetDailyCosts,
} from "./demand-queries.js";
import {
  countInFlightPrebuildJobs,
  type PrebuildWorkspaceRow,
  readPaused,
  selectActiveSchedules,
  selectFailureHistory,
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

const nameKey = (templateId: string, presetName: string) => `${templateId}\u0000${presetName}`;

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

async function readAll(reader: Executor, now: Date, settings: SnapshotSettings): Promise<ReconcileSnapshot> {
  const counter = new StatementCounter();
  const db = reader.withPlugin(counter);
  // Sequential on purpose: one transaction is one connection.
  const paused = await readPaused(db);
  const presetRows = await selectSnapshotPresets(db);
  const scheduleRows = await selectActiveSchedules(db);
  const workspaceRows = await selectPrebuildWorkspaces(db);
  const failureRows = await selectFailureHistory(db, now.getTime() - settings.lookbackMs);
  const hardLimited = new Set(await selectHardLimitedPresets(db, settings.hardLimit));
  const inFlightPrebuildJobs = await countInFlightPrebuildJobs(db);
  const nowMs = now.getTime();
  const demandSettings = await selectDemandSettings(db);
  const claimRows = await selectClaimHistory(db, nowMs - AUTOSCALE_MODEL.lookbackMs);
  const timingRows = await selectCreationTimings(db, nowMs - TIMING_LOOKBACK_MS, TIMING_SAMPLES);
  const costRows = await selectPresetDailyCosts(db, nowMs - COST_LOOKBACK_MS);

  const settingsByName = new Map(demandSettings.map((d) => [nameKey(d.template_id, d.preset_name), d]));
  const claimsByName = new Map<string, number[]>();
  for (const c of claimRows) {
    pushTo(claimsByName, nameKey(c.template_id, c.preset_name), Number(c.created_at));
  }
  const durationsByName = new Map<string, number[]>();
  for (const t of timingRows) {
    const eligible = eligibleAt(t);
    if (eligible === null) continue;
    pushTo(
      durationsByName,
      nameKey(t.template_id, t.preset_name),
      Math.max(0, eligible - Number(t.started_at)),
    );
  }
  // A preset's latest build says what its prebuilds cost; before one, its version's import estimates it.
  const costs = new Map<string, number>();
  for (const source of ["import", "build"] as const) {
    for (const c of costRows) if (c.source === source) costs.set(c.preset_id, Number(c.daily_cost ?? 0));
  }
  const serverReplaceAhead = settings.replaceAhead ?? "auto";

  const schedules = new Map<string, Schedule[]>();
  for (const s of scheduleRows) {
    const list = schedules.get(s.preset_id) ?? [];
    list.push({ cron: s.cron, instances: s.instances });
    schedules.set(s.preset_id, list);
  }
  const failures = new Map(failureRows.map((f) => [f.preset_id, f]));

  const presets = new Map<string, LivePresetSnapshot>();
  for (const row of presetRows) {
    const failure = failures.get(row.id);
    const presetSchedules = schedules.get(row.id);
    presets.set(row.id, {
      id: row.id,
      desiredInstances: row.desired_instances ?? 0,
      ttlSeconds: row.ttl_seconds,
      lastInvalidatedAt: row.last_invalidated_at === null ? null : new Date(row.last_invalidated_at),
      active: row.active === 1,
      status: row.status,
      scheduling:
        row.scheduling_timezone !== "" && presetSchedules
          ? { timezone: row.scheduling_timezone, schedules: presetSchedules }
          : null,
      prebuilds: [],
      inProgress: { start: 0, stop: 0, delete: 0 },
      pendingJobs: 0,
      backoff:
        failure && Number(failure.num_failed) > 0
          ? { numFailed: Number(failure.num_failed), lastFailedAt: new Date(Number(failure.last_failed_at)) }
          : null,
      presetName: row.name,
      templateId: row.template_id,
      templateName: row.template_name,
      versionId: row.version_id,
      versionName: row.version_name,
      declaredInstances: row.desired_instances,
      hardLimitReached: hardLimited.has(row.id),
      needsClaimRehearsal: row.rehearsed === 0,
    });
    const preset = presets.get(row.id)!;
    const key = nameKey(row.template_id, row.name);
    const own = settingsByName.get(key);
    const durations = durationsByName.get(key) ?? [];
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
      preset.autoscale = {
        policy: {
          min: Number(own.autoscale_min),
          max: Number(own.autoscale_max),
          targetHitRate: Number(own.autoscale_target_hit_rate),
          timezone: own.autoscale_timezone,
        },
        demand: {
          claims: claimsByName.get(key) ?? [],
          since: own.history_since === null ? nowMs : Number(own.history_since),
        },
      };
    }
  }
  // An inactive preset's successor: the active preset of the same name in the same template.
  const activeByName = new Map<string, string>();
  for (const row of presetRows)
    if (row.active === 1) activeByName.set(nameKey(row.template_id, row.name), row.id);
  for (const row of presetRows) {
    if (row.active === 1) continue;
    presets.get(row.id)!.successor = activeByName.get(nameKey(row.template_id, row.name)) ?? null;
  }

  for (const row of workspaceRows) {
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

  return { now, paused, inFlightPrebuildJobs, presets: [...presets.values()], queryCount: counter.count };
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
  if (options.tx) return readAll(options.tx, now, settings);
  return store.transaction((tx) => readAll(tx, now, settings), {
    isolation: "repeatable read",
    readOnly: true,
  });
}
