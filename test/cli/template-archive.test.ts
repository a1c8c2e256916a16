import assert from "node:assert/strict";
import { mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { buildTemplateArchive, exclusionReason } from "../../src/cli/template-archive.js";
import { makeTemplateDir, packedFiles, tarEntries } from "./support/template-dir.js";

describe("exclusionReason", () => {
  const cases: [string, boolean, string | undefined][] = [
    ["main.tf", false, undefined],
    [".terraform.lock.hcl", false, undefined],
    [".terraform.lock.hcl", true, "hidden"],
    [".terraform", true, "hidden"],
    [".env", false, "hidden"],
    ["terraform.tfstate", false, "terraform state"],
    ["terraform.tfstate.backup", false, "terraform state"],
    ["prod.tfvars", false, "terraform variables"],
    ["prod.tfvars.json", false, "terraform variables"],
    ["tfvars-notes.md", false, undefined],
  ];
  for (const [name, dir, want] of cases) {
    test(`${name}${dir ? "/" : ""} → ${want ?? "packed"}`, () =>
      assert.equal(exclusionReason(name, dir), want));
  }
});

describe("buildTemplateArchive", () => {
  test("GIVEN a template dir with hidden files, state and tfvars THEN only the template files are packed", async () => {
    const dir = await makeTemplateDir();
    try {
      const archive = await buildTemplateArchive(dir);
      const entries = tarEntries(archive.bytes);
      const files = [...entries]
        .filter(([, e]) => e.type === "file")
        .map(([p]) => p)
        .sort();
      assert.deepEqual(files, Object.keys(packedFiles).sort());
      assert.deepEqual(archive.files, Object.keys(packedFiles).sort());
      for (const [path, text] of Object.entries(packedFiles))
        assert.equal(entries.get(path)?.text, text, path);
      assert.equal(entries.get("scripts/start.sh")?.mode, 0o755, "executable bit kept");
      assert.equal(entries.get("sub/dir/")?.type, "directory");
      assert.ok(archive.skipped.includes(".git/") && archive.skipped.includes("terraform.tfstate"));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("GIVEN the same directory twice THEN the same bytes (so uploads deduplicate)", async () => {
    const dir = await makeTemplateDir();
    try {
      const a = await buildTemplateArchive(dir);
      const b = await buildTemplateArchive(dir);
      assert.deepEqual(a.bytes, b.bytes);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("GIVEN files over the size limit THEN a clear error naming the limit", async () => {
    const dir = await makeTemplateDir({ "big.bin": "x".repeat(3000) });
    try {
      await assert.rejects(buildTemplateArchive(dir, 2048), /more than the 0\.0 MiB limit \(at big\.bin\)/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("GIVEN a symlink THEN refused with its path", async () => {
    const dir = await makeTemplateDir({ "main.tf": "" });
    try {
      await symlink("main.tf", join(dir, "link.tf"));
      await assert.rejects(buildTemplateArchive(dir), /link\.tf: symbolic links are not supported/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("GIVEN only hidden files, or no directory THEN a clear error", async () => {
    const dir = await mkdtemp(join(tmpdir(), "prewarm-template-"));
    try {
      await writeFile(join(dir, ".env"), "x");
      await assert.rejects(buildTemplateArchive(dir), /has no files to push/);
      await assert.rejects(
        buildTemplateArchive(join(dir, "missing")),
        /does not exist or is not a directory/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
