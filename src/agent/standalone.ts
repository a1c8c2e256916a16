// Entry point of the agent bundle (`node prewarm-agent.js [--url U] [--token T] …`): the same agent as
// `prewarm agent`, without the rest of the CLI, for workspace hosts that only have Node.js. Bundled by
// bundle.ts into one CommonJS file, so it must not use top-level await or import.meta.
import { parseArgs } from "node:util";
import { parseDuration } from "../util/duration.js";
import { AgentConfigError, type AgentFlags, resolveAgentConfig } from "./config.js";
import { AgentFatalError, runAgent } from "./main.js";

const usage = `usage: node prewarm-agent.js [--url URL] [--token TOKEN] [--log-dir DIR]
                          [--heartbeat-interval DURATION] [--max-backoff DURATION]
URL and TOKEN default to PREWARM_AGENT_URL/PREWARM_AGENT_TOKEN, then CODER_AGENT_URL/CODER_AGENT_TOKEN.`;

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: "string" },
      token: { type: "string" },
      "log-dir": { type: "string" },
      "heartbeat-interval": { type: "string" },
      "max-backoff": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    // `agent` is accepted (and ignored) so `node bundle.js agent` reads like `prewarm agent`.
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const flags: AgentFlags = {
    ...(values.url === undefined ? {} : { url: values.url }),
    ...(values.token === undefined ? {} : { token: values.token }),
    ...(values["log-dir"] === undefined ? {} : { logDir: values["log-dir"] }),
    ...(values["heartbeat-interval"] === undefined
      ? {}
      : { heartbeatIntervalMs: parseDuration(values["heartbeat-interval"]) }),
    ...(values["max-backoff"] === undefined ? {} : { maxBackoffMs: parseDuration(values["max-backoff"]) }),
  };
  await runAgent(resolveAgentConfig(flags, process.env));
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const known = err instanceof AgentFatalError || err instanceof AgentConfigError;
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`prewarm agent: ${message}\n`);
    if (!known && process.env.PREWARM_DEBUG === "1" && err instanceof Error)
      process.stderr.write(`${err.stack}\n`);
    process.exitCode = known ? 1 : 2;
  },
);
