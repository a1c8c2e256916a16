// Strict reading of the planner's JSON documents (the offline snapshot of `prebuilds plan --snapshot`, the
// simulator's input): a Reader walks a parsed document, checks each field's type and range, and collects every
// problem as an issue naming the field path (`presets[0].prebuilds[2].createdAt: not an ISO-8601 timestamp`),
// because a typo silently ignored would make the output lie. Timestamps are RFC 3339 with a mandatory offset.

export interface JsonIssue {
  path: string;
  message: string;
}

export type Obj = Record<string, unknown>;

/** Collects issues while walking the document, so one run reports every problem. */
export class Reader {
  readonly issues: JsonIssue[] = [];

  /** `root` names the document itself in issues (path ""). */
  constructor(readonly root = "snapshot") {}

  /** `path` "" is the document itself. */
  fail(path: string, message: string): undefined {
    this.issues.push({ path: path === "" ? this.root : path, message });
    return undefined;
  }

  object(value: unknown, path: string, allowed: readonly string[]): Obj | undefined {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      return this.fail(path, `expected an object, got ${describe(value)}`);
    }
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) this.fail(join(path, key), "unknown field");
    }
    return value as Obj;
  }

  array(value: unknown, path: string): unknown[] | undefined {
    if (!Array.isArray(value)) return this.fail(path, `expected an array, got ${describe(value)}`);
    return value;
  }

  string(value: unknown, path: string): string | undefined {
    if (typeof value !== "string") return this.fail(path, `expected a string, got ${describe(value)}`);
    if (value === "") return this.fail(path, "must not be empty");
    return value;
  }

  boolean(value: unknown, path: string): boolean | undefined {
    if (typeof value !== "boolean") return this.fail(path, `expected true or false, got ${describe(value)}`);
    return value;
  }

  count(value: unknown, path: string): number | undefined {
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
      return this.fail(path, `expected a non-negative integer, got ${describe(value)}`);
    }
    return value;
  }

  seconds(value: unknown, path: string): number | undefined {
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
      return this.fail(path, `expected a non-negative number of seconds, got ${describe(value)}`);
    }
    return value;
  }

  /** A finite number ≥ 0 (a cost, an amount). */
  amount(value: unknown, path: string): number | undefined {
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
      return this.fail(path, `expected a non-negative number, got ${describe(value)}`);
    }
    return value;
  }

  /** A number strictly between 0 and 1 (a rate such as a target hit rate). */
  fraction(value: unknown, path: string): number | undefined {
    if (typeof value !== "number" || !(value > 0 && value < 1)) {
      return this.fail(path, `expected a number between 0 and 1 (exclusive), got ${describe(value)}`);
    }
    return value;
  }

  timestamp(value: unknown, path: string): Date | undefined {
    const date = typeof value === "string" ? parseTimestamp(value) : null;
    if (!date) return this.fail(path, `not an ISO-8601 timestamp with a timezone (got ${describe(value)})`);
    return date;
  }

  /** One of `values`. */
  oneOf<T extends string>(value: unknown, path: string, values: readonly T[]): T | undefined {
    if (typeof value === "string" && (values as readonly string[]).includes(value)) return value as T;
    return this.fail(path, `expected one of ${values.join(", ")}, got ${describe(value)}`);
  }

  optional<T>(value: unknown, fallback: T, read: (v: unknown) => T | undefined): T | undefined {
    return value === undefined || value === null ? fallback : read(value);
  }
}

export function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

export function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === "object") return "an object";
  return String(value);
}

// RFC 3339 profile of ISO-8601: a date, a time, and a mandatory offset (a timestamp without one would be read in
// the machine's local zone, so the same file would plan differently on different machines).
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})$/i;

/** Parses an ISO-8601 timestamp with an offset; null when malformed or impossible (Feb 30, 25:00). */
export function parseTimestamp(text: string): Date | null {
  const m = TIMESTAMP.exec(text);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map((v) => Number(v ?? 0)) as number[];
  const daysInMonth = new Date(Date.UTC(year!, month!, 0)).getUTCDate();
  if (month! < 1 || month! > 12 || day! < 1 || day! > daysInMonth) return null;
  if (hour! > 23 || minute! > 59 || second! > 59) return null;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : new Date(ms);
}

/** `2026-01-05T10:01:00Z`; milliseconds only when there are any. */
export function formatTimestamp(date: Date): string {
  const iso = date.toISOString();
  return iso.endsWith(".000Z") ? `${iso.slice(0, -5)}Z` : iso;
}

/** Parses JSON text; malformed JSON is one issue at the document (`root`). */
export function parseJsonText(
  text: string,
  root: string,
): { ok: true; value: unknown } | { ok: false; issue: JsonIssue } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return { ok: false, issue: { path: root, message: `not valid JSON: ${reason}` } };
  }
}

/** A message for a list of issues: the first, and how many more there are. */
export function issuesMessage(issues: readonly JsonIssue[], fallback: string): string {
  const first = issues[0];
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : "";
  return first ? `${first.path}: ${first.message}${more}` : fallback;
}
