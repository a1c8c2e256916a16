// Config.provisioner_log_level → the lowest LogLevel a session forwards.
import { LogLevel } from "../gen/provisioner/provisioner_pb.js";

const NAMES: Record<string, LogLevel> = {
  TRACE: LogLevel.TRACE,
  DEBUG: LogLevel.DEBUG,
  INFO: LogLevel.INFO,
  WARN: LogLevel.WARN,
  ERROR: LogLevel.ERROR,
};

export class LogLevelError extends Error {
  override name = "LogLevelError";
}

/**
 * Parses a level name, case-insensitively; empty means everything (TRACE). Unknown names are rejected
 * (Coder silently treats them as TRACE, which hides typos).
 */
export function parseLogLevel(name: string): LogLevel {
  const trimmed = name.trim();
  if (trimmed === "") return LogLevel.TRACE;
  const level = NAMES[trimmed.toUpperCase()];
  if (level === undefined) {
    throw new LogLevelError(
      `unknown provisioner_log_level "${name}" (want one of trace, debug, info, warn, error, or empty)`,
    );
  }
  return level;
}
