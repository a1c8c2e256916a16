// Import-time validation of a template version's presets (issue 3 item 4): an invalid preset fails the import
// with a message naming the preset and the problem, before anything is stored. Pure: no I/O, no clock.
//
// Checked per preset: a non-empty name not used by an earlier preset; at most one default across the version;
// prebuild instances and expiration TTL >= 0; the scheduling block (IANA timezone, 5-field crons with minute
// `*`, schedule instances >= 0, no two schedules able to match the same minute — schedule.ts decides all of
// that, the same code the planner uses); preset parameters that exist, are set once, and whose values pass
// their parameter's validation. Required parameters a preset leaves unset are NOT an error here: a workspace
// or prebuild created from the preset supplies or defaults them, and that build's resolution checks them.
//
// Paths in messages use the Terraform provider's attribute names (`expiration_policy.ttl`), which is what a
// template author wrote.
import type { Preset, RichParameter } from "../../gen/provisioner/provisioner_pb.js";
import { validateSchedule } from "../../planning/schedule.js";
import { parameterFromProto } from "../provisioner-results.js";
import {
  type ParameterDefinition,
  ParameterValidationError,
  validateParameterValue,
} from "../workspaces/parameters.js";
import { parameterDefinition } from "./parameter-definitions.js";

/** A preset that cannot be stored; `preset` is its name, `problems` every problem found in it. */
export class PresetValidationError extends Error {
  constructor(
    readonly preset: string,
    readonly problems: string[],
    label = JSON.stringify(preset),
  ) {
    super(`preset ${label}: ${problems.join("; ")}`);
    this.name = "PresetValidationError";
  }
}

/**
 * Throws PresetValidationError for the first preset (in template order) that has a problem, listing all of
 * that preset's problems; returns normally when every preset is valid.
 */
export function validateImportedPresets(presets: Preset[], parameters: RichParameter[]): void {
  const definitions = new Map(parameters.map((p) => [p.name, parameterDefinition(parameterFromProto(p))]));
  const defaults = presets.filter((p) => p.default).map((p) => p.name);
  const seen = new Set<string>();
  let defaultsSoFar = 0;
  presets.forEach((preset, index) => {
    const problems: string[] = [];
    if (preset.name === "") problems.push("name must not be empty");
    else if (seen.has(preset.name)) problems.push("another preset of this template has the same name");
    seen.add(preset.name);
    if (preset.default && ++defaultsSoFar === 2) {
      // Reported once, on the first preset beyond the limit, with every default named.
      problems.push(
        `a maximum of 1 preset can be marked as default, but ${defaults.length} are set (${defaults.map((n) => JSON.stringify(n)).join(", ")})`,
      );
    }
    problems.push(...prebuildProblems(preset), ...parameterProblems(preset, definitions));
    if (problems.length > 0) {
      const label = preset.name === "" ? `#${index + 1} (unnamed)` : undefined;
      throw new PresetValidationError(preset.name, problems, label);
    }
  });
}

function prebuildProblems(preset: Preset): string[] {
  const prebuild = preset.prebuild;
  if (!prebuild) return [];
  const problems: string[] = [];
  if (prebuild.instances < 0) problems.push(`instances must be >= 0 (got ${prebuild.instances})`);
  const ttl = prebuild.expirationPolicy?.ttl;
  if (ttl !== undefined && ttl < 0) problems.push(`expiration_policy.ttl must be >= 0 (got ${ttl})`);
  if (prebuild.scheduling) {
    const issues = validateSchedule({
      timezone: prebuild.scheduling.timezone,
      schedules: prebuild.scheduling.schedule.map((s) => ({ cron: s.cron, instances: s.instances })),
    });
    for (const issue of issues) problems.push(`scheduling.${issue.path}: ${issue.message}`);
  }
  return problems;
}

function parameterProblems(preset: Preset, definitions: ReadonlyMap<string, ParameterDefinition>): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const { name, value } of preset.parameters) {
    if (seen.has(name)) {
      problems.push(`parameter ${JSON.stringify(name)} is set more than once`);
      continue;
    }
    seen.add(name);
    const definition = definitions.get(name);
    if (!definition) {
      problems.push(
        `parameter ${JSON.stringify(name)} is not a parameter of this template${knownNames(definitions)}`,
      );
      continue;
    }
    try {
      validateParameterValue(definition, value);
    } catch (err) {
      if (!(err instanceof ParameterValidationError)) throw err;
      problems.push(err.message);
    }
  }
  return problems;
}

function knownNames(definitions: ReadonlyMap<string, ParameterDefinition>): string {
  if (definitions.size === 0) return " (it has none)";
  return ` (it has ${[...definitions.keys()].map((n) => JSON.stringify(n)).join(", ")})`;
}
