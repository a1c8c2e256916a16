import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  defaultPlanSettings,
  type PlanAction,
  type PlanSettings,
  type PresetPlanOptions,
  type PresetSnapshot,
  type PresetState,
  planPreset,
} from "../../src/planning/plan.js";
import {
  ago,
  berlinOfficeHours,
  DAY,
  failed,
  HOUR,
  MINUTE,
  NOW,
  preset,
  running,
  SECOND,
  stopped,
} from "./fixtures.js";

interface Case {
  name: string;
  given: PresetSnapshot;
  now?: Date;
  settings?: Partial<PlanSettings>;
  /** What cycle.ts decides before the preset's rules (an autoscaled desired count, outdated prebuilds kept). */
  options?: PresetPlanOptions;
  /** Only the listed state fields are checked. */
  state?: Partial<PresetState>;
  actions: PlanAction[];
}

const TTL_1H = 3600;
const BACKOFF = { numFailed: 2, lastFailedAt: ago(MINUTE) }; // until = NOW - 1 min + 2 × 1 min = NOW + 1 min

const cases: Case[] = [
  // --- expiry (rule 2) ---
  {
    name: "GIVEN a TTL of 1 h and a prebuild exactly 1 h old WHEN planned THEN it is not expired and nothing happens",
    given: preset({ ttlSeconds: TTL_1H, prebuilds: [running("w1", ago(HOUR))] }),
    state: { running: 1, expired: 0, eligible: 1 },
    actions: [],
  },
  {
    name: "GIVEN a TTL of 1 h and a prebuild 1 h + 1 ms old WHEN planned THEN it is deleted as expired and replaced",
    given: preset({ ttlSeconds: TTL_1H, prebuilds: [running("w1", ago(HOUR + 1))] }),
    state: { running: 1, expired: 1, eligible: 0 },
    actions: [
      { type: "delete", reason: "expired", ids: ["w1"] },
      { type: "create", count: 1 },
    ],
  },
  {
    name: "GIVEN a TTL of 0 and a year-old prebuild WHEN planned THEN it never expires",
    given: preset({ ttlSeconds: 0, prebuilds: [running("w1", ago(365 * DAY))] }),
    state: { expired: 0, eligible: 1 },
    actions: [],
  },
  {
    name: "GIVEN a prebuild created before the last invalidation WHEN planned THEN it is expired and replaced",
    given: preset({ lastInvalidatedAt: ago(MINUTE), prebuilds: [running("w1", ago(HOUR))] }),
    state: { running: 1, expired: 1, eligible: 0 },
    actions: [
      { type: "delete", reason: "expired", ids: ["w1"] },
      { type: "create", count: 1 },
    ],
  },
  {
    name: "GIVEN a prebuild created at the very instant of the invalidation WHEN planned THEN it is not expired",
    given: preset({ lastInvalidatedAt: ago(HOUR), prebuilds: [running("w1", ago(HOUR))] }),
    state: { expired: 0 },
    actions: [],
  },
  {
    name: "GIVEN a prebuild created after the last invalidation WHEN planned THEN it is kept",
    given: preset({ lastInvalidatedAt: ago(2 * HOUR), prebuilds: [running("w1", ago(HOUR))] }),
    state: { expired: 0, eligible: 1 },
    actions: [],
  },
  {
    name: "GIVEN an invalidation that recycles the whole pool WHEN planned THEN all are deleted oldest first, ties by id, and all replaced",
    given: preset({
      desiredInstances: 3,
      lastInvalidatedAt: ago(MINUTE),
      prebuilds: [running("w-c", ago(HOUR)), running("w-b", ago(2 * HOUR)), running("w-a", ago(HOUR))],
    }),
    state: { running: 3, expired: 3, eligible: 0, extraneous: 0 },
    actions: [
      { type: "delete", reason: "expired", ids: ["w-b", "w-a", "w-c"] },
      { type: "create", count: 3 },
    ],
  },
  // --- extraneous ---
  {
    name: "GIVEN desired 1 and three running prebuilds WHEN planned THEN the two oldest are extraneous",
    given: preset({
      prebuilds: [running("young", ago(MINUTE)), running("old", ago(3 * HOUR)), running("middle", ago(HOUR))],
    }),
    state: { running: 3, extraneous: 2, eligible: 3 },
    actions: [{ type: "delete", reason: "extraneous", ids: ["old", "middle"] }],
  },
  {
    name: "GIVEN desired 2, one expired and three fresh prebuilds WHEN planned THEN the expired one goes, then the oldest fresh one",
    given: preset({
      desiredInstances: 2,
      ttlSeconds: TTL_1H,
      prebuilds: [
        running("fresh-1", ago(50 * MINUTE)),
        running("stale", ago(2 * HOUR)),
        running("fresh-2", ago(20 * MINUTE)),
        running("fresh-3", ago(10 * MINUTE)),
      ],
    }),
    state: { running: 4, expired: 1, extraneous: 1, eligible: 3 },
    actions: [
      { type: "delete", reason: "expired", ids: ["stale"] },
      { type: "delete", reason: "extraneous", ids: ["fresh-1"] },
    ],
  },
  {
    name: "GIVEN extraneous prebuilds created at the same instant WHEN planned THEN the tie is broken by id",
    given: preset({ prebuilds: [running("b", ago(HOUR)), running("c", ago(HOUR)), running("a", ago(HOUR))] }),
    state: { extraneous: 2 },
    actions: [{ type: "delete", reason: "extraneous", ids: ["a", "b"] }],
  },
  {
    name: "GIVEN an active preset whose desired count is 0 WHEN planned THEN every running prebuild is extraneous",
    given: preset({
      desiredInstances: 0,
      prebuilds: [running("w1", ago(HOUR)), running("w2", ago(2 * HOUR))],
    }),
    state: { desired: 0, extraneous: 2 },
    actions: [{ type: "delete", reason: "extraneous", ids: ["w2", "w1"] }],
  },
  {
    name: "GIVEN an active preset with desired 0 and nothing running WHEN planned THEN no zero-count create is emitted",
    given: preset({ desiredInstances: 0 }),
    state: { desired: 0, running: 0 },
    actions: [],
  },
  // --- eligibility and in-flight work ---
  {
    name: "GIVEN a running prebuild whose agents are not ready WHEN planned THEN it counts as running but not eligible, and nothing is created",
    given: preset({ prebuilds: [running("w1", ago(MINUTE), false)] }),
    state: { running: 1, eligible: 0 },
    actions: [],
  },
  {
    name: "GIVEN desired 3, one running and one start in progress WHEN planned THEN one more is created",
    given: preset({
      desiredInstances: 3,
      prebuilds: [running("w1", ago(HOUR))],
      inProgress: { start: 1, stop: 0, delete: 0 },
    }),
    state: { running: 1, starting: 1 },
    actions: [{ type: "create", count: 1 }],
  },
  {
    name: "GIVEN desired 2 and two starts in progress WHEN planned THEN nothing is created twice",
    given: preset({ desiredInstances: 2, inProgress: { start: 2, stop: 0, delete: 0 } }),
    state: { running: 0, starting: 2 },
    actions: [],
  },
  {
    name: "GIVEN desired 2, one running, a stop and a delete in progress WHEN planned THEN stops and deletes do not count and one is created",
    given: preset({
      desiredInstances: 2,
      prebuilds: [running("w1", ago(HOUR))],
      inProgress: { start: 0, stop: 1, delete: 1 },
    }),
    state: { running: 1, stopping: 1, deleting: 1 },
    actions: [{ type: "create", count: 1 }],
  },
  {
    name: "GIVEN desired 1, one running and one start in progress WHEN planned THEN the start is not counted as extraneous",
    given: preset({ prebuilds: [running("w1", ago(HOUR))], inProgress: { start: 1, stop: 0, delete: 0 } }),
    state: { running: 1, starting: 1, extraneous: 0 },
    actions: [],
  },
  {
    name: "GIVEN desired 2, both running prebuilds expired and one start in progress WHEN planned THEN both go and only one is created",
    given: preset({
      desiredInstances: 2,
      ttlSeconds: TTL_1H,
      prebuilds: [running("w1", ago(2 * HOUR)), running("w2", ago(3 * HOUR))],
      inProgress: { start: 1, stop: 0, delete: 0 },
    }),
    state: { running: 2, expired: 2, starting: 1 },
    actions: [
      { type: "delete", reason: "expired", ids: ["w2", "w1"] },
      { type: "create", count: 1 },
    ],
  },
  // --- backoff (rule 6) ---
  {
    name: "GIVEN two failures, the last a minute ago WHEN planned before the backoff ends THEN creation backs off until last + 2 × interval",
    given: preset({ backoff: BACKOFF }),
    actions: [{ type: "backoff", until: new Date(NOW.getTime() + MINUTE) }],
  },
  {
    name: "GIVEN a backoff ending now WHEN planned at exactly that instant THEN creation still waits",
    given: preset({ backoff: { numFailed: 1, lastFailedAt: ago(MINUTE) } }),
    actions: [{ type: "backoff", until: NOW }],
  },
  {
    name: "GIVEN a backoff that ended 1 ms ago WHEN planned THEN the prebuild is created",
    given: preset({ backoff: { numFailed: 1, lastFailedAt: ago(MINUTE + 1) } }),
    actions: [{ type: "create", count: 1 }],
  },
  {
    name: "GIVEN three failures WHEN planned THEN the wait grows linearly to 3 × interval",
    given: preset({ backoff: { numFailed: 3, lastFailedAt: ago(2 * MINUTE) } }),
    actions: [{ type: "backoff", until: new Date(NOW.getTime() + MINUTE) }],
  },
  {
    name: "GIVEN a backoff interval of 10 s in the settings WHEN two failures were 15 s ago THEN creation backs off until 5 s from now",
    given: preset({ backoff: { numFailed: 2, lastFailedAt: ago(15 * SECOND) } }),
    settings: { backoffIntervalMs: 10 * SECOND },
    actions: [{ type: "backoff", until: new Date(NOW.getTime() + 5 * SECOND) }],
  },
  {
    name: "GIVEN a backoff history with zero failures WHEN planned THEN there is no backoff",
    given: preset({ backoff: { numFailed: 0, lastFailedAt: NOW } }),
    actions: [{ type: "create", count: 1 }],
  },
  {
    name: "GIVEN a preset in backoff whose pool is full WHEN planned THEN no backoff action is emitted",
    given: preset({ backoff: BACKOFF, prebuilds: [running("w1", ago(HOUR))] }),
    actions: [],
  },
  {
    name: "GIVEN a preset in backoff with an expired prebuild WHEN planned THEN the deletion still happens and only creation waits",
    given: preset({ ttlSeconds: TTL_1H, backoff: BACKOFF, prebuilds: [running("w1", ago(2 * HOUR))] }),
    actions: [
      { type: "delete", reason: "expired", ids: ["w1"] },
      { type: "backoff", until: new Date(NOW.getTime() + MINUTE) },
    ],
  },
  // --- hard limit and validation failure (rule 7) ---
  {
    name: "GIVEN a hard-limited preset with an empty pool WHEN planned THEN creation is blocked",
    given: preset({ status: "hard_limited" }),
    actions: [{ type: "blocked", reason: "hard_limited" }],
  },
  {
    name: "GIVEN a hard-limited preset with expired and extraneous prebuilds WHEN planned THEN it still deletes them",
    given: preset({
      status: "hard_limited",
      desiredInstances: 2,
      ttlSeconds: TTL_1H,
      prebuilds: [running("old", ago(2 * HOUR))],
    }),
    actions: [
      { type: "delete", reason: "expired", ids: ["old"] },
      { type: "blocked", reason: "hard_limited" },
    ],
  },
  {
    name: "GIVEN a validation-failed preset with a stopped prebuild WHEN planned THEN the stopped one is deleted and creation is blocked",
    given: preset({ status: "validation_failed", prebuilds: [stopped("s1", ago(HOUR))] }),
    actions: [
      { type: "delete", reason: "stopped", ids: ["s1"] },
      { type: "blocked", reason: "validation_failed" },
    ],
  },
  {
    name: "GIVEN a validation-failed preset with too many prebuilds WHEN planned THEN the extraneous ones are deleted and nothing is blocked",
    given: preset({
      status: "validation_failed",
      prebuilds: [running("a", ago(HOUR)), running("b", ago(MINUTE))],
    }),
    actions: [{ type: "delete", reason: "extraneous", ids: ["a"] }],
  },
  {
    name: "GIVEN a hard-limited preset whose pool is full WHEN planned THEN no blocked action is emitted",
    given: preset({ status: "hard_limited", prebuilds: [running("w1", ago(HOUR))] }),
    actions: [],
  },
  {
    name: "GIVEN a hard-limited preset that is also in backoff WHEN planned THEN blocked is reported, not backoff",
    given: preset({ status: "hard_limited", backoff: BACKOFF }),
    actions: [{ type: "blocked", reason: "hard_limited" }],
  },
  // --- stopped and failed prebuilds ---
  {
    name: "GIVEN a stopped prebuild WHEN planned THEN it is deleted and does not count toward the pool",
    given: preset({ prebuilds: [stopped("s1", ago(HOUR))] }),
    state: { running: 0 },
    actions: [
      { type: "delete", reason: "stopped", ids: ["s1"] },
      { type: "create", count: 1 },
    ],
  },
  {
    name: "GIVEN a prebuild that failed an hour ago WHEN planned THEN it stays as evidence and a new one is created",
    given: preset({ prebuilds: [failed("f1", ago(2 * HOUR), ago(HOUR))] }),
    state: { running: 0 },
    actions: [{ type: "create", count: 1 }],
  },
  {
    name: "GIVEN a prebuild that failed exactly the retention period ago WHEN planned THEN it is kept",
    given: preset({ prebuilds: [failed("f1", ago(2 * DAY), ago(DAY))] }),
    actions: [{ type: "create", count: 1 }],
  },
  {
    name: "GIVEN a prebuild that failed the retention period + 1 ms ago WHEN planned THEN it is deleted",
    given: preset({ prebuilds: [failed("f1", ago(2 * DAY), ago(DAY + 1))] }),
    actions: [
      { type: "delete", reason: "failed", ids: ["f1"] },
      { type: "create", count: 1 },
    ],
  },
  {
    name: "GIVEN a prebuild created long ago that failed recently WHEN planned THEN retention counts from the failure",
    given: preset({ prebuilds: [failed("f1", ago(30 * DAY), ago(MINUTE))] }),
    actions: [{ type: "create", count: 1 }],
  },
  {
    name: "GIVEN a 1 h failed-retention setting WHEN failures are 2 h and 30 min old THEN only the older is deleted, oldest first among deletions",
    given: preset({
      prebuilds: [
        failed("f-new", ago(HOUR), ago(30 * MINUTE)),
        failed("f-b", ago(3 * HOUR), ago(2 * HOUR)),
        failed("f-a", ago(4 * HOUR), ago(2 * HOUR)),
        running("w1", ago(MINUTE)),
      ],
    }),
    settings: { failedRetentionMs: HOUR },
    actions: [{ type: "delete", reason: "failed", ids: ["f-a", "f-b"] }],
  },
  {
    name: "GIVEN expired, extraneous, stopped and old failed prebuilds WHEN planned THEN deletions come in rule order",
    given: preset({
      ttlSeconds: TTL_1H,
      prebuilds: [
        failed("f1", ago(3 * DAY), ago(2 * DAY)),
        stopped("s1", ago(HOUR)),
        running("fresh-old", ago(30 * MINUTE)),
        running("fresh-new", ago(10 * MINUTE)),
        running("stale", ago(2 * HOUR)),
      ],
    }),
    state: { running: 3, expired: 1, extraneous: 1, eligible: 2 },
    actions: [
      { type: "delete", reason: "expired", ids: ["stale"] },
      { type: "delete", reason: "extraneous", ids: ["fresh-old"] },
      { type: "delete", reason: "stopped", ids: ["s1"] },
      { type: "delete", reason: "failed", ids: ["f1"] },
    ],
  },
  // --- inactive presets (rule 5) ---
  {
    name: "GIVEN an inactive preset with expired and fresh prebuilds and pending jobs WHEN planned THEN pending jobs are cancelled and all running go as outdated, oldest first",
    given: preset({
      active: false,
      desiredInstances: 2,
      ttlSeconds: TTL_1H,
      prebuilds: [
        running("fresh", ago(MINUTE)),
        running("expired", ago(2 * HOUR)),
        running("mid", ago(HOUR)),
      ],
      pendingJobs: 2,
    }),
    state: { desired: 0, running: 3, expired: 1, eligible: 0, extraneous: 0 },
    actions: [
      { type: "cancel_pending" },
      { type: "delete", reason: "outdated", ids: ["expired", "mid", "fresh"] },
    ],
  },
  {
    name: "GIVEN an inactive preset with running prebuilds and no pending jobs WHEN planned THEN there is no cancel action",
    given: preset({ active: false, prebuilds: [running("w1", ago(HOUR))] }),
    actions: [{ type: "delete", reason: "outdated", ids: ["w1"] }],
  },
  {
    name: "GIVEN an inactive preset with only pending jobs WHEN planned THEN they are cancelled",
    given: preset({ active: false, pendingJobs: 1 }),
    actions: [{ type: "cancel_pending" }],
  },
  {
    name: "GIVEN an inactive preset with nothing left WHEN planned THEN there are no actions",
    given: preset({ active: false, inProgress: { start: 1, stop: 0, delete: 1 } }),
    state: { desired: 0, starting: 1, deleting: 1 },
    actions: [],
  },
  {
    name: "GIVEN an inactive preset with stopped and long-failed prebuilds WHEN planned THEN they are cleaned up as for an active preset",
    given: preset({
      active: false,
      prebuilds: [
        stopped("s1", ago(HOUR)),
        failed("f-old", ago(3 * DAY), ago(2 * DAY)),
        failed("f-new", ago(HOUR), ago(HOUR)),
      ],
    }),
    actions: [
      { type: "delete", reason: "stopped", ids: ["s1"] },
      { type: "delete", reason: "failed", ids: ["f-old"] },
    ],
  },
  {
    name: "GIVEN an inactive hard-limited preset in backoff WHEN planned THEN it neither creates nor reports blocked or backoff",
    given: preset({ active: false, status: "hard_limited", backoff: BACKOFF }),
    state: { desired: 0 },
    actions: [],
  },
  // --- schedules (rule 1) through the planner ---
  {
    name: "GIVEN Berlin office hours WHEN it is 11:00 on a Monday in Berlin THEN the first schedule's 3 are desired",
    given: preset({ scheduling: berlinOfficeHours }),
    state: { desired: 3 },
    actions: [{ type: "create", count: 3 }],
  },
  {
    name: "GIVEN Berlin office hours WHEN it is a Saturday THEN the second schedule's 1 is desired",
    given: preset({ desiredInstances: 0, scheduling: berlinOfficeHours }),
    now: new Date("2026-01-10T12:00:00Z"),
    state: { desired: 1 },
    actions: [{ type: "create", count: 1 }],
  },
  {
    name: "GIVEN Berlin office hours WHEN it is 22:00 on a Monday in Berlin THEN no schedule matches and the base count applies",
    given: preset({
      desiredInstances: 0,
      scheduling: berlinOfficeHours,
      prebuilds: [running("w1", ago(HOUR))],
    }),
    now: new Date("2026-01-05T21:00:00Z"),
    state: { desired: 0, extraneous: 1 },
    actions: [{ type: "delete", reason: "extraneous", ids: ["w1"] }],
  },
  {
    name: "GIVEN an inactive preset with a matching schedule WHEN planned THEN it still desires 0",
    given: preset({ active: false, scheduling: berlinOfficeHours }),
    state: { desired: 0 },
    actions: [],
  },
  // --- nasty clocks ---
  {
    name: "GIVEN a clock that went backwards (prebuild created after now) WHEN planned with a TTL THEN it is not expired",
    given: preset({ ttlSeconds: TTL_1H, prebuilds: [running("w1", new Date(NOW.getTime() + HOUR))] }),
    state: { running: 1, expired: 0, eligible: 1 },
    actions: [],
  },
  {
    name: "GIVEN a clock that went backwards (failure recorded after now) WHEN planned THEN the backoff still holds and the failure is kept",
    given: preset({
      prebuilds: [failed("f1", NOW, new Date(NOW.getTime() + 10 * MINUTE))],
      backoff: { numFailed: 1, lastFailedAt: new Date(NOW.getTime() + 10 * MINUTE) },
    }),
    actions: [{ type: "backoff", until: new Date(NOW.getTime() + 11 * MINUTE) }],
  },
  // --- replace-ahead (issue 13: never a gap at expiry) ---
  {
    name: "GIVEN replace-ahead 10 min and a prebuild expiring in 5 min WHEN planned THEN its replacement starts now and it stays",
    given: preset({
      ttlSeconds: TTL_1H,
      replaceAheadSeconds: 600,
      prebuilds: [running("old", ago(55 * MINUTE))],
    }),
    state: { running: 1, eligible: 1, expired: 0, extraneous: 0, expiringSoon: 1 },
    actions: [{ type: "create", count: 1 }],
  },
  {
    name: "GIVEN replace-ahead 10 min and a prebuild expiring in 15 min WHEN planned THEN nothing happens yet",
    given: preset({
      ttlSeconds: TTL_1H,
      replaceAheadSeconds: 600,
      prebuilds: [running("old", ago(45 * MINUTE))],
    }),
    state: { expiringSoon: 0 },
    actions: [],
  },
  {
    name: "GIVEN replace-ahead and a prebuild expiring exactly at the end of the lead WHEN planned THEN it is not yet expiring soon",
    given: preset({
      ttlSeconds: TTL_1H,
      replaceAheadSeconds: 600,
      prebuilds: [running("old", ago(50 * MINUTE))],
    }),
    state: { expiringSoon: 0 },
    actions: [],
  },
  {
    name: "GIVEN an expiring prebuild whose replacement is starting WHEN planned THEN nothing is created twice and nothing deleted",
    given: preset({
      ttlSeconds: TTL_1H,
      replaceAheadSeconds: 600,
      prebuilds: [running("old", ago(55 * MINUTE))],
      inProgress: { start: 1, stop: 0, delete: 0 },
    }),
    state: { expiringSoon: 1, starting: 1 },
    actions: [],
  },
  {
    name: "GIVEN an expiring prebuild whose replacement runs but is not ready WHEN planned THEN the expiring one stays claimable",
    given: preset({
      ttlSeconds: TTL_1H,
      replaceAheadSeconds: 600,
      prebuilds: [running("old", ago(58 * MINUTE)), running("new", ago(MINUTE), false)],
    }),
    state: { running: 2, eligible: 1, extraneous: 1, expiringSoon: 1 },
    actions: [],
  },
  {
    name: "GIVEN an expiring prebuild whose replacement is eligible WHEN planned THEN the expiring one goes as extraneous",
    given: preset({
      ttlSeconds: TTL_1H,
      replaceAheadSeconds: 600,
      prebuilds: [running("old", ago(58 * MINUTE)), running("new", ago(MINUTE))],
    }),
    state: { running: 2, eligible: 2, extraneous: 1, expiringSoon: 1 },
    actions: [{ type: "delete", reason: "extraneous", ids: ["old"] }],
  },
  {
    name: "GIVEN a prebuild that expired before its replacement was ready WHEN planned THEN it goes as expired and nothing more is created",
    given: preset({
      ttlSeconds: TTL_1H,
      replaceAheadSeconds: 600,
      prebuilds: [running("old", ago(HOUR + SECOND))],
      inProgress: { start: 1, stop: 0, delete: 0 },
    }),
    state: { expired: 1, expiringSoon: 0 },
    actions: [{ type: "delete", reason: "expired", ids: ["old"] }],
  },
  {
    name: "GIVEN a lead longer than half the TTL WHEN planned THEN the lead is half the TTL (no endless replacing)",
    given: preset({
      ttlSeconds: TTL_1H,
      replaceAheadSeconds: 7200,
      prebuilds: [running("young", ago(20 * MINUTE)), running("older", ago(31 * MINUTE))],
      desiredInstances: 2,
    }),
    state: { expiringSoon: 1 },
    actions: [{ type: "create", count: 1 }],
  },
  {
    name: "GIVEN replace-ahead and backoff WHEN a replacement is due THEN creation backs off as usual",
    given: preset({
      ttlSeconds: TTL_1H,
      replaceAheadSeconds: 600,
      backoff: BACKOFF,
      prebuilds: [running("old", ago(55 * MINUTE))],
    }),
    actions: [{ type: "backoff", until: new Date(NOW.getTime() + MINUTE) }],
  },
  {
    name: "GIVEN replace-ahead on a preset without TTL WHEN planned THEN it is off (no expiringSoon)",
    given: preset({ replaceAheadSeconds: 600, prebuilds: [running("old", ago(365 * DAY))] }),
    state: { expiringSoon: undefined },
    actions: [],
  },
  {
    name: "GIVEN replace-ahead and a schedule shrinking the pool WHEN all are eligible THEN the oldest go as usual",
    given: preset({
      ttlSeconds: TTL_1H,
      replaceAheadSeconds: 600,
      prebuilds: [
        running("a", ago(40 * MINUTE)),
        running("b", ago(30 * MINUTE)),
        running("c", ago(20 * MINUTE)),
      ],
    }),
    state: { extraneous: 2 },
    actions: [{ type: "delete", reason: "extraneous", ids: ["a", "b"] }],
  },
  // --- surge rollout (issue 13: never a gap at rollout; cycle.ts decides keepOutdated) ---
  {
    name: "GIVEN an outdated pool of 3 WHEN 2 are to be kept for the successor THEN only the oldest goes",
    given: preset({
      active: false,
      prebuilds: [running("a", ago(3 * HOUR)), running("b", ago(2 * HOUR)), running("c", ago(HOUR))],
    }),
    options: { keepOutdated: 2 },
    state: { desired: 0, running: 3 },
    actions: [{ type: "delete", reason: "outdated", ids: ["a"] }],
  },
  {
    name: "GIVEN outdated prebuilds, one expired, one not ready WHEN 2 are to be kept THEN only ready, fresh ones stay",
    given: preset({
      active: false,
      ttlSeconds: TTL_1H,
      prebuilds: [
        running("stale", ago(2 * HOUR)),
        running("notready", ago(MINUTE), false),
        running("ok", ago(HOUR)),
      ],
    }),
    options: { keepOutdated: 2 },
    actions: [{ type: "delete", reason: "outdated", ids: ["stale", "notready"] }],
  },
  {
    name: "GIVEN an outdated pool WHEN none is to be kept THEN all go at once (rollout replace)",
    given: preset({ active: false, prebuilds: [running("a", ago(HOUR)), running("b", ago(MINUTE))] }),
    options: { keepOutdated: 0 },
    actions: [{ type: "delete", reason: "outdated", ids: ["a", "b"] }],
  },
  // --- an autoscaled desired count (cycle.ts passes it) ---
  {
    name: "GIVEN a desired count decided by the autoscaler WHEN planned THEN it replaces instances",
    given: preset({ desiredInstances: 1 }),
    options: { desired: 3 },
    state: { desired: 3 },
    actions: [{ type: "create", count: 3 }],
  },
  {
    name: "GIVEN an autoscaled desired count on an inactive preset WHEN planned THEN it still desires 0",
    given: preset({ active: false }),
    options: { desired: 3 },
    state: { desired: 0 },
    actions: [],
  },
];

describe("planPreset: §5 rules as a table", () => {
  test("the table has at least 40 cases", () => {
    assert.ok(cases.length >= 40, `only ${cases.length} cases`);
  });
  for (const c of cases) {
    test(c.name, () => {
      const plan = planPreset(c.given, c.now ?? NOW, { ...defaultPlanSettings, ...c.settings }, c.options);
      assert.equal(plan.id, c.given.id);
      assert.deepEqual(plan.actions, c.actions);
      for (const [key, value] of Object.entries(c.state ?? {})) {
        assert.equal(plan.state[key as keyof PresetState], value, `state.${key}`);
      }
    });
  }
});

describe("planPreset: properties", () => {
  test("GIVEN the same prebuilds in any order WHEN planned THEN the plan is identical", () => {
    const prebuilds = [
      running("a", ago(3 * HOUR)),
      running("b", ago(2 * HOUR)),
      running("c", ago(2 * HOUR)),
      running("d", ago(MINUTE)),
      stopped("s2", ago(HOUR)),
      stopped("s1", ago(HOUR)),
    ];
    const base = planPreset(preset({ prebuilds }), NOW, defaultPlanSettings);
    const reversed = planPreset(preset({ prebuilds: [...prebuilds].reverse() }), NOW, defaultPlanSettings);
    assert.deepEqual(reversed, base);
    assert.deepEqual(base.actions, [
      { type: "delete", reason: "extraneous", ids: ["a", "b", "c"] },
      { type: "delete", reason: "stopped", ids: ["s1", "s2"] },
    ]);
  });

  test("GIVEN a snapshot WHEN planned THEN the input is not modified", () => {
    const given = preset({ prebuilds: [running("b", ago(MINUTE)), running("a", ago(HOUR))] });
    const copy = structuredClone(given);
    planPreset(given, NOW, defaultPlanSettings);
    assert.deepEqual(given, copy);
  });

  test("GIVEN a pool WHEN the plan is applied as if every action succeeded THEN the next plan is empty", () => {
    // Idempotence: deleting what was asked and adding `count` fresh running prebuilds reaches the target.
    const given = preset({
      desiredInstances: 3,
      ttlSeconds: TTL_1H,
      prebuilds: [running("stale", ago(2 * HOUR)), running("ok", ago(MINUTE)), stopped("s", ago(HOUR))],
    });
    const first = planPreset(given, NOW, defaultPlanSettings);
    const deleted = new Set(first.actions.flatMap((a) => (a.type === "delete" ? a.ids : [])));
    const created = first.actions.reduce((n, a) => n + (a.type === "create" ? a.count : 0), 0);
    assert.equal(created, 2);
    const after = preset({
      ...given,
      prebuilds: [
        ...given.prebuilds.filter((p) => !deleted.has(p.id)),
        ...Array.from({ length: created }, (_, i) => running(`new-${i}`, NOW)),
      ],
    });
    assert.deepEqual(planPreset(after, NOW, defaultPlanSettings).actions, []);
  });
});
