// Retention (issue 16): WHICH history rows are deleted, as data, and the pure decisions of a run. One
// declarative rule per table — its time column, flag and default age, a floor below which the age is refused
// (something still reads that far back), the rows it keeps whatever their age, and whether deleted rows are
// counted into persisted totals first. `resolveRetentionAges` checks the configured ages; given them and
// `now`, `planRetention` says each rule's cutoff. The SQL that carries a plan out is
// src/server/retention/prune.ts, the periodic loop src/server/retention/loop.ts.
//
// Here, shared by the CLI and the server, and plain on purpose: the `server` command declares its flags from
// RETENTION_RULES at CLI start (.dependency-cruiser.cjs: cli-not-to-server-statically, cli-start-stays-light),
// so this module imports nothing but util/duration.
import { formatDuration, parseDuration } from "../util/duration.js";

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/**
 * Claim events (hits and misses) are read 28 days back by demand-driven sizing (planning/autoscale.ts
 * AUTOSCALE_MODEL.lookbackMs) and 7 days back by the idle-cost figures; a test holds this to the former.
 */
export const CLAIM_HISTORY_FLOOR_MS = 28 * DAY_MS;
/** The pools page charts 3 hours of pool history (web/pages/pools.ts HISTORY_WINDOW_MS; a test holds this to it). */
export const POOL_HISTORY_FLOOR_MS = 3 * HOUR_MS;

/**
 * Rows a rule keeps whatever their age (server/retention/prune.ts turns each into SQL):
 * - `unfinishedJobs`: log lines of jobs still pending or running (the reaper reads a running job's last stage);
 * - `latestBuildOfLiveWorkspace`: the logs (job or agent) of the latest build of each workspace not deleted,
 *   as Coder keeps the latest build's — what `prewarm logs` of a workspace shows. A deleted workspace keeps
 *   nothing: under a claim/delete loop those are exactly what grows;
 * - `latestUnhealthyEvent`: each preset's latest `hard_limited` and latest `validation_failed` event — the
 *   hard limit counts only builds after the latest `hard_limited` (queries.ts selectHardLimitedPresets), so
 *   deleting it would re-limit a resumed preset at once from its old failures.
 */
export type KeepCondition = "unfinishedJobs" | "latestBuildOfLiveWorkspace" | "latestUnhealthyEvent";

export interface RetentionRule {
  /** Also the `table` label of the metric and the key of the run's log line. */
  table: string;
  /** Columns naming one row: batches walk the table in (time, key) order and delete by them. */
  key: readonly string[];
  /** Integer milliseconds since the epoch. */
  timeColumn: string;
  /** The server flag, `--${flag} <duration>` (env PREWARM_ + it in upper snake case). */
  flag: string;
  /** A duration; "0" keeps the table forever. */
  defaultAge: string;
  /** Help text: what goes. */
  description: string;
  /** Ages below this (other than 0) are refused, saying why. */
  floor?: { ms: number; reason: string };
  keep: readonly KeepCondition[];
  /** `prebuildEventTotals`: count the rows into prebuild_event_totals in the deleting transaction. */
  carry?: "prebuildEventTotals";
}

/** Every table retention prunes, in the order a run visits them. */
export const RETENTION_RULES: readonly RetentionRule[] = [
  {
    table: "provisioner_job_logs",
    key: ["id"],
    timeColumn: "created_at",
    flag: "retention-job-logs",
    defaultAge: "30d",
    description: "delete build and import log lines older than this (0 keeps them forever)",
    keep: ["unfinishedJobs", "latestBuildOfLiveWorkspace"],
  },
  {
    table: "workspace_agent_logs",
    key: ["id"],
    timeColumn: "created_at",
    flag: "retention-agent-logs",
    defaultAge: "7d",
    description: "delete agent log lines older than this (0 keeps them forever)",
    keep: ["latestBuildOfLiveWorkspace"],
  },
  {
    table: "pool_history",
    key: ["preset_id", "recorded_at"],
    timeColumn: "recorded_at",
    flag: "retention-pool-history",
    defaultAge: "6h",
    description: "delete pool history (the pools page's charts) older than this (0 keeps it forever)",
    floor: { ms: POOL_HISTORY_FLOOR_MS, reason: "the pools page charts the last 3h" },
    keep: [],
  },
  {
    table: "prebuild_events",
    key: ["id"],
    timeColumn: "created_at",
    flag: "retention-prebuild-events",
    defaultAge: "90d",
    description:
      "delete prebuild events (claims, limits, replacements) older than this, counted into totals first (0 keeps them forever)",
    floor: {
      ms: CLAIM_HISTORY_FLOOR_MS,
      reason: "demand-driven sizing reads 28 days of claim history",
    },
    keep: ["latestUnhealthyEvent"],
    carry: "prebuildEventTotals",
  },
  {
    table: "audit_log",
    key: ["id"],
    timeColumn: "time",
    flag: "retention-audit",
    defaultAge: "365d",
    description: "delete audit log entries older than this (0 keeps them forever)",
    keep: [],
  },
];

/** Configured ages in ms per table (0: keep forever); a table not named keeps its rule's default. */
export type RetentionAges = Readonly<Record<string, number>>;

/** An age a rule cannot take; `flag` names the setting. */
export class RetentionSettingError extends Error {
  override name = "RetentionSettingError";
  constructor(
    readonly flag: string,
    message: string,
  ) {
    super(message);
  }
}

/** What is wrong with `ms` as the rule's age, or undefined when it is fine. */
function retentionAgeProblem(rule: RetentionRule, ms: number): string | undefined {
  if (!Number.isFinite(ms) || ms < 0) return "must be a duration, or 0 to keep forever";
  if (ms !== 0 && rule.floor && ms < rule.floor.ms)
    return `must be 0 (keep forever) or at least ${formatDuration(rule.floor.ms)}: ${rule.floor.reason}`;
  return undefined;
}

/** The age of every rule: the given one, else the default; throws RetentionSettingError for a bad one. */
export function resolveRetentionAges(given: RetentionAges = {}): RetentionAges {
  const known = new Set(RETENTION_RULES.map((r) => r.table));
  for (const table of Object.keys(given))
    if (!known.has(table)) throw new RetentionSettingError(table, `no retention rule for table "${table}"`);
  const out: Record<string, number> = {};
  for (const rule of RETENTION_RULES) {
    const ms = given[rule.table] ?? parseDuration(rule.defaultAge);
    const problem = retentionAgeProblem(rule, ms);
    if (problem) throw new RetentionSettingError(rule.flag, `--${rule.flag} ${problem}`);
    out[rule.table] = ms;
  }
  return out;
}

/** One rule's work in a run: delete its rows older than `beforeMs` that it does not keep. */
export interface RetentionTask {
  rule: RetentionRule;
  beforeMs: number;
}

/** Pure: the tasks of a run at `now` — every rule with an age, in RETENTION_RULES order. */
export function planRetention(ages: RetentionAges, now: Date): RetentionTask[] {
  return RETENTION_RULES.flatMap((rule) => {
    const age = ages[rule.table] ?? 0;
    return age > 0 ? [{ rule, beforeMs: now.getTime() - age }] : [];
  });
}
