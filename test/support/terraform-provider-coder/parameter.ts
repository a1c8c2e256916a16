// What `data "coder_parameter"` does when it is read: pick the value (CODER_PARAMETER_<sha256 of name>,
// else the default), check it against the type, form type, options and the validation block, and report
// problems with the real provider's summaries. Go's strconv and regexp are approximated (see README).
import { type Diag, errorDiag, type PathStep } from "./schema.js";

export type OptionType = "string" | "number" | "bool" | "list(string)";
export const optionTypes: readonly OptionType[] = ["string", "number", "bool", "list(string)"];

export const formTypes = [
  "radio",
  "slider",
  "input",
  "dropdown",
  "checkbox",
  "switch",
  "multi-select",
  "tag-select",
  "textarea",
  "error",
] as const;

/** Allowed form types per parameter type, with options (true) and without (false); the first is the default. */
const formTypeTable: Record<OptionType, Record<"true" | "false", readonly string[]>> = {
  string: { true: ["radio", "dropdown"], false: ["input", "textarea"] },
  number: { true: ["radio", "dropdown"], false: ["input", "slider"] },
  bool: { true: ["radio", "dropdown"], false: ["checkbox", "switch"] },
  "list(string)": { true: ["radio", "multi-select"], false: ["tag-select"] },
};

export interface ParameterOption {
  name: string;
  description: string;
  value: string;
  icon: string;
}

export interface ParameterValidation {
  min: number;
  minDisabled: boolean;
  max: number;
  maxDisabled: boolean;
  monotonic: string;
  regex: string;
  error: string;
}

export interface Parameter {
  name: string;
  type: string;
  formType: string;
  mutable: boolean;
  default: string | undefined;
  options: ParameterOption[];
  validation: ParameterValidation[];
  optional: boolean;
  ephemeral: boolean;
}

const goList = (values: readonly string[]) => `[${values.join(" ")}]`;

/** The option type the options are checked against, and the form type (the default one when ""). */
export function validateFormType(
  type: string,
  optionCount: number,
  formType: string,
): { optionType: string; formType: string; error?: string } {
  const withOptions = optionCount > 0;
  const allowed = (formTypeTable as Record<string, Record<string, readonly string[]>>)[type]?.[
    String(withOptions)
  ];
  if (!allowed || allowed.length === 0) {
    return {
      optionType: type,
      formType,
      error: `"type" attribute=${JSON.stringify(type)} is not supported, choose one of ${goList(optionTypes)}`,
    };
  }
  const chosen = formType === "" ? allowed[0]! : formType;
  if (!allowed.includes(chosen)) {
    const opposite = formTypeTable[type as OptionType][String(!withOptions) as "true" | "false"];
    const optionMsg = opposite.includes(chosen)
      ? withOptions
        ? " when options exist"
        : " when options do not exist"
      : "";
    return {
      optionType: type,
      formType: chosen,
      error: `"form_type" attribute=${JSON.stringify(chosen)} is not supported for "type"=${JSON.stringify(type)}${optionMsg}, choose one of ${goList(allowed)}`,
    };
  }
  if (type === "list(string)" && chosen === "multi-select") return { optionType: "string", formType: chosen };
  return { optionType: type, formType: chosen };
}

/** Go's strconv.ParseFloat on decimal input (hex floats and underscores are not accepted here). */
function isGoFloat(value: string): boolean {
  return /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(value) || /^[+-]?(inf|infinity|nan)$/i.test(value);
}

function isGoBool(value: string): boolean {
  return ["1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"].includes(value);
}

function parseListString(value: string): string[] | undefined {
  try {
    const parsed: unknown = JSON.parse(value);
    if (parsed === null) return [];
    if (Array.isArray(parsed) && parsed.every((e) => typeof e === "string")) return parsed;
  } catch {
    // not JSON
  }
  return undefined;
}

/** Go's valueIsType: an error message, or undefined when `value` is of `type`. */
function valueTypeError(type: string, value: string): string | undefined {
  switch (type) {
    case "number":
      return isGoFloat(value) ? undefined : `${JSON.stringify(value)} is not a number`;
    case "bool":
      return isGoBool(value) ? undefined : `${JSON.stringify(value)} is not a bool`;
    case "list(string)":
      return parseListString(value)
        ? undefined
        : `value ${JSON.stringify(value)} is not a valid list of strings`;
    case "string":
      return undefined;
    default:
      return `invalid type ${JSON.stringify(type)}`;
  }
}

/** RE2's leading inline flags ("(?i)…") as JS flags; other RE2-only syntax is not translated. */
function compileRegex(source: string): RegExp {
  const m = /^\(\?([imsU]+)\)/.exec(source);
  if (!m) return new RegExp(source);
  const flags = [...new Set(m[1]!.replace("U", "").split(""))].join("");
  return new RegExp(source.slice(m[0].length), flags);
}

function renderedError(v: ParameterValidation, value: string): string | undefined {
  if (v.error === "") return undefined;
  return v.error
    .replaceAll("{min}", String(v.min))
    .replaceAll("{max}", String(v.max))
    .replaceAll("{value}", value);
}

/** The validation block's check of a value; an error message or undefined. */
export function validationError(
  v: ParameterValidation,
  type: string,
  value: string,
  previous: string | undefined,
): string | undefined {
  if (type !== "number") {
    if (!v.minDisabled) return `a min cannot be specified for a ${type} type`;
    if (!v.maxDisabled) return `a max cannot be specified for a ${type} type`;
    if (v.monotonic !== "")
      return `monotonic validation can only be specified for number types, not ${type} types`;
  }
  if (type !== "string" && v.regex !== "") return `a regex cannot be specified for a ${type} type`;
  switch (type) {
    case "bool":
      return value === "true" || value === "false"
        ? undefined
        : 'boolean value can be either "true" or "false"';
    case "string": {
      if (v.regex === "") return undefined;
      let regex: RegExp;
      try {
        regex = compileRegex(v.regex);
      } catch (err) {
        return `compile regex ${JSON.stringify(v.regex)}: ${(err as Error).message}`;
      }
      if (v.error === "") return "an error must be specified with a regex validation";
      if (!regex.test(value)) {
        return `${v.error} (value ${JSON.stringify(value)} does not match ${JSON.stringify(v.regex)})`;
      }
      return undefined;
    }
    case "number": {
      if (!/^[+-]?\d+$/.test(value))
        return renderedError(v, value) ?? `value ${JSON.stringify(value)} is not a number`;
      const num = Number(value);
      if (!v.minDisabled && num < v.min) {
        return renderedError(v, value) ?? `value ${num} is less than the minimum ${v.min}`;
      }
      if (!v.maxDisabled && num > v.max) {
        return renderedError(v, value) ?? `value ${num} is more than the maximum ${v.max}`;
      }
      if (v.monotonic !== "" && v.monotonic !== "increasing" && v.monotonic !== "decreasing") {
        return 'number monotonicity can be either "increasing" or "decreasing"';
      }
      if (v.monotonic !== "" && previous !== undefined && /^[+-]?\d+$/.test(previous)) {
        const prev = Number(previous);
        if (v.monotonic === "increasing" && !(num >= prev)) {
          return `parameter value '${num}' must be equal or greater than previous value: ${prev}`;
        }
        if (v.monotonic === "decreasing" && !(num <= prev)) {
          return `parameter value '${num}' must be equal or lower than previous value: ${prev}`;
        }
      }
      return undefined;
    }
    case "list(string)":
      return parseListString(value)
        ? undefined
        : `value ${JSON.stringify(value)} is not valid list of strings`;
  }
  return undefined;
}

/**
 * The parameter's value from `input` (the environment) or its default, checked; the real provider's
 * ValidateInput. Returns the value and the (possibly defaulted) form type, or diagnostics.
 */
export function validateInput(
  p: Parameter,
  input: string | undefined,
  previous: string | undefined,
): { value: string; formType: string; diags: Diag[] } {
  let value = input;
  let path: PathStep[] = [];
  if (input === undefined) {
    value = p.default;
    if (p.default !== undefined) path = ["default"];
  }
  const ft = validateFormType(p.type, p.options.length, p.formType);
  if (ft.error) {
    return {
      value: "",
      formType: ft.formType,
      diags: [errorDiag("Invalid form_type for parameter", ft.error, ["form_type"])],
    };
  }
  const optionValues = new Set<string>();
  const optionNames = new Set<string>();
  const optionDiags: Diag[] = [];
  for (const option of p.options) {
    if (optionNames.has(option.name)) {
      return {
        value: "",
        formType: ft.formType,
        diags: [
          errorDiag(
            "Option names must be unique.",
            `multiple options found with the same name ${JSON.stringify(option.name)}`,
          ),
        ],
      };
    }
    if (optionValues.has(option.value)) {
      return {
        value: "",
        formType: ft.formType,
        diags: [
          errorDiag(
            "Option values must be unique.",
            `multiple options found with the same value ${JSON.stringify(option.value)}`,
          ),
        ],
      };
    }
    const typeError = valueTypeError(ft.optionType, option.value);
    if (typeError) {
      optionDiags.push(
        errorDiag(
          `Option ${JSON.stringify(option.name)} with value=${JSON.stringify(option.value)} is not of type ${JSON.stringify(ft.optionType)}`,
          typeError,
        ),
      );
      continue;
    }
    optionValues.add(option.value);
    optionNames.add(option.name);
  }
  if (optionDiags.length > 0) return { value: "", formType: ft.formType, diags: optionDiags };

  // As the real provider: without a validation block an unset value is simply "".
  if (p.validation.length === 0 && value === undefined)
    return { value: "", formType: ft.formType, diags: [] };
  const forced = value ?? "";
  const what = path.length > 0 ? "Default value" : "Value";

  if (optionValues.size > 0) {
    if (p.type === "list(string)" && ft.optionType === "string") {
      const items = parseListString(forced);
      if (!items) {
        return {
          value: "",
          formType: ft.formType,
          diags: [
            errorDiag(
              "When using list(string) type, value must be a json encoded list of strings",
              `value ${JSON.stringify(forced)} is not a valid list of strings`,
              path,
            ),
          ],
        };
      }
      const missing = items.filter((i) => !optionValues.has(i));
      if (missing.length > 0) {
        return {
          value: "",
          formType: ft.formType,
          diags: [
            errorDiag(
              `${what}s must be a valid option`,
              `${what} ${JSON.stringify(forced)} is not a valid option, values ${JSON.stringify(missing.join(", "))} are missing from the options`,
              path,
            ),
          ],
        };
      }
    } else if (!optionValues.has(forced)) {
      const extra =
        forced === ""
          ? ". The value is empty, did you forget to set it with a default or from user input?"
          : "";
      return {
        value: "",
        formType: ft.formType,
        diags: [
          errorDiag(
            `${what} must be a valid option${extra}`,
            `the value ${JSON.stringify(forced)} must be defined as one of options`,
            path,
          ),
        ],
      };
    }
  }
  if (p.validation.length === 1) {
    const problem = validationError(p.validation[0]!, p.type, forced, previous);
    if (problem) {
      return {
        value: "",
        formType: ft.formType,
        diags: [
          errorDiag(`Invalid parameter ${what.toLowerCase()} according to 'validation' block`, problem, path),
        ],
      };
    }
  }
  const typeError = valueTypeError(p.type, forced);
  if (typeError) {
    return {
      value: "",
      formType: ft.formType,
      diags: [errorDiag(`Parameter value is not of type ${JSON.stringify(p.type)}`, typeError)],
    };
  }
  return { value: forced, formType: ft.formType, diags: [] };
}
