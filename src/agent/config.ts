// Where the agent's settings come from: flags first, then PREWARM_AGENT_*, then CODER_AGENT_* (what an
// unchanged Coder template's `coder_agent` sets on the workspace host). Pure: takes the flags and an
// environment, returns settings or throws AgentConfigError naming what is missing.
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDuration } from "../util/duration.js";

export class AgentConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AgentConfigError";
  }
}

export interface AgentFlags {
  url?: string;
  token?: string;
  logDir?: string;
  /** Milliseconds; overrides the manifest-derived interval. */
  heartbeatIntervalMs?: number;
  /** Milliseconds; the longest wait between retries while the server is away. */
  maxBackoffMs?: number;
  /** Milliseconds a token the server refuses at startup is retried (see AgentConfig.tokenWaitMs). */
  tokenWaitMs?: number;
}

export interface AgentConfig {
  /** Origin (and optional path prefix) of the server, without a trailing slash. */
  url: string;
  token: string;
  logDir: string;
  heartbeatIntervalMs: number | undefined;
  maxBackoffMs: number;
  /**
   * How long a 401 on the first manifest is retried. A template that starts its agent during `terraform
   * apply` (a container, a local process) runs it before the build has finished, and the server learns the
   * token only when it does; 0 (a hand-started agent's default): a refused token ends the agent at once.
   */
  tokenWaitMs: number;
}

export const defaultMaxBackoffMs = 10_000;

function pick(...values: (string | undefined)[]): string | undefined {
  return values.find((v) => v !== undefined && v.trim() !== "")?.trim();
}

export function resolveAgentConfig(flags: AgentFlags, env: NodeJS.ProcessEnv): AgentConfig {
  const url = pick(flags.url, env.PREWARM_AGENT_URL, env.CODER_AGENT_URL);
  if (!url) {
    throw new AgentConfigError("no server URL: pass --url or set PREWARM_AGENT_URL (or CODER_AGENT_URL)");
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new AgentConfigError(`server URL "${url}" is not a URL`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new AgentConfigError(`server URL "${url}" must be http:// or https://`);
  }
  const token = pick(flags.token, env.PREWARM_AGENT_TOKEN, env.CODER_AGENT_TOKEN);
  if (!token) {
    throw new AgentConfigError(
      "no agent token: pass --token or set PREWARM_AGENT_TOKEN (or CODER_AGENT_TOKEN, as Coder templates do)",
    );
  }
  if (env.CODER_AGENT_AUTH && env.CODER_AGENT_AUTH !== "token") {
    throw new AgentConfigError(
      `agent auth "${env.CODER_AGENT_AUTH}" is not supported: prewarm agents authenticate with a token`,
    );
  }
  return {
    url: `${parsed.origin}${parsed.pathname.replace(/\/+$/, "")}`,
    token,
    logDir: pick(flags.logDir, env.PREWARM_AGENT_LOG_DIR) ?? join(tmpdir(), "prewarm-agent-logs"),
    heartbeatIntervalMs: flags.heartbeatIntervalMs,
    maxBackoffMs: flags.maxBackoffMs ?? defaultMaxBackoffMs,
    tokenWaitMs: flags.tokenWaitMs ?? envDuration(env, "PREWARM_AGENT_TOKEN_WAIT") ?? 0,
  };
}

function envDuration(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const value = pick(env[name]);
  if (value === undefined) return undefined;
  try {
    return parseDuration(value);
  } catch (err) {
    throw new AgentConfigError(`${name}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * A third of the connection timeout, so two heartbeats may be lost before the server shows the agent
 * disconnected; 5 s when the template sets no timeout (0). Never below 1 s.
 */
export function heartbeatIntervalMs(connectionTimeoutSeconds: number, override?: number): number {
  if (override !== undefined) return override;
  if (connectionTimeoutSeconds <= 0) return 5_000;
  return Math.max(1_000, Math.floor((connectionTimeoutSeconds * 1_000) / 3));
}

/** Exponential backoff: 250 ms, 500 ms, 1 s, … capped at `maxMs`. `attempt` counts from 0. */
export function backoffMs(attempt: number, maxMs: number): number {
  return Math.min(maxMs, 250 * 2 ** Math.min(attempt, 20));
}
