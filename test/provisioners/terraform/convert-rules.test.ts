// Rule-by-rule tests of the terraform conversion on small inline inputs (the golden tests cover whole
// templates): graph parsing, labels and module paths, agent placement, plan-time reading, validation rules,
// resource replacements.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  ConversionError,
  convertTerraform,
  resourceReplacements,
} from "../../../src/provisioners/terraform/convert.js";
import { GraphParseError, nearestLabel, parseGraph } from "../../../src/provisioners/terraform/graph.js";
import {
  INVALID_ADDRESS,
  modulePath,
  resourceLabel,
  type TerraformResource,
  type TerraformShowJson,
} from "../../../src/provisioners/terraform/tfjson.js";

// --- builders -------------------------------------------------------------------------------------------

function managed(address: string, values: Record<string, unknown> = {}): TerraformResource {
  const parts = address.replace(/\[[^\]]*\]/g, "").split(".");
  return { address, mode: "managed", type: parts.at(-2)!, name: parts.at(-1)!, values };
}

function data(address: string, values: Record<string, unknown> = {}): TerraformResource {
  return { ...managed(address, values), mode: "data" };
}

const agent = (name: string, values: Record<string, unknown> = {}) =>
  managed(`coder_agent.${name}`, { auth: "token", token: "t", id: `id-${name}`, ...values });

function stateOf(resources: TerraformResource[]): TerraformShowJson {
  return { values: { root_module: { resources } } };
}

/** Detailed-flavour DOT: nodes by label, edges [dependent, dependency]. */
function dotOf(labels: string[], edges: Array<[string, string]>): string {
  const id = (l: string) => JSON.stringify(`[root] ${l} (expand)`);
  return [
    "digraph {",
    '\tsubgraph "root" {',
    ...labels.map((l) => `\t\t${id(l)} [label = ${JSON.stringify(l)}, shape = "box"]`),
    ...edges.map(([a, b]) => `\t\t${id(a)} -> ${id(b)}`),
    "\t}",
    "}",
  ].join("\n");
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConversionError, `expected a ConversionError, got ${String(err)}`);
    return err.message;
  }
  assert.fail("expected a ConversionError");
}

// --- graph ----------------------------------------------------------------------------------------------

describe("parseGraph", () => {
  test("GIVEN the detailed flavour WHEN parsed THEN labels come from the label attribute and edges point at dependencies", () => {
    const g = parseGraph(
      [
        "digraph {",
        '\tcompound = "true"',
        '\tsubgraph "root" {',
        '\t\t"[root] coder_agent.main (expand)" [label = "coder_agent.main", shape = "box"]',
        '\t\t"[root] provider[\\"registry.terraform.io/coder/coder\\"]" [label = "provider[\\"registry.terraform.io/coder/coder\\"]", shape = "diamond"]',
        '\t\t"[root] local.x (expand)" -> "[root] coder_agent.main (expand)"',
        "\t}",
        "}",
      ].join("\n"),
    );
    assert.equal(g.labels.get("[root] coder_agent.main (expand)"), "coder_agent.main");
    assert.equal(
      g.labels.get('[root] provider["registry.terraform.io/coder/coder"]'),
      'provider["registry.terraform.io/coder/coder"]',
    );
    assert.equal(g.labels.has("[root] local.x (expand)"), false, "undeclared helper nodes have no label");
    assert.deepEqual(g.dependencies.get("[root] local.x (expand)"), ["[root] coder_agent.main (expand)"]);
    assert.deepEqual(g.dependents.get("[root] coder_agent.main (expand)"), ["[root] local.x (expand)"]);
  });

  test("GIVEN the simplified flavour (Terraform ≥ 1.7 `terraform graph`) WHEN parsed THEN node ids are the addresses", () => {
    const g = parseGraph(`digraph G {
  rankdir = "RL";
  node [shape = rect, fontname = "sans-serif"];
  "coder_agent.main" [label="coder_agent.main"];
  subgraph "cluster_module.ws" {
    label = "module.ws"
    "module.ws.null_resource.disk" [label="null_resource.disk"];
  }
  "module.ws.null_resource.disk" -> "coder_agent.main" -> "x.y";
}`);
    assert.equal(g.labels.get("module.ws.null_resource.disk"), "module.ws.null_resource.disk");
    assert.deepEqual(g.edges, [
      ["module.ws.null_resource.disk", "coder_agent.main"],
      ["coder_agent.main", "x.y"],
    ]);
  });

  for (const [name, text] of [
    ["an unterminated string", 'digraph { "a -> "b" }'],
    ["a missing closing brace", 'digraph { "a" -> "b"'],
    ["text that is not a graph", '{"format_version": "1.0"}'],
  ] as const) {
    test(`GIVEN ${name} WHEN parsed THEN a GraphParseError (a ConversionError) says so`, () => {
      assert.throws(
        () => parseGraph(text),
        (err: unknown) => err instanceof GraphParseError && err instanceof ConversionError,
      );
    });
  }
});

describe("nearestLabel", () => {
  const g = parseGraph(
    dotOf(
      ["agent", "b_far", "a_far", "z_near", "y_near"],
      [
        ["z_near", "agent"],
        ["y_near", "agent"],
        ["a_far", "z_near"],
        ["b_far", "helper"],
        ["helper", "agent"],
      ],
    ),
  );
  const start = ["[root] agent (expand)"];
  test("GIVEN candidates at several distances WHEN searching up THEN the nearest wins, ties by smallest label", () => {
    assert.equal(
      nearestLabel(g, start, "up", () => true),
      "y_near",
    );
  });
  test("GIVEN the near ones rejected WHEN searching up THEN the walk continues through unlabelled nodes", () => {
    assert.equal(
      nearestLabel(g, start, "up", (l) => l.endsWith("_far")),
      "a_far",
    );
  });
  test("GIVEN nothing acceptable WHEN searching THEN undefined", () => {
    assert.equal(
      nearestLabel(g, start, "down", () => true),
      undefined,
    );
  });
});

// --- addresses ------------------------------------------------------------------------------------------

describe("resource addresses", () => {
  const cases: Array<[address: string, label: string, module: string]> = [
    ["aws_instance.dev", "aws_instance.dev", ""],
    ["aws_instance.dev[0]", "aws_instance.dev", ""],
    ['coder_app.apps["a.b]"]', "coder_app.apps", ""],
    ["data.coder_parameter.p", "data.coder_parameter.p", ""],
    ["module.m.data.coder_parameter.p", "module.m.data.coder_parameter.p", "module.m"],
    ["module.a.module.b[0].null_resource.x[1]", "module.a.module.b.null_resource.x", "module.a.module.b[0]"],
    ["garbage", "garbage", INVALID_ADDRESS],
    ["module.m.too.many.parts", "module.m.too.many.parts", INVALID_ADDRESS],
  ];
  for (const [address, label, module] of cases) {
    test(`GIVEN ${address} THEN label ${label} and module path ${JSON.stringify(module)}`, () => {
      assert.equal(resourceLabel(address), label);
      assert.equal(modulePath(address), module);
    });
  }
});

// --- agents ---------------------------------------------------------------------------------------------

describe("agent names", () => {
  const cases: Array<[name: string, error: RegExp | undefined]> = [
    ["dev", undefined],
    ["Dev-1", undefined],
    ["dev_x", /contains underscores which are no longer supported, please use hyphens instead/],
    ["dev--x", /agent name "dev--x" does not match regex/],
    ["-dev", /does not match regex/],
  ];
  for (const [name, error] of cases) {
    test(`GIVEN an agent named ${JSON.stringify(name)} WHEN converted THEN ${error ? "an error" : "it is accepted"}`, () => {
      const input = {
        state: stateOf([agent(name), managed("null_resource.dev")]),
        graph: dotOf(
          [`coder_agent.${name}`, "null_resource.dev"],
          [["null_resource.dev", `coder_agent.${name}`]],
        ),
        kind: "state" as const,
      };
      if (error)
        assert.match(
          errorOf(() => convertTerraform(input)),
          error,
        );
      else assert.equal(convertTerraform(input).resources[0]?.agents[0]?.name, name);
    });
  }

  test("GIVEN a coder_agent with count = 2 WHEN converted THEN its instances share a name, which is an error", () => {
    const input = {
      state: stateOf([agent("dev[0]"), agent("dev[1]"), managed("null_resource.dev")]),
      graph: dotOf(["coder_agent.dev", "null_resource.dev"], [["null_resource.dev", "coder_agent.dev"]]),
      kind: "state" as const,
    };
    assert.equal(
      errorOf(() => convertTerraform(input)),
      "duplicate agent name: dev",
    );
  });

  test("GIVEN an agent missing from the graph WHEN converted THEN the error names its label", () => {
    const input = { state: stateOf([agent("dev")]), graph: dotOf([], []), kind: "state" as const };
    assert.equal(
      errorOf(() => convertTerraform(input)),
      'couldn\'t find node on graph: "coder_agent.dev"',
    );
  });
});

describe("legacy agent scripts", () => {
  const cases: Array<[values: Record<string, unknown>, blocks: boolean]> = [
    [{ startup_script: "s" }, false],
    [{ startup_script: "s", startup_script_behavior: "blocking" }, true],
    [{ startup_script: "s", login_before_ready: false }, true],
    [{ startup_script: "s", login_before_ready: true, startup_script_behavior: "non-blocking" }, false],
  ];
  for (const [values, blocks] of cases) {
    test(`GIVEN ${JSON.stringify(values)} THEN the startup script ${blocks ? "blocks" : "does not block"} login`, () => {
      const result = convertTerraform({
        state: stateOf([agent("dev", values), managed("null_resource.dev")]),
        graph: dotOf(["coder_agent.dev", "null_resource.dev"], [["null_resource.dev", "coder_agent.dev"]]),
        kind: "state",
      });
      const scripts = result.resources[0]!.agents[0]!.scripts;
      assert.deepEqual(
        scripts.map((s) => [s.displayName, s.runOnStart, s.startBlocksLogin]),
        [["Startup Script", true, blocks]],
      );
    });
  }
});

// --- plans ----------------------------------------------------------------------------------------------

describe("plan input", () => {
  test("GIVEN a stop plan WHEN converted THEN prior managed resources are not reported but prior data sources are read once", () => {
    const parameter = data("data.coder_parameter.region", { name: "region", type: "string", optional: true });
    const plan: TerraformShowJson = {
      prior_state: { values: { root_module: { resources: [managed("null_resource.dev"), parameter] } } },
      planned_values: { root_module: { resources: [parameter] } },
    };
    const result = convertTerraform({ state: plan, graph: dotOf([], []), kind: "plan" });
    assert.deepEqual(result.resources, []);
    assert.deepEqual(
      result.parameters.map((p) => p.name),
      ["region"],
    );
  });

  test("GIVEN a plan with unknown ids WHEN an app in a module has an edge to its agent THEN it is attached by label", () => {
    const plan: TerraformShowJson = {
      planned_values: {
        root_module: {
          child_modules: [
            {
              address: "module.m",
              resources: [
                managed("module.m.coder_agent.dev", { auth: "token" }),
                managed("module.m.coder_app.web", { slug: "web" }),
                managed("module.m.coder_app.other", { slug: "other" }),
                managed("module.m.null_resource.dev"),
              ],
            },
          ],
        },
      },
    };
    const graph = dotOf(
      [
        "module.m.coder_agent.dev",
        "module.m.coder_app.web",
        "module.m.coder_app.other",
        "module.m.null_resource.dev",
      ],
      [
        ["module.m.coder_app.web", "module.m.coder_agent.dev"],
        ["module.m.null_resource.dev", "module.m.coder_agent.dev"],
      ],
    );
    const result = convertTerraform({ state: plan, graph, kind: "plan" });
    assert.deepEqual(
      result.resources[0]?.agents[0]?.apps.map((a) => a.slug),
      ["web"],
    );
    assert.equal(result.resources[0]?.modulePath, "module.m");
  });
});

// --- parameters -----------------------------------------------------------------------------------------

describe("parameters", () => {
  const convertParameter = (values: Record<string, unknown>) =>
    convertTerraform({
      state: stateOf([data("data.coder_parameter.p", { name: "p", type: "number", ...values })]),
      graph: dotOf([], []),
      kind: "state",
    }).parameters[0]!;

  const validations: Array<
    [block: Record<string, unknown>, min: number | undefined, max: number | undefined]
  > = [
    [{ min: 0, max: 0 }, undefined, undefined], // provider < 0.8.2, nothing set
    [{ min: 0, max: 5 }, 0, 5], // provider < 0.8.2, one set ⇒ both
    [{ min: 2, max: 0, min_disabled: false, max_disabled: true }, 2, undefined],
    [{ min: 0, max: 0, min_disabled: true, max_disabled: false }, undefined, 0],
  ];
  for (const [block, min, max] of validations) {
    test(`GIVEN validation ${JSON.stringify(block)} THEN min ${min} and max ${max}`, () => {
      const p = convertParameter({ validation: [block] });
      assert.equal(p.validationMin, min);
      assert.equal(p.validationMax, max);
    });
  }

  test("GIVEN an unknown form_type THEN the error names the parameter", () => {
    assert.match(
      errorOf(() => convertParameter({ form_type: "wheel" })),
      /^decode form_type for coder_parameter\.p: unknown form type "wheel"/,
    );
  });

  test("GIVEN a single duplicated name THEN the message uses the singular", () => {
    const input = {
      state: stateOf([
        data("data.coder_parameter.a", { name: "x" }),
        data("data.coder_parameter.b", { name: "x" }),
      ]),
      graph: dotOf([], []),
      kind: "state" as const,
    };
    assert.equal(
      errorOf(() => convertTerraform(input)),
      'coder_parameter names must be unique but "x" appears multiple times',
    );
  });
});

// --- replacements ---------------------------------------------------------------------------------------

describe("resourceReplacements", () => {
  test("GIVEN resource changes WHEN listing replacements THEN only replaced non-coder resources with paths appear", () => {
    const plan: TerraformShowJson = {
      resource_changes: [
        {
          address: "aws_instance.dev",
          type: "aws_instance",
          change: { actions: ["delete", "create"], replace_paths: [["ami"], ["ebs", 0, "size"]] },
        },
        {
          address: "aws_instance.dev",
          type: "aws_instance",
          change: { actions: ["delete", "create"], replace_paths: ["tags"] },
        },
        {
          address: "coder_agent.dev",
          type: "coder_agent",
          change: { actions: ["delete", "create"], replace_paths: [["id"]] },
        },
        {
          address: "null_resource.same",
          type: "null_resource",
          change: { actions: ["no-op"], replace_paths: [["x"]] },
        },
        {
          address: "null_resource.none",
          type: "null_resource",
          change: { actions: ["update"], replace_paths: [] },
        },
        { address: "null_resource.nochange", type: "null_resource", change: null },
      ],
    };
    assert.deepEqual(
      resourceReplacements(plan).map((r) => [r.resource, r.paths]),
      [["aws_instance.dev", ["ami", "ebs.0.size", "tags"]]],
    );
  });
});
