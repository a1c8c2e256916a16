// `prewarm templates …` (push, list, show, activate, deprecate, delete) and `prewarm presets list`; `presets
// autoscale` and `presets set` come from ./presets-demand.ts.
// Registered by ../register/templates.ts.
import { readdir } from "node:fs/promises";
import { resolve } from "node:path";
import type { Static } from "@sinclair/typebox";
import {
  type PresetDefinition,
  type PresetT,
  routes,
  type TemplateT,
  type TemplateVersionSummaryT,
} from "../../contract/api.js";
import { formatDuration } from "../../util/duration.js";
import { type ApiClient, type ApiOptions, commandContext } from "../client.js";
import { CliError } from "../errors.js";
import {
  type Colors,
  colorStatus,
  colorsFor,
  formatAgo,
  formatTtl,
  type Progress,
  printData,
  renderFields,
  renderTable,
} from "../output.js";
import { buildTemplateArchive } from "../template-archive.js";
import { describeAutoscale } from "./presets-demand.js";
import { parseDurationFlag, parseKeyValues, progressFor, versionName, waitForJob } from "./shared.js";

type Provisioner = "echo" | "terraform";

/** Without --provisioner: terraform when the directory holds *.tf files, echo otherwise. */
async function detectProvisioner(dir: string): Promise<Provisioner> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.some((n) => n.endsWith(".tf")) ? "terraform" : "echo";
}

function parseProvisioner(text: string | undefined): Provisioner | undefined {
  if (text === undefined) return undefined;
  if (text === "echo" || text === "terraform") return text;
  throw new CliError(`invalid --provisioner "${text}" (use echo or terraform)`, 2);
}

const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

export function renderPresetDefinitions(
  presets: readonly Static<typeof PresetDefinition>[],
  colors: Colors,
): string {
  return renderTable(
    [
      { header: "preset", value: (p) => p.name + (p.default ? " (default)" : "") },
      {
        header: "parameters",
        value: (p) =>
          Object.entries(p.parameters)
            .map(([k, v]) => `${k}=${v}`)
            .join(" ") || "-",
      },
      { header: "prebuilds", value: (p) => (p.desiredInstances === null ? "-" : String(p.desiredInstances)) },
      { header: "ttl", value: (p) => (p.desiredInstances === null ? "-" : formatTtl(p.ttlSeconds)) },
      {
        header: "schedules",
        value: (p) =>
          p.scheduling
            ? `${p.scheduling.schedules.map((s) => `${s.cron}→${s.instances}`).join(", ")} (${p.scheduling.timezone})`
            : "-",
      },
    ],
    presets,
    colors,
  );
}

export function renderPresets(presets: readonly PresetT[], colors: Colors): string {
  // The autoscale column appears only when some preset is autoscaled.
  const autoscaled = presets.some((p) => p.autoscale);
  return renderTable(
    [
      { header: "preset", value: (p) => p.name + (p.default ? " (default)" : "") },
      { header: "version", value: (p) => p.templateVersion + (p.active ? "" : " (inactive)") },
      { header: "desired", value: (p) => String(p.prebuilds.desired) },
      { header: "running", value: (p) => String(p.prebuilds.running) },
      { header: "eligible", value: (p) => String(p.prebuilds.eligible) },
      { header: "expired", value: (p) => String(p.prebuilds.expired) },
      { header: "starting", value: (p) => String(p.prebuilds.starting) },
      { header: "ttl", value: (p) => (p.desiredInstances === null ? "-" : formatTtl(p.ttlSeconds)) },
      ...(autoscaled ? [{ header: "autoscale", value: (p: PresetT) => describeAutoscale(p) }] : []),
      { header: "status", value: (p) => colorStatus(p.status, colors) },
      { header: "rehearsal", value: (p) => describeRehearsal(p, colors) },
    ],
    presets,
    colors,
  );
}

/** The claim rehearsal in a few words: "-" (not run), "pending", "clean", "replaces 2", "failed". */
export function describeRehearsal(p: PresetT, colors: Colors): string {
  const r = p.claimRehearsal;
  if (!r) return "-";
  if (r.status === "replacements") return colors.yellow(`replaces ${r.replacements.length}`);
  if (r.status === "failed") return colors.red("failed");
  return r.status === "clean" ? colors.green("clean") : r.status;
}

/** Polls the version's presets until every pool's claim rehearsal finished (or `timeoutMs` passed). */
async function waitForRehearsals(
  client: ApiClient,
  name: string,
  version: string,
  timeoutMs: number,
  progress: Progress,
): Promise<PresetT[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const presets = await client.call(routes.listPresets, { params: { name }, query: { version } });
    const pools = presets.filter((p) => (p.desiredInstances ?? 0) > 0);
    const waiting = pools.filter((p) => !p.claimRehearsal || p.claimRehearsal.status === "pending");
    if (waiting.length === 0) return pools;
    if (Date.now() >= deadline) {
      throw new CliError(
        `claim rehearsal of ${waiting.map((p) => `"${p.name}"`).join(", ")} did not finish within ${formatDuration(timeoutMs)} (it runs once the pool has an eligible prebuild)`,
      );
    }
    progress.update(
      `Waiting for the claim rehearsal of ${waiting.map((p) => p.name).join(", ")} (once its pool has an eligible prebuild)`,
    );
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

function renderRehearsals(presets: readonly PresetT[], colors: Colors): string {
  let out = "";
  for (const p of presets) {
    const r = p.claimRehearsal;
    if (!r) continue;
    if (r.status === "clean")
      out += `Claim rehearsal of "${p.name}": ${colors.green("clean")} — a claim hands the prebuild over as it is.\n`;
    else if (r.status === "failed")
      out += `Claim rehearsal of "${p.name}": ${colors.red("failed")}: ${r.error ?? "unknown error"}\n`;
    else {
      out += `Claim rehearsal of "${p.name}": ${colors.yellow("a claim would replace")}:\n`;
      for (const x of r.replacements) out += `  ${x.resource} (changed: ${x.paths.join(", ") || "?"})\n`;
      out +=
        '  A claimed workspace is then rebuilt, not handed over: add those attributes to\n  lifecycle { ignore_changes = [...] } (docs/terraform-templates.md, "Preventing replacement on claim").\n';
    }
  }
  return out;
}

export interface PushOptions extends ApiOptions {
  directory: string;
  provisioner?: string;
  activate?: boolean;
  var: string[];
  provisionerTag: string[];
  message?: string;
  /** Absent: don't wait; true: the default timeout; a string: a duration. */
  waitRehearsal?: boolean | string;
}

export async function push(name: string, options: PushOptions): Promise<void> {
  const variables = Object.entries(parseKeyValues("--var", options.var)).map(([n, value]) => ({
    name: n,
    value,
  }));
  const tags = parseKeyValues("--provisioner-tag", options.provisionerTag ?? []);
  const dir = resolve(options.directory);
  const provisioner = parseProvisioner(options.provisioner) ?? (await detectProvisioner(dir));
  const archive = await buildTemplateArchive(dir);
  const { client, format } = await commandContext(options);
  const progress = progressFor(format);
  const errColors = colorsFor(process.stderr);
  progress.update(
    `Uploading ${archive.files.length} files (${kib(archive.bytes.length)}) from ${options.directory}`,
  );
  const file = await client.call(routes.uploadFile, {
    raw: { bytes: archive.bytes, contentType: "application/x-tar" },
  });
  const version = await client.call(routes.createTemplateVersion, {
    params: { name },
    body: {
      fileHash: file.hash,
      provisioner,
      ...(options.activate ? { activate: true } : {}),
      ...(options.message ? { message: options.message } : {}),
      ...(variables.length > 0 ? { variables } : {}),
      ...(Object.keys(tags).length > 0 ? { tags } : {}),
    },
  });
  progress.stop(`Uploaded ${archive.files.length} files; importing ${name} ${version.name} (${provisioner})`);
  const job = await waitForJob(client, version.job.id, {
    label: `Importing ${name} ${version.name}`,
    progress,
    showLogs: true,
    colors: errColors,
  });
  if (job.status !== "succeeded") {
    throw new CliError(
      `import of ${name} ${version.name} ${job.status === "canceled" ? "was canceled" : "failed"}: ${job.error ?? job.status}`,
    );
  }
  const imported = await client.call(routes.getTemplateVersion, { params: { name, version: version.name } });
  const pools = imported.presets.filter((p) => (p.desiredInstances ?? 0) > 0);
  let rehearsed: PresetT[] | undefined;
  if (options.waitRehearsal !== undefined && imported.active && pools.length > 0) {
    const timeoutMs =
      typeof options.waitRehearsal === "string"
        ? parseDurationFlag("--wait-rehearsal", options.waitRehearsal)
        : DEFAULT_REHEARSAL_WAIT_MS;
    rehearsed = await waitForRehearsals(client, name, imported.name, timeoutMs, progress);
    progress.stop();
  }
  if (format !== "table")
    return printData(format, rehearsed ? { ...imported, rehearsals: rehearsed } : imported);
  const colors = colorsFor();
  const state = imported.active
    ? "active"
    : "not active: run `prewarm templates activate " + `${name} ${imported.name}\``;
  process.stdout.write(`Template ${name} ${imported.name} imported (${state}).\n`);
  if (imported.presets.length === 0) process.stdout.write("No presets found.\n");
  else process.stdout.write(`\n${renderPresetDefinitions(imported.presets, colors)}`);
  if (rehearsed) process.stdout.write(`\n${renderRehearsals(rehearsed, colors)}`);
  else if (imported.active && pools.length > 0) {
    process.stdout.write(
      `\nEach pool's claim is rehearsed (planned, not applied) once it has an eligible prebuild: see the REHEARSAL column of \`prewarm presets list ${name}\`, or push with --wait-rehearsal.\n`,
    );
  }
}

const DEFAULT_REHEARSAL_WAIT_MS = 10 * 60_000;

function templateColumns(now: Date) {
  return [
    { header: "name", value: (t: TemplateT) => t.name },
    { header: "active version", value: (t: TemplateT) => t.activeVersion?.name ?? "-" },
    { header: "provisioner", value: (t: TemplateT) => t.activeVersion?.provisioner ?? "-" },
    { header: "workspaces", value: (t: TemplateT) => String(t.workspaceCount) },
    { header: "deprecated", value: (t: TemplateT) => (t.deprecated ? (t.deprecationMessage ?? "yes") : "-") },
    { header: "updated", value: (t: TemplateT) => formatAgo(t.updatedAt, now) },
  ];
}

export async function list(options: ApiOptions) {
  const { client, format } = await commandContext(options);
  const templates = await client.call(routes.listTemplates);
  if (format !== "table") return printData(format, templates);
  if (templates.length === 0) {
    process.stdout.write("No templates. Push one with `prewarm templates push NAME -d DIR`.\n");
    return;
  }
  const colors = colorsFor();
  process.stdout.write(renderTable(templateColumns(new Date()), templates, colors));
}

export async function show(name: string, options: ApiOptions) {
  const { client, format } = await commandContext(options);
  const t = await client.call(routes.getTemplate, { params: { name } });
  if (format !== "table") return printData(format, t);
  const now = new Date();
  const colors = colorsFor();
  let out = renderFields(
    [
      ["Template", t.name],
      ["Active version", t.activeVersion ? `${t.activeVersion.name} (${t.activeVersion.provisioner})` : "-"],
      ["Deprecated", t.deprecated ? (t.deprecationMessage ?? "yes") : "no"],
      ["Workspaces", String(t.workspaceCount)],
      ["Created", formatAgo(t.createdAt, now)],
    ],
    colors,
  );
  out += `\nVersions:\n${renderTable(
    [
      { header: "version", value: (v: TemplateVersionSummaryT) => v.name + (v.active ? " (active)" : "") },
      { header: "import", value: (v) => colorStatus(v.job.status, colors) },
      { header: "created", value: (v) => `${formatAgo(v.createdAt, now)} by ${v.createdBy}` },
      { header: "message", value: (v) => v.message ?? "-" },
    ],
    t.versions,
    colors,
  )}`;
  if (t.parameters.length > 0) {
    out += `\nParameters:\n${renderTable(
      [
        { header: "name", value: (p: (typeof t.parameters)[number]) => p.name },
        { header: "type", value: (p) => p.type },
        { header: "default", value: (p) => p.defaultValue ?? "-" },
        { header: "required", value: (p) => (p.required ? "yes" : "no") },
        { header: "mutable", value: (p) => (p.mutable ? "yes" : "no") },
      ],
      t.parameters,
      colors,
    )}`;
  }
  if (t.variables.length > 0) {
    out += `\nVariables:\n${renderTable(
      [
        { header: "name", value: (v: (typeof t.variables)[number]) => v.name },
        { header: "type", value: (v) => v.type },
        { header: "value", value: (v) => (v.sensitive ? "(sensitive)" : (v.value ?? v.defaultValue ?? "-")) },
      ],
      t.variables,
      colors,
    )}`;
  }
  out += t.presets.length > 0 ? `\nPresets:\n${renderPresets(t.presets, colors)}` : "\nNo presets.\n";
  process.stdout.write(out);
}

export async function activate(name: string, version: string, options: ApiOptions) {
  const { client, format } = await commandContext(options);
  const t = await client.call(routes.activateTemplateVersion, {
    params: { name, version: versionName(version) },
  });
  if (format !== "table") return printData(format, t);
  process.stdout.write(
    `Template ${t.name}: ${t.activeVersion?.name ?? versionName(version)} is now the active version.\n`,
  );
}

export async function deprecate(name: string, options: ApiOptions & { message?: string; undo?: boolean }) {
  if (!options.undo && !options.message)
    throw new CliError("templates deprecate: pass --message TEXT (or --undo)", 2);
  const { client, format } = await commandContext(options);
  const t = await client.call(routes.updateTemplate, {
    params: { name },
    body: { deprecationMessage: options.undo ? null : (options.message ?? null) },
  });
  if (format !== "table") return printData(format, t);
  process.stdout.write(
    t.deprecated
      ? `Template ${t.name} deprecated: ${t.deprecationMessage}\n`
      : `Template ${t.name} is no longer deprecated.\n`,
  );
}

/** A lease flag: a duration in whole seconds, or `off` (null: none). */
function leaseSeconds(flag: string, value: string | undefined): number | null | undefined {
  if (value === undefined) return undefined;
  if (value === "off" || value === "none") return null;
  const seconds = Math.round(parseDurationFlag(flag, value) / 1000);
  if (seconds < 1) throw new CliError(`${flag} must be at least 1s (or off), got "${value}"`, 2);
  return seconds;
}

export async function edit(name: string, options: ApiOptions & { defaultLease?: string; maxLease?: string }) {
  const defaultLeaseSeconds = leaseSeconds("--default-lease", options.defaultLease);
  const maxLeaseSeconds = leaseSeconds("--max-lease", options.maxLease);
  if (defaultLeaseSeconds === undefined && maxLeaseSeconds === undefined)
    throw new CliError("templates edit: pass --default-lease and/or --max-lease", 2);
  const { client, format } = await commandContext(options);
  const t = await client.call(routes.updateTemplate, {
    params: { name },
    body: {
      ...(defaultLeaseSeconds !== undefined ? { defaultLeaseSeconds } : {}),
      ...(maxLeaseSeconds !== undefined ? { maxLeaseSeconds } : {}),
    },
  });
  if (format !== "table") return printData(format, t);
  const show = (s: number | null) => (s === null ? "none" : formatDuration(s * 1000));
  process.stdout.write(
    `Template ${t.name}: default lease ${show(t.defaultLeaseSeconds)}, maximum lease ${show(t.maxLeaseSeconds)}.\n`,
  );
}

export async function remove(name: string, options: ApiOptions) {
  const { client, format } = await commandContext(options);
  await client.call(routes.deleteTemplate, { params: { name } });
  if (format !== "table") return printData(format, { deleted: name });
  process.stdout.write(`Template ${name} deleted.\n`);
}

export async function listPresets(template: string, options: ApiOptions & { templateVersion?: string }) {
  const { client, format } = await commandContext(options);
  const presets = await client.call(routes.listPresets, {
    params: { name: template },
    query: options.templateVersion ? { version: versionName(options.templateVersion) } : {},
  });
  if (format !== "table") return printData(format, presets);
  if (presets.length === 0) {
    process.stdout.write(`Template ${template} has no presets.\n`);
    return;
  }
  process.stdout.write(renderPresets(presets, colorsFor()));
}
