// The server's structured logger. Secrets are redacted by key wherever they appear, so a token or key that
// ends up in a log field never reaches the log.
import pino, { type Logger } from "pino";

export type { Logger };

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

export function createLogger(options: { level?: string; pretty?: boolean } = {}): Logger {
  return pino({
    level: options.level ?? process.env.PREWARM_LOG_LEVEL ?? "info",
    redact: { paths: REDACT, censor: "[redacted]" },
    base: undefined,
  });
}

/** A logger that drops everything, for tests and embedded use. */
export const silentLogger: Logger = pino({ level: "silent" });
