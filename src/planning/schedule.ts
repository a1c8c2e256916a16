// Time-of-day scheduling of a preset's desired pool size (ARCHITECTURE §5 rule 1). Pure: every function takes
// `now` as data and never reads the clock.
//
// A schedule is a 5-field cron (`minute hour day-of-month month day-of-week`) whose minute field must be `*`:
// it describes whole hours, and hour/day ranges are inclusive (`* 8-18 * * 1-5` = 08:00:00–18:59:59 on weekdays).
// It is evaluated in the scheduling's IANA timezone at `now` truncated to the minute; the first schedule that
// matches gives the count. Day-of-month and day-of-week follow standard cron: when both are restricted (neither
// is `*`) a day matches if EITHER matches, otherwise both must.
//
// croner parses the field syntax (lists, ranges, steps, month and weekday names); matching is done here against
// the wall-clock fields of `now` in the timezone (Intl), so DST is handled by the platform's tz database: in
// Europe/Berlin on the spring-forward day the hour 02 never happens, on the fall-back day it happens twice.
import { CronPattern } from "croner";

export interface Schedule {
  cron: string;
  instances: number;
}

export interface Scheduling {
  timezone: string;
  schedules: Schedule[];
}

/** One problem found by `validateSchedule`; `path` is relative to the scheduling object. */
export interface ScheduleIssue {
  path: string;
  message: string;
}

/** What `desiredInstances` needs to know about a preset. */
export interface DesiredInputs {
  desiredInstances: number;
  active: boolean;
  scheduling: Scheduling | null;
}

interface CompiledCron {
  hours: boolean[]; // 0–23
  days: boolean[]; // index 0 = day 1
  months: boolean[]; // index 0 = January
  weekdays: boolean[]; // index 0 = Sunday
  starDom: boolean;
  starDow: boolean;
}

interface CompiledScheduling {
  formatter: Intl.DateTimeFormat;
  crons: CompiledCron[];
  instances: number[];
}

interface LocalTime {
  month: number; // 1–12
  day: number; // 1–31
  weekday: number; // 0 = Sunday
  hour: number; // 0–23
}

const ANY_OCCURRENCE = 63;
const FIELD_NAMES = ["minute", "hour", "day-of-month", "month", "day-of-week"] as const;
// Plain numbers, lists, ranges and steps; names only where cron allows them. `?`, `L`, `W`, `#` and `@nicknames`
// are rejected: their meaning varies between cron dialects and none is needed for hour-of-week schedules.
const FIELD_SYNTAX = /^[0-9*,/-]+$/;
const NAMES = [/jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec/gi, /sun|mon|tue|wed|thu|fri|sat/gi];

/** Parses one schedule cron; returns a message on failure. */
function compileCron(cron: string): CompiledCron | string {
  const fields = cron.trim().split(/\s+/).filter(Boolean);
  if (fields.length !== 5) {
    return `must have 5 fields (minute hour day-of-month month day-of-week), got ${fields.length}`;
  }
  if (fields[0] !== "*") return `minute field must be "*" (schedules cover whole hours), got "${fields[0]}"`;
  for (let i = 1; i < 5; i++) {
    const field = fields[i] ?? "";
    // Month and weekday names are the only letters allowed; croner would silently ignore a stray `L` after a
    // weekday number, so check here rather than trust the parse.
    const withoutNames =
      i === 3 ? field.replace(NAMES[0]!, "0") : i === 4 ? field.replace(NAMES[1]!, "0") : field;
    if (!FIELD_SYNTAX.test(withoutNames)) return `${FIELD_NAMES[i]} field "${field}" has unsupported syntax`;
  }
  let pattern: CronPattern;
  try {
    pattern = new CronPattern(fields.join(" "));
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return message.replace(/^CronPattern:\s*/, "");
  }
  // croner marks a plain weekday with every "nth occurrence" bit set (ANY_OCCURRENCE = 63); anything else would
  // be an nth-weekday or last-weekday marker, which the syntax check already rejects. Belt and braces.
  if (pattern.dayOfWeek.some((v) => v !== 0 && v !== ANY_OCCURRENCE))
    return `day-of-week field "${fields[4]}" has unsupported syntax`;
  return {
    hours: pattern.hour.map(Boolean),
    days: pattern.day.map(Boolean),
    months: pattern.month.map(Boolean),
    weekdays: pattern.dayOfWeek.slice(0, 7).map(Boolean),
    starDom: fields[2] === "*",
    starDow: fields[4] === "*",
  };
}

function dayMatches(c: CompiledCron, month: number, day: number, weekday: number): boolean {
  if (!c.months[month - 1]) return false;
  const dom = c.days[day - 1] === true;
  const dow = c.weekdays[weekday] === true;
  return c.starDom || c.starDow ? dom && dow : dom || dow;
}

function cronMatches(c: CompiledCron, t: LocalTime): boolean {
  return c.hours[t.hour] === true && dayMatches(c, t.month, t.day, t.weekday);
}

function makeFormatter(timezone: string): Intl.DateTimeFormat | string {
  if (timezone.trim() === "") return "timezone is required when schedules are set";
  try {
    return new Intl.DateTimeFormat("en-US", {
      timeZone: timezone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
    });
  } catch {
    return `"${timezone}" is not an IANA timezone`;
  }
}

function localTime(formatter: Intl.DateTimeFormat, at: Date): LocalTime {
  let year = 0;
  let month = 0;
  let day = 0;
  let hour = 0;
  for (const part of formatter.formatToParts(at)) {
    if (part.type === "year") year = Number(part.value);
    else if (part.type === "month") month = Number(part.value);
    else if (part.type === "day") day = Number(part.value);
    else if (part.type === "hour") hour = Number(part.value) % 24; // some ICU versions print midnight as 24
  }
  const weekday = new Date(Date.UTC(year, month - 1, day)).getUTCDay();
  return { month, day, weekday, hour };
}

/** Every (month, day, weekday) combination the Gregorian calendar has; 28 years cover Feb 29 on every weekday. */
let calendarDays: { month: number; day: number; weekday: number }[] | undefined;
function allCalendarDays() {
  if (calendarDays) return calendarDays;
  const seen = new Set<number>();
  const out: { month: number; day: number; weekday: number }[] = [];
  for (let t = Date.UTC(2000, 0, 1); t < Date.UTC(2028, 0, 1); t += 86_400_000) {
    const d = new Date(t);
    const entry = { month: d.getUTCMonth() + 1, day: d.getUTCDate(), weekday: d.getUTCDay() };
    const key = entry.month * 1000 + entry.day * 10 + entry.weekday;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(entry);
    }
  }
  calendarDays = out;
  return out;
}

const WEEKDAY_NAMES = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTH_NAMES = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/**
 * Two crons overlap when some wall-clock minute matches both. With the minute fixed to `*` that means: a common
 * hour, and a real calendar day (month, day-of-month, weekday) both accept. This is exact, not a heuristic: every
 * combination the calendar has is tried (about 2,600). Returns an example of a shared hour, or null.
 */
function overlapExample(a: CompiledCron, b: CompiledCron): string | null {
  const hour = a.hours.findIndex((on, h) => on && b.hours[h]);
  if (hour < 0) return null;
  for (const d of allCalendarDays()) {
    if (dayMatches(a, d.month, d.day, d.weekday) && dayMatches(b, d.month, d.day, d.weekday)) {
      const hh = String(hour).padStart(2, "0");
      return `both match ${hh}:00–${hh}:59 on a ${WEEKDAY_NAMES[d.weekday]}, ${d.day} ${MONTH_NAMES[d.month - 1]}`;
    }
  }
  return null;
}

/**
 * Checks a scheduling block the way template import does: a valid IANA timezone, each cron valid with minute
 * `*`, instances a non-negative integer, and no two schedules able to match the same minute (otherwise "first
 * match wins" would silently hide the later one). Returns every problem; empty means valid.
 */
export function validateSchedule(scheduling: Scheduling): ScheduleIssue[] {
  const issues: ScheduleIssue[] = [];
  if (scheduling.schedules.length > 0 || scheduling.timezone !== "") {
    const formatter = makeFormatter(scheduling.timezone);
    if (typeof formatter === "string") issues.push({ path: "timezone", message: formatter });
  }
  const compiled: (CompiledCron | null)[] = [];
  scheduling.schedules.forEach((s, i) => {
    const c = compileCron(s.cron);
    if (typeof c === "string") {
      issues.push({ path: `schedules[${i}].cron`, message: `invalid cron "${s.cron}": ${c}` });
      compiled.push(null);
    } else if (!allCalendarDays().some((d) => dayMatches(c, d.month, d.day, d.weekday))) {
      issues.push({ path: `schedules[${i}].cron`, message: `cron "${s.cron}" never matches a real date` });
      compiled.push(null);
    } else {
      compiled.push(c);
    }
    if (!Number.isInteger(s.instances) || s.instances < 0) {
      issues.push({ path: `schedules[${i}].instances`, message: "must be a non-negative integer" });
    }
  });
  for (let j = 1; j < compiled.length; j++) {
    const b = compiled[j];
    if (!b) continue;
    for (let i = 0; i < j; i++) {
      const a = compiled[i];
      const example = a ? overlapExample(a, b) : null;
      if (example) {
        issues.push({
          path: `schedules[${j}].cron`,
          message: `overlaps schedules[${i}] ("${scheduling.schedules[i]?.cron}"): ${example}`,
        });
        break;
      }
    }
  }
  return issues;
}

// Compiled schedulings keyed by their content, so each cycle's fresh snapshot objects reuse the parse. Bounded:
// the number of distinct schedulings is the number of distinct presets, but never let it grow without limit.
const compiledCache = new Map<string, CompiledScheduling | null>();
const COMPILED_CACHE_LIMIT = 10_000;

function compileScheduling(scheduling: Scheduling): CompiledScheduling | null {
  const key = JSON.stringify([scheduling.timezone, scheduling.schedules.map((s) => [s.cron, s.instances])]);
  const hit = compiledCache.get(key);
  if (hit !== undefined) return hit;
  let result: CompiledScheduling | null = null;
  if (validateSchedule(scheduling).length === 0) {
    const formatter = makeFormatter(scheduling.timezone) as Intl.DateTimeFormat;
    result = {
      formatter,
      crons: scheduling.schedules.map((s) => compileCron(s.cron) as CompiledCron),
      instances: scheduling.schedules.map((s) => s.instances),
    };
  }
  if (compiledCache.size >= COMPILED_CACHE_LIMIT) compiledCache.clear();
  compiledCache.set(key, result);
  return result;
}

/**
 * Index of the first schedule matching `now` (truncated to the minute, in the scheduling's timezone), or null
 * when none matches or the scheduling is invalid.
 */
export function matchingSchedule(scheduling: Scheduling, now: Date): number | null {
  if (scheduling.schedules.length === 0) return null;
  const compiled = compileScheduling(scheduling);
  if (!compiled) return null;
  const minute = new Date(Math.floor(now.getTime() / 60_000) * 60_000);
  const local = localTime(compiled.formatter, minute);
  const index = compiled.crons.findIndex((c) => cronMatches(c, local));
  return index < 0 ? null : index;
}

/**
 * The desired pool size at `now` (§5 rule 1): 0 for an inactive preset; otherwise the first matching schedule's
 * `instances`, or the preset's `desiredInstances` when no schedule matches. An invalid scheduling (rejected at
 * import, so only reachable through a hand-written snapshot) is ignored as a whole: the base count applies.
 */
export function desiredInstances(preset: DesiredInputs, now: Date): number {
  if (!preset.active) return 0;
  if (!preset.scheduling) return preset.desiredInstances;
  const index = matchingSchedule(preset.scheduling, now);
  if (index === null) return preset.desiredInstances;
  return preset.scheduling.schedules[index]?.instances ?? preset.desiredInstances;
}

const QUARTER_HOUR_MS = 15 * 60_000;

/**
 * The first instant after `now` at which `desiredInstances` changes, searching up to `horizonMs` ahead (default 8
 * days, enough for any hour-of-week schedule); null when it does not change within the horizon. Schedules cover
 * whole local hours, and every UTC offset in use is a multiple of 15 minutes, so the desired size can only change
 * on a UTC quarter hour: checking those is exact, not an approximation.
 */
export function nextScheduleChange(
  preset: DesiredInputs,
  now: Date,
  horizonMs = 8 * 86_400_000,
): Date | null {
  if (!preset.active || !preset.scheduling || preset.scheduling.schedules.length === 0) return null;
  const current = desiredInstances(preset, now);
  const end = now.getTime() + horizonMs;
  for (
    let t = (Math.floor(now.getTime() / QUARTER_HOUR_MS) + 1) * QUARTER_HOUR_MS;
    t <= end;
    t += QUARTER_HOUR_MS
  ) {
    const at = new Date(t);
    if (desiredInstances(preset, at) !== current) return at;
  }
  return null;
}
