// Helpers shared by the API commands: NAME=VALUE option parsing and waiting on a provisioner job with
// progress (logs streamed over SSE).
import type { JobLogT, JobT } from "../../contract/api.js";
import { parseDuration } from "../../util/duration.js";
import type { ApiClient } from "../client.js";
import { CliError } from "../errors.js";
import { type Colors, type OutputFormat, Progress } from "../output.js";

/** Commander collector for repeatable options (`--parameter a=1 --parameter b=2`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * Parses repeated `NAME=VALUE` flags into a record. The value may contain "=" and may be empty; the name may
 * not. A name given twice is an error rather than a silent override.
 */
export function parseKeyValues(flag: string, items: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf("=");
    if (eq <= 0) throw new CliError(`invalid ${flag} "${item}": expected NAME=VALUE`, 2);
    const name = item.slice(0, eq).trim();
    if (name === "") throw new CliError(`invalid ${flag} "${item}": the name is empty`, 2);
    if (Object.hasOwn(out, name)) throw new CliError(`${flag} "${name}" given more than once`, 2);
    out[name] = item.slice(eq + 1);
  }
  return out;
}

/** A duration flag (`15s`, `5m`, …) in milliseconds; a bad value is a usage error naming the flag. */
export function parseDurationFlag(flag: string, value: string): number {
  try {
    return parseDuration(value);
  } catch (err) {
    throw new CliError(`${flag}: ${err instanceof Error ? err.message : String(err)}`, 2);
  }
}

/** `--replace-ahead auto|0|DUR` as the setting: "auto", or whole seconds (0 = off). */
export function parseReplaceAheadFlag(flag: string, value: string): "auto" | number {
  if (value.trim() === "auto") return "auto";
  if (value.trim() === "0") return 0;
  const ms = parseDurationFlag(flag, value);
  if (ms % 1000 !== 0) throw new CliError(`${flag}: use whole seconds, got "${value}"`, 2);
  return ms / 1000;
}

/** "3" → "v3"; version names pass through. */
export function versionName(text: string): string {
  return /^\d+$/.test(text) ? `v${text}` : text;
}

export function formatLogLine(log: JobLogT, colors: Colors): string {
  const stage = log.stage ? colors.dim(`[${log.stage}] `) : "";
  const text =
    log.level === "error"
      ? colors.red(log.output)
      : log.level === "warn"
        ? colors.yellow(log.output)
        : log.output;
  return `${stage}${text}`;
}

export interface WaitOptions {
  /** Spinner / progress text prefix, e.g. `Building workspace "dev"`. */
  label: string;
  progress: Progress;
  /** Print each log line (through the progress, on stderr). */
  showLogs: boolean;
  colors: Colors;
}

/** Follows a job until it ends, showing its current stage as progress. Returns the final job. */
export async function waitForJob(client: ApiClient, jobId: string, options: WaitOptions): Promise<JobT> {
  const { progress, label } = options;
  progress.update(`${label}: waiting for a provisioner`);
  try {
    return await client.followJobLogs(jobId, {
      onLog: (log) => {
        if (options.showLogs) progress.line(formatLogLine(log, options.colors));
        if (log.stage) progress.update(`${label}: ${log.stage}`);
      },
      onJob: (job) => {
        if (job.status === "running") progress.update(`${label}: running`);
      },
    });
  } finally {
    progress.stop();
  }
}

/** The progress reporter for a command: silent for `-o json` unless stderr is a terminal. */
export function progressFor(format: OutputFormat): Progress {
  return new Progress(process.stderr, { enabled: format === "table" || Boolean(process.stderr.isTTY) });
}
