// The `prewarm` command. Each command group lives in its own module under ./commands and registers itself
// on the program; keep this file a list.
import { Command, CommanderError } from "commander";
import { version } from "../version.js";
import { registerAgentCommand } from "./commands/agent.js";
import { registerApiCommands } from "./commands/api.js";
import { registerPrebuildsCommands } from "./commands/prebuilds.js";
import { registerProvisionerCommands } from "./commands/provisioner.js";
import { registerServerCommands } from "./commands/server.js";
import { registerTerraformCommands } from "./commands/terraform.js";
import { CliError } from "./errors.js";

export function buildProgram(): Command {
  const program = new Command("prewarm")
    .description("Keep pools of prebuilt workspaces warm")
    .version(version, "-V, --version")
    .showHelpAfterError("(run with --help for usage)");
  registerAgentCommand(program);
  registerApiCommands(program);
  registerPrebuildsCommands(program);
  registerProvisionerCommands(program);
  registerServerCommands(program);
  registerTerraformCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  // `prewarm list | head`: the reader went away; stop quietly instead of crashing with EPIPE.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
      throw err;
    });
  }
  const program = buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode;
      return;
    }
    // One line, never a stack trace: the message says what went wrong.
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`prewarm: ${message}\n`);
    if (process.env.PREWARM_DEBUG === "1" && err instanceof Error && err.stack) {
      process.stderr.write(`${err.stack}\n`);
    }
    process.exitCode = err instanceof CliError ? err.exitCode : 1;
  }
}

await main(process.argv);
