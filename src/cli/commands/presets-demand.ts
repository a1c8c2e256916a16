// `prewarm presets autoscale` and `prewarm presets set` (issue 13): a preset's prewarm-side settings, per
// template and preset name — the autoscale policy (on with --min/--max/--target-hit-rate, off with --off),
// replace-ahead (auto | 0 | a duration) and the rollout strategy (surge | replace). Owners only (the server
// says 403 otherwise). Each prints the preset as `presets list` would, or its data with `-o json|yaml`.
// Registered by ../register/templates.ts.
import { type PresetT, routes } from "../../contract/api.js";
import { type ApiOptions, commandContext } from "../client.js";
import { CliError } from "../errors.js";
import { type OutputFormat, printData } from "../output.js";
import { parseReplaceAheadFlag } from "./shared.js";

export interface AutoscaleOptions extends ApiOptions {
  min?: string;
  max?: string;
  targetHitRate?: string;
  timezone?: string;
  off?: boolean;
}

export interface SetOptions extends ApiOptions {
  replaceAhead?: string;
  rollout?: string;
}

function wholeNumber(flag: string, text: string | undefined): number {
  const n = Number(text);
  if (text === undefined || text.trim() === "" || !Number.isSafeInteger(n) || n < 0)
    throw new CliError(`${flag} must be a whole number ≥ 0, got "${text ?? ""}"`, 2);
  return n;
}

function hitRate(text: string | undefined): number {
  if (text === undefined) throw new CliError("--target-hit-rate is required (e.g. 0.95)", 2);
  // "95%" and "95" read as percentages, "0.95" as a fraction.
  const percent = text.trim().endsWith("%");
  const n = Number(percent ? text.trim().slice(0, -1) : text);
  const rate = percent || n > 1 ? n / 100 : n;
  if (!Number.isFinite(rate) || rate <= 0 || rate >= 1)
    throw new CliError(`--target-hit-rate must be between 0 and 1 (or a percentage), got "${text}"`, 2);
  return rate;
}

/** "1–6 for 95%", or "-" when not autoscaled; for messages and tables. */
export function describeAutoscale(p: PresetT): string {
  if (!p.autoscale) return "-";
  const pct = Number((p.autoscale.targetHitRate * 100).toFixed(1));
  return `${p.autoscale.min}–${p.autoscale.max} for ${pct}%`;
}

function printPreset(p: PresetT, format: OutputFormat, headline: string): void {
  if (format !== "table") {
    printData(format, p);
    return;
  }
  const lines = [headline];
  if (p.desiredReason) lines.push(`  desired ${p.prebuilds.desired}: ${p.desiredReason}`);
  process.stdout.write(`${lines.join("\n")}\n`);
}

export async function autoscale(template: string, preset: string, options: AutoscaleOptions): Promise<void> {
  const setting =
    options.min !== undefined || options.max !== undefined || options.targetHitRate !== undefined;
  if (options.off && setting) throw new CliError("--off takes no --min, --max or --target-hit-rate", 2);
  if (!options.off && !setting)
    throw new CliError("pass --min N --max M --target-hit-rate R to turn autoscaling on, or --off", 2);
  const body = options.off
    ? undefined
    : {
        min: wholeNumber("--min", options.min),
        max: wholeNumber("--max", options.max),
        targetHitRate: hitRate(options.targetHitRate),
        ...(options.timezone ? { timezone: options.timezone } : {}),
      };
  if (body && body.min > body.max)
    throw new CliError(`--max (${body.max}) must be at least --min (${body.min})`, 2);
  const { client, format } = await commandContext(options);
  const params = { name: template, preset };
  const p = body
    ? await client.call(routes.setPresetAutoscale, { params, body })
    : await client.call(routes.deletePresetAutoscale, { params });
  printPreset(
    p,
    format,
    p.autoscale
      ? `Preset ${p.name} of ${template}: autoscaled ${describeAutoscale(p)}, calendar in ${p.autoscale.timezone ?? "UTC"}.`
      : `Preset ${p.name} of ${template}: autoscaling off; instances and schedules decide.`,
  );
}

export async function set(template: string, preset: string, options: SetOptions): Promise<void> {
  if (options.replaceAhead === undefined && options.rollout === undefined)
    throw new CliError("pass --replace-ahead auto|0|DURATION and/or --rollout surge|replace", 2);
  if (options.rollout !== undefined && options.rollout !== "surge" && options.rollout !== "replace")
    throw new CliError(`--rollout must be surge or replace, got "${options.rollout}"`, 2);
  const body = {
    ...(options.replaceAhead === undefined
      ? {}
      : { replaceAhead: parseReplaceAheadFlag("--replace-ahead", options.replaceAhead) }),
    ...(options.rollout === undefined ? {} : { rollout: options.rollout as "surge" | "replace" }),
  };
  const { client, format } = await commandContext(options);
  const p = await client.call(routes.updatePresetSettings, { params: { name: template, preset }, body });
  const lead = p.replaceAhead?.seconds ?? 0;
  const setting = p.replaceAhead?.setting;
  const ahead =
    setting === "auto"
      ? `auto (now ${lead > 0 ? `${Math.round(lead)}s` : "off: no build measured yet"})`
      : setting === null || setting === undefined
        ? "the server's default"
        : setting === 0
          ? "off"
          : `${setting}s`;
  printPreset(
    p,
    format,
    `Preset ${p.name} of ${template}: replace-ahead ${ahead}, rollout ${p.rollout ?? "surge"}.`,
  );
}
