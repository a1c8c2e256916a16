// `prewarm terraform …`'s options; the conversion (and the terraform provisioner's modules behind it) loads
// when a command runs.
import { type Command, Option } from "commander";
import type { ConvertOptions } from "../commands/terraform.js";

/** `prewarm terraform …`: Terraform template tools. */
export function registerTerraformCommands(program: Command): void {
  const terraform = program.command("terraform").description("Tools for Terraform templates");
  terraform
    .command("convert")
    .description(
      "Show what prewarm extracts from a template: convert `terraform show -json` output (of a plan or of the " +
        "state) plus `terraform graph` output into resources, agents, apps, parameters, presets and external auth " +
        "providers, printed as proto3 JSON",
    )
    .addOption(new Option("--plan <file>", "`terraform show -json <planfile>` output").conflicts("state"))
    .addOption(new Option("--state <file>", "`terraform show -json` output after apply").conflicts("plan"))
    .requiredOption("--graph <file>", "`terraform graph` output (DOT)")
    .action(async (options: ConvertOptions) =>
      (await import("../commands/terraform.js")).runConvert(options),
    );
}
