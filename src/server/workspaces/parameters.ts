// Resolving a build's parameter values against a template version's parameters (Coder's rules): explicit
// values win, then the preset's, then (for later builds) the previous build's, then the default. Every value
// is checked against its parameter's type, options, regex, min/max and monotonicity; a failure names the
// parameter. Pure: no I/O.

export interface ParameterDefinition {
  name: string;
  displayName?: string;
  type: string;
  mutable: boolean;
  defaultValue: string;
  required: boolean;
  ephemeral?: boolean;
  options: Array<{ name: string; value: string }>;
  validationRegex?: string;
  validationError?: string;
  validationMin?: number | null;
  validationMax?: number | null;
  validationMonotonic?: string;
}

export interface ResolveInput {
  parameters: ParameterDefinition[];
  /** Values the user gave for this build. */
  provided?: Record<string, string>;
  /** The preset's values (fixed: a user value that contradicts one is an error). */
  preset?: Record<string, string>;
  /** The previous build's values (absent for a workspace's first build). */
  previous?: Record<string, string>;
}

/** A value that does not fit its parameter; `parameter` is the name, for a 400 that names it. */
export class ParameterValidationError extends Error {
  constructor(
    readonly parameter: string,
    message: string,
  ) {
    super(`parameter "${parameter}": ${message}`);
    this.name = "ParameterValidationError";
  }
}

export function resolveParameterValues(input: ResolveInput): Array<{ name: string; value: string }> {
  const provided = input.provided ?? {};
  const preset = input.preset ?? {};
  const previous = input.previous;
  const known = new Set(input.parameters.map((p) => p.name));
  for (const name of [...Object.keys(provided), ...Object.keys(preset)]) {
    if (!known.has(name))
      throw new ParameterValidationError(name, "no such parameter in this template version");
  }
  const out: Array<{ name: string; value: string }> = [];
  for (const p of input.parameters) {
    const fromPreset = preset[p.name];
    const fromUser = provided[p.name];
    if (fromPreset !== undefined && fromUser !== undefined && fromPreset !== fromUser) {
      throw new ParameterValidationError(
        p.name,
        `the preset sets it to "${fromPreset}"; it cannot be changed`,
      );
    }
    const explicit = fromUser ?? fromPreset;
    const before = p.ephemeral ? undefined : previous?.[p.name];
    if (explicit !== undefined && before !== undefined && explicit !== before && !p.mutable) {
      throw new ParameterValidationError(
        p.name,
        "it is immutable and cannot be changed after the first build",
      );
    }
    let value = explicit ?? before;
    if (value === undefined) {
      if (p.required) throw new ParameterValidationError(p.name, "a value is required");
      value = p.defaultValue;
    }
    validateParameterValue(p, value);
    if (before !== undefined && p.validationMonotonic) checkMonotonic(p, before, value);
    out.push({ name: p.name, value });
  }
  return out;
}

/** Checks one value against its parameter (type, options, regex, min/max); throws ParameterValidationError. */
export function validateParameterValue(p: ParameterDefinition, value: string): void {
  const fail = (why: string): never => {
    throw new ParameterValidationError(p.name, p.validationError ? `${p.validationError} (${why})` : why);
  };
  switch (p.type) {
    case "number": {
      if (value.trim() === "" || !Number.isFinite(Number(value))) fail(`"${value}" is not a number`);
      const n = Number(value);
      if (p.validationMin != null && n < p.validationMin)
        fail(`${n} is less than the minimum ${p.validationMin}`);
      if (p.validationMax != null && n > p.validationMax)
        fail(`${n} is more than the maximum ${p.validationMax}`);
      break;
    }
    case "bool":
      if (value !== "true" && value !== "false") fail(`"${value}" is not a boolean (true or false)`);
      break;
    case "list(string)": {
      let list: unknown;
      try {
        list = JSON.parse(value);
      } catch {
        fail(`"${value}" is not a JSON list of strings`);
      }
      if (!Array.isArray(list) || list.some((x) => typeof x !== "string"))
        fail("expected a JSON list of strings");
      if (p.options.length > 0) {
        const allowed = new Set(p.options.map((o) => o.value));
        for (const item of list as string[])
          if (!allowed.has(item)) fail(`"${item}" is not one of the options`);
      }
      return;
    }
    case "string":
      if (p.validationRegex) {
        let re: RegExp | undefined;
        try {
          re = new RegExp(p.validationRegex);
        } catch {
          fail(`the template's validation regex is invalid: ${p.validationRegex}`);
        }
        if (!re?.test(value)) fail(`"${value}" does not match ${p.validationRegex}`);
      }
      break;
    default:
      fail(`unsupported parameter type "${p.type}"`);
  }
  if (p.options.length > 0 && !p.options.some((o) => o.value === value)) {
    fail(`"${value}" is not one of the options: ${p.options.map((o) => o.value).join(", ")}`);
  }
}

function checkMonotonic(p: ParameterDefinition, before: string, value: string): void {
  const prev = Number(before);
  const next = Number(value);
  if (p.validationMonotonic === "increasing" && next < prev) {
    throw new ParameterValidationError(
      p.name,
      `must be increasing: ${next} is less than the previous ${prev}`,
    );
  }
  if (p.validationMonotonic === "decreasing" && next > prev) {
    throw new ParameterValidationError(
      p.name,
      `must be decreasing: ${next} is more than the previous ${prev}`,
    );
  }
}
