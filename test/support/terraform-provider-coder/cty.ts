// Terraform's type system as far as the coder schema needs it: type constraints (the JSON form a schema
// attribute's `type` carries on the wire) and shaping a decoded value to a type, so every object has all
// its attributes and numbers are numbers.
import { isObject, isUnknown, setKey, UNKNOWN, type Value, type ValueObject } from "./msgpack.js";

export type CtyType =
  | "string"
  | "number"
  | "bool"
  | readonly ["list" | "set" | "map", CtyType]
  | readonly ["object", { readonly [name: string]: CtyType }];

/** The JSON bytes of a type constraint, as Schema.Attribute.type expects. */
export function typeJson(type: CtyType): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(type));
}

export class ConformError extends Error {
  override name = "ConformError";
}

/**
 * `value` shaped to `type`: object attributes that are missing become null and unexpected ones are
 * dropped; a number written as a string (terraform does that for numbers beyond float64) is parsed.
 * Null and unknown pass through at any level. Throws on a value of the wrong kind.
 */
export function conform(value: Value, type: CtyType, path = ""): Value {
  if (value === null || isUnknown(value)) return value;
  const where = () => (path === "" ? "value" : path);
  if (typeof type === "string") {
    switch (type) {
      case "string":
        if (typeof value === "string") return value;
        // terraform converts primitive values to strings before encoding; accept them anyway.
        if (typeof value === "number" || typeof value === "boolean") return String(value);
        break;
      case "number":
        if (typeof value === "number") return value;
        if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) {
          return Number(value);
        }
        break;
      case "bool":
        if (typeof value === "boolean") return value;
        if (value === "true" || value === "false") return value === "true";
        break;
    }
    throw new ConformError(`${where()}: expected ${type}, got ${JSON.stringify(value)}`);
  }
  const [kind, elem] = type;
  switch (kind) {
    case "list":
    case "set":
      if (!Array.isArray(value)) throw new ConformError(`${where()}: expected a ${kind}`);
      return value.map((e, i) => conform(e, elem, `${path}[${i}]`));
    case "map": {
      if (!isObject(value)) throw new ConformError(`${where()}: expected a map`);
      const out: ValueObject = {};
      for (const [k, v] of Object.entries(value)) setKey(out, k, conform(v, elem, `${path}[${k}]`));
      return out;
    }
    case "object": {
      if (!isObject(value)) throw new ConformError(`${where()}: expected an object`);
      const out: ValueObject = {};
      for (const [name, attrType] of Object.entries(elem)) {
        const v = Object.hasOwn(value, name) ? (value[name] as Value) : null;
        out[name] = conform(v, attrType, path === "" ? name : `${path}.${name}`);
      }
      return out;
    }
  }
}

/** A copy with every unknown replaced by null (what is left unknown after apply is "not set"). */
export function unknownAsNull(value: Value): Value {
  if (isUnknown(value)) return null;
  if (Array.isArray(value)) return value.map(unknownAsNull);
  if (isObject(value)) {
    const out: ValueObject = {};
    for (const [k, v] of Object.entries(value)) setKey(out, k, unknownAsNull(v));
    return out;
  }
  return value;
}

/** Whether any part of `value` is unknown. */
export function containsUnknown(value: Value): boolean {
  if (isUnknown(value)) return true;
  if (Array.isArray(value)) return value.some(containsUnknown);
  if (isObject(value)) return Object.values(value).some(containsUnknown);
  return false;
}

/** A deep copy (values are trees: no sharing, no cycles). */
export function clone<T extends Value>(value: T): T {
  if (Array.isArray(value)) return value.map(clone) as T;
  if (isObject(value)) {
    const out: ValueObject = {};
    for (const [k, v] of Object.entries(value)) setKey(out, k, clone(v));
    return out as T;
  }
  return value;
}

export { UNKNOWN };
