// `prewarm templates …` and `prewarm presets …`: arguments and options; the implementations load from
// ../commands/templates.ts and ../commands/presets-demand.ts when a command runs.
import type { Command } from "commander";
import type { AutoscaleOptions, SetOptions } from "../commands/presets-demand.js";
import { collect } from "../commands/shared.js";
import type { PushOptions } from "../commands/templates.js";
import { type ApiOptions, withApiOptions } from "../options.js";

const loadTemplates = () => import("../commands/templates.js");
const presetsDemand = () => import("../commands/presets-demand.js");

export function registerTemplateCommands(program: Command): void {
  const templates = program
    .command("templates")
    .alias("template")
    .description("Manage templates and their versions");
  withApiOptions(
    templates
      .command("push <name>")
      .description("Upload a template directory as a new version, wait for its import, show its presets")
      .option("-d, --directory <dir>", "template directory", ".")
      .option(
        "--provisioner <type>",
        "echo or terraform (default: terraform when the directory has *.tf files)",
      )
      .option("--activate", "make it the active version once imported")
      .option("--var <name=value>", "template variable value (repeatable)", collect, [])
      .option(
        "--provisioner-tag <key=value>",
        "a provisioner tag of this version: its import and builds run only on daemons with it (repeatable)",
        collect,
        [],
      )
      .option("-m, --message <text>", "a note on this version")
      .option(
        "--wait-rehearsal [timeout]",
        "wait for each pool's claim rehearsal and print what a claim would replace (default timeout 10m)",
      ),
  ).action(async (name: string, options: PushOptions) => (await loadTemplates()).push(name, options));
  withApiOptions(templates.command("list").alias("ls").description("List templates")).action(async (o) =>
    (await loadTemplates()).list(o),
  );
  withApiOptions(
    templates.command("show <name>").description("Show a template: versions, parameters, variables, presets"),
  ).action(async (name: string, o: ApiOptions) => (await loadTemplates()).show(name, o));
  withApiOptions(
    templates.command("activate <name> <version>").description("Make a version (v3 or 3) the active one"),
  ).action(async (name: string, version: string, o: ApiOptions) =>
    (await loadTemplates()).activate(name, version, o),
  );
  withApiOptions(
    templates
      .command("deprecate <name>")
      .description("Deprecate a template (its presets stop prebuilding)")
      .option("-m, --message <text>", "why, and what to use instead")
      .option("--undo", "remove the deprecation"),
  ).action(async (name: string, o) => (await loadTemplates()).deprecate(name, o));
  withApiOptions(
    templates
      .command("edit <name>")
      .description("Set a template's default and maximum workspace lease")
      .option("--default-lease <duration>", "lease of a workspace whose create names none (e.g. 8h, or off)")
      .option(
        "--max-lease <duration>",
        "the longest lease a create or an extend may give (e.g. 24h, or off)",
      ),
  ).action(async (name: string, o) => (await loadTemplates()).edit(name, o));
  withApiOptions(templates.command("delete <name>").description("Delete a template")).action(
    async (name: string, o: ApiOptions) => (await loadTemplates()).remove(name, o),
  );

  const presets = program.command("presets").alias("preset").description("Presets and their prebuild pools");
  withApiOptions(
    presets
      .command("list <template>")
      .alias("ls")
      .description(
        "Presets of a template with desired / running / eligible / expired / starting prebuilds and TTL",
      )
      .option("--template-version <version>", "a version other than the active one"),
  ).action(async (template: string, o) => (await loadTemplates()).listPresets(template, o));
  registerPresetDemandCommands(presets);
}

/** Adds `autoscale` and `set` to the `presets` command group. */
function registerPresetDemandCommands(presets: Command): void {
  withApiOptions(
    presets
      .command("autoscale <template> <preset>")
      .description("Size the preset's pool from its claim history (per template and preset name)")
      .option("--min <n>", "never fewer prebuilds than this")
      .option("--max <n>", "never more prebuilds than this")
      .option("--target-hit-rate <rate>", "share of claims a prebuild should serve, e.g. 0.95 or 95%")
      .option("--timezone <iana>", "the calendar's timezone (default: the preset's schedule's, else UTC)")
      .option("--off", "turn autoscaling off: instances and schedules decide again"),
  ).action(async (template: string, preset: string, o: AutoscaleOptions) =>
    (await presetsDemand()).autoscale(template, preset, o),
  );
  withApiOptions(
    presets
      .command("set <template> <preset>")
      .description("Set the preset's replace-ahead and rollout strategy (per template and preset name)")
      .option("--replace-ahead <auto|0|duration>", "replace prebuilds this long before their TTL ends")
      .option(
        "--rollout <surge|replace>",
        "surge: keep the old version's pool until the new one's is eligible",
      ),
  ).action(async (template: string, preset: string, o: SetOptions) =>
    (await presetsDemand()).set(template, preset, o),
  );
}
