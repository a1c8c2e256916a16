// Registers every command that talks to the server's HTTP API (except the `prebuilds` group, which its
// own module creates; its operations come from ./prebuilds-ops.ts).
import type { Command } from "commander";
import { registerAuthCommands } from "./auth.js";
import { registerTemplateCommands } from "./templates.js";
import { registerWorkspaceCommands } from "./workspaces.js";

export function registerApiCommands(program: Command): void {
  registerWorkspaceCommands(program);
  registerTemplateCommands(program);
  registerAuthCommands(program);
}
