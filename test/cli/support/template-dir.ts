// A template directory fixture with files that must and must not be pushed.
import { chmod, mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { readTar } from "../../../src/provisionersdk/tar-format.js";

/** path → contents; the files `templates push` must pack. */
export const packedFiles: Record<string, string> = {
  "main.tf": 'resource "terraform_data" "x" {}\n',
  "README.md": "# demo\n",
  ".terraform.lock.hcl": "# lock\n",
  "scripts/start.sh": "#!/bin/sh\necho hi\n",
  "sub/dir/deep.txt": "deep\n",
};

/** path → contents; the files it must leave out. */
export const skippedFiles: Record<string, string> = {
  ".env": "SECRET=1\n",
  ".git/config": "[core]\n",
  ".terraform/providers/x": "binary\n",
  "terraform.tfstate": "{}\n",
  "terraform.tfstate.backup": "{}\n",
  "prod.tfvars": 'secret = "x"\n',
  "sub/.hidden": "x\n",
};

export async function makeTemplateDir(
  files: Record<string, string> = { ...packedFiles, ...skippedFiles },
): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "prewarm-template-"));
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  if (files["scripts/start.sh"]) await chmod(join(dir, "scripts/start.sh"), 0o755);
  return dir;
}

/** The entries of a tar archive: path → { type, mode, text }. */
export function tarEntries(archive: Uint8Array): Map<string, { type: string; mode: number; text: string }> {
  const out = new Map<string, { type: string; mode: number; text: string }>();
  readTar(archive, (e) =>
    out.set(e.path, { type: e.type, mode: e.mode, text: Buffer.from(e.data).toString("utf8") }),
  );
  return out;
}
