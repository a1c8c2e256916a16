// coder_workspace_tags evaluated for a build (workspace-tags.ts over tag-expression.ts): what templates write,
// what each reference resolves to, and the errors that refuse a build.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ExpressionError, evaluateExpression } from "../../../src/server/workspaces/tag-expression.js";
import {
  evaluateWorkspaceTags,
  type WorkspaceTagContext,
  WorkspaceTagError,
} from "../../../src/server/workspaces/workspace-tags.js";

const prebuild: WorkspaceTagContext = {
  variables: { region: "eu", replicas: "3" },
  parameters: { zone: "b", gpu: "true" },
  owner: { id: "c42f", name: "prebuilds", email: "", fullName: "Prebuilds", loginType: "none" },
  workspace: { id: "w1", name: "prebuild-ab12", transition: "start", isPrebuild: true },
};
const alice: WorkspaceTagContext = {
  ...prebuild,
  owner: { id: "a1", name: "alice", email: "alice@example.com", fullName: "Alice", loginType: "password" },
  workspace: { id: "w2", name: "dev", transition: "start", isPrebuild: false },
};

// The recipe "dedicated daemons for prebuild jobs", as parse.ts folds its counted block.
const RECIPE = '(data.coder_workspace_owner.me.name == "prebuilds" ? 1 : 0) > 0 ? ("true") : null';

describe("workspace tags (pure)", () => {
  const cases: [string, Record<string, string>, WorkspaceTagContext, Record<string, string>][] = [
    ["a static string", { team: '"infra"' }, alice, { team: "infra" }],
    ["a variable", { region: "var.region" }, alice, { region: "eu" }],
    ["a parameter by name", { zone: "data.coder_parameter.zone.value" }, alice, { zone: "b" }],
    [
      "interpolation",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: HCL source text, not a JS template
      { cluster: '"${var.region}-${data.coder_parameter.zone.value}"' },
      alice,
      { cluster: "eu-b" },
    ],
    ["a number and a bool", { n: "2", b: "true" }, alice, { n: "2", b: "true" }],
    ["the recipe for a prebuild", { is_prebuild: RECIPE }, prebuild, { is_prebuild: "true" }],
    ["the recipe for a person: no tag", { is_prebuild: RECIPE }, alice, {}],
    [
      "data.coder_workspace.is_prebuild",
      { p: "data.coder_workspace.me.is_prebuild" },
      prebuild,
      { p: "true" },
    ],
    [
      "a conditional on an owner's email",
      { pool: 'data.coder_workspace_owner.me.email == "" ? "system" : "people"' },
      alice,
      { pool: "people" },
    ],
    [
      "&&, || and !",
      { x: '!(var.region == "us") && (false || data.coder_parameter.gpu.value)' },
      alice,
      { x: "true" },
    ],
    [
      "a number comparison on a string variable",
      { big: 'var.replicas >= 3 ? "yes" : "no"' },
      alice,
      { big: "yes" },
    ],
    ["an escaped quote", { q: '"a\\"b"' }, alice, { q: 'a"b' }],
  ];
  for (const [name, expressions, ctx, expected] of cases) {
    test(`GIVEN ${name} WHEN evaluated THEN the tags are ${JSON.stringify(expected)}`, () =>
      assert.deepEqual(evaluateWorkspaceTags(expressions, ctx), expected));
  }

  const bad: [string, string, RegExp][] = [
    ["an unknown variable", "var.nope", /unknown reference var\.nope/],
    ["an unknown data source", "data.aws_ami.x.id", /unknown reference data\.aws_ami\.x\.id/],
    ["a function call", 'lower("A")', /function calls \(lower\) are not supported/],
    ["an object", "{ a = 1 }", /objects are not supported/],
    ["a syntax error", '"a" ==', /unexpected end/],
    ["a dangling token", '"a" "b"', /unexpected a string/],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: HCL source text, not a JS template
    ["a null in a string", '"${null}"', /null cannot be used in a string/],
    ["a string where a bool is needed", '"x" ? 1 : 0', /needs a bool/],
    ["an unterminated string", '"abc', /unterminated string/],
  ];
  for (const [name, source, message] of bad) {
    test(`GIVEN ${name} WHEN evaluated THEN a WorkspaceTagError names the tag`, () =>
      assert.throws(
        () => evaluateWorkspaceTags({ k: source }, alice),
        (err: unknown) => err instanceof WorkspaceTagError && err.key === "k" && message.test(err.message),
      ));
  }

  test("GIVEN an empty expression WHEN evaluated THEN an ExpressionError", () => {
    assert.throws(() => evaluateExpression("", () => undefined), ExpressionError);
  });
});
