// Golden tests of the terraform conversion: every case folder under test/fixtures/terraform holds the
// `terraform show -json` + `terraform graph` output of a plan and/or a state (`<case>.tfplan.*`,
// `<case>.tfstate.*`) and `expected.json`, the reviewed result (or `{"error": "..."}`).
//
// The recorded cases come from Terraform 1.13 (copied from ../shared/fixtures/terraform); the small
// hand-written ones (state only) cover rules the recordings do not: every error rule, instance identity,
// prebuild settings, resource metadata, the simplified graph flavour.
//
// Agent ids and tokens are unknown at plan time and random after apply, so both are replaced by
// placeholders before comparing; everything else must be identical for the plan and the state input.
//
// UPDATE_GOLDEN=1 rewrites expected.json from the current output — review the diff before committing.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  ConversionError,
  type ConversionResult,
  convertTerraform,
} from "../../../src/provisioners/terraform/convert.js";
import { conversionResultToJson } from "../../../src/provisioners/terraform/convert-json.js";

const fixtures = fileURLToPath(new URL("../../fixtures/terraform/", import.meta.url));
const update = process.env.UPDATE_GOLDEN === "1";
const kinds = ["plan", "state"] as const;
type Kind = (typeof kinds)[number];

function inputPaths(name: string, kind: Kind) {
  const base = join(fixtures, name, `${name}.tf${kind}`);
  return { json: `${base}.json`, dot: `${base}.dot` };
}

function normalise(result: ConversionResult): ConversionResult {
  for (const resource of result.resources) {
    for (const agent of resource.agents) {
      agent.id = "<agent-id>";
      if (agent.auth.case === "token") agent.auth.value = "<token>";
    }
  }
  return result;
}

function outcome(name: string, kind: Kind): unknown {
  const paths = inputPaths(name, kind);
  try {
    const result = convertTerraform({
      state: JSON.parse(readFileSync(paths.json, "utf8")),
      graph: readFileSync(paths.dot, "utf8"),
      kind,
    });
    return conversionResultToJson(normalise(result));
  } catch (err) {
    if (err instanceof ConversionError) return { error: err.message };
    throw err;
  }
}

const cases = readdirSync(fixtures, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

test("GIVEN the fixture folder THEN it holds the recorded cases and the hand-written ones", () => {
  for (const name of ["calling-module", "kubernetes-metadata", "rich-parameters", "duplicate-metadata"]) {
    assert.ok(cases.includes(name), `missing fixture ${name}`);
  }
});

for (const name of cases) {
  describe(`fixture ${name}`, () => {
    const present = kinds.filter((k) => existsSync(inputPaths(name, k).json));
    const expectedPath = join(fixtures, name, "expected.json");

    test("GIVEN the case THEN it has an input and an expected result", () => {
      assert.ok(present.length > 0, "no .tfplan.json or .tfstate.json");
      if (update) {
        const last = present[present.length - 1]!;
        writeFileSync(expectedPath, `${JSON.stringify(outcome(name, last), null, 2)}\n`);
      }
      assert.ok(existsSync(expectedPath), "expected.json missing (run with UPDATE_GOLDEN=1, then review it)");
    });

    for (const kind of present) {
      test(`GIVEN the ${kind} input WHEN converted THEN the result matches expected.json`, () => {
        const expected = JSON.parse(readFileSync(expectedPath, "utf8"));
        assert.deepEqual(outcome(name, kind), expected);
      });
    }

    if (present.length === 2) {
      test("GIVEN the plan and the state input WHEN converted THEN they give the same result", () => {
        assert.deepEqual(outcome(name, "plan"), outcome(name, "state"));
      });
    }
  });
}
