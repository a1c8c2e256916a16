// The options every API command takes (--url, --token, -o/--output, --no-headers), and the same options on
// the program so they may come before the subcommand as well as after it. Kept apart from client.ts so that
// registering commands loads nothing but commander: the client (and the contract behind it) loads when a
// command runs.
import type { Command } from "commander";
import { CliError } from "./errors.js";

/** The options every command that talks to the server takes. */
export interface ApiOptions {
  url?: string;
  token?: string;
  output?: string;
  headers?: boolean;
}

const urlHelp = "server URL (default: $PREWARM_URL, the saved login, or http://127.0.0.1:7080)";
const tokenHelp = "API token (default: $PREWARM_TOKEN or the saved login)";
const outputHelp = "output format: table, json or yaml (default: table)";
const headersHelp = "tables without their header line";

/** Adds --url, --token, -o/--output and --no-headers to a command. */
export function withApiOptions(cmd: Command, { output = true } = {}): Command {
  cmd.option("--url <url>", urlHelp).option("--token <token>", tokenHelp);
  // No commander default for -o: an unset option lets the program's -o (before the subcommand) apply.
  // `output: false`: the command defines its own -o (another default), but takes --no-headers all the same.
  if (output) cmd.option("-o, --output <format>", outputHelp);
  return cmd.option("--no-headers", headersHelp);
}

/** The global forms, accepted before the subcommand (`prewarm -o json list`). */
export function addGlobalOptions(program: Command): Command {
  return program
    .option("--url <url>", urlHelp)
    .option("--token <token>", tokenHelp)
    .option("-o, --output <format>", outputHelp)
    .option("--no-headers", headersHelp);
}

const globalKeys = [
  ["url", "--url"],
  ["token", "--token"],
  ["output", "--output"],
  ["headers", "--no-headers"],
] as const;

/**
 * Copies the global options given before the subcommand onto the command about to run, unless it was given
 * its own on the command line (the nearer one wins). A global option the command does not take is a usage
 * error rather than silently ignored. Returns whether table headers are on.
 */
export function applyGlobalOptions(program: Command, action: Command): { headers: boolean } {
  for (const [key, flag] of globalKeys) {
    if (program.getOptionValueSource(key) !== "cli") continue;
    const takes = action.options.some((o) => o.attributeName() === key);
    if (!takes) {
      throw new CliError(`${flag} does not apply to \`${commandPath(action)}\``, 2);
    }
    if (action.getOptionValueSource(key) !== "cli")
      action.setOptionValueWithSource(key, program.opts()[key], "cli");
  }
  return { headers: action.getOptionValue("headers") !== false };
}

/** "prewarm templates push": the command's name with its parents'. */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}
