// Output for humans and scripts: `-o json` prints the contract's JSON exactly, `-o yaml` the same data as
// YAML; tables are borderless columns (`--no-headers` drops the header line); colours only on a terminal
// without NO_COLOR; progress is a spinner on a terminal and plain lines elsewhere (always on stderr, so stdout
// stays parseable). Formatting functions are pure and take `now` explicitly. Every command module loads this
// one, so it stays light: cli-table3 is required on the first table, not at start.
import { createRequire } from "node:module";
import type TableType from "cli-table3";
import pc from "picocolors";
import { formatDuration } from "../util/duration.js";
import { CliError } from "./errors.js";
import { toYaml } from "./yaml.js";

export type OutputFormat = "table" | "json" | "yaml";
/** The formats that print the API's data rather than a table. */
export type DataFormat = Exclude<OutputFormat, "table">;

export function parseOutputFormat(text: string): OutputFormat {
  if (text === "table" || text === "json" || text === "yaml") return text;
  throw new CliError(`invalid output format "${text}" (use table, json or yaml)`, 2);
}

/**
 * Process-wide table settings, set once from the global options before a command runs (`--no-headers`).
 * A setting rather than a parameter because a dozen pure render functions draw tables several calls deep.
 */
export const tableSettings = { headers: true };

let tableClass: typeof TableType | undefined;
function loadTable(): typeof TableType {
  tableClass ??= createRequire(import.meta.url)("cli-table3") as typeof TableType;
  return tableClass;
}

export type Colors = ReturnType<typeof pc.createColors>;

/** Colours on when the stream is a terminal, NO_COLOR is unset or empty, and TERM is not "dumb". */
export function shouldUseColor(isTTY: boolean | undefined, env: NodeJS.ProcessEnv): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "" && env.FORCE_COLOR !== "0") return true;
  return Boolean(isTTY) && env.TERM !== "dumb";
}

export function colorsFor(stream: { isTTY?: boolean } = process.stdout, env = process.env): Colors {
  return pc.createColors(shouldUseColor(stream.isTTY, env));
}

export interface Column<T> {
  header: string;
  value: (row: T) => string;
}

const noBorders = {
  top: "",
  "top-mid": "",
  "top-left": "",
  "top-right": "",
  bottom: "",
  "bottom-mid": "",
  "bottom-left": "",
  "bottom-right": "",
  left: "",
  "left-mid": "",
  mid: "",
  "mid-mid": "",
  right: "",
  "right-mid": "",
  middle: "  ",
};

/** A borderless table (header in upper case), one line per row, no trailing spaces; "" for no rows. */
export function renderTable<T>(
  columns: Column<T>[],
  rows: readonly T[],
  colors: Colors = pc.createColors(false),
  headers: boolean = tableSettings.headers,
): string {
  const Table = loadTable();
  const table = new Table({
    head: headers ? columns.map((c) => colors.bold(c.header.toUpperCase())) : [],
    chars: noBorders,
    style: { head: [], border: [], "padding-left": 0, "padding-right": 0 },
  });
  for (const row of rows) table.push(columns.map((c) => c.value(row)));
  if (!headers && rows.length === 0) return "";
  return `${table
    .toString()
    .split("\n")
    .map((line) => line.trimEnd())
    .join("\n")}\n`;
}

/** Key/value lines for `show` commands: "Name:      value". */
export function renderFields(fields: [string, string][], colors: Colors = pc.createColors(false)): string {
  const width = Math.max(...fields.map(([k]) => k.length)) + 1;
  return fields.map(([k, v]) => `${colors.bold(`${k}:`.padEnd(width))}  ${v}`).join("\n") + "\n";
}

export function printJson(value: unknown, out: NodeJS.WritableStream = process.stdout): void {
  out.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Prints the API's data in a data format: JSON exactly as the server sent it, or the same tree as YAML. */
export function printData(
  format: DataFormat,
  value: unknown,
  out: NodeJS.WritableStream = process.stdout,
): void {
  if (format === "json") printJson(value, out);
  else out.write(toYaml(value));
}

/** "3m ago" / "in 2m" / "-" for null. */
export function formatAgo(iso: string | null | undefined, now: Date): string {
  if (!iso) return "-";
  const ms = now.getTime() - new Date(iso).getTime();
  if (Number.isNaN(ms)) return "-";
  if (Math.abs(ms) < 1_000) return "just now";
  return ms >= 0 ? `${formatDuration(roundForAge(ms))} ago` : `in ${formatDuration(roundForAge(-ms))}`;
}

/** Ages are shown in whole seconds (or coarser): "1m5s", not "65.3s". */
function roundForAge(ms: number): number {
  const seconds = Math.floor(ms / 1_000) * 1_000;
  return seconds < 60_000 ? seconds : Math.floor(ms / 60_000) * 60_000;
}

/** TTL for tables: null or 0 → "never", otherwise "24h", "90m" → "1h30m". */
export function formatTtl(seconds: number | null | undefined): string {
  if (!seconds) return "never";
  return formatDuration(seconds * 1_000);
}

const statusColor: Record<string, (c: Colors, s: string) => string> = {
  succeeded: (c, s) => c.green(s),
  ready: (c, s) => c.green(s),
  healthy: (c, s) => c.green(s),
  connected: (c, s) => c.green(s),
  running: (c, s) => c.cyan(s),
  pending: (c, s) => c.yellow(s),
  starting: (c, s) => c.yellow(s),
  canceling: (c, s) => c.yellow(s),
  connecting: (c, s) => c.yellow(s),
  failed: (c, s) => c.red(s),
  start_error: (c, s) => c.red(s),
  hard_limited: (c, s) => c.red(s),
  validation_failed: (c, s) => c.red(s),
  canceled: (c, s) => c.dim(s),
  disconnected: (c, s) => c.dim(s),
};

export function colorStatus(status: string, colors: Colors): string {
  return statusColor[status]?.(colors, status) ?? status;
}

/** Progress while waiting. On a terminal: a spinner line redrawn in place; elsewhere: one line per change. */
export class Progress {
  private readonly frames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
  private frame = 0;
  private text = "";
  private timer: NodeJS.Timeout | undefined;
  private readonly tty: boolean;

  constructor(
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr,
    private readonly options: { enabled?: boolean; tty?: boolean } = {},
  ) {
    this.tty = options.tty ?? Boolean(out.isTTY);
  }

  private get enabled(): boolean {
    return this.options.enabled ?? true;
  }

  /** Sets the status text (e.g. "Building workspace dev: running"). */
  update(text: string): void {
    if (!this.enabled || text === this.text) return;
    this.text = text;
    if (!this.tty) {
      this.out.write(`${text}\n`);
      return;
    }
    if (!this.timer) {
      this.timer = setInterval(() => this.draw(), 80);
      this.timer.unref();
    }
    this.draw();
  }

  /** Prints a line (a log line, say) without disturbing the spinner. */
  line(text: string): void {
    if (!this.enabled) return;
    if (this.tty && this.timer) this.out.write("\r\x1b[K");
    this.out.write(`${text}\n`);
    if (this.tty && this.timer) this.draw();
  }

  /** Stops the spinner, leaving `final` (if given) as the last line. */
  stop(final?: string): void {
    if (this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
      this.out.write("\r\x1b[K");
    }
    if (final && this.enabled) this.out.write(`${final}\n`);
    this.text = "";
  }

  private draw(): void {
    this.frame = (this.frame + 1) % this.frames.length;
    this.out.write(`\r\x1b[K${this.frames[this.frame]} ${this.text}`);
  }
}

/** A workspace's state from its latest build (shared with the dashboard). */
export { workspaceState } from "../contract/workspace-state.js";
