// Evaluates the HCL expressions of `coder_workspace_tags` values (stored as source text at import, as in
// Coder) — the subset templates use for tags: string templates with `${…}` interpolation, numbers, `true`,
// `false`, `null`, references (`var.x`, `data.coder_parameter.x.value`, `data.coder_workspace_owner.me.name`,
// …), `!`, `-`, `==`, `!=`, `<`, `<=`, `>`, `>=`, `&&`, `||`, `? :` and parentheses. Anything else (function
// calls, heredocs, collections, arithmetic) is an ExpressionError naming what is not supported. Pure: the
// caller resolves references (`lookup`), so this module knows no template.
export type Value = string | number | boolean | null;

export class ExpressionError extends Error {
  override name = "ExpressionError";
}

type Token =
  | { kind: "number"; value: number }
  | { kind: "string"; parts: Array<string | Token[]> }
  | { kind: "ident"; value: string }
  | { kind: "op"; value: string };

const OPERATORS = ["==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "?", ":", "(", ")", ".", "-", "[", "]"];

function tokenize(text: string, from = 0, untilBrace = false): { tokens: Token[]; end: number } {
  const tokens: Token[] = [];
  let i = from;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (untilBrace && c === "}") {
      return { tokens, end: i + 1 };
    } else if (c === "{" || c === "}") {
      throw new ExpressionError("objects are not supported in workspace tags");
    } else if (/[0-9]/.test(c)) {
      const m = /^[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i))!;
      tokens.push({ kind: "number", value: Number(m[0]) });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(text.slice(i))!;
      tokens.push({ kind: "ident", value: m[0] });
      i += m[0].length;
    } else if (c === '"') {
      const str = stringLiteral(text, i + 1);
      tokens.push(str.token);
      i = str.end;
    } else {
      const op = OPERATORS.find((o) => text.startsWith(o, i));
      if (!op) throw new ExpressionError(`unexpected ${JSON.stringify(c)}`);
      tokens.push({ kind: "op", value: op });
      i += op.length;
    }
  }
  if (untilBrace) throw new ExpressionError("unterminated ${ in a string");
  return { tokens, end: i };
}

const ESCAPES: Record<string, string> = { n: "\n", t: "\t", r: "\r", '"': '"', "\\": "\\" };

/** A quoted string from just after its opening quote: literal parts and `${…}` token lists. */
function stringLiteral(text: string, from: number): { token: Token; end: number } {
  const parts: Array<string | Token[]> = [];
  let literal = "";
  let i = from;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      if (literal) parts.push(literal);
      return { token: { kind: "string", parts }, end: i + 1 };
    }
    if (c === "\\") {
      const e = ESCAPES[text[i + 1] ?? ""];
      if (e === undefined) throw new ExpressionError(`unsupported escape \\${text[i + 1] ?? ""} in a string`);
      literal += e;
      i += 2;
    } else if (text.startsWith("$${", i)) {
      literal += "${";
      i += 3;
    } else if (text.startsWith("${", i)) {
      if (literal) parts.push(literal);
      literal = "";
      const inner = tokenize(text, i + 2, true);
      parts.push(inner.tokens);
      i = inner.end;
    } else if (text.startsWith("%{", i)) {
      throw new ExpressionError("template directives (%{…}) are not supported in workspace tags");
    } else {
      literal += c;
      i++;
    }
  }
  throw new ExpressionError("unterminated string");
}

/** Resolves a reference such as ["data", "coder_parameter", "region", "value"]; undefined = unknown. */
export type Lookup = (path: readonly string[]) => Value | undefined;

class Parser {
  #i = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly lookup: Lookup,
  ) {}

  parseAll(): Value {
    if (this.tokens.length === 0) throw new ExpressionError("empty expression");
    const v = this.conditional();
    const rest = this.tokens[this.#i];
    if (rest) throw new ExpressionError(`unexpected ${describe(rest)}`);
    return v;
  }

  #peekOp(...ops: string[]): string | undefined {
    const t = this.tokens[this.#i];
    return t?.kind === "op" && ops.includes(t.value) ? t.value : undefined;
  }

  #expect(op: string): void {
    if (!this.#peekOp(op)) {
      const t = this.tokens[this.#i];
      throw new ExpressionError(`expected "${op}"${t ? `, found ${describe(t)}` : " at the end"}`);
    }
    this.#i++;
  }

  conditional(): Value {
    const test = this.or();
    if (!this.#peekOp("?")) return test;
    this.#i++;
    const yes = this.conditional();
    this.#expect(":");
    const no = this.conditional();
    return asBool(test, "the condition of ? :") ? yes : no;
  }

  or(): Value {
    let left = this.and();
    while (this.#peekOp("||")) {
      this.#i++;
      const right = this.and();
      left = asBool(left, "||") || asBool(right, "||");
    }
    return left;
  }

  and(): Value {
    let left = this.equality();
    while (this.#peekOp("&&")) {
      this.#i++;
      const right = this.equality();
      left = asBool(left, "&&") && asBool(right, "&&");
    }
    return left;
  }

  equality(): Value {
    let left = this.comparison();
    for (let op = this.#peekOp("==", "!="); op; op = this.#peekOp("==", "!=")) {
      this.#i++;
      const right = this.comparison();
      left = op === "==" ? left === right : left !== right;
    }
    return left;
  }

  comparison(): Value {
    let left = this.unary();
    for (let op = this.#peekOp("<", "<=", ">", ">="); op; op = this.#peekOp("<", "<=", ">", ">=")) {
      this.#i++;
      const a = asNumber(left, op);
      const b = asNumber(this.unary(), op);
      left = op === "<" ? a < b : op === "<=" ? a <= b : op === ">" ? a > b : a >= b;
    }
    return left;
  }

  unary(): Value {
    if (this.#peekOp("!")) {
      this.#i++;
      return !asBool(this.unary(), "!");
    }
    if (this.#peekOp("-")) {
      this.#i++;
      return -asNumber(this.unary(), "-");
    }
    return this.primary();
  }

  primary(): Value {
    const t = this.tokens[this.#i++];
    if (!t) throw new ExpressionError("unexpected end of expression");
    if (t.kind === "number") return t.value;
    if (t.kind === "string") {
      let out = "";
      for (const part of t.parts) {
        out += typeof part === "string" ? part : asString(new Parser(part, this.lookup).parseAll());
      }
      return out;
    }
    if (t.kind === "op") {
      if (t.value !== "(") throw new ExpressionError(`unexpected ${describe(t)}`);
      const v = this.conditional();
      this.#expect(")");
      return v;
    }
    if (t.value === "true") return true;
    if (t.value === "false") return false;
    if (t.value === "null") return null;
    if (this.#peekOp("("))
      throw new ExpressionError(`function calls (${t.value}) are not supported in workspace tags`);
    const path = [t.value];
    for (;;) {
      if (this.#peekOp(".")) {
        this.#i++;
        const name = this.tokens[this.#i++];
        if (name?.kind !== "ident")
          throw new ExpressionError(`expected an attribute name after "${path.join(".")}."`);
        path.push(name.value);
      } else if (this.#peekOp("[")) {
        this.#i++;
        const index = this.conditional();
        this.#expect("]");
        path.push(asString(index));
      } else break;
    }
    const value = this.lookup(path);
    if (value === undefined) throw new ExpressionError(`unknown reference ${path.join(".")}`);
    return value;
  }
}

function describe(t: Token): string {
  if (t.kind === "number") return String(t.value);
  if (t.kind === "string") return "a string";
  return `"${t.value}"`;
}

function asBool(v: Value, where: string): boolean {
  if (typeof v === "boolean") return v;
  if (v === "true" || v === "false") return v === "true";
  throw new ExpressionError(`${where} needs a bool, got ${JSON.stringify(v)}`);
}

function asNumber(v: Value, where: string): number {
  if (typeof v === "number") return v;
  if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
  throw new ExpressionError(`"${where}" needs a number, got ${JSON.stringify(v)}`);
}

/** HCL's conversion of a primitive to string (what a tag's value becomes). */
export function asString(v: Value): string {
  if (v === null) throw new ExpressionError("null cannot be used in a string");
  return String(v);
}

/** Evaluates one expression's source. Throws ExpressionError for what it cannot parse or evaluate. */
export function evaluateExpression(source: string, lookup: Lookup): Value {
  return new Parser(tokenize(source).tokens, lookup).parseAll();
}
