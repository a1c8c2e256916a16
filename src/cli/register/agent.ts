// `prewarm agent`'s options; the agent itself (src/agent) loads when the command runs.
import type { Command } from "commander";
import type { AgentOptions } from "../commands/agent.js";

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
    .option(
      "--token-wait <duration>",
      "retry a token the server refuses at startup this long, for agents started while their build still runs (default: $PREWARM_AGENT_TOKEN_WAIT, else 0; init_script sets 10m)",
    )
    .action(async (options: AgentOptions) => (await import("../commands/agent.js")).runAgentCommand(options));
}
