// How one log record reads to a person at a terminal (`--log-format human`): the time, the level, the
// component, the message, then the other fields as key=value; an error's stack (only ever a server fault's:
// logger.ts drops user errors' stacks) indented below. Pure: the logger's destination does the writing.
import pc from "picocolors";

type Colors = ReturnType<typeof pc.createColors>;

const LEVEL_COLOR: Record<string, (colors: Colors, text: string) => string> = {
  trace: (c, t) => c.gray(t),
  debug: (c, t) => c.blue(t),
  info: (c, t) => c.green(t),
  warn: (c, t) => c.yellow(t),
  error: (c, t) => c.red(t),
  fatal: (c, t) => c.bgRed(t),
};

/** A field's value as text: bare when it is one word, quoted when it has spaces or quotes, JSON otherwise. */
function fieldValue(value: unknown): string {
  if (typeof value === "string") return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || value === null) return String(value);
  return JSON.stringify(value);
}

/** One record (pino's JSON, parsed) as one line, or a few when it carries a stack. */
export function formatHumanRecord(record: Record<string, unknown>, useColors: boolean): string {
  const colors = pc.createColors(useColors);
  const { time, level, msg, component, err, ...fields } = record;
  const label = String(level ?? "info");
  const paint = LEVEL_COLOR[label] ?? ((_c: Colors, t: string) => t);
  const parts = [colors.dim(String(time ?? "")), paint(colors, label.toUpperCase().padEnd(5))];
  if (component !== undefined) parts.push(colors.cyan(`[${String(component)}]`));
  parts.push(String(msg ?? ""));
  let stack = "";
  if (err !== undefined) {
    const e = err as { message?: unknown; stack?: unknown };
    if (typeof err === "object" && err !== null) {
      parts.push(`err=${fieldValue(e.message ?? "")}`);
      if (typeof e.stack === "string") stack = `\n${e.stack.replace(/^/gm, "    ")}`;
    } else parts.push(`err=${fieldValue(err)}`);
  }
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined) parts.push(`${colors.dim(`${key}=`)}${fieldValue(value)}`);
  }
  return `${parts.filter((p) => p !== "").join(" ")}${stack}`;
}
