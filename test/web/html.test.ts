// The `html` tag escapes every interpolated value; only Html values (from the tag itself or `raw`) pass through.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { escapeHtml, html, raw } from "../../src/server/web/html.js";

describe("html tag", () => {
  test("GIVEN hostile strings THEN every HTML-significant character is escaped", () => {
    const table: Array<{ input: string; expected: string }> = [
      { input: "<script>alert(1)</script>", expected: "&lt;script&gt;alert(1)&lt;/script&gt;" },
      { input: `" onmouseover="x`, expected: "&quot; onmouseover=&quot;x" },
      { input: "' autofocus '", expected: "&#39; autofocus &#39;" },
      { input: "a & b", expected: "a &amp; b" },
      { input: "`tick`", expected: "&#96;tick&#96;" },
      { input: "plain", expected: "plain" },
    ];
    for (const row of table) {
      assert.equal(escapeHtml(row.input), row.expected);
      assert.equal(
        html`<p title="${row.input}">${row.input}</p>`.value,
        `<p title="${row.expected}">${row.expected}</p>`,
      );
    }
  });

  test("GIVEN nested templates, arrays, numbers and falsy values THEN they render without double escaping", () => {
    const items = ["<a>", "b&"];
    const out = html`<ul>${items.map((i) => html`<li>${i}</li>`)}</ul>${null}${undefined}${false}${0}${raw("<hr>")}`;
    assert.equal(out.value, "<ul><li>&lt;a&gt;</li><li>b&amp;</li></ul>0<hr>");
  });

  test("GIVEN a value that looks like markup but is a plain string THEN it is not trusted", () => {
    const fake = { value: "<b>x</b>", toString: () => "<b>x</b>" } as unknown as string;
    assert.equal(html`${fake}`.value, "&lt;b&gt;x&lt;/b&gt;");
  });
});
