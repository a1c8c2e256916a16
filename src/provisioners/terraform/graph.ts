// A small parser for the DOT text `terraform graph` prints, and the graph walks the conversion needs.
//
// Both flavours are understood: the detailed one (`terraform graph -type=plan`: node ids like
// `"[root] coder_agent.main (expand)"` with a `label` attribute holding the address, plus undeclared helper
// nodes such as `"[root] local.x (expand)"` that only appear in edges) and the simplified one of Terraform
// ≥ 1.7's plain `terraform graph` (node id = address, `node [...]` defaults, `;` separators,
// `subgraph "cluster_module.x"` with module-relative labels).
// An edge A -> B means A depends on B.

import { ConversionError } from "./convert-error.js";

/** The graph text is not DOT this parser understands (a ConversionError, so callers need catch one kind). */
export class GraphParseError extends ConversionError {
  constructor(message: string) {
    super(`parse graph: ${message}`);
    this.name = "GraphParseError";
  }
}

export interface Graph {
  /** Node id → its `label` attribute (only nodes declared with one). */
  labels: Map<string, string>;
  /** Node id → ids of the nodes it depends on. */
  dependencies: Map<string, string[]>;
  /** Node id → ids of the nodes that depend on it. */
  dependents: Map<string, string[]>;
  /** Every edge as [from, to], in input order. */
  edges: Array<[string, string]>;
}

type Token = { kind: "id"; text: string } | { kind: "punct"; text: string };

const PUNCT = new Set(["{", "}", "[", "]", "=", ";", ","]);

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (/\s/.test(ch)) {
      i++;
    } else if (ch === "/" && text[i + 1] === "/") {
      i = lineEnd(text, i);
    } else if (ch === "#" && (i === 0 || text[i - 1] === "\n")) {
      i = lineEnd(text, i);
    } else if (ch === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      if (end < 0) throw new GraphParseError("unterminated comment");
      i = end + 2;
    } else if (ch === '"') {
      let value = "";
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === "\\" && i + 1 < text.length) {
          const next = text[i + 1]!;
          // DOT only escapes quotes; other backslashes (e.g. `\n` in labels) stay as written.
          value += next === '"' ? '"' : next === "\n" ? "" : `\\${next}`;
          i += 2;
        } else {
          value += text[i];
          i++;
        }
      }
      if (i >= text.length) throw new GraphParseError("unterminated string");
      i++;
      tokens.push({ kind: "id", text: value });
    } else if (ch === "-" && (text[i + 1] === ">" || text[i + 1] === "-")) {
      tokens.push({ kind: "punct", text: "->" });
      i += 2;
    } else if (PUNCT.has(ch)) {
      tokens.push({ kind: "punct", text: ch });
      i++;
    } else {
      const m = /^-?[A-Za-z0-9_.\u0080-\uffff]+/.exec(text.slice(i, i + 1000));
      if (!m) throw new GraphParseError(`unexpected character ${JSON.stringify(ch)}`);
      tokens.push({ kind: "id", text: m[0] });
      i += m[0].length;
    }
  }
  return tokens;
}

function lineEnd(text: string, from: number): number {
  const nl = text.indexOf("\n", from);
  return nl < 0 ? text.length : nl + 1;
}

/** Parses DOT text into nodes (with labels) and dependency edges. */
export function parseGraph(text: string): Graph {
  const tokens = tokenize(text);
  const graph: Graph = { labels: new Map(), dependencies: new Map(), dependents: new Map(), edges: [] };
  let pos = 0;
  const peek = () => tokens[pos];
  const isPunct = (t: Token | undefined, p: string) => t?.kind === "punct" && t.text === p;
  const expectPunct = (p: string) => {
    const t = tokens[pos];
    if (!isPunct(t, p))
      throw new GraphParseError(`expected "${p}", got ${t ? JSON.stringify(t.text) : "end"}`);
    pos++;
  };
  const expectId = (): string => {
    const t = tokens[pos];
    if (t?.kind !== "id")
      throw new GraphParseError(`expected a name, got ${t ? JSON.stringify(t.text) : "end"}`);
    pos++;
    return t.text;
  };
  const attributes = (): Map<string, string> => {
    const attrs = new Map<string, string>();
    while (isPunct(peek(), "[")) {
      pos++;
      while (!isPunct(peek(), "]")) {
        const key = expectId();
        expectPunct("=");
        attrs.set(key, expectId());
        if (isPunct(peek(), ",") || isPunct(peek(), ";")) pos++;
      }
      pos++;
    }
    return attrs;
  };
  const addEdge = (from: string, to: string) => {
    graph.edges.push([from, to]);
    push(graph.dependencies, from, to);
    push(graph.dependents, to, from);
  };
  const statements = () => {
    while (!isPunct(peek(), "}")) {
      const t = peek();
      if (!t) throw new GraphParseError('expected "}", got end');
      if (isPunct(t, ";")) {
        pos++;
        continue;
      }
      if (
        t.kind === "id" &&
        (t.text === "subgraph" || t.text === "graph" || t.text === "node" || t.text === "edge")
      ) {
        if (t.text === "subgraph") {
          pos++;
          if (peek()?.kind === "id") pos++;
          expectPunct("{");
          statements();
          expectPunct("}");
          continue;
        }
        if (isPunct(tokens[pos + 1], "[")) {
          pos++;
          attributes(); // defaults for later statements: nothing the conversion needs
          continue;
        }
      }
      if (isPunct(t, "{")) {
        pos++;
        statements();
        expectPunct("}");
        continue;
      }
      const id = expectId();
      if (isPunct(peek(), "=")) {
        pos++;
        expectId(); // graph attribute (compound, rankdir, a cluster's label …)
        continue;
      }
      const chain = [id];
      while (isPunct(peek(), "->")) {
        pos++;
        chain.push(expectId());
      }
      const attrs = attributes();
      if (chain.length === 1) {
        // Detailed flavour: the label attribute is the address. Simplified flavour: the id is the address
        // (inside a module's cluster the label is relative to the module).
        const label = id.startsWith("[") ? attrs.get("label") : id;
        if (label !== undefined) graph.labels.set(id, label);
      } else {
        for (let i = 0; i + 1 < chain.length; i++) addEdge(chain[i]!, chain[i + 1]!);
      }
    }
  };
  if (peek()?.kind === "id" && peek()?.text === "strict") pos++;
  const kind = expectId();
  if (kind !== "digraph" && kind !== "graph") throw new GraphParseError(`expected "digraph", got "${kind}"`);
  if (peek()?.kind === "id") pos++;
  expectPunct("{");
  statements();
  expectPunct("}");
  if (pos !== tokens.length) throw new GraphParseError("unexpected text after the graph");
  return graph;
}

function push(map: Map<string, string[]>, key: string, value: string) {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** Ids of the nodes labelled `label`, in input order. */
export function nodesWithLabel(graph: Graph, label: string): string[] {
  const ids: string[] = [];
  for (const [id, l] of graph.labels) if (l === label) ids.push(id);
  return ids;
}

/**
 * The nearest node (by hops) reachable from `start` — towards dependents (`up`) or dependencies (`down`) —
 * whose label satisfies `accept`; among nodes at the same distance the lexicographically smallest label
 * wins. The start node itself is not a candidate.
 */
export function nearestLabel(
  graph: Graph,
  start: readonly string[],
  direction: "up" | "down",
  accept: (label: string) => boolean,
): string | undefined {
  const next = direction === "up" ? graph.dependents : graph.dependencies;
  const seen = new Set<string>(start);
  let frontier = [...start];
  while (frontier.length > 0) {
    const level: string[] = [];
    for (const id of frontier) {
      for (const n of next.get(id) ?? []) {
        if (seen.has(n)) continue;
        seen.add(n);
        level.push(n);
      }
    }
    let best: string | undefined;
    for (const id of level) {
      const label = graph.labels.get(id);
      if (label !== undefined && accept(label) && (best === undefined || label < best)) best = label;
    }
    if (best !== undefined) return best;
    frontier = level;
  }
  return undefined;
}

/** Whether some node labelled `fromLabel` has an edge to some node labelled `toLabel`. */
export function hasEdgeBetweenLabels(graph: Graph, fromLabel: string, toLabel: string): boolean {
  for (const [from, to] of graph.edges) {
    if (graph.labels.get(from) === fromLabel && graph.labels.get(to) === toLabel) return true;
  }
  return false;
}
