// Named fixtures for the prebuild planner tests. NOW is a Monday, 11:00 in Berlin, 05:00 in New York.
import type { PrebuildSnapshot, PresetSnapshot, PresetState } from "../../src/planning/plan.js";

export const NOW = new Date("2026-01-05T10:00:00Z");
export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** The instant `ms` before NOW. */
export function ago(ms: number): Date {
  return new Date(NOW.getTime() - ms);
}

export function running(id: string, createdAt: Date, ready = true): PrebuildSnapshot {
  return { id, createdAt, status: "running", ready };
}

export function stopped(id: string, createdAt: Date): PrebuildSnapshot {
  return { id, createdAt, status: "stopped" };
}

export function failed(id: string, createdAt: Date, failedAt: Date): PrebuildSnapshot {
  return { id, createdAt, status: "failed", failedAt };
}

/** An active, healthy preset wanting 1 prebuild, no TTL, nothing in flight; override what a case needs. */
export function preset(overrides: Partial<PresetSnapshot> = {}): PresetSnapshot {
  return {
    id: "p1",
    desiredInstances: 1,
    ttlSeconds: 0,
    lastInvalidatedAt: null,
    active: true,
    status: "healthy",
    hardLimitReached: false,
    needsClaimRehearsal: false,
    scheduling: null,
    prebuilds: [],
    inProgress: { start: 0, stop: 0, delete: 0 },
    pendingJobs: 0,
    backoff: null,
    ...overrides,
  };
}

/** Weekday office hours in Berlin get 3; Saturday gets 1; otherwise the base count. */
export const berlinOfficeHours = {
  timezone: "Europe/Berlin",
  schedules: [
    { cron: "* 8-18 * * 1-5", instances: 3 },
    { cron: "* * * * 6", instances: 1 },
  ],
};

// biome-ignore lint/suspicious/noExplicitAny: tests poke at arbitrary places of a loosely typed JSON document
export type Doc = Record<string, any>;

/** The ARCHITECTURE §5 offline snapshot example, as a fresh mutable document. */
export function exampleDocument(): Doc {
  return {
    now: "2026-01-05T10:00:00Z",
    settings: { backoffIntervalSeconds: 60, failedRetentionSeconds: 86400 },
    presets: [
      {
        id: "p1",
        desiredInstances: 2,
        ttlSeconds: 86400,
        lastInvalidatedAt: null,
        active: true,
        status: "healthy",
        scheduling: { timezone: "Europe/Berlin", schedules: [{ cron: "* 8-18 * * 1-5", instances: 3 }] },
        prebuilds: [
          { id: "w1", createdAt: "2026-01-04T09:00:00Z", status: "running", ready: true },
          { id: "w2", createdAt: "2026-01-05T09:00:00Z", status: "stopped" },
          { id: "w3", createdAt: "2026-01-03T09:00:00Z", status: "failed", failedAt: "2026-01-03T09:05:00Z" },
        ],
        inProgress: { start: 0, stop: 0, delete: 0 },
        pendingJobs: 0,
        backoff: { numFailed: 2, lastFailedAt: "2026-01-05T09:59:00Z" },
      },
    ],
  };
}

/** A plan's per-preset state: zero everywhere except the fields given (key order as in the output). */
export function planState(s: Partial<PresetState> = {}): PresetState {
  return {
    desired: 0,
    running: 0,
    expired: 0,
    eligible: 0,
    extraneous: 0,
    starting: 0,
    stopping: 0,
    deleting: 0,
    ...s,
  };
}
