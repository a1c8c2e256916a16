// Cron checks of the coder provider: the prebuild schedule rules of `coder_workspace_preset` (5 fields,
// minute "*", no two schedules overlapping) and the 6-field expressions of `coder_script.cron`. The real
// provider parses with robfig/cron; this is a small parser for the same field syntax (`*`, `?`, `a`,
// `a-b`, `/step`, lists, month and weekday names, `@descriptors`) with similar messages.
const monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

interface Bounds {
  min: number;
  max: number;
  names?: readonly string[];
  /** Value of names[0]. */
  nameBase?: number;
}

const second: Bounds = { min: 0, max: 59 };
const minute: Bounds = { min: 0, max: 59 };
const hour: Bounds = { min: 0, max: 23 };
const dom: Bounds = { min: 1, max: 31 };
const month: Bounds = { min: 1, max: 12, names: monthNames, nameBase: 1 };
const dow: Bounds = { min: 0, max: 6, names: dayNames, nameBase: 0 };

function parseValue(text: string, b: Bounds, expr: string): number {
  const named = b.names?.indexOf(text.toLowerCase()) ?? -1;
  if (named >= 0) return named + (b.nameBase ?? 0);
  if (!/^\d+$/.test(text)) {
    throw new Error(
      `failed to parse int from ${text}: strconv.Atoi: parsing ${JSON.stringify(text)}: invalid syntax`,
    );
  }
  const n = Number(text);
  if (n < b.min) throw new Error(`beginning of range (${n}) below minimum (${b.min}): ${expr}`);
  if (n > b.max) throw new Error(`end of range (${n}) above maximum (${b.max}): ${expr}`);
  return n;
}

/** Checks one field (a comma-separated list of ranges); throws robfig-like messages. */
function checkField(field: string, b: Bounds): void {
  for (const expr of field.split(",")) {
    const slash = expr.split("/");
    if (slash.length > 2) throw new Error(`too many slashes: ${expr}`);
    const [range, step] = slash as [string, string | undefined];
    if (range !== "*" && range !== "?") {
      const hyphen = range.split("-");
      if (hyphen.length > 2) throw new Error(`too many hyphens: ${expr}`);
      const start = parseValue(hyphen[0]!, b, expr);
      const end = hyphen.length === 2 ? parseValue(hyphen[1]!, b, expr) : start;
      if (start > end) throw new Error(`beginning of range (${start}) beyond end of range (${end}): ${expr}`);
    }
    if (step !== undefined && (!/^\d+$/.test(step) || Number(step) === 0)) {
      throw new Error(`step of range should be a positive number: ${expr}`);
    }
  }
}

const descriptors = new Set([
  "@yearly",
  "@annually",
  "@monthly",
  "@weekly",
  "@daily",
  "@midnight",
  "@hourly",
]);

/** `minute hour dom month dow`, exactly five fields (robfig's parser for prebuild schedules). */
export function parseUnixCron(spec: string): void {
  const fields = spec.trim().split(/\s+/).filter(Boolean);
  if (fields.length !== 5) {
    throw new Error(`expected exactly 5 fields, found ${fields.length}: [${fields.join(" ")}]`);
  }
  const bounds = [minute, hour, dom, month, dow];
  for (let i = 0; i < 5; i++) checkField(fields[i]!, bounds[i]!);
}

/** `second minute hour dom month [dow]` or a descriptor (coder_script's parser). */
export function parseScriptCron(spec: string): void {
  const text = spec.trim();
  if (text.startsWith("@")) {
    if (descriptors.has(text)) return;
    if (text.startsWith("@every ")) {
      if (/^@every\s+(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(text)) return;
      throw new Error(`failed to parse duration ${text}: time: invalid duration`);
    }
    throw new Error(`unrecognized descriptor: ${text}`);
  }
  const fields = text.split(/\s+/).filter(Boolean);
  if (fields.length < 5 || fields.length > 6) {
    throw new Error(`expected 5 to 6 fields, found ${fields.length}: [${fields.join(" ")}]`);
  }
  const bounds = [second, minute, hour, dom, month, dow];
  for (let i = 0; i < fields.length; i++) checkField(fields[i]!, bounds[i]!);
}

/** The ValidateFunc of coder_script.cron: errors, plus a warning for a Unix 5-field expression. */
export function validateScriptCron(spec: string): { errors: string[]; warnings: string[] } {
  const warnings: string[] = [];
  const errors: string[] = [];
  if (spec.trim().split(/\s+/).filter(Boolean).length === 5) {
    try {
      parseUnixCron(spec);
      warnings.push(
        `The cron expression '${spec}' appears to be in Unix 5-field format. ` +
          "Coder uses 6-field format (seconds minutes hours day month day-of-week). " +
          `Consider prefixing with '0 ' to run at the start of each minute: '0 ${spec}'`,
      );
    } catch {
      // not a Unix expression either: only the 6-field parse below decides
    }
  }
  try {
    parseScriptCron(spec);
  } catch (err) {
    errors.push(`${spec} is not a valid cron expression: ${(err as Error).message}`);
  }
  return { errors, warnings };
}

/** The ValidateFunc of a prebuild schedule's `cron`. */
export function validatePrebuildCron(spec: string): string | undefined {
  const parts = spec.trim().split(/\s+/).filter(Boolean);
  if (parts.length !== 5) return "cron spec failed validation: cron specification should consist of 5 fields";
  if (parts[0] !== "*") return "cron spec failed validation: minute field should be *";
  try {
    parseUnixCron(spec);
  } catch (err) {
    return `failed to parse cron spec: ${(err as Error).message}`;
  }
  return undefined;
}

// ---- overlap of prebuild schedules (the provider's own simple range arithmetic, not robfig's) ----------

function parseRange(input: string, maxValue: number): Set<number> {
  const out = new Set<number>();
  if (input === "*") {
    for (let i = 0; i <= maxValue; i++) out.add(i);
    return out;
  }
  const atoi = (s: string, what: string): number => {
    if (!/^[+-]?\d+$/.test(s)) {
      throw new Error(`invalid ${what}: strconv.Atoi: parsing ${JSON.stringify(s)}: invalid syntax`);
    }
    return Number(s);
  };
  for (const part of input.split(",")) {
    if (part.includes("-")) {
      const [a = "", b = ""] = part.split("-");
      const start = atoi(a, "start value in range");
      const end = atoi(b, "end value in range");
      if (start < 0 || end > maxValue || start > end) {
        throw new Error(`invalid range ${start}-${end}: values must be between 0 and ${maxValue}`);
      }
      for (let i = start; i <= end; i++) out.add(i);
    } else {
      const value = atoi(part, "value");
      if (value < 0 || value > maxValue)
        throw new Error(`invalid value ${value}: must be between 0 and ${maxValue}`);
      out.add(value);
    }
  }
  return out;
}

function overlap(a: string, b: string, maxValue: number): boolean {
  const setA = parseRange(a, maxValue);
  const setB = parseRange(b, maxValue);
  for (const v of setA) if (setB.has(v)) return true;
  return false;
}

function schedulesOverlap(s1: string, s2: string): boolean {
  const f1 = s1.trim().split(/\s+/);
  const f2 = s2.trim().split(/\s+/);
  for (const [s, f] of [
    [s1, f1],
    [s2, f2],
  ] as const) {
    if (f.length !== 5) {
      throw new Error(
        `schedule ${JSON.stringify(s)} has ${f.length} fields, expected 5 fields (minute hour day-of-month month day-of-week)`,
      );
    }
  }
  const wrap = (what: string, fn: () => boolean) => {
    try {
      return fn();
    } catch (err) {
      throw new Error(`invalid ${what} range: ${(err as Error).message}`);
    }
  };
  if (!wrap("month", () => overlap(f1[3]!, f2[3]!, 12))) return false;
  const days = wrap("day", () => {
    if (f1[2] === "*" || f2[2] === "*") return overlap(f1[4]!, f2[4]!, 6);
    if (f1[4] === "*" || f2[4] === "*") return overlap(f1[2]!, f2[2]!, 31);
    return overlap(f1[2]!, f2[2]!, 31) || overlap(f1[4]!, f2[4]!, 6);
  });
  if (!days) return false;
  return wrap("hour", () => overlap(f1[1]!, f2[1]!, 23));
}

/** An error message when two of the schedules overlap (or one cannot be read), else undefined. */
export function scheduleOverlapError(schedules: readonly string[]): string | undefined {
  for (let i = 0; i < schedules.length; i++) {
    for (let j = i + 1; j < schedules.length; j++) {
      let overlaps: boolean;
      try {
        overlaps = schedulesOverlap(schedules[i]!, schedules[j]!);
      } catch (err) {
        return `invalid schedule: ${(err as Error).message}`;
      }
      if (overlaps) return `schedules overlap: ${schedules[i]} and ${schedules[j]}`;
    }
  }
  return undefined;
}
