// The workspace commands' arguments and options (create, extend, list, show, start, stop, delete, cancel,
// logs); each implementation loads from ../commands/workspaces.ts when the command runs.
import type { Command } from "commander";
import { collect } from "../commands/shared.js";
import type { CreateOptions } from "../commands/workspaces.js";
import { type ApiOptions, withApiOptions } from "../options.js";

const workspaces = () => import("../commands/workspaces.js");

export function registerWorkspaceCommands(program: Command): void {
  withApiOptions(
    program
      .command("create <name>")
      .description("Create a workspace, claiming a ready prebuild of the preset when there is one")
      .requiredOption("-t, --template <template>", "template name")
      .option("-p, --preset <preset>", "preset name (its prebuilds can be claimed)")
      .option("--parameter <name=value>", "parameter value (repeatable)", collect, [])
      .option("--template-version <version>", "template version (default: the active one)")
      .option("--lease <duration>", "lifetime once usable (e.g. 2h); default the template's default lease")
      .option("--on-expiry <action>", "what happens when the lease runs out: stop or delete (default delete)")
      .option(
        "--idempotency-key <key>",
        "retrying with the same key returns the same workspace, never a second",
      )
      .option("--no-wait", "return once the build is queued"),
  ).action(async (name: string, options: CreateOptions) => (await workspaces()).create(name, options));

  withApiOptions(
    program
      .command("extend <workspace> <duration>")
      .description("Add time to a workspace's lease (capped at the template's maximum from now)"),
  ).action(async (ref: string, duration: string, options: ApiOptions) =>
    (await workspaces()).extend(ref, duration, options),
  );

  withApiOptions(
    program
      .command("list")
      .alias("ls")
      .description("List workspaces (yours, or everyone's with --all)")
      .option("-a, --all", "every user's workspaces (owners only)")
      .option("--prebuilds", "with --all: include unclaimed prebuilds")
      .option("--template <template>", "only workspaces of this template"),
  ).action(async (options) => (await workspaces()).list(options));

  withApiOptions(
    program
      .command("show <workspace>")
      .description("Show a workspace: latest build, resources, agents (NAME or OWNER/NAME)"),
  ).action(async (ref: string, options: ApiOptions) => (await workspaces()).show(ref, options));

  for (const to of ["start", "stop", "delete"] as const) {
    withApiOptions(
      program
        .command(`${to} <workspace>`)
        .description(`${to[0]!.toUpperCase()}${to.slice(1)} a workspace (NAME or OWNER/NAME)`)
        .option("--no-wait", "return once the build is queued"),
    ).action(async (ref: string, options: ApiOptions & { wait: boolean }) =>
      (await workspaces()).transition(ref, to, options),
    );
  }

  withApiOptions(
    program.command("cancel <workspace>").description("Cancel the workspace's build in progress"),
  ).action(async (ref: string, options: ApiOptions) => (await workspaces()).cancel(ref, options));

  withApiOptions(
    program
      .command("logs <workspace>")
      .description("Show a build's logs (the latest build by default)")
      .option("-f, --follow", "stream the logs until the build ends")
      .option("--build <number>", "build number"),
  ).action(async (ref: string, options) => (await workspaces()).logs(ref, options));
}
