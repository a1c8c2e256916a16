// `prewarm prebuilds …` (plan, status, pause, resume, invalidate, resume-preset, simulate): arguments and
// options; the implementations (and the planner, for plan --snapshot and simulate) load when a command runs.
import type { Command } from "commander";
import type { PlanOptions } from "../commands/prebuilds.js";
import type { SimulateOptions } from "../commands/prebuilds-simulate.js";
import { type ApiOptions, withApiOptions } from "../options.js";

const plan = () => import("../commands/prebuilds.js");
const ops = () => import("../commands/prebuilds-ops.js");
const simulate = () => import("../commands/prebuilds-simulate.js");

/** Registers `prewarm prebuilds` (alias `prebuild`). */
export function registerPrebuildsCommands(program: Command): void {
  const prebuilds = program
    .command("prebuilds")
    .alias("prebuild")
    .description("Inspect and control the prebuild reconciler");
  withApiOptions(
    prebuilds
      .command("plan")
      .description("Show what the reconciler would do next, per preset (nothing is executed)")
      .option(
        "--snapshot <file>",
        'plan offline from a snapshot JSON file ("-" reads stdin) instead of asking the server',
      ),
    { output: false },
  )
    // No commander default: the default differs by mode (table live, the §5 JSON document offline).
    .option(
      "-o, --output <format>",
      "output format: table, json or yaml (default: table; json with --snapshot)",
    )
    .action(async (options: PlanOptions) => (await plan()).runPlan(options));
  registerPrebuildsOpsCommands(prebuilds);
  registerSimulateCommand(prebuilds);
}

/** Adds status, pause, resume, invalidate and resume-preset to the `prebuilds` command group. */
function registerPrebuildsOpsCommands(prebuildsCommand: Command): void {
  withApiOptions(
    prebuildsCommand.command("status").description("Reconciler state and every preset's pool"),
  ).action(async (o: ApiOptions) => (await ops()).status(o));
  withApiOptions(
    prebuildsCommand.command("pause").description("Pause the reconciler (persisted; claims keep working)"),
  ).action(async (o: ApiOptions) => (await ops()).setPaused(true, o));
  withApiOptions(prebuildsCommand.command("resume").description("Resume the reconciler")).action(
    async (o: ApiOptions) => (await ops()).setPaused(false, o),
  );
  withApiOptions(
    prebuildsCommand
      .command("invalidate <template>")
      .description("Replace every current prebuild of the template's active version"),
  ).action(async (template: string, o: ApiOptions) => (await ops()).invalidate(template, o));
  withApiOptions(
    prebuildsCommand
      .command("resume-preset <template> <preset>")
      .description("Let a hard-limited or validation-failed preset create prebuilds again"),
  ).action(async (template: string, preset: string, o: ApiOptions) =>
    (await ops()).resumePreset(template, preset, o),
  );
}

function registerSimulateCommand(prebuilds: Command): void {
  prebuilds
    .command("simulate")
    .description("Replay a claim trace against a pool policy with the reconciler's planner, offline")
    .requiredOption("--input <file>", 'simulation input JSON ("-" reads stdin)')
    .option("--policy <json>", "use this policy instead of the input's (JSON)")
    .option("-o, --output <format>", "output format: json, yaml or table", "json")
    .action(async (options: SimulateOptions) => (await simulate()).run(options));
}
