// `prewarm agent`: run the workspace agent on this host (see docs/agent.md and src/agent/main.ts).
import type { Command } from "commander";
import { AgentConfigError, type AgentFlags, resolveAgentConfig } from "../../agent/config.js";
import { AgentFatalError, runAgent } from "../../agent/main.js";
import { parseDuration } from "../../util/duration.js";
import { CliError } from "../errors.js";

interface AgentOptions {
  url?: string;
  token?: string;
  logDir?: string;
  heartbeatInterval?: string;
  maxBackoff?: string;
}

export function registerAgentCommand(program: Command): void {
  program
    .command("agent")
    .description(
      "Run the workspace agent: report readiness, run the template's scripts and metadata, hand over on claim",
    )
    .option("--url <url>", "server URL (default: $PREWARM_AGENT_URL, then $CODER_AGENT_URL)")
    .option("--token <token>", "agent token (default: $PREWARM_AGENT_TOKEN, then $CODER_AGENT_TOKEN)")
    .option(
      "--log-dir <dir>",
      "where script logs go (default: $PREWARM_AGENT_LOG_DIR or $TMPDIR/prewarm-agent-logs)",
    )
    .option(
      "--heartbeat-interval <duration>",
      "override the heartbeat interval (default: connection timeout / 3)",
    )
    .option("--max-backoff <duration>", "longest wait between retries while the server is away", "10s")
    .action(async (options: AgentOptions) => {
      const flags: AgentFlags = {};
      if (options.url !== undefined) flags.url = options.url;
      if (options.token !== undefined) flags.token = options.token;
      if (options.logDir !== undefined) flags.logDir = options.logDir;
      if (options.heartbeatInterval !== undefined) {
        flags.heartbeatIntervalMs = durationFlag("--heartbeat-interval", options.heartbeatInterval);
      }
      if (options.maxBackoff !== undefined)
        flags.maxBackoffMs = durationFlag("--max-backoff", options.maxBackoff);
      try {
        await runAgent(resolveAgentConfig(flags, process.env));
      } catch (err) {
        if (err instanceof AgentConfigError) throw new CliError(`agent: ${err.message}`, 2);
        if (err instanceof AgentFatalError) throw new CliError(`agent: ${err.message}`);
        throw err;
      }
    });
}

function durationFlag(flag: string, value: string): number {
  try {
    return parseDuration(value);
  } catch (err) {
    throw new CliError(`${flag}: ${err instanceof Error ? err.message : String(err)}`, 2);
  }
}
