// Wall-clock positions in an IANA timezone for the autoscaler's calendar (autoscale.ts): which local quarter
// hour of the week an instant falls in. Pure (the same instant and zone always give the same slot); the offset
// of each UTC quarter hour is memoised, because the calendar maps thousands of instants per plan and every
// real-world UTC offset and DST transition falls on a quarter hour (India +5:30, Nepal +5:45, Lord Howe's
// 30-minute DST), so one offset per UTC quarter hour is exact.
//
// DST is the platform's tz database: on the spring-forward day the skipped local hour has no instant at all,
// on the fall-back day the repeated hour has twice as many.

export const SLOT_MS = 15 * 60_000;
export const SLOTS_PER_DAY = 96;
export const SLOTS_PER_WEEK = 7 * SLOTS_PER_DAY;
const DAY_MS = 86_400_000;

const formatters = new Map<string, Intl.DateTimeFormat>();
/** Per timezone: UTC quarter-hour index → offset. */
const offsets = new Map<string, Map<number, number>>();
const MAX_CACHED_OFFSETS = 200_000;

function formatter(timezone: string): Intl.DateTimeFormat {
  let f = formatters.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: timezone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
    });
    formatters.set(timezone, f);
  }
  return f;
}

/** Whether `timezone` is an IANA zone this platform knows. */
export function isKnownTimezone(timezone: string): boolean {
  if (timezone.trim() === "") return false;
  try {
    formatter(timezone);
    return true;
  } catch {
    return false;
  }
}

/** Local wall time minus UTC, in ms, at the UTC quarter hour containing `utcMs`. */
export function utcOffsetMs(utcMs: number, timezone: string): number {
  const bucket = Math.floor(utcMs / SLOT_MS);
  let zone = offsets.get(timezone);
  if (!zone) {
    zone = new Map();
    offsets.set(timezone, zone);
  }
  const cached = zone.get(bucket);
  if (cached !== undefined) return cached;
  const at = bucket * SLOT_MS;
  const parts: Record<string, number> = {};
  for (const p of formatter(timezone).formatToParts(new Date(at))) {
    if (p.type !== "literal") parts[p.type] = Number(p.value);
  }
  const wall = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!);
  const offset = wall - Math.floor(at / 60_000) * 60_000;
  if (zone.size >= MAX_CACHED_OFFSETS) zone.clear();
  zone.set(bucket, offset);
  return offset;
}

/** The local quarter hour of the week: weekday (0 = Sunday) × 96 + quarter hour of the day. */
export function weekSlot(utcMs: number, timezone: string): number {
  const local = utcMs + utcOffsetMs(utcMs, timezone);
  const day = Math.floor(local / DAY_MS);
  const weekday = (((day + 4) % 7) + 7) % 7; // 1970-01-01 was a Thursday
  const quarter = Math.floor((local - day * DAY_MS) / SLOT_MS);
  return weekday * SLOTS_PER_DAY + quarter;
}

/** Weekday of a week slot, 0 = Sunday. */
export const weekdayOf = (slot: number): number => Math.floor(slot / SLOTS_PER_DAY);
