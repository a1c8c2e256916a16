// The committed generated code (src/gen) must be what `npm run generate` produces from proto/ now.
import assert from "node:assert/strict";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { test } from "node:test";
import { repoRoot } from "../support/cli.js";
import { buf, tempDir } from "./buf.js";

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

test("GIVEN proto/ and buf.gen.yaml WHEN generating afresh THEN src/gen is byte-for-byte identical", async (t) => {
  const tmp = await tempDir("prewarm-gen-fresh-");
  t.after(tmp.dispose);
  // The repository's own template with only the output directory changed, so options never drift.
  const template = await readFile(join(repoRoot, "buf.gen.yaml"), "utf8");
  const out = join(tmp.path, "gen");
  const redirected = template.replace(/^(\s*out:\s*)src\/gen\s*$/m, `$1${JSON.stringify(out)}`);
  assert.notEqual(redirected, template, "buf.gen.yaml has an `out: src/gen` line to redirect");
  const templatePath = join(tmp.path, "buf.gen.yaml");
  await writeFile(templatePath, redirected);

  await buf(["generate", "--template", templatePath], repoRoot);

  const committed = join(repoRoot, "src", "gen");
  const fresh = await listFiles(out);
  assert.deepEqual(await listFiles(committed), fresh, "same generated files (run `npm run generate`)");
  for (const file of fresh) {
    const [a, b] = await Promise.all([readFile(join(committed, file)), readFile(join(out, file))]);
    assert.ok(a.equals(b), `src/gen/${file} is stale: run \`npm run generate\` and commit the result`);
  }
});
