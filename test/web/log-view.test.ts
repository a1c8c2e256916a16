// Build logs on the workspace page: stage durations (header to next header, or to the build's end; the current
// stage of a running build has none yet) and the rendered lines with their time of day.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type LogLine, logLines, stageDuration, stageSpans } from "../../src/server/web/log-view.js";

const at = (ms: number) => new Date(Date.UTC(2026, 0, 5, 10, 0, 0) + ms);
let id = 0;
const header = (stage: string, ms: number): LogLine => ({
  id: ++id,
  createdAt: at(ms),
  level: "info",
  source: "provisioner_daemon",
  stage,
  output: "",
});
const line = (output: string, ms: number, level = "info"): LogLine => ({
  id: ++id,
  createdAt: at(ms),
  level,
  source: "provisioner",
  stage: "",
  output,
});

describe("log view", () => {
  const lines = [
    header("Planning", 0),
    line("plan: 1 to add", 400),
    header("Applying", 1_500),
    line("echo_instance.dev: Creating...", 1_600),
    line("warning: slow", 2_000, "warn"),
  ];

  test("GIVEN a finished build THEN each stage lasts until the next header, the last until the build ended", () => {
    const spans = stageSpans(lines, at(4_300));
    assert.deepEqual(
      spans.map((s) => [s.stage, s.index, s.durationMs]),
      [
        ["Planning", 0, 1_500],
        ["Applying", 2, 2_800],
      ],
    );
  });

  test("GIVEN a running build THEN its current stage has no duration yet", () => {
    assert.deepEqual(
      stageSpans(lines, null).map((s) => s.durationMs),
      [1_500, null],
    );
    assert.deepEqual(stageSpans([line("no stages", 0)], null), []);
  });

  test("GIVEN lines THEN every one shows its UTC time of day and stage headers their duration, escaped", () => {
    const out = logLines([...lines, line("<b>not markup</b>", 2_100)], at(4_300)).value;
    assert.match(
      out,
      /<span class="ts">10:00:00\.000 <\/span>▸ Planning <span class="dur">\(1\.5s\)<\/span>/,
    );
    assert.match(
      out,
      /<span class="ts">10:00:01\.500 <\/span>▸ Applying <span class="dur">\(2\.8s\)<\/span>/,
    );
    assert.match(out, /<span class="lvl-warn"><span class="ts">10:00:02\.000 <\/span>warning: slow/);
    assert.match(out, /&lt;b&gt;not markup&lt;\/b&gt;/);
    assert.match(logLines(lines, null).value, /Applying <span class="dur">\(running\)<\/span>/);
  });

  test("GIVEN stage lengths THEN short ones read in tenths of a second, long ones in minutes", () => {
    const table: Array<[number, string]> = [
      [400, "400ms"],
      [1_500, "1.5s"],
      [59_940, "59.9s"],
      [90_000, "1m 30s"],
    ];
    for (const [ms, text] of table) assert.equal(stageDuration(ms), text, String(ms));
  });
});
