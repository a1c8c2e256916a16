// The import rules of src/ (.dependency-cruiser.cjs), checked by the real dependency-cruiser: no circle (type-only
// imports count), the agent never imports the server, the CLI loads the server only lazily, the server imports
// the agent only for what it serves to workspace hosts. A second check feeds the same rules a module that breaks
// them, so this test can fail; a third, that what every CLI invocation loads stays light.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const depcruise = join(root, "node_modules", ".bin", "depcruise");

function cruise(paths: string[]): { code: number | null; output: string } {
  const r = spawnSync(depcruise, [...paths, "--config", ".dependency-cruiser.cjs", "--output-type", "err"], {
    cwd: root,
    encoding: "utf8",
    timeout: 60_000,
  });
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

describe("import rules", () => {
  test("src/ has no import circle and keeps the agent, CLI and server apart", () => {
    const { code, output } = cruise(["src"]);
    assert.equal(code, 0, output);
  });

  test("a circle and an agent → server import are reported", () => {
    const dir = mkdtempSync(join(root, "src", "agent", ".depcruise-probe-"));
    try {
      writeFileSync(join(dir, "a.ts"), 'import type { B } from "./b.js";\nexport type A = B | 1;\n');
      writeFileSync(
        join(dir, "b.ts"),
        'import type { A } from "./a.js";\nimport type { Store } from "../../server/store/store.js";\nexport type B = A | Store;\n',
      );
      const { code, output } = cruise([dir]);
      assert.notEqual(code, 0);
      assert.match(output, /no-circular/);
      assert.match(output, /agent-not-to-server/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a command registration that loads the client or a table library at start is reported", () => {
    const file = join(root, "src", "cli", "register", "zz-depcruise-probe.ts");
    try {
      writeFileSync(
        file,
        'import Table from "cli-table3";\nimport { ApiClient } from "../client.js";\nexport const probe = [Table, ApiClient];\n',
      );
      const { code, output } = cruise([file]);
      assert.notEqual(code, 0);
      assert.match(
        output,
        /cli-start-stays-light: src\/cli\/register\/zz-depcruise-probe\.ts → src\/cli\/client\.ts/,
      );
      assert.match(output, /cli-start-stays-light: .* → node_modules\/cli-table3\//);
    } finally {
      rmSync(file, { force: true });
    }
  });
});
