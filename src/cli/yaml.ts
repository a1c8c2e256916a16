// `-o yaml`: the API's JSON data written as YAML (block style, two-space indent). Only JSON's values occur
// (objects, arrays, strings, numbers, booleans, null), so a small writer suffices and no YAML library has to
// load at start. A string is written plain only when no YAML 1.1 or 1.2 reader could take it for anything
// else (a number, a boolean, null, a date, an indicator); every other string is double-quoted with JSON's
// escapes, which YAML's double-quoted style accepts, so a reader gets back exactly the JSON.

/** `value` as a YAML document (ends with a newline). */
export function toYaml(value: unknown): string {
  return `${block(value, 0).replace(/^\n/, "")}\n`;
}

// A plain scalar: starts with a letter or "/", then letters, digits and a few punctuation marks that are
// never indicators in that position. Excludes words a YAML 1.1 reader turns into booleans or null.
const plainSafe = /^[A-Za-z/][A-Za-z0-9_./@+-]*$/;
const reserved = /^(y|n|yes|no|on|off|true|false|null|nan|inf)$/i;

function scalarString(text: string): string {
  return plainSafe.test(text) && !reserved.test(text) && !text.endsWith(":") ? text : JSON.stringify(text);
}

function scalar(value: unknown): string | undefined {
  if (value === null || value === undefined) return "null";
  if (typeof value === "string") return scalarString(value);
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "null";
  if (typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return value.length === 0 ? "[]" : undefined;
  if (typeof value === "object") return Object.keys(value).length === 0 ? "{}" : undefined;
  return JSON.stringify(String(value));
}

/** A value in block position: " scalar" after its key, or a newline and indented lines for collections. */
function block(value: unknown, indent: number): string {
  const simple = scalar(value);
  if (simple !== undefined) return ` ${simple}`;
  const pad = "  ".repeat(indent);
  if (Array.isArray(value)) {
    return value.map((item) => `\n${pad}-${arrayItem(item, indent)}`).join("");
  }
  return Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .map(([key, v]) => `\n${pad}${scalarString(key)}:${block(v, indent + 1)}`)
    .join("");
}

/** An array item: a scalar after "- ", or a collection whose first line shares the dash's line. */
function arrayItem(value: unknown, indent: number): string {
  const simple = scalar(value);
  if (simple !== undefined) return ` ${simple}`;
  // The item's lines are indented one level; the first one moves up next to the dash.
  return ` ${block(value, indent + 1).replace(/^\n\s*/, "")}`;
}
