// `prewarm agent`: run the workspace agent on this host (see docs/agent.md and src/agent/main.ts). Its options
// are registered by ../register/agent.ts; this module loads when the command runs.
import { AgentConfigError, type AgentFlags, resolveAgentConfig } from "../../agent/config.js";
import { AgentFatalError, runAgent } from "../../agent/main.js";
import { parseDuration } from "../../util/duration.js";
import { CliError } from "../errors.js";

export interface AgentOptions {
  url?: string;
  token?: string;
  logDir?: string;
  heartbeatInterval?: string;
  maxBackoff?: string;
  tokenWait?: string;
}

function durationFlag(flag: string, value: string): number {
  try {
    return parseDuration(value);
  } catch (err) {
    throw new CliError(`${flag}: ${err instanceof Error ? err.message : String(err)}`, 2);
  }
}

/** Runs the agent with the command's options until it stops. */
export async function runAgentCommand(options: AgentOptions): Promise<void> {
  const flags: AgentFlags = {};
  if (options.url !== undefined) flags.url = options.url;
  if (options.token !== undefined) flags.token = options.token;
  if (options.logDir !== undefined) flags.logDir = options.logDir;
  if (options.heartbeatInterval !== undefined) {
    flags.heartbeatIntervalMs = durationFlag("--heartbeat-interval", options.heartbeatInterval);
  }
  if (options.maxBackoff !== undefined)
    flags.maxBackoffMs = durationFlag("--max-backoff", options.maxBackoff);
  if (options.tokenWait !== undefined) flags.tokenWaitMs = durationFlag("--token-wait", options.tokenWait);
  try {
    await runAgent(resolveAgentConfig(flags, process.env));
  } catch (err) {
    if (err instanceof AgentConfigError) throw new CliError(`agent: ${err.message}`, 2);
    if (err instanceof AgentFatalError) throw new CliError(`agent: ${err.message}`);
    throw err;
  }
}
