// How this test provider describes and handles its schema: the vocabulary of the real provider's SDK
// (terraform-plugin-sdk v2 `helper/schema`: Required/Optional/Computed, ForceNew, Default, ValidateFunc,
// ConflictsWith, MinItems/MaxItems, nested resources as blocks) and the parts of that SDK's behaviour a
// template can observe, re-implemented from its documented rules:
// - the wire schema (CoreConfigSchema): a nested resource is a block, unless it is computed-only, then it
//   is an attribute of type list/set(object); every resource and data source has an optional+computed `id`;
// - planning: defaults fill unset optional attributes; on create (and replace) every computed value that
//   the configuration does not set is unknown; a change of a ForceNew field means replace;
// - validation of known configuration values (ValidateFunc, ConflictsWith, Deprecated).
// Pure functions over values; no protobuf here (provider.ts converts to the wire).
import { type CtyType, clone, containsUnknown } from "./cty.js";
import { isObject, isUnknown, UNKNOWN, type Value, type ValueObject } from "./msgpack.js";

export type Scalar = "string" | "int" | "float" | "bool";
export type AttributeType =
  | Scalar
  | { readonly list: Scalar }
  | { readonly set: Scalar }
  | { readonly map: Scalar };

interface FieldBase {
  description?: string;
  required?: boolean;
  optional?: boolean;
  computed?: boolean;
  forceNew?: boolean;
  /** Deprecation message: using the field warns. */
  deprecated?: string;
  /** SDK-style keys ("url", "validation.0.min") that must not be set together with this field. */
  conflictsWith?: readonly string[];
}

export interface ValidationResult {
  errors?: string[];
  warnings?: string[];
}

/** A ValidateFunc: the value (known, not null) and its SDK key ("metadata.0.key"). */
export type Validator = (value: Value, key: string) => ValidationResult;

export interface AttributeField extends FieldBase {
  type: AttributeType;
  sensitive?: boolean;
  default?: string | number | boolean;
  validate?: Validator;
}

export interface NestedField extends FieldBase {
  nesting: "list" | "set";
  elem: Fields;
  minItems?: number;
  maxItems?: number;
}

export type Field = AttributeField | NestedField;
export type Fields = { readonly [name: string]: Field };

export function isNested(field: Field): field is NestedField {
  return "nesting" in field;
}

/** A nested resource that never appears in configuration: an attribute on the wire. */
function computedOnly(field: Field): boolean {
  return field.computed === true && field.optional !== true && field.required !== true;
}

// ---- diagnostics -------------------------------------------------------------------------------------

export type PathStep = string | number;

export interface Diag {
  severity: "error" | "warning";
  summary: string;
  detail?: string;
  path?: PathStep[];
}

export function errorDiag(summary: string, detail?: string, path?: PathStep[]): Diag {
  return { severity: "error", summary, ...(detail ? { detail } : {}), ...(path ? { path } : {}) };
}

export function warningDiag(summary: string, detail?: string, path?: PathStep[]): Diag {
  return { severity: "warning", summary, ...(detail ? { detail } : {}), ...(path ? { path } : {}) };
}

export function hasErrors(diags: readonly Diag[]): boolean {
  return diags.some((d) => d.severity === "error");
}

// ---- wire schema -------------------------------------------------------------------------------------

export interface WireAttribute {
  name: string;
  type: CtyType;
  description: string;
  required: boolean;
  optional: boolean;
  computed: boolean;
  sensitive: boolean;
  deprecated: boolean;
}

export interface WireBlock {
  attributes: WireAttribute[];
  blocks: { name: string; nesting: "list" | "set"; minItems: number; maxItems: number; block: WireBlock }[];
  description: string;
}

function scalarType(s: Scalar): CtyType {
  return s === "string" ? "string" : s === "bool" ? "bool" : "number";
}

export function attributeType(t: AttributeType): CtyType {
  if (typeof t === "string") return scalarType(t);
  if ("list" in t) return ["list", scalarType(t.list)];
  if ("set" in t) return ["set", scalarType(t.set)];
  return ["map", scalarType(t.map)];
}

export function fieldType(field: Field): CtyType {
  if (!isNested(field)) return attributeType(field.type);
  return [field.nesting, impliedType(field.elem)];
}

/** The object type of a block with these fields. */
export function impliedType(fields: Fields): CtyType {
  const attrs: Record<string, CtyType> = {};
  for (const [name, field] of Object.entries(fields)) attrs[name] = fieldType(field);
  return ["object", attrs];
}

/** SDK resources and data sources all have an `id`; add the implicit optional+computed one. */
export function withId(fields: Fields): Fields {
  if (fields.id) return fields;
  return { ...fields, id: { type: "string", optional: true, computed: true } };
}

/** The schema terraform sees for these fields (the SDK's CoreConfigSchema rules). */
export function wireBlock(fields: Fields, description = ""): WireBlock {
  const block: WireBlock = { attributes: [], blocks: [], description };
  for (const name of Object.keys(fields).sort()) {
    const field = fields[name]!;
    if (!isNested(field) || computedOnly(field)) {
      block.attributes.push({
        name,
        type: fieldType(field),
        description: field.description ?? "",
        required: field.required === true,
        optional: field.optional === true,
        computed: field.computed === true,
        sensitive: !isNested(field) && field.sensitive === true,
        deprecated: field.deprecated !== undefined,
      });
      continue;
    }
    let minItems = field.minItems ?? 0;
    if (field.required && minItems === 0) minItems = 1;
    if (field.optional && minItems > 0) minItems = 0; // the SDK ignores MinItems of optional blocks
    block.blocks.push({
      name,
      nesting: field.nesting,
      minItems,
      maxItems: field.maxItems ?? 0,
      block: wireBlock(field.elem, field.description ?? ""),
    });
  }
  return block;
}

// ---- value helpers -----------------------------------------------------------------------------------

function elements(v: Value | undefined): Value[] {
  return Array.isArray(v) ? v : [];
}

function objectAt(list: Value | undefined, i: number): ValueObject {
  const e = elements(list)[i];
  return isObject(e) ? e : {};
}

/** Null or an empty collection: "not set" for the SDK. */
export function isEmpty(v: Value | undefined): boolean {
  return v === null || v === undefined || (Array.isArray(v) && v.length === 0);
}

/** The SDK's idea of equal: null equals the zero value of its type (its flatmap state cannot tell). */
function sdkEquivalent(a: Value | undefined, b: Value | undefined, type: CtyType): boolean {
  const norm = (v: Value | undefined): Value => {
    if (v !== null && v !== undefined) return v;
    if (typeof type === "string") return type === "string" ? "" : type === "number" ? 0 : false;
    return type[0] === "map" || type[0] === "object" ? {} : [];
  };
  return JSON.stringify(sorted(norm(a))) === JSON.stringify(sorted(norm(b)));
}

/** Objects with sorted keys, so equal maps stringify equally. */
function sorted(v: Value): Value {
  if (Array.isArray(v)) return v.map(sorted);
  if (isObject(v)) {
    const out: ValueObject = {};
    for (const k of Object.keys(v).sort()) out[k] = sorted(v[k] as Value);
    return out;
  }
  return isUnknown(v) ? "\u0000unknown" : v;
}

// ---- planning ----------------------------------------------------------------------------------------

/** A copy of `obj` with Default values filled in where the value is null (also inside blocks). */
export function applyDefaults(fields: Fields, obj: ValueObject): ValueObject {
  const out = clone(obj);
  for (const [name, field] of Object.entries(fields)) {
    const v = out[name] ?? null;
    if (!isNested(field)) {
      if (v === null && field.default !== undefined) out[name] = field.default;
      continue;
    }
    if (Array.isArray(v)) out[name] = v.map((e) => (isObject(e) ? applyDefaults(field.elem, e) : e));
  }
  return out;
}

/**
 * Computed values the configuration does not set become unknown (the SDK on create, or when it plans a
 * replacement): computed attributes that are null in `config`, computed-only nested attributes, and
 * optional+computed blocks the configuration leaves out.
 */
export function unknownComputed(fields: Fields, planned: ValueObject, config: ValueObject): ValueObject {
  const out = clone(planned);
  for (const [name, field] of Object.entries(fields)) {
    const c = config[name] ?? null;
    if (!isNested(field)) {
      if (field.computed && c === null) out[name] = UNKNOWN;
      continue;
    }
    if (computedOnly(field) || (field.computed && isEmpty(c))) {
      out[name] = UNKNOWN;
      continue;
    }
    const v = out[name];
    if (Array.isArray(v)) {
      // Set elements cannot be matched to configuration by position; the element is its own config then.
      out[name] = v.map((e, i) =>
        isObject(e) ? unknownComputed(field.elem, e, field.nesting === "list" ? objectAt(c, i) : e) : e,
      );
    }
  }
  return out;
}

/**
 * The paths at which `planned` differs from `prior`, as the SDK's diff sees it: computed values that the
 * configuration does not set are not compared (the prior value stands), null equals the zero value.
 */
export function changedPaths(
  fields: Fields,
  prior: ValueObject,
  planned: ValueObject,
  config: ValueObject,
): PathStep[][] {
  const changes: PathStep[][] = [];
  for (const [name, field] of Object.entries(fields)) {
    const c = config[name] ?? null;
    if (computedOnly(field)) continue;
    if (field.computed && isEmpty(c)) continue;
    const before = prior[name] ?? null;
    const after = planned[name] ?? null;
    if (!isNested(field) || field.nesting === "set") {
      if (!sdkEquivalent(before, after, fieldType(field))) changes.push([name]);
      continue;
    }
    const b = elements(before);
    const a = elements(after);
    if (b.length !== a.length) {
      changes.push([name]);
      continue;
    }
    a.forEach((_, i) => {
      for (const p of changedPaths(field.elem, objectAt(before, i), objectAt(after, i), objectAt(c, i))) {
        changes.push([name, i, ...p]);
      }
    });
  }
  return changes;
}

/** Whether a change at `path` forces a new resource (the field, or the nested attribute, is ForceNew). */
export function forcesNew(fields: Fields, path: readonly PathStep[]): boolean {
  const [name, index, ...rest] = path;
  const field = typeof name === "string" ? fields[name] : undefined;
  if (!field) return false;
  if (isNested(field) && typeof index === "number" && rest.length > 0) {
    return field.forceNew === true || forcesNew(field.elem, rest);
  }
  return field.forceNew === true;
}

// ---- validation --------------------------------------------------------------------------------------

/** The configuration value at an SDK key such as "validation.0.min" (undefined when absent). */
function valueAtKey(root: ValueObject, key: string): Value | undefined {
  let v: Value | undefined = root;
  for (const part of key.split(".")) {
    if (Array.isArray(v)) v = v[Number(part)];
    else if (isObject(v)) v = v[part];
    else return undefined;
  }
  return v;
}

/**
 * The SDK's validation of known configuration values: ValidateFunc, ConflictsWith and Deprecated, in
 * nested blocks too. (Required attributes and block counts are checked by terraform itself.)
 */
export function validateConfig(
  fields: Fields,
  config: ValueObject,
  root: ValueObject = config,
  path: PathStep[] = [],
): Diag[] {
  const diags: Diag[] = [];
  for (const [name, field] of Object.entries(fields)) {
    const v = config[name] ?? null;
    if (v === null || isUnknown(v) || (isNested(field) && isEmpty(v))) continue;
    const here = [...path, name];
    const key = here.join(".");
    if (field.deprecated) diags.push(warningDiag("Argument is deprecated", field.deprecated, here));
    for (const other of field.conflictsWith ?? []) {
      const o = valueAtKey(root, other);
      if (o !== undefined && o !== null && !isUnknown(o) && !isEmpty(o)) {
        diags.push(errorDiag(`"${key}": conflicts with ${other}`, undefined, here));
      }
    }
    if (!isNested(field)) {
      if (field.validate && !containsUnknown(v)) {
        const r = field.validate(v, key);
        for (const e of r.errors ?? []) diags.push(errorDiag(e, undefined, here));
        for (const w of r.warnings ?? []) diags.push(warningDiag(w, undefined, here));
      }
      continue;
    }
    elements(v).forEach((e, i) => {
      if (isObject(e)) diags.push(...validateConfig(field.elem, e, root, [...here, i]));
    });
  }
  return diags;
}

// ---- ValidateFuncs with the SDK's messages -------------------------------------------------------------

/** Go's %q of a string slice: ["a" "b"]. */
function goQuotedList(values: readonly string[]): string {
  return `[${values.map((v) => JSON.stringify(v)).join(" ")}]`;
}

export const validators = {
  stringInSlice:
    (allowed: readonly string[]): Validator =>
    (v, key) =>
      typeof v === "string" && allowed.includes(v)
        ? {}
        : { errors: [`expected ${key} to be one of ${goQuotedList(allowed)}, got ${String(v)}`] },
  intAtLeast:
    (min: number): Validator =>
    (v, key) =>
      typeof v === "number" && Number.isInteger(v) && v >= min
        ? {}
        : { errors: [`expected ${key} to be at least (${min}), got ${String(v)}`] },
  intBetween:
    (min: number, max: number): Validator =>
    (v, key) =>
      typeof v === "number" && Number.isInteger(v) && v >= min && v <= max
        ? {}
        : { errors: [`expected ${key} to be in the range (${min} - ${max}), got ${String(v)}`] },
  stringIsNotEmpty: ((v, key) =>
    v === ""
      ? { errors: [`expected ${JSON.stringify(key)} to not be an empty string, got ${v}`] }
      : {}) as Validator,
  stringLenBetween:
    (min: number, max: number): Validator =>
    (v, key) => {
      const length = typeof v === "string" ? [...v].length : -1;
      return length >= min && length <= max
        ? {}
        : { errors: [`expected length of ${key} to be in the range (${min} - ${max}), got ${String(v)}`] };
    },
  stringMatch:
    (regex: RegExp, message: string): Validator =>
    (v, key) =>
      typeof v === "string" && regex.test(v) ? {} : { errors: [`invalid value for ${key} (${message})`] },
  isUUID: ((v, key) =>
    typeof v === "string" && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v)
      ? {}
      : { errors: [`expected ${JSON.stringify(key)} to be a valid UUID, got ${String(v)}`] }) as Validator,
  all:
    (...list: Validator[]): Validator =>
    (v, key) => {
      const errors: string[] = [];
      const warnings: string[] = [];
      for (const validate of list) {
        const r = validate(v, key);
        errors.push(...(r.errors ?? []));
        warnings.push(...(r.warnings ?? []));
      }
      return { errors, warnings };
    },
};

// ---- typed access to state values (what the SDK's ResourceData.Get returns) ----------------------------

export function getString(obj: ValueObject, name: string): string {
  const v = obj[name];
  return typeof v === "string" ? v : typeof v === "number" || typeof v === "boolean" ? String(v) : "";
}

export function getBool(obj: ValueObject, name: string): boolean {
  return obj[name] === true;
}

export function getNumber(obj: ValueObject, name: string): number {
  const v = obj[name];
  return typeof v === "number" ? v : 0;
}

export function getObjects(obj: ValueObject, name: string): ValueObject[] {
  return elements(obj[name]).filter(isObject);
}

export function isSet(obj: ValueObject, name: string): boolean {
  const v = obj[name];
  return v !== null && v !== undefined && !isUnknown(v) && !isEmpty(v);
}
