// The server's structured logger: pino, with ISO times and level names, as JSON lines (for collectors) or as
// lines for a person (log-format.ts). Secrets are redacted by key wherever they appear, so a token or key that
// ends up in a log field never reaches the log. A user's error (a DomainError, any 4xx) is logged without its
// stack: it says what the user did wrong, not where the server went wrong.
import pino, { type DestinationStream, type Logger } from "pino";
import { DomainError } from "./domain-errors.js";
import { formatHumanRecord } from "./log-format.js";

export type { Logger };

export type LogFormat = "human" | "json";

const REDACT = [
  "token",
  "psk",
  "password",
  "authorization",
  "*.token",
  "*.psk",
  "*.password",
  "*.authorization",
  "req.headers.authorization",
  "req.headers.cookie",
  'req.headers["prewarm-psk"]',
];

/** A user's error: the message is the whole story. */
function isUserError(err: Error): boolean {
  if (err instanceof DomainError) return true;
  const status = (err as { statusCode?: unknown }).statusCode;
  return typeof status === "number" && status >= 400 && status < 500;
}

function serializeError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  if (isUserError(err)) {
    const status = (err as { statusCode?: unknown }).statusCode;
    return {
      type: err.name,
      message: err.message,
      ...(err instanceof DomainError ? { kind: err.kind } : {}),
      ...(typeof status === "number" ? { statusCode: status } : {}),
    };
  }
  return pino.stdSerializers.err(err);
}

/** pino's JSON lines, re-read and written as human lines to `out`. */
function humanDestination(out: { write(text: string): unknown }, colors: boolean): DestinationStream {
  return {
    write(line: string) {
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        out.write(line);
        return;
      }
      out.write(`${formatHumanRecord(record, colors)}\n`);
    },
  };
}

export interface LoggerOptions {
  level?: string;
  /** Default json. */
  format?: LogFormat;
  /** Colours in human lines (the caller decides: a terminal, no NO_COLOR). */
  colors?: boolean;
  /** Where lines go (default stdout). */
  destination?: { write(text: string): unknown };
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const settings = {
    level: options.level ?? process.env.PREWARM_LOG_LEVEL ?? "info",
    redact: { paths: REDACT, censor: "[redacted]" },
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    serializers: { err: serializeError },
  };
  if (options.format === "human") {
    return pino(settings, humanDestination(options.destination ?? process.stdout, options.colors ?? false));
  }
  return options.destination ? pino(settings, options.destination as DestinationStream) : pino(settings);
}

/** A logger that drops everything, for tests and embedded use. */
export const silentLogger: Logger = pino({ level: "silent" });
