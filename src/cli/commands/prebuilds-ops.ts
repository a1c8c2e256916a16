// Reconciler operations under `prewarm prebuilds`: status, pause, resume, invalidate TEMPLATE,
// resume-preset TEMPLATE PRESET. Registered by ../register/prebuilds.ts; this module loads when one runs.
import { type PrebuildsStatusT, routes } from "../../contract/api.js";
import { formatDuration } from "../../util/duration.js";
import { type ApiOptions, commandContext } from "../client.js";
import {
  type Colors,
  colorStatus,
  colorsFor,
  formatAgo,
  formatTtl,
  printData,
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

export async function status(options: ApiOptions) {
  const { client, format } = await commandContext(options);
  const s = await client.call(routes.prebuildsStatus);
  if (format !== "table") return printData(format, s);
  process.stdout.write(renderPrebuildsStatus(s, new Date(), colorsFor()));
}

export async function setPaused(paused: boolean, options: ApiOptions) {
  const { client, format } = await commandContext(options);
  const settings = paused
    ? await client.call(routes.pausePrebuilds)
    : await client.call(routes.resumePrebuilds);
  if (format !== "table") return printData(format, settings);
  process.stdout.write(
    settings.paused
      ? "Prebuild reconciliation paused: pools are no longer filled or cleaned up (claims still work).\n"
      : "Prebuild reconciliation resumed.\n",
  );
}

export async function invalidate(template: string, options: ApiOptions) {
  const { client, format } = await commandContext(options);
  const reply = await client.call(routes.invalidatePrebuilds, { params: { name: template } });
  if (format !== "table") return printData(format, reply);
  if (reply.invalidated.length === 0) {
    process.stdout.write(`Template ${template} has no presets with prebuilds; nothing invalidated.\n`);
    return;
  }
  const names = reply.invalidated.map((p) => `${p.preset} (${p.templateVersion})`).join(", ");
  process.stdout.write(
    `Invalidated the prebuilds of ${reply.invalidated.length} preset(s) of ${template}: ${names}. They will be replaced.\n`,
  );
}

export async function resumePreset(template: string, preset: string, options: ApiOptions) {
  const { client, format } = await commandContext(options);
  const p = await client.call(routes.resumePreset, { params: { name: template, preset } });
  if (format !== "table") return printData(format, p);
  process.stdout.write(
    `Preset ${p.name} of ${template} ${p.templateVersion} resumed (status ${p.status}).\n`,
  );
}
