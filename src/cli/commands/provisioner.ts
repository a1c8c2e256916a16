import type { Command } from "commander";

/** `prewarm provisioner …`: standalone provisioners and external daemons. */
export function registerProvisionerCommands(program: Command): void {
  program.command("provisioner").description("Run provisioners and provisioner daemons");
}
