// The create form's parameter controls: the control chosen by type, options and form type; the markup of a
// dropdown, radio group, checkbox, slider and list under the parameter's display name; and the submitted form
// read back (unset fields left out, lists as JSON arrays).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { TemplateParameter } from "../../src/server/store/templates.js";
import { inputKind, parameterInput, parseParameters } from "../../src/server/web/param-inputs.js";

const param = (over: Partial<TemplateParameter>): TemplateParameter => ({
  name: "p",
  displayName: "",
  description: "",
  type: "string",
  formType: "",
  mutable: true,
  defaultValue: "",
  icon: "",
  options: [],
  validationRegex: "",
  validationError: "",
  validationMin: null,
  validationMax: null,
  validationMonotonic: "",
  required: false,
  displayOrder: 0,
  ephemeral: false,
  ...over,
});
const opts = (...values: string[]) =>
  values.map((v) => ({ name: v.toUpperCase(), value: v, description: "", icon: "" }));

describe("parameter controls", () => {
  test("GIVEN type, options and form type THEN the control is chosen as Coder does", () => {
    const table: Array<{ p: Partial<TemplateParameter>; kind: string }> = [
      { p: {}, kind: "text" },
      { p: { formType: "input" }, kind: "text" },
      { p: { formType: "textarea" }, kind: "textarea" },
      { p: { options: opts("a", "b") }, kind: "radio" },
      { p: { options: opts("a", "b"), formType: "radio" }, kind: "radio" },
      { p: { options: opts("a", "b"), formType: "dropdown" }, kind: "dropdown" },
      { p: { options: opts("a", "b"), formType: "DROPDOWN" }, kind: "dropdown" },
      { p: { type: "number" }, kind: "number" },
      { p: { type: "number", formType: "slider", validationMin: 1, validationMax: 8 }, kind: "slider" },
      // a slider needs both bounds
      { p: { type: "number", formType: "slider", validationMin: 1 }, kind: "number" },
      { p: { type: "number", options: opts("1", "2"), formType: "dropdown" }, kind: "dropdown" },
      { p: { type: "bool" }, kind: "checkbox" },
      { p: { type: "bool", formType: "checkbox" }, kind: "checkbox" },
      { p: { type: "bool", formType: "switch" }, kind: "switch" },
      { p: { type: "list(string)", options: opts("a", "b") }, kind: "multi-select" },
      { p: { type: "list(string)", formType: "multi-select", options: opts("a") }, kind: "multi-select" },
      { p: { type: "list(string)" }, kind: "tag-select" },
      { p: { type: "list(string)", formType: "tag-select" }, kind: "tag-select" },
    ];
    for (const row of table) assert.equal(inputKind(param(row.p)), row.kind, JSON.stringify(row.p));
  });

  test("GIVEN a dropdown THEN it is a select under the display name with a default choice and the option names", () => {
    const p = param({
      name: "region",
      displayName: "Region",
      description: "Where it runs.",
      formType: "dropdown",
      defaultValue: "eu",
      options: opts("eu", "us"),
    });
    const out = parameterInput(p, "us", "region: nope").value;
    assert.match(out, /<label for="param-region">Region<\/label>/);
    assert.match(
      out,
      /<select id="param-region" name="param_region" aria-invalid="true" aria-describedby="param-region-error param-region-hint">/,
    );
    assert.match(out, /<option value="">default \(EU\)<\/option>/);
    assert.match(out, /<option value="us" selected>US<\/option>/);
    assert.match(out, /id="param-region-error" role="alert">region: nope</);
  });

  test("GIVEN radio, checkbox, switch, slider and lists THEN each renders its control", () => {
    const radio = parameterInput(
      param({ name: "size", options: opts("s", "l"), required: true }),
      "",
      undefined,
    ).value;
    assert.match(
      radio,
      /<fieldset class="field" id="param-size" data-kind="radio"><legend>size \(required\)<\/legend>/,
    );
    assert.match(radio, /<input type="radio" name="param_size" value="" checked> <span>choose one<\/span>/);
    assert.match(radio, /<input type="radio" id="param-size-1" name="param_size" value="l" >/);

    const check = parameterInput(
      param({ name: "gpu", type: "bool", defaultValue: "true" }),
      "",
      undefined,
    ).value;
    assert.match(check, /name="paramdefault_gpu" value="true"/);
    assert.match(check, /<input type="checkbox" id="param-gpu" name="param_gpu" value="true" {2}checked>/);
    const sw = parameterInput(param({ name: "gpu", type: "bool", formType: "switch" }), "", undefined).value;
    assert.match(sw, /role="switch"/);
    assert.doesNotMatch(sw, / checked/);

    const slider = parameterInput(
      param({
        name: "cpu",
        type: "number",
        formType: "slider",
        validationMin: 2,
        validationMax: 16,
        defaultValue: "4",
      }),
      "",
      undefined,
    ).value;
    assert.match(
      slider,
      /<input type="range" id="param-cpu" name="param_cpu" min="2" max="16" step="1" value="4">/,
    );

    const multi = parameterInput(
      param({ name: "ides", type: "list(string)", options: opts("vim", "code") }),
      '["code"]',
      undefined,
    ).value;
    assert.match(multi, /name="paramlist_ides" value="multi"/);
    assert.match(multi, /value="code" checked> CODE/);
    const tags = parameterInput(param({ name: "tags", type: "list(string)" }), '["a","b"]', undefined).value;
    assert.match(
      tags,
      /<textarea id="param-tags" name="param_tags" rows="3" placeholder="one value per line">a\nb<\/textarea>/,
    );
  });

  test("GIVEN submitted forms THEN unset fields are left out and lists become JSON arrays", () => {
    const table: Array<{ body: Record<string, unknown>; expected: Record<string, string> }> = [
      { body: { param_region: " us ", param_size: "", name: "x" }, expected: { region: "us" } },
      // a checkbox left as shown is unset; changed, it says so (unticked sends nothing)
      { body: { paramdefault_gpu: "false" }, expected: {} },
      { body: { paramdefault_gpu: "false", param_gpu: "true" }, expected: { gpu: "true" } },
      { body: { paramdefault_gpu: "true" }, expected: { gpu: "false" } },
      { body: { paramdefault_cpu: "4", param_cpu: "4" }, expected: {} },
      { body: { paramdefault_cpu: "4", param_cpu: "8" }, expected: { cpu: "8" } },
      {
        body: { paramlist_ides: "multi", param_ides: ["vim", "code"] },
        expected: { ides: '["vim","code"]' },
      },
      { body: { paramlist_ides: "multi" }, expected: {} },
      { body: { paramlist_tags: "lines", param_tags: "a\r\n\n b \n" }, expected: { tags: '["a","b"]' } },
      { body: { paramlist_tags: "lines", param_tags: "  " }, expected: {} },
    ];
    for (const row of table)
      assert.deepEqual(parseParameters(row.body), row.expected, JSON.stringify(row.body));
  });
});
