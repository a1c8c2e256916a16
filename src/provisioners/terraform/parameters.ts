// `coder_parameter` data sources → RichParameter messages, in walk order.
import { create } from "@bufbuild/protobuf";
import {
  ParameterFormType,
  type RichParameter,
  RichParameterOptionSchema,
  RichParameterSchema,
} from "../../gen/provisioner/provisioner_pb.js";
import { ConversionError } from "./convert-error.js";
import { blocks, bool, int32, str, type TerraformResource, type Values, valuesOf } from "./tfjson.js";

/** The provider's `form_type` strings. */
const FORM_TYPES: Record<string, ParameterFormType> = {
  "": ParameterFormType.DEFAULT,
  error: ParameterFormType.FORM_ERROR,
  radio: ParameterFormType.RADIO,
  dropdown: ParameterFormType.DROPDOWN,
  input: ParameterFormType.INPUT,
  textarea: ParameterFormType.TEXTAREA,
  slider: ParameterFormType.SLIDER,
  checkbox: ParameterFormType.CHECKBOX,
  switch: ParameterFormType.SWITCH,
  "tag-select": ParameterFormType.TAGSELECT,
  "multi-select": ParameterFormType.MULTISELECT,
};

function formType(resource: TerraformResource, value: string): ParameterFormType {
  const mapped = FORM_TYPES[value];
  if (mapped === undefined) {
    throw new ConversionError(
      `decode form_type for coder_parameter.${resource.name}: unknown form type ${JSON.stringify(value)} (expected one of ${Object.keys(
        FORM_TYPES,
      )
        .filter((k) => k !== "")
        .join(", ")})`,
    );
  }
  return mapped;
}

export function convertParameter(resource: TerraformResource): RichParameter {
  const values = valuesOf(resource);
  const parameter = create(RichParameterSchema, {
    name: str(values, "name"),
    displayName: str(values, "display_name"),
    description: str(values, "description"),
    type: str(values, "type"),
    formType: formType(resource, str(values, "form_type")),
    mutable: bool(values, "mutable"),
    defaultValue: str(values, "default"),
    icon: str(values, "icon"),
    required: !bool(values, "optional"),
    order: int32(values, "order"),
    ephemeral: bool(values, "ephemeral"),
    options: blocks(values, "option").map((o) =>
      create(RichParameterOptionSchema, {
        name: str(o, "name"),
        description: str(o, "description"),
        value: str(o, "value"),
        icon: str(o, "icon"),
      }),
    ),
  });
  const validation = blocks(values, "validation");
  if (validation.length === 1) applyValidation(parameter, validation[0]!);
  return parameter;
}

function applyValidation(parameter: RichParameter, block: Values): void {
  parameter.validationRegex = str(block, "regex");
  parameter.validationError = str(block, "error");
  parameter.validationMonotonic = str(block, "monotonic");
  const min = int32(block, "min");
  const max = int32(block, "max");
  let minDisabled = bool(block, "min_disabled");
  let maxDisabled = bool(block, "max_disabled");
  if (!("min_disabled" in block) && !("max_disabled" in block)) {
    // Providers before 0.8.2 always report min and max (0 when unset): treat both as set iff either is
    // non-zero.
    const set = min !== 0 || max !== 0;
    minDisabled = !set;
    maxDisabled = !set;
  }
  if (!minDisabled) parameter.validationMin = min;
  if (!maxDisabled) parameter.validationMax = max;
}

/** Throws when two parameters share a name, naming every duplicated name in order of appearance. */
export function checkUniqueParameterNames(parameters: readonly RichParameter[]): void {
  const counts = new Map<string, number>();
  for (const p of parameters) counts.set(p.name, (counts.get(p.name) ?? 0) + 1);
  const duplicates = [...counts].filter(([, n]) => n > 1).map(([name]) => JSON.stringify(name));
  if (duplicates.length === 0) return;
  const listed =
    duplicates.length === 1
      ? `${duplicates[0]} appears`
      : `${duplicates.slice(0, -1).join(", ")} and ${duplicates[duplicates.length - 1]} appear`;
  throw new ConversionError(`coder_parameter names must be unique but ${listed} multiple times`);
}
