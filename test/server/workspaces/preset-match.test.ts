// Which presets a create without --preset is for: exact equality of RESOLVED values (explicit, then the
// preset's, then defaults) on every non-ephemeral parameter, default preset first, then by name.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ParameterDefinition } from "../../../src/server/workspaces/parameters.js";
import { type MatchablePreset, matchingPresets } from "../../../src/server/workspaces/preset-match.js";

const param = (name: string, defaultValue: string, more: Partial<ParameterDefinition> = {}) => ({
  name,
  type: "string",
  mutable: true,
  defaultValue,
  required: false,
  options: [],
  ...more,
});

// region (default us), size (default small), and an ephemeral debug flag.
const DEFINITIONS: ParameterDefinition[] = [
  param("region", "us"),
  param("size", "small"),
  param("debug", "false", { ephemeral: true }),
];

const presets: MatchablePreset[] = [
  { name: "us", isDefault: false, parameters: { region: "us" } },
  { name: "eu-big", isDefault: false, parameters: { region: "eu", size: "big" } },
  { name: "bare", isDefault: false, parameters: {} },
  { name: "us-small-explicit", isDefault: true, parameters: { region: "us", size: "small" } },
  { name: "broken", isDefault: false, parameters: { nosuch: "x" } },
];

/** What the service passes: the request's values resolved (explicit, then defaults). */
function resolved(request: Record<string, string>): Record<string, string> {
  return Object.fromEntries(DEFINITIONS.map((d) => [d.name, request[d.name] ?? d.defaultValue]));
}

describe("matchingPresets", () => {
  const table: { name: string; request: Record<string, string>; want: string[] }[] = [
    {
      name: "GIVEN a request for a size the preset leaves at its default THEN the preset does not match (no over-match)",
      request: { region: "us", size: "big" },
      want: [],
    },
    {
      name: "GIVEN a request with no parameters THEN every preset whose values are all defaults matches, default first",
      request: {},
      want: ["us-small-explicit", "bare", "us"],
    },
    {
      name: "GIVEN a request that spells out the defaults THEN it matches the same presets",
      request: { region: "us", size: "small" },
      want: ["us-small-explicit", "bare", "us"],
    },
    {
      name: "GIVEN a request equal to a preset's values THEN only that preset matches",
      request: { region: "eu", size: "big" },
      want: ["eu-big"],
    },
    {
      name: "GIVEN a request that differs only in an ephemeral parameter THEN it still matches",
      request: { region: "eu", size: "big", debug: "true" },
      want: ["eu-big"],
    },
    {
      name: "GIVEN a request no preset resolves to THEN nothing matches",
      request: { region: "eu" },
      want: [],
    },
  ];
  for (const row of table) {
    test(row.name, () => {
      const got = matchingPresets(DEFINITIONS, resolved(row.request), presets).map((p) => p.name);
      assert.deepEqual(got, row.want);
    });
  }

  test("GIVEN two matching presets that are not the default THEN name order decides, deterministically", () => {
    const got = matchingPresets(DEFINITIONS, resolved({}), [
      { name: "b", isDefault: false, parameters: {} },
      { name: "a", isDefault: false, parameters: { size: "small" } },
    ]);
    assert.deepEqual(
      got.map((p) => p.name),
      ["a", "b"],
    );
  });

  test("GIVEN a template without parameters THEN every valid preset matches", () => {
    const got = matchingPresets([], {}, [{ name: "only", isDefault: false, parameters: {} }]);
    assert.deepEqual(
      got.map((p) => p.name),
      ["only"],
    );
  });
});
