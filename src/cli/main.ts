// The `prewarm` command. Each command group registers its arguments and options from a light module (under
// ./register, plus server.ts and provisioner.ts, which load their heavy parts lazily), and each command's
// implementation loads with import() when it runs — so `prewarm --version` or `prewarm list` never load the
// server, the provisioners, connect or the generated protobufs. Keep this file a list; the global options,
// exit codes and help live here.
import { Command, CommanderError } from "commander";
import { version } from "../version.js";
import { registerProvisionerCommands } from "./commands/provisioner.js";
import { registerServerCommands } from "./commands/server.js";
import { CliError } from "./errors.js";
import { addGlobalOptions, applyGlobalOptions, withApiOptions } from "./options.js";
import { tableSettings } from "./output.js";
import { registerAgentCommand } from "./register/agent.js";
import { registerAuditCommands } from "./register/audit.js";
import { registerAuthCommands } from "./register/auth.js";
import { registerPrebuildsCommands } from "./register/prebuilds.js";
import { registerTemplateCommands } from "./register/templates.js";
import { registerTerraformCommands } from "./register/terraform.js";
import { registerWorkspaceCommands } from "./register/workspaces.js";

/** Exit code of every usage error: commander's own (unknown option, missing argument) and the commands'. */
const EXIT_USAGE = 2;

export function buildProgram(): Command {
  const program = new Command("prewarm")
    .description("Keep pools of prebuilt workspaces warm")
    .version(version, "-V, --version", "print the client's version")
    // Program options only before the subcommand; after it, the subcommand's own (same names) apply. Without
    // this, the program would take `--url` from `prewarm agent --url …`, whose --url means something else.
    .enablePositionalOptions()
    // Inherited by every command created below, so a usage error anywhere reaches main() instead of exiting.
    .exitOverride()
    .showHelpAfterError("(run with --help for usage)");
  addGlobalOptions(program);
  program.hook("preAction", (_program, action) => {
    tableSettings.headers = applyGlobalOptions(program, action).headers;
  });
  registerWorkspaceCommands(program);
  registerTemplateCommands(program);
  registerAuthCommands(program);
  registerPrebuildsCommands(program);
  registerAuditCommands(program);
  registerAgentCommand(program);
  registerProvisionerCommands(program);
  registerServerCommands(program);
  registerTerraformCommands(program);
  withApiOptions(
    program
      .command("version")
      .description("Print the client's and the server's version (GET /api/v1/buildinfo)"),
  ).action(async (options) => (await import("./commands/version.js")).printVersions(options));
  program
    .command("completion <shell>")
    .description("Print a completion script for bash, zsh or fish (e.g. `source <(prewarm completion bash)`)")
    .action(async (shell: string) => (await import("./completion.js")).printCompletion(program, shell));
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
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and --version end with 0; every other commander error (unknown option or command, missing
      // argument, no subcommand given) is a usage error. Commander has already printed its message.
      process.exitCode = err.exitCode === 0 ? 0 : EXIT_USAGE;
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
