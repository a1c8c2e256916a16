// Terraform's machine-readable UI (`-json`) → Log lines. Pure: one output line in, log entries out.
import { LogLevel } from "../../gen/provisioner/provisioner_pb.js";

export interface LogEntry {
  level: LogLevel;
  output: string;
}

interface DiagnosticSnippet {
  context?: string | null;
  code?: string;
  start_line?: number;
  values?: { traversal?: string; statement?: string }[];
}

interface Diagnostic {
  severity?: string;
  summary?: string;
  detail?: string;
  range?: { filename?: string; start?: { line?: number } };
  snippet?: DiagnosticSnippet;
}

/** The fields prewarm uses of one `-json` UI line. */
export interface TerraformJsonLine {
  "@level"?: string;
  "@message"?: string;
  "@timestamp"?: string;
  type?: string;
  hook?: {
    action?: string;
    provisioner?: string;
    resource?: { addr?: string; implied_provider?: string };
  };
  diagnostic?: Diagnostic;
}

/** Parses a line as a terraform JSON UI message; undefined when it is not one. */
export function parseJsonLine(line: string): TerraformJsonLine | undefined {
  const trimmed = line.trim();
  if (!trimmed.startsWith("{")) return undefined;
  try {
    const value: unknown = JSON.parse(trimmed);
    if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
    return value as TerraformJsonLine;
  } catch {
    return undefined;
  }
}

/** Maps terraform's level names; undefined for a name it does not know. */
export function levelFromName(name: string | undefined): LogLevel | undefined {
  switch ((name ?? "").toLowerCase()) {
    case "trace":
      return LogLevel.TRACE;
    case "debug":
      return LogLevel.DEBUG;
    case "info":
      return LogLevel.INFO;
    case "warn":
    case "warning":
      return LogLevel.WARN;
    case "error":
      return LogLevel.ERROR;
    default:
      return undefined;
  }
}

/** The human form of a diagnostic's location, snippet, values and detail (the summary is @message). */
export function formatDiagnostic(d: Diagnostic): string[] {
  const lines: string[] = [];
  const file = d.range?.filename;
  const line = d.range?.start?.line;
  if (file && line !== undefined) {
    const context = d.snippet?.context ? `, in ${d.snippet.context}` : "";
    lines.push(`  on ${file} line ${line}${context}:`);
  }
  const snippet = d.snippet;
  if (snippet?.code !== undefined && snippet.start_line !== undefined) {
    snippet.code.split("\n").forEach((code, i) => {
      lines.push(`  ${String(snippet.start_line! + i).padStart(4)}: ${code}`);
    });
    const values = snippet.values ?? [];
    if (values.length > 0) {
      lines.push("    ├────────────────");
      for (const v of values) lines.push(`    │ ${v.traversal ?? ""} ${v.statement ?? ""}`.trimEnd());
    }
  }
  if (d.detail) {
    lines.push("");
    lines.push(...d.detail.split("\n"));
  }
  return lines;
}

/**
 * The logs for one line of `plan`/`apply` stdout: a JSON message at its level (diagnostics expanded with
 * file, line and detail at their severity), anything else at INFO. Blank lines produce nothing.
 */
export function logsForJsonOutput(line: string): LogEntry[] {
  if (line.trim() === "") return [];
  const msg = parseJsonLine(line);
  if (!msg) return [{ level: LogLevel.INFO, output: line }];
  const entries: LogEntry[] = [];
  let level = levelFromName(msg["@level"]);
  if (level === undefined) {
    entries.push({
      level: LogLevel.WARN,
      output: `unable to convert log level ${msg["@level"] ?? "(none)"}`,
    });
    level = LogLevel.INFO;
  }
  entries.push({ level, output: msg["@message"] ?? "" });
  if (msg.diagnostic) {
    const severity = levelFromName(msg.diagnostic.severity) ?? level;
    for (const output of formatDiagnostic(msg.diagnostic)) entries.push({ level: severity, output });
  }
  return entries;
}

/**
 * The log for one line of output from a command run without `-json` (init, show, graph): re-levelled when it
 * happens to be JSON (TRACE dropped, INFO demoted to DEBUG, as `init` is chatty), else the given level.
 */
export function logForPlainOutput(line: string, level: LogLevel): LogEntry | undefined {
  if (line.trim() === "") return undefined;
  const msg = parseJsonLine(line);
  if (msg && typeof msg["@level"] === "string") {
    const parsed = levelFromName(msg["@level"]) ?? level;
    if (parsed === LogLevel.TRACE) return undefined;
    return { level: parsed === LogLevel.INFO ? LogLevel.DEBUG : parsed, output: msg["@message"] ?? line };
  }
  return { level, output: line };
}
