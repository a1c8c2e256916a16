// Runs the repository's local `buf` (and its local protoc-gen-es plugin) for the protocol tests. Nothing
// here touches the network: buf builds from local files and runs local plugins.
import { execFile } from "node:child_process";
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "../support/cli.js";

const run = promisify(execFile);
const binDir = join(repoRoot, "node_modules", ".bin");

/** The seed's provisioner.proto, copied into the repository so tests do not depend on ../shared. */
export const seedProto = join(repoRoot, "test", "fixtures", "seed", "provisioner.proto");
export const ourProtoDir = join(repoRoot, "proto");
export const ourProvisionerProto = join(ourProtoDir, "provisioner", "provisioner.proto");

export async function buf(args: string[], cwd: string): Promise<string> {
  const env = {
    ...process.env,
    PATH: `${binDir}${delimiter}${process.env.PATH ?? ""}`,
    BUF_CACHE_DIR: join(tmpdir(), "prewarm-buf-cache"),
  };
  const { stdout } = await run(join(binDir, "buf"), args, {
    cwd,
    env,
    maxBuffer: 64 * 1024 * 1024,
    timeout: 120_000,
  });
  return stdout;
}

/** A temp directory removed by `dispose()`. */
export async function tempDir(prefix: string) {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, dispose: () => rm(path, { recursive: true, force: true }) };
}

/** Copies the seed file alone into `dir` (a buf input outside any buf workspace). */
export async function seedInput(dir: string): Promise<string> {
  await cp(seedProto, join(dir, "provisioner.proto"));
  return dir;
}

/** Writes a buf.gen.yaml running the local protoc-gen-es with our options into `out`. */
export async function writeGenTemplate(path: string, out: string, target: "ts" | "js"): Promise<void> {
  const yaml = [
    "version: v2",
    "plugins:",
    "  - local: protoc-gen-es",
    `    out: ${JSON.stringify(out)}`,
    "    opt:",
    `      - target=${target}`,
    "      - import_extension=js",
    "",
  ].join("\n");
  await writeFile(path, yaml);
}
