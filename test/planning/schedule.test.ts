import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  type DesiredInputs,
  desiredInstances,
  matchingSchedule,
  nextScheduleChange,
  type Scheduling,
  validateSchedule,
} from "../../src/planning/schedule.js";

function scheduled(timezone: string, ...schedules: [string, number][]): DesiredInputs {
  return {
    desiredInstances: 1,
    active: true,
    scheduling: { timezone, schedules: schedules.map(([cron, instances]) => ({ cron, instances })) },
  };
}

const NEW_YORK_OFFICE = scheduled("America/New_York", ["* 8-18 * * 1-5", 5]);
const BERLIN_TWO_AM = scheduled("Europe/Berlin", ["* 2 * * *", 4]);

describe("desiredInstances", () => {
  const cases: { name: string; preset: DesiredInputs; at: string; want: number }[] = [
    {
      name: "GIVEN no scheduling WHEN evaluated THEN the base count applies",
      preset: { desiredInstances: 2, active: true, scheduling: null },
      at: "2026-01-05T10:00:00Z",
      want: 2,
    },
    {
      name: "GIVEN an empty schedule list WHEN evaluated THEN the base count applies",
      preset: { desiredInstances: 2, active: true, scheduling: { timezone: "UTC", schedules: [] } },
      at: "2026-01-05T10:00:00Z",
      want: 2,
    },
    {
      name: "GIVEN two matching schedules on different hours and days WHEN both could apply in turn THEN the first match wins",
      preset: scheduled("UTC", ["* 9-10 * * *", 7], ["* 11 * * 1", 8]),
      at: "2026-01-05T10:30:00Z",
      want: 7,
    },
    {
      name: "GIVEN a schedule 8-18 in New York WHEN it is 18:59:59.999 local (23:59 UTC in winter) THEN the last hour is included",
      preset: NEW_YORK_OFFICE,
      at: "2026-01-05T23:59:59.999Z",
      want: 5,
    },
    {
      name: "GIVEN a schedule 8-18 in New York WHEN it is 19:00 local THEN it no longer matches",
      preset: NEW_YORK_OFFICE,
      at: "2026-01-06T00:00:00Z",
      want: 1,
    },
    {
      name: "GIVEN a schedule 8-18 in New York WHEN it is 07:59:59 local THEN it does not match yet",
      preset: NEW_YORK_OFFICE,
      at: "2026-01-05T12:59:59Z",
      want: 1,
    },
    {
      name: "GIVEN a weekday schedule WHEN it is Saturday local THEN it does not match",
      preset: NEW_YORK_OFFICE,
      at: "2026-01-10T15:00:00Z",
      want: 1,
    },
    {
      name: "GIVEN a weekday schedule WHEN it is Friday 23:30 in New York but already Saturday in UTC THEN the local day decides",
      preset: scheduled("America/New_York", ["* 23 * * 5", 9]),
      at: "2026-01-10T04:30:00Z",
      want: 9,
    },
    {
      name: "GIVEN New York office hours WHEN it is 12:30 UTC in January (07:30 EST) THEN it does not match",
      preset: NEW_YORK_OFFICE,
      at: "2026-01-06T12:30:00Z",
      want: 1,
    },
    {
      name: "GIVEN New York office hours WHEN it is 12:30 UTC in July (08:30 EDT) THEN daylight saving time makes it match",
      preset: NEW_YORK_OFFICE,
      at: "2026-07-06T12:30:00Z",
      want: 5,
    },
    {
      name: "GIVEN a 02:00 schedule in Berlin WHEN it is 01:59 CET on the spring-forward day THEN it does not match",
      preset: BERLIN_TWO_AM,
      at: "2026-03-29T00:59:00Z",
      want: 1,
    },
    {
      name: "GIVEN a 02:00 schedule in Berlin WHEN the clock jumps to 03:00 CEST on the spring-forward day THEN the skipped hour never matches",
      preset: BERLIN_TWO_AM,
      at: "2026-03-29T01:00:00Z",
      want: 1,
    },
    {
      name: "GIVEN a 02:00 schedule in Berlin WHEN it is the first 02:30 (CEST) on the fall-back day THEN it matches",
      preset: BERLIN_TWO_AM,
      at: "2026-10-25T00:30:00Z",
      want: 4,
    },
    {
      name: "GIVEN a 02:00 schedule in Berlin WHEN it is the repeated 02:30 (CET) on the fall-back day THEN it matches again",
      preset: BERLIN_TWO_AM,
      at: "2026-10-25T01:30:00Z",
      want: 4,
    },
    {
      name: "GIVEN a schedule restricting both day-of-month and day-of-week WHEN only the day-of-month matches THEN standard cron OR applies",
      preset: scheduled("UTC", ["* * 5 * 0", 6]),
      at: "2026-01-05T10:00:00Z",
      want: 6,
    },
    {
      name: "GIVEN a schedule restricting the month WHEN it is another month THEN it does not match",
      preset: scheduled("UTC", ["* * * 2 *", 6]),
      at: "2026-01-05T10:00:00Z",
      want: 1,
    },
    {
      name: "GIVEN weekday and month names WHEN they match THEN they are understood",
      preset: scheduled("UTC", ["* * * jan MON-FRI", 6]),
      at: "2026-01-05T10:00:00Z",
      want: 6,
    },
    {
      name: "GIVEN an invalid scheduling (overlapping schedules) WHEN evaluated THEN it is ignored and the base count applies",
      preset: scheduled("UTC", ["* * * * *", 6], ["* 10 * * *", 7]),
      at: "2026-01-05T10:00:00Z",
      want: 1,
    },
    {
      name: "GIVEN an inactive preset with a matching schedule WHEN evaluated THEN it desires 0",
      preset: { ...scheduled("UTC", ["* * * * *", 6]), active: false },
      at: "2026-01-05T10:00:00Z",
      want: 0,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.equal(desiredInstances(c.preset, new Date(c.at)), c.want);
    });
  }

  test("GIVEN a schedule list WHEN it matches THEN matchingSchedule names the index", () => {
    const scheduling: Scheduling = {
      timezone: "UTC",
      schedules: [
        { cron: "* 0-9 * * *", instances: 1 },
        { cron: "* 10-23 * * *", instances: 2 },
      ],
    };
    assert.equal(matchingSchedule(scheduling, new Date("2026-01-05T10:00:00Z")), 1);
    assert.equal(matchingSchedule(scheduling, new Date("2026-01-05T09:59:00Z")), 0);
  });
});

describe("validateSchedule", () => {
  const invalid: { name: string; scheduling: Scheduling; path: string; message: RegExp }[] = [
    {
      name: "an unknown timezone",
      scheduling: { timezone: "Mars/Olympus_Mons", schedules: [{ cron: "* * * * *", instances: 1 }] },
      path: "timezone",
      message: /not an IANA timezone/,
    },
    {
      name: "an empty timezone with schedules",
      scheduling: { timezone: "", schedules: [{ cron: "* * * * *", instances: 1 }] },
      path: "timezone",
      message: /required/,
    },
    {
      name: "a minute field other than *",
      scheduling: { timezone: "UTC", schedules: [{ cron: "0 8-18 * * *", instances: 1 }] },
      path: "schedules[0].cron",
      message: /minute field must be "\*"/,
    },
    {
      name: "six fields (seconds)",
      scheduling: { timezone: "UTC", schedules: [{ cron: "* * 8 * * *", instances: 1 }] },
      path: "schedules[0].cron",
      message: /must have 5 fields/,
    },
    {
      name: "an hour out of range",
      scheduling: { timezone: "UTC", schedules: [{ cron: "* 24 * * *", instances: 1 }] },
      path: "schedules[0].cron",
      message: /hour/,
    },
    {
      name: "a wrapping hour range",
      scheduling: { timezone: "UTC", schedules: [{ cron: "* 22-2 * * *", instances: 1 }] },
      path: "schedules[0].cron",
      message: /larger than/,
    },
    {
      name: "a last-weekday marker",
      scheduling: { timezone: "UTC", schedules: [{ cron: "* * * * 5L", instances: 1 }] },
      path: "schedules[0].cron",
      message: /unsupported syntax/,
    },
    {
      name: "an nth-weekday marker",
      scheduling: { timezone: "UTC", schedules: [{ cron: "* * * * 1#2", instances: 1 }] },
      path: "schedules[0].cron",
      message: /unsupported syntax/,
    },
    {
      name: "a nickname",
      scheduling: { timezone: "UTC", schedules: [{ cron: "@daily", instances: 1 }] },
      path: "schedules[0].cron",
      message: /5 fields/,
    },
    {
      name: "a date that never exists",
      scheduling: { timezone: "UTC", schedules: [{ cron: "* * 30 2 *", instances: 1 }] },
      path: "schedules[0].cron",
      message: /never matches/,
    },
    {
      name: "negative instances",
      scheduling: { timezone: "UTC", schedules: [{ cron: "* * * * *", instances: -1 }] },
      path: "schedules[0].instances",
      message: /non-negative integer/,
    },
    {
      name: "two schedules sharing Monday 18:00",
      scheduling: {
        timezone: "Europe/Berlin",
        schedules: [
          { cron: "* 8-18 * * 1-5", instances: 3 },
          { cron: "* 18-20 * * 1", instances: 1 },
        ],
      },
      path: "schedules[1].cron",
      message: /overlaps schedules\[0\].*18:00–18:59 on a Monday/,
    },
    {
      name: "a day-of-month schedule meeting a weekday schedule (Feb 29 on a Sunday exists)",
      scheduling: {
        timezone: "UTC",
        schedules: [
          { cron: "* 9 29 2 *", instances: 3 },
          { cron: "* 9 * * 0", instances: 1 },
        ],
      },
      path: "schedules[1].cron",
      message: /overlaps.*Sunday, 29 Feb/,
    },
  ];
  for (const c of invalid) {
    test(`GIVEN ${c.name} WHEN validated THEN ${c.path} is reported`, () => {
      const issues = validateSchedule(c.scheduling);
      const issue = issues.find((i) => i.path === c.path);
      assert.ok(issue, `no issue at ${c.path}; got ${JSON.stringify(issues)}`);
      assert.match(issue.message, c.message);
    });
  }

  const valid: { name: string; scheduling: Scheduling }[] = [
    {
      name: "weekday office hours and a weekend schedule",
      scheduling: {
        timezone: "Europe/Berlin",
        schedules: [
          { cron: "* 8-18 * * 1-5", instances: 3 },
          { cron: "* 8-18 * * 0,6", instances: 1 },
        ],
      },
    },
    {
      name: "adjacent hour ranges on the same days",
      scheduling: {
        timezone: "UTC",
        schedules: [
          { cron: "* 0-11 * * *", instances: 3 },
          { cron: "* 12-23 * * *", instances: 1 },
        ],
      },
    },
    {
      name: "the same hours in different months",
      scheduling: {
        timezone: "UTC",
        schedules: [
          { cron: "* 9 * 1-6 *", instances: 3 },
          { cron: "* 9 * 7-12 *", instances: 1 },
        ],
      },
    },
    { name: "no schedules and no timezone", scheduling: { timezone: "", schedules: [] } },
  ];
  for (const c of valid) {
    test(`GIVEN ${c.name} WHEN validated THEN there are no issues`, () => {
      assert.deepEqual(validateSchedule(c.scheduling), []);
    });
  }
});

describe("nextScheduleChange", () => {
  test("GIVEN New York office hours WHEN it is Monday 06:10 EST THEN the next change is at 08:00 EST (13:00 UTC)", () => {
    const at = nextScheduleChange(NEW_YORK_OFFICE, new Date("2026-01-05T11:10:00Z"));
    assert.equal(at?.toISOString(), "2026-01-05T13:00:00.000Z");
  });

  test("GIVEN New York office hours WHEN it is Friday 18:30 THEN the next change is at 19:00 local", () => {
    const at = nextScheduleChange(NEW_YORK_OFFICE, new Date("2026-01-09T23:30:00Z"));
    assert.equal(at?.toISOString(), "2026-01-10T00:00:00.000Z");
  });

  test("GIVEN a schedule in India (UTC+05:30) WHEN asked THEN the change falls on a half hour in UTC", () => {
    const at = nextScheduleChange(
      scheduled("Asia/Kolkata", ["* 9 * * *", 2]),
      new Date("2026-01-05T00:00:00Z"),
    );
    assert.equal(at?.toISOString(), "2026-01-05T03:30:00.000Z");
  });

  test("GIVEN no scheduling WHEN asked THEN nothing changes", () => {
    assert.equal(
      nextScheduleChange({ desiredInstances: 1, active: true, scheduling: null }, new Date()),
      null,
    );
  });
});
