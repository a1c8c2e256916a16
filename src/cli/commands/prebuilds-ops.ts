// Reconciler operations under `prewarm prebuilds`: status, pause, resume, invalidate TEMPLATE,
// resume-preset TEMPLATE PRESET. Registered on the `prebuilds` group another module creates.
import type { Command } from "commander";
import { type PrebuildsStatusT, routes } from "../../contract/api.js";
import { formatDuration } from "../../util/duration.js";
import { type ApiOptions, commandContext, withApiOptions } from "../client.js";
import {
  type Colors,
  colorStatus,
  colorsFor,
  formatAgo,
  formatTtl,
  printJson,
  renderFields,
  renderTable,
} from "../output.js";

type PresetRow = PrebuildsStatusT["presets"][number];

export function renderPrebuildsStatus(status: PrebuildsStatusT, now: Date, colors: Colors): string {
  let out = renderFields(
    [
      ["Reconciler", status.paused ? colors.yellow("paused") : colors.green("running")],
      ["Interval", formatDuration(status.reconcileIntervalSeconds * 1000)],
      [
        "Last cycle",
        status.lastReconcileAt
          ? `${formatAgo(status.lastReconcileAt, now)}` +
            (status.lastReconcileDurationMs === null
              ? ""
              : ` (took ${formatDuration(Math.round(status.lastReconcileDurationMs))})`)
          : "never",
      ],
      ["Prebuild jobs", `${status.inFlightJobs} in flight (cap ${status.maxInFlightJobs})`],
    ],
    colors,
  );
  if (status.presets.length === 0) return `${out}\nNo presets declare prebuilds.\n`;
  out += `\n${renderTable(
    [
      { header: "template", value: (p: PresetRow) => p.template },
      { header: "version", value: (p) => p.templateVersion + (p.active ? "" : " (inactive)") },
      { header: "preset", value: (p) => p.preset },
      { header: "status", value: (p) => colorStatus(p.status, colors) },
      { header: "desired", value: (p) => String(p.prebuilds.desired) },
      { header: "running", value: (p) => String(p.prebuilds.running) },
      { header: "eligible", value: (p) => String(p.prebuilds.eligible) },
      { header: "expired", value: (p) => String(p.prebuilds.expired) },
      { header: "starting", value: (p) => String(p.prebuilds.starting) },
      { header: "ttl", value: (p) => formatTtl(p.ttlSeconds) },
      { header: "backoff until", value: (p) => (p.backoffUntil ? formatAgo(p.backoffUntil, now) : "-") },
    ],
    status.presets,
    colors,
  )}`;
  return out;
}

async function status(options: ApiOptions) {
  const { client, format } = await commandContext(options);
  const s = await client.call(routes.prebuildsStatus);
  if (format === "json") return printJson(s);
  process.stdout.write(renderPrebuildsStatus(s, new Date(), colorsFor()));
}

async function setPaused(paused: boolean, options: ApiOptions) {
  const { client, format } = await commandContext(options);
  const settings = paused
    ? await client.call(routes.pausePrebuilds)
    : await client.call(routes.resumePrebuilds);
  if (format === "json") return printJson(settings);
  process.stdout.write(
    settings.paused
      ? "Prebuild reconciliation paused: pools are no longer filled or cleaned up (claims still work).\n"
      : "Prebuild reconciliation resumed.\n",
  );
}

async function invalidate(template: string, options: ApiOptions) {
  const { client, format } = await commandContext(options);
  const reply = await client.call(routes.invalidatePrebuilds, { params: { name: template } });
  if (format === "json") return printJson(reply);
  if (reply.invalidated.length === 0) {
    process.stdout.write(`Template ${template} has no presets with prebuilds; nothing invalidated.\n`);
    return;
  }
  const names = reply.invalidated.map((p) => `${p.preset} (${p.templateVersion})`).join(", ");
  process.stdout.write(
    `Invalidated the prebuilds of ${reply.invalidated.length} preset(s) of ${template}: ${names}. They will be replaced.\n`,
  );
}

async function resumePreset(template: string, preset: string, options: ApiOptions) {
  const { client, format } = await commandContext(options);
  const p = await client.call(routes.resumePreset, { params: { name: template, preset } });
  if (format === "json") return printJson(p);
  process.stdout.write(
    `Preset ${p.name} of ${template} ${p.templateVersion} resumed (status ${p.status}).\n`,
  );
}

/** Adds status, pause, resume, invalidate and resume-preset to the `prebuilds` command group. */
export function registerPrebuildsOpsCommands(prebuildsCommand: Command): void {
  withApiOptions(
    prebuildsCommand.command("status").description("Reconciler state and every preset's pool"),
  ).action((o: ApiOptions) => status(o));
  withApiOptions(
    prebuildsCommand.command("pause").description("Pause the reconciler (persisted; claims keep working)"),
  ).action((o: ApiOptions) => setPaused(true, o));
  withApiOptions(prebuildsCommand.command("resume").description("Resume the reconciler")).action(
    (o: ApiOptions) => setPaused(false, o),
  );
  withApiOptions(
    prebuildsCommand
      .command("invalidate <template>")
      .description("Replace every current prebuild of the template's active version"),
  ).action((template: string, o: ApiOptions) => invalidate(template, o));
  withApiOptions(
    prebuildsCommand
      .command("resume-preset <template> <preset>")
      .description("Let a hard-limited or validation-failed preset create prebuilds again"),
  ).action((template: string, preset: string, o: ApiOptions) => resumePreset(template, preset, o));
}
