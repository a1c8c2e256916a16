// A stored template parameter → the ParameterDefinition the parameter resolver checks values against: the one
// conversion. An import's RichParameter (provisioner protocol) first becomes a stored parameter
// (provisioner-results.ts `parameterFromProto`), so what import-time validation checks is exactly what builds
// check later. Pure.
import type { TemplateParameter } from "../store/templates.js";
import type { ParameterDefinition } from "../workspaces/parameters.js";

export function parameterDefinition(p: TemplateParameter): ParameterDefinition {
  return {
    name: p.name,
    displayName: p.displayName,
    type: p.type,
    mutable: p.mutable,
    defaultValue: p.defaultValue,
    required: p.required,
    ephemeral: p.ephemeral,
    options: p.options,
    validationRegex: p.validationRegex,
    validationError: p.validationError,
    validationMin: p.validationMin,
    validationMax: p.validationMax,
    validationMonotonic: p.validationMonotonic,
  };
}
