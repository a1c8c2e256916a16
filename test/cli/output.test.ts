import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, test } from "node:test";
import pc from "picocolors";
import { parseKeyValues } from "../../src/cli/commands/shared.js";
import { CliError } from "../../src/cli/errors.js";
import {
  formatAgo,
  formatTtl,
  Progress,
  parseOutputFormat,
  renderFields,
  renderTable,
  shouldUseColor,
  workspaceState,
} from "../../src/cli/output.js";
import { SseParser } from "../../src/cli/sse.js";

const plain = pc.createColors(false);

describe("renderTable", () => {
  test("GIVEN rows WHEN rendered THEN upper-case headers, aligned columns, no borders or trailing spaces", () => {
    const rows = [
      { name: "dev", status: "running" },
      { name: "a-much-longer-name", status: "stopped" },
    ];
    const out = renderTable(
      [
        { header: "name", value: (r: (typeof rows)[number]) => r.name },
        { header: "status", value: (r) => r.status },
      ],
      rows,
      plain,
    );
    const lines = out.trimEnd().split("\n");
    assert.equal(lines.length, 3);
    assert.match(lines[0]!, /^NAME +STATUS$/);
    const column = lines[0]!.indexOf("STATUS");
    assert.equal(lines[1]!.indexOf("running"), column);
    assert.equal(lines[2]!.indexOf("stopped"), column);
    for (const line of lines) assert.equal(line, line.trimEnd());
    assert.doesNotMatch(out, /[│─┌]/);
  });

  test("GIVEN colours off WHEN rendered THEN no escape sequences", () => {
    const out = renderTable([{ header: "x", value: (r: string) => r }], ["y"], plain);
    assert.doesNotMatch(out, /\x1b\[/);
  });

  test("renderFields aligns values after the longest key", () => {
    const out = renderFields(
      [
        ["Name", "dev"],
        ["Latest build", "#1"],
      ],
      plain,
    );
    const [a, b] = out.trimEnd().split("\n");
    assert.equal(a!.indexOf("dev"), b!.indexOf("#1"));
  });
});

describe("shouldUseColor", () => {
  const cases: [string, boolean, NodeJS.ProcessEnv, boolean][] = [
    ["terminal", true, {}, true],
    ["not a terminal", false, {}, false],
    ["NO_COLOR on a terminal", true, { NO_COLOR: "1" }, false],
    ["empty NO_COLOR is ignored", true, { NO_COLOR: "" }, true],
    ["TERM=dumb", true, { TERM: "dumb" }, false],
    ["FORCE_COLOR off a terminal", false, { FORCE_COLOR: "1" }, true],
    ["NO_COLOR beats FORCE_COLOR", false, { FORCE_COLOR: "1", NO_COLOR: "1" }, false],
  ];
  for (const [name, tty, env, want] of cases) {
    test(name, () => assert.equal(shouldUseColor(tty, env), want));
  }
});

describe("formatting", () => {
  const now = new Date("2026-01-05T10:00:00Z");
  const agoCases: [string | null, string][] = [
    [null, "-"],
    ["2026-01-05T10:00:00.500Z", "just now"],
    ["2026-01-05T09:59:30Z", "30s ago"],
    ["2026-01-05T09:58:55Z", "1m ago"],
    ["2026-01-05T08:30:00Z", "1h30m ago"],
    ["2026-01-05T10:02:00Z", "in 2m"],
  ];
  for (const [iso, want] of agoCases)
    test(`formatAgo(${iso}) = ${want}`, () => assert.equal(formatAgo(iso, now), want));

  const ttlCases: [number | null, string][] = [
    [null, "never"],
    [0, "never"],
    [3600, "1h"],
    [86_400, "1d"],
    [5400, "1h30m"],
  ];
  for (const [s, want] of ttlCases) test(`formatTtl(${s}) = ${want}`, () => assert.equal(formatTtl(s), want));

  const states: ["start" | "stop" | "delete", string, string][] = [
    ["start", "pending", "starting"],
    ["start", "running", "starting"],
    ["start", "succeeded", "running"],
    ["stop", "succeeded", "stopped"],
    ["stop", "running", "stopping"],
    ["delete", "succeeded", "deleted"],
    ["start", "failed", "failed"],
    ["start", "canceled", "canceled"],
  ];
  for (const [transition, status, want] of states) {
    test(`workspaceState(${transition} ${status}) = ${want}`, () =>
      assert.equal(workspaceState({ transition, status }), want));
  }

  test("parseOutputFormat accepts table, json and yaml; anything else is a usage error (exit 2)", () => {
    for (const f of ["table", "json", "yaml"]) assert.equal(parseOutputFormat(f), f);
    assert.throws(
      () => parseOutputFormat("xml"),
      (err: unknown) => err instanceof CliError && err.exitCode === 2 && /"xml"/.test(err.message),
    );
  });
});

describe("parseKeyValues", () => {
  test("GIVEN NAME=VALUE items THEN a record; values may hold '=' or be empty", () => {
    assert.deepEqual(parseKeyValues("--parameter", ["a=1", "b=x=y", "c="]), { a: "1", b: "x=y", c: "" });
  });
  const bad: [string[], RegExp][] = [
    [["novalue"], /invalid --parameter "novalue": expected NAME=VALUE/],
    [["=x"], /invalid --parameter "=x": expected NAME=VALUE/],
    [[" =x"], /the name is empty/],
    [["a=1", "a=2"], /--parameter "a" given more than once/],
  ];
  for (const [items, want] of bad) {
    test(`rejects ${JSON.stringify(items)}`, () =>
      assert.throws(() => parseKeyValues("--parameter", items), want));
  }
});

function sink() {
  let text = "";
  const stream = new Writable({
    write(chunk, _e, done) {
      text += chunk;
      done();
    },
  });
  return { stream, text: () => text };
}

describe("Progress", () => {
  test("GIVEN no terminal WHEN the text changes THEN one plain line per change, repeats dropped", () => {
    const out = sink();
    const p = new Progress(out.stream, { tty: false });
    p.update("waiting");
    p.update("waiting");
    p.line("a log line");
    p.update("Planning");
    p.stop("done");
    assert.equal(out.text(), "waiting\na log line\nPlanning\ndone\n");
  });

  test("GIVEN a terminal THEN the spinner redraws in place and is cleared on stop", () => {
    const out = sink();
    const p = new Progress(out.stream, { tty: true });
    p.update("Planning");
    p.stop();
    assert.match(out.text(), /^\r\x1b\[K. Planning/);
    assert.ok(out.text().endsWith("\r\x1b[K"));
  });

  test("GIVEN disabled THEN nothing is written", () => {
    const out = sink();
    const p = new Progress(out.stream, { tty: false, enabled: false });
    p.update("x");
    p.line("y");
    p.stop("z");
    assert.equal(out.text(), "");
  });
});

describe("SseParser", () => {
  test("GIVEN events split across arbitrary chunks THEN each complete event once, comments dropped", () => {
    const stream = ': ping\n\nevent: log\nid: 1\ndata: {"a":1}\n\nevent: end\r\ndata: {"b":2}\r\n\r\n';
    for (const size of [1, 2, 3, 7, stream.length]) {
      const parser = new SseParser();
      const events = [];
      for (let i = 0; i < stream.length; i += size) events.push(...parser.push(stream.slice(i, i + size)));
      assert.deepEqual(
        events,
        [
          { event: "log", data: '{"a":1}', id: "1" },
          { event: "end", data: '{"b":2}', id: "1" },
        ],
        `chunk size ${size}`,
      );
    }
  });

  test("multi-line data joins with newlines; no event name means 'message'", () => {
    const parser = new SseParser();
    assert.deepEqual(parser.push("data: a\ndata: b\n\n"), [
      { event: "message", data: "a\nb", id: undefined },
    ]);
  });
});
