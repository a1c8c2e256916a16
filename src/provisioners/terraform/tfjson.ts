// The parts of `terraform show -json` output the conversion reads, and small helpers over them: walking
// modules in Coder's order, resource labels (address without instance keys), module paths and typed
// attribute access. Terraform omits unknown (computed-at-apply) values from `values`, so every accessor
// treats a missing key, `null` and a wrongly-typed value alike: as absent.

export interface TerraformResource {
  address: string;
  mode: "managed" | "data" | string;
  type: string;
  name: string;
  index?: number | string;
  values?: Record<string, unknown> | null;
}

export interface TerraformModule {
  address?: string;
  resources?: TerraformResource[] | null;
  child_modules?: TerraformModule[] | null;
}

export interface TerraformResourceChange {
  address: string;
  type: string;
  mode?: string;
  change?: { actions?: string[]; replace_paths?: unknown[] | null } | null;
}

/** `terraform show -json` of a saved plan or of the state (only what the conversion reads). */
export interface TerraformShowJson {
  format_version?: string;
  terraform_version?: string;
  /** State: the current values. */
  values?: { root_module?: TerraformModule | null } | null;
  /** Plan: what the resources will look like after apply. */
  planned_values?: { root_module?: TerraformModule | null } | null;
  /** Plan: the refreshed state, including data sources read at plan time (parameters, presets). */
  prior_state?: { values?: { root_module?: TerraformModule | null } | null } | null;
  resource_changes?: TerraformResourceChange[] | null;
}

/**
 * The resources of the given root modules in walk order: for each module, its child modules first (depth
 * first), then its own resources. This order is the order of parameters in the result.
 */
export function walkResources(roots: readonly TerraformModule[]): TerraformResource[] {
  const out: TerraformResource[] = [];
  const visit = (module: TerraformModule) => {
    for (const child of module.child_modules ?? []) visit(child);
    for (const resource of module.resources ?? []) {
      // Terraform always writes these; anything else is not a resource entry we can place.
      if (
        typeof resource.address === "string" &&
        typeof resource.type === "string" &&
        typeof resource.name === "string"
      ) {
        out.push(resource);
      }
    }
  };
  for (const root of roots) visit(root);
  return out;
}

/**
 * Splits a resource address into its dot-separated parts, keeping instance keys (`[0]`, `["a.b"]`) with
 * the part they follow. Returns undefined when brackets or quotes do not balance.
 */
function splitAddress(address: string): string[] | undefined {
  const parts: string[] = [];
  let current = "";
  let i = 0;
  while (i < address.length) {
    const ch = address[i]!;
    if (ch === "[") {
      const end = instanceKeyEnd(address, i);
      if (end < 0) return undefined;
      current += address.slice(i, end + 1);
      i = end + 1;
      continue;
    }
    if (ch === ".") {
      parts.push(current);
      current = "";
    } else {
      current += ch;
    }
    i++;
  }
  parts.push(current);
  return parts;
}

/** Index of the `]` closing the instance key that opens at `start`, or -1. Quoted keys may contain `]`. */
function instanceKeyEnd(address: string, start: number): number {
  let i = start + 1;
  if (address[i] === '"') {
    i++;
    while (i < address.length && address[i] !== '"') i += address[i] === "\\" ? 2 : 1;
    if (i >= address.length) return -1;
    i++;
  }
  const close = address.indexOf("]", i);
  return close;
}

/** Removes instance keys from one address part: `dev[0]` → `dev`, `apps["x"]` → `apps`. */
function stripKey(part: string): string {
  const open = part.indexOf("[");
  return open < 0 ? part : part.slice(0, open);
}

/**
 * The graph label of a resource: its address without instance keys, so all `count`/`for_each` instances
 * share one label (`module.m[0].aws_instance.dev[1]` → `module.m.aws_instance.dev`), which is how
 * `terraform graph` names the node.
 */
export function resourceLabel(address: string): string {
  const parts = splitAddress(address);
  if (!parts) return address;
  return parts.map(stripKey).join(".");
}

/** What Coder reports as the module path of an address it cannot parse. */
export const INVALID_ADDRESS = "invalid terraform address";

/**
 * The module part of a resource address ("" for the root module), with module instance keys kept:
 * `module.a.module.b[0].null_resource.x` → `module.a.module.b[0]`.
 */
export function modulePath(address: string): string {
  const parts = splitAddress(address);
  if (!parts || parts.some((p) => p === "")) return INVALID_ADDRESS;
  const modules: string[] = [];
  let i = 0;
  while (i < parts.length && parts[i] === "module") {
    const name = parts[i + 1];
    if (name === undefined) return INVALID_ADDRESS;
    modules.push(`module.${name}`);
    i += 2;
  }
  if (parts[i] === "data") i++;
  // What remains must be exactly TYPE.NAME[key].
  if (parts.length - i !== 2) return INVALID_ADDRESS;
  return modules.join(".");
}

// Typed attribute access. Values come straight from JSON; anything unexpected reads as absent.

export type Values = Record<string, unknown>;

export function str(values: Values, key: string): string {
  const v = values[key];
  return typeof v === "string" ? v : "";
}

export function bool(values: Values, key: string): boolean {
  return values[key] === true;
}

export function num(values: Values, key: string): number {
  const v = values[key];
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}

/** An integer clamped to the int32 range (proto int32 fields). */
export function int32(values: Values, key: string): number {
  return Math.max(-2147483648, Math.min(2147483647, Math.trunc(num(values, key))));
}

/** An integer for proto int64 fields. */
export function int64(values: Values, key: string): bigint {
  return BigInt(Math.trunc(num(values, key)));
}

/** A list of nested blocks (objects); non-object entries are skipped. */
export function blocks(values: Values, key: string): Values[] {
  const v = values[key];
  if (!Array.isArray(v)) return [];
  return v.filter((e): e is Values => typeof e === "object" && e !== null && !Array.isArray(e));
}

/** The first nested block, if any. */
export function firstBlock(values: Values, key: string): Values | undefined {
  return blocks(values, key)[0];
}

/** A map of strings (e.g. `env`); non-string values are rendered as JSON. */
export function stringMap(values: Values, key: string): Record<string, string> {
  const v = values[key];
  if (typeof v !== "object" || v === null || Array.isArray(v)) return {};
  const out: Record<string, string> = {};
  for (const [k, e] of Object.entries(v)) {
    if (e === null || e === undefined) continue;
    out[k] = typeof e === "string" ? e : JSON.stringify(e);
  }
  return out;
}

export function valuesOf(resource: TerraformResource): Values {
  return resource.values ?? {};
}
