import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  type ParameterDefinition,
  ParameterValidationError,
  type ResolveInput,
  resolveParameterValues,
} from "../../../src/server/workspaces/parameters.js";

function param(overrides: Partial<ParameterDefinition> & { name: string }): ParameterDefinition {
  return { type: "string", mutable: true, defaultValue: "", required: false, options: [], ...overrides };
}

const region = param({
  name: "region",
  defaultValue: "eu",
  options: [
    { name: "Europe", value: "eu" },
    { name: "US", value: "us" },
  ],
});
const cpus = param({ name: "cpus", type: "number", defaultValue: "2", validationMin: 1, validationMax: 8 });
const disk = param({ name: "disk", type: "number", defaultValue: "10", validationMonotonic: "increasing" });
const repo = param({ name: "repo", required: true, validationRegex: "^https://", mutable: false });
const gpu = param({ name: "gpu", type: "bool", defaultValue: "false" });
const tools = param({
  name: "tools",
  type: "list(string)",
  defaultValue: "[]",
  options: [
    { name: "Go", value: "go" },
    { name: "Node", value: "node" },
  ],
});

const parameters = [region, cpus, disk, repo, gpu, tools];

describe("resolveParameterValues: accepted", () => {
  const cases: Array<{
    name: string;
    input: Omit<ResolveInput, "parameters">;
    expect: Record<string, string>;
  }> = [
    {
      name: "GIVEN only the required value THEN defaults fill the rest, in parameter order",
      input: { provided: { repo: "https://x" } },
      expect: { region: "eu", cpus: "2", disk: "10", repo: "https://x", gpu: "false", tools: "[]" },
    },
    {
      name: "GIVEN a preset THEN its values apply",
      input: { provided: { repo: "https://x" }, preset: { region: "us", cpus: "4" } },
      expect: { region: "us", cpus: "4", disk: "10", repo: "https://x", gpu: "false", tools: "[]" },
    },
    {
      name: "GIVEN a later build without values THEN the previous build's values carry over",
      input: {
        previous: { region: "us", cpus: "3", disk: "20", repo: "https://y", gpu: "true", tools: '["go"]' },
      },
      expect: { region: "us", cpus: "3", disk: "20", repo: "https://y", gpu: "true", tools: '["go"]' },
    },
    {
      name: "GIVEN a monotonic increase THEN accepted",
      input: { previous: { disk: "20", repo: "https://y" }, provided: { disk: "30" } },
      expect: { region: "eu", cpus: "2", disk: "30", repo: "https://y", gpu: "false", tools: "[]" },
    },
    {
      name: "GIVEN min and max exactly THEN accepted (inclusive)",
      input: { provided: { repo: "https://x", cpus: "8" } },
      expect: { region: "eu", cpus: "8", disk: "10", repo: "https://x", gpu: "false", tools: "[]" },
    },
    {
      name: "GIVEN a multi-select of allowed options THEN accepted",
      input: { provided: { repo: "https://x", tools: '["go","node"]' } },
      expect: {
        region: "eu",
        cpus: "2",
        disk: "10",
        repo: "https://x",
        gpu: "false",
        tools: '["go","node"]',
      },
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const got = resolveParameterValues({ parameters, ...c.input });
      assert.deepEqual(Object.fromEntries(got.map((v) => [v.name, v.value])), c.expect);
      assert.deepEqual(
        got.map((v) => v.name),
        parameters.map((p) => p.name),
      );
    });
  }
});

describe("resolveParameterValues: rejected, naming the parameter", () => {
  const cases: Array<{
    name: string;
    input: Omit<ResolveInput, "parameters">;
    parameter: string;
    says: RegExp;
  }> = [
    { name: "missing required value", input: {}, parameter: "repo", says: /required/ },
    {
      name: "unknown parameter",
      input: { provided: { repo: "https://x", colour: "red" } },
      parameter: "colour",
      says: /no such parameter/,
    },
    {
      name: "value not among the options",
      input: { provided: { repo: "https://x", region: "mars" } },
      parameter: "region",
      says: /not one of the options: eu, us/,
    },
    {
      name: "number below the minimum",
      input: { provided: { repo: "https://x", cpus: "0" } },
      parameter: "cpus",
      says: /less than the minimum 1/,
    },
    {
      name: "number above the maximum",
      input: { provided: { repo: "https://x", cpus: "9" } },
      parameter: "cpus",
      says: /more than the maximum 8/,
    },
    {
      name: "not a number",
      input: { provided: { repo: "https://x", cpus: "many" } },
      parameter: "cpus",
      says: /not a number/,
    },
    {
      name: "regex mismatch",
      input: { provided: { repo: "git@x" } },
      parameter: "repo",
      says: /does not match/,
    },
    {
      name: "not a boolean",
      input: { provided: { repo: "https://x", gpu: "yes" } },
      parameter: "gpu",
      says: /not a boolean/,
    },
    {
      name: "list that is not JSON",
      input: { provided: { repo: "https://x", tools: "go,node" } },
      parameter: "tools",
      says: /JSON list/,
    },
    {
      name: "list with an option not allowed",
      input: { provided: { repo: "https://x", tools: '["rust"]' } },
      parameter: "tools",
      says: /"rust" is not one of the options/,
    },
    {
      name: "monotonic decrease",
      input: { previous: { disk: "20", repo: "https://y" }, provided: { disk: "10" } },
      parameter: "disk",
      says: /must be increasing/,
    },
    {
      name: "immutable parameter changed on a later build",
      input: { previous: { repo: "https://y" }, provided: { repo: "https://z" } },
      parameter: "repo",
      says: /immutable/,
    },
    {
      name: "user value contradicting the preset",
      input: { provided: { repo: "https://x", region: "eu" }, preset: { region: "us" } },
      parameter: "region",
      says: /preset sets it to "us"/,
    },
  ];
  for (const c of cases) {
    test(`GIVEN ${c.name} THEN an error naming "${c.parameter}"`, () => {
      assert.throws(
        () => resolveParameterValues({ parameters, ...c.input }),
        (err: unknown) =>
          err instanceof ParameterValidationError &&
          err.parameter === c.parameter &&
          c.says.test(err.message),
      );
    });
  }

  test("GIVEN a custom validation error THEN the template author's message is shown", () => {
    const p = param({
      name: "name",
      validationRegex: "^[a-z]+$",
      validationError: "lower-case letters only",
    });
    assert.throws(
      () => resolveParameterValues({ parameters: [p], provided: { name: "ABC" } }),
      /lower-case letters only/,
    );
  });
});
