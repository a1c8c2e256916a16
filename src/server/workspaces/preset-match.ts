// Which presets a create WITHOUT `--preset` is for (ARCHITECTURE §5 rule 9): those whose resolved parameter
// values equal the request's, for every non-ephemeral parameter. "Resolved" means what the build would really
// use — explicit values, then the preset's, then defaults — so a preset that fixes only `region=us` does NOT
// match a request for `size=big` (its prebuilds were built with the default size), and a preset that fixes
// nothing matches exactly the requests whose values are all defaults. (Coder compares only the values a preset
// sets, and lets a preset without parameters match anything: both over-match.) Pure.
import { type ParameterDefinition, ParameterValidationError, resolveParameterValues } from "./parameters.js";

export interface MatchablePreset {
  name: string;
  isDefault: boolean;
  parameters: Readonly<Record<string, string>>;
}

/** The resolved values of a preset's builds by name, or undefined when its values do not validate. */
function presetValues(
  definitions: readonly ParameterDefinition[],
  preset: MatchablePreset,
): Map<string, string> | undefined {
  try {
    const values = resolveParameterValues({ parameters: [...definitions], preset: { ...preset.parameters } });
    return new Map(values.map((v) => [v.name, v.value]));
  } catch (err) {
    if (err instanceof ParameterValidationError) return undefined; // such a preset never builds anything
    throw err;
  }
}

/**
 * The presets whose resolved values equal `requestValues` (the request's resolved values) on every
 * non-ephemeral parameter, in preference order: the version's default preset first, then by name (code-point
 * order). The caller prefers, among these, the first one with an eligible prebuild.
 */
export function matchingPresets<P extends MatchablePreset>(
  definitions: readonly ParameterDefinition[],
  requestValues: Readonly<Record<string, string>>,
  presets: readonly P[],
): P[] {
  const compared = definitions.filter((d) => !d.ephemeral).map((d) => d.name);
  const matches = presets.filter((preset) => {
    const values = presetValues(definitions, preset);
    return values !== undefined && compared.every((name) => values.get(name) === requestValues[name]);
  });
  return matches.sort(
    (a, b) => Number(b.isDefault) - Number(a.isDefault) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
}
