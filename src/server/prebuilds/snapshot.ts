// The reconciler's snapshot: ONE consistent read per cycle (SQLite: one transaction; PostgreSQL: a read-only
// REPEATABLE READ transaction, or the leader's lock transaction), a fixed number of statements whatever the
// number of presets (7, counted in `queryCount`), grouped in memory into one `PresetSnapshot` per preset, exactly
// as plan.ts's snapshot contract asks:
// - prebuilds: prebuild workspaces whose latest build FINISHED — successful start → running (ready = all agents
//   ready, or none), successful stop → stopped, failed or cancelled → failed (failedAt = when the job ended);
//   a successful delete leaves the workspace soft-deleted, so it is not read at all;
// - inProgress: latest builds whose job is pending, running or cancelling, by transition;
// - pendingJobs: of those, start builds whose job nobody has acquired yet;
// - backoff: failed creations in the look-back window since the last successful one (queries.ts);
// - needsClaimRehearsal: the preset has no claim rehearsal yet (a column of the presets read, no extra statement);
// - hardLimitReached: the last N creations all failed (queries.ts) — the executor turns it into the persisted
//   `hard_limited` status; the planner only reads `status`.
import type {
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from "kysely";
import type { PrebuildSnapshot, PresetSnapshot } from "../../planning/plan.js";
import type { Schedule } from "../../planning/schedule.js";
import { jobStatus } from "../store/job-status.js";
import type { Executor, Store } from "../store/store.js";
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
}

export const defaultSnapshotSettings: SnapshotSettings = { lookbackMs: 3_600_000, hardLimit: 3 };

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
