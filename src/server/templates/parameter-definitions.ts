// A template import's RichParameter (provisioner protocol) → the ParameterDefinition the parameter resolver
// checks values against. Pure.
import type { RichParameter } from "../../gen/provisioner/provisioner_pb.js";
import type { ParameterDefinition } from "../workspaces/parameters.js";

/**
 * Converts one parameter. Empty optional strings are left out, and min/max only appear when the template set
 * them: proto3 `optional` distinguishes "unset" from 0, and a 0 minimum is a real bound.
 */
export function parameterDefinitionFromProto(p: RichParameter): ParameterDefinition {
  const def: ParameterDefinition = {
    name: p.name,
    type: p.type,
    mutable: p.mutable,
    defaultValue: p.defaultValue,
    required: p.required,
    ephemeral: p.ephemeral,
    options: p.options.map((o) => ({ name: o.name, value: o.value })),
  };
  if (p.displayName !== "") def.displayName = p.displayName;
  if (p.validationRegex !== "") def.validationRegex = p.validationRegex;
  if (p.validationError !== "") def.validationError = p.validationError;
  if (p.validationMin !== undefined) def.validationMin = p.validationMin;
  if (p.validationMax !== undefined) def.validationMax = p.validationMax;
  if (p.validationMonotonic !== "") def.validationMonotonic = p.validationMonotonic;
  return def;
}
