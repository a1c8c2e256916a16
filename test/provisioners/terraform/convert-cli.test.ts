// `prewarm terraform convert` through a real child process: the output is the conversion's proto3 JSON,
// conversion errors and unreadable inputs are one line on stderr with exit code 1.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { convertTerraform } from "../../../src/provisioners/terraform/convert.js";
import { conversionResultToJson } from "../../../src/provisioners/terraform/convert-json.js";
import { runCli } from "../../support/cli.js";

const fixtures = fileURLToPath(new URL("../../fixtures/terraform/", import.meta.url));
const fixture = (name: string, kind: "plan" | "state", ext: "json" | "dot") =>
  join(fixtures, name, `${name}.tf${kind}.${ext}`);

/** CLI arguments converting one fixture. */
const convertArgs = (name: string, kind: "plan" | "state") => [
  "terraform",
  "convert",
  `--${kind}`,
  fixture(name, kind, "json"),
  "--graph",
  fixture(name, kind, "dot"),
];

const scratch = mkdtempSync(join(tmpdir(), "prewarm-tf-convert-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

describe("prewarm terraform convert", () => {
  for (const kind of ["plan", "state"] as const) {
    test(`GIVEN the multiple-agents-multiple-apps ${kind} WHEN converted THEN stdout is the result as proto3 JSON`, async () => {
      const json = fixture("multiple-agents-multiple-apps", kind, "json");
      const dot = fixture("multiple-agents-multiple-apps", kind, "dot");
      const r = await runCli(["terraform", "convert", `--${kind}`, json, "--graph", dot]);
      assert.equal(r.code, 0, r.stderr);
      const expected = conversionResultToJson(
        convertTerraform({
          state: JSON.parse(readFileSync(json, "utf8")),
          graph: readFileSync(dot, "utf8"),
          kind,
        }),
      );
      assert.deepEqual(JSON.parse(r.stdout), expected);
      assert.deepEqual(Object.keys(JSON.parse(r.stdout)), [
        "resources",
        "parameters",
        "presets",
        "externalAuthProviders",
      ]);
    });
  }

  test("GIVEN a template that breaks a rule WHEN converted THEN the rule's message is on stderr and the exit code is 1", async () => {
    const r = await runCli(convertArgs("duplicate-metadata", "state"));
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.equal(r.stderr, "prewarm: convert: duplicate metadata resource: null_resource.dev\n");
  });

  test("GIVEN an agent nothing depends on WHEN converted THEN a warning on stderr says it was dropped", async () => {
    const r = await runCli(convertArgs("instance-identity", "state"));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: agent "orphan" was dropped/);
  });

  const notJson = join(scratch, "plan.json");
  writeFileSync(notJson, "this is not json");
  const missing = join(scratch, "missing.json");
  const dot = fixture("calling-module", "state", "dot");
  const badDot = join(scratch, "bad.dot");
  writeFileSync(badDot, 'digraph { "a" -> ');
  const cases: Array<[name: string, args: string[], stderr: RegExp]> = [
    [
      "a missing file",
      ["--state", missing, "--graph", dot],
      /^prewarm: read state ".*missing\.json": no such file\n$/,
    ],
    [
      "a file that is not JSON",
      ["--plan", notJson, "--graph", dot],
      /^prewarm: read plan ".*plan\.json": not JSON \(.*\)\n$/,
    ],
    [
      "neither --plan nor --state",
      ["--graph", dot],
      /^prewarm: convert: give exactly one of --plan FILE or --state FILE\n$/,
    ],
    [
      "a graph that is not DOT",
      ["--state", fixture("calling-module", "state", "json"), "--graph", badDot],
      /^prewarm: convert: parse graph: .*\n$/,
    ],
  ];
  for (const [name, args, stderr] of cases) {
    test(`GIVEN ${name} WHEN converting THEN one clear line on stderr and exit code 1`, async () => {
      const r = await runCli(["terraform", "convert", ...args]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, stderr);
    });
  }
});
