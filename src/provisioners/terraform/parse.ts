// Static parse of a template (no terraform run): its variables and its workspace tags.
//
// @cdktf/hcl2json turns each file into JSON, which loses source positions and key order; variable lines
// come from a scan of the file's text, and a workspace tag's value expression is given back in source form
// (`var.region`, `"us-${var.zone}"`, `1`) reconstructed from the JSON — equal in meaning to the original
// text, though not byte-identical when the author used redundant syntax such as `"${var.region}"`.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { parse as parseHcl } from "@cdktf/hcl2json";
import { type TemplateVariable, TemplateVariableSchema } from "../../gen/provisioner/provisioner_pb.js";

export class TemplateParseError extends Error {
  override name = "TemplateParseError";
}

export interface ParsedTemplate {
  variables: TemplateVariable[];
  workspaceTags: Record<string, string>;
}

type Json = Record<string, unknown>;

interface FoundVariable {
  file: string;
  line: number;
  variable: TemplateVariable;
}

const isObject = (v: unknown): v is Json => v !== null && typeof v === "object" && !Array.isArray(v);

/** `${expr}` as a whole string → `expr`; undefined when the string is anything more than one interpolation. */
function soleInterpolation(text: string): string | undefined {
  if (!text.startsWith("${") || !text.endsWith("}")) return undefined;
  let depth = 0;
  for (let i = 1; i < text.length; i++) {
    const c = text[i];
    if (c === "{") depth++;
    else if (c === "}") {
      depth--;
      if (depth === 0 && i !== text.length - 1) return undefined;
    }
  }
  return text.slice(2, -1).trim();
}

/** An HCL expression in source form, from hcl2json's JSON rendering of it. */
export function expressionSource(value: unknown): string {
  if (typeof value === "string") return soleInterpolation(value) ?? JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (value === null) return "null";
  return JSON.stringify(value);
}

/** A variable's type constraint: hcl2json renders `type = map(string)` as "${map(string)}". */
function typeSource(value: unknown): string {
  if (value === undefined) return "";
  return typeof value === "string" ? (soleInterpolation(value) ?? value) : JSON.stringify(value);
}

/** Default value as Coder reports it: a string as-is, anything else as JSON, absent as "". */
function defaultSource(block: Json): string {
  if (!("default" in block)) return "";
  const value = block.default;
  return typeof value === "string" ? value : JSON.stringify(value);
}

function variableFromBlock(name: string, block: Json): TemplateVariable {
  return create(TemplateVariableSchema, {
    name,
    description: typeof block.description === "string" ? block.description : "",
    type: typeSource(block.type),
    defaultValue: defaultSource(block),
    required: !("default" in block),
    sensitive: block.sensitive === true,
  });
}

/** 1-based line of each `variable "name" {` block in an HCL file's text. */
export function variableLines(text: string): Map<string, number> {
  const lines = new Map<string, number>();
  text.split("\n").forEach((line, i) => {
    const m = /^\s*variable\s+(?:"([^"]+)"|([A-Za-z_][\w-]*))\s*\{/.exec(line);
    const name = m?.[1] ?? m?.[2];
    if (name !== undefined && !lines.has(name)) lines.set(name, i + 1);
  });
  return lines;
}

/** Turns hcl2json's "parse config: [file:line,col-…: Summary; Detail]" into "file:line: Summary: Detail". */
export function describeHclError(err: unknown, file: string): string {
  const message = err instanceof Error ? err.message : String(err);
  const m = /([^\s[]+):(\d+),\d+(?:-[\d,]+)?: ([^;\]]+)(?:; ([^\]]*))?/.exec(message);
  if (!m) return `${file}: ${message.replace(/^parse config: /, "")}`;
  const detail = m[4] ? `: ${m[4].trim()}` : "";
  return `${m[1]}:${m[2]}: ${m[3]!.trim()}${detail}`;
}

function blocksOf(value: unknown): Json[] {
  if (Array.isArray(value)) return value.filter(isObject);
  return isObject(value) ? [value] : [];
}

function workspaceTagsOf(file: string, body: Json, into: Record<string, string>): void {
  const data = isObject(body.data) ? body.data : {};
  const tagSources = isObject(data.coder_workspace_tags) ? data.coder_workspace_tags : {};
  for (const [name, raw] of Object.entries(tagSources)) {
    for (const block of blocksOf(raw)) {
      if (!("tags" in block)) {
        throw new TemplateParseError(
          `${file}: data.coder_workspace_tags.${name}: "tags" attribute is required by coder_workspace_tags`,
        );
      }
      if (!isObject(block.tags)) {
        throw new TemplateParseError(
          `${file}: data.coder_workspace_tags.${name}: "tags" attribute is expected to be a key-value map`,
        );
      }
      // A counted block (`count = cond ? 1 : 0`, Coder's recipe for tags that only some builds get) has its
      // count folded into each value, which the server evaluates per build: a zero count sets no tag (null).
      const count = "count" in block ? expressionSource(block.count) : undefined;
      for (const [key, value] of Object.entries(block.tags)) {
        if (key in into)
          throw new TemplateParseError(`workspace tag ${JSON.stringify(key)} is defined multiple times`);
        const source = expressionSource(value);
        into[key] = count === undefined ? source : `(${count}) > 0 ? (${source}) : null`;
      }
    }
  }
}

/** Parses every `*.tf` and `*.tf.json` file at the top of `dir` (the root module). */
export async function parseTemplate(dir: string): Promise<ParsedTemplate> {
  const files = (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isFile() && (e.name.endsWith(".tf") || e.name.endsWith(".tf.json")))
    .map((e) => e.name)
    .sort();
  const found: FoundVariable[] = [];
  const workspaceTags: Record<string, string> = {};
  for (const file of files) {
    const text = await readFile(join(dir, file), "utf8");
    let body: Json;
    let lines: Map<string, number>;
    if (file.endsWith(".tf.json")) {
      try {
        body = JSON.parse(text) as Json;
      } catch (err) {
        throw new TemplateParseError(`${file}: ${(err as Error).message}`);
      }
      // JSON keeps key order; use it in place of line numbers.
      lines = new Map(Object.keys(isObject(body.variable) ? body.variable : {}).map((n, i) => [n, i + 1]));
    } else {
      try {
        body = await parseHcl(file, text);
      } catch (err) {
        throw new TemplateParseError(describeHclError(err, file));
      }
      lines = variableLines(text);
      workspaceTagsOf(file, body, workspaceTags); // not for .tf.json, as in Coder
    }
    const variables = isObject(body.variable) ? body.variable : {};
    for (const [name, raw] of Object.entries(variables)) {
      const blocks = blocksOf(raw);
      const earlier = found.find((f) => f.variable.name === name);
      if (blocks.length > 1 || earlier) {
        const where = earlier ? `${earlier.file}:${earlier.line}` : file;
        throw new TemplateParseError(
          `${file}: duplicate variable declaration: "${name}" is already declared in ${where}`,
        );
      }
      const line = lines.get(name) ?? Number.MAX_SAFE_INTEGER;
      found.push({ file, line, variable: variableFromBlock(name, blocks[0] ?? {}) });
    }
  }
  found.sort((a, b) => (a.file === b.file ? a.line - b.line : a.file < b.file ? -1 : 1));
  return { variables: found.map((f) => f.variable), workspaceTags };
}
