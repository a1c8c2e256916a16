// Shared fixtures of the terraform runtime tests: a Session over a temp directory that records its logs, the
// terraform-local example, an empty CLI config (no registry access), and a fake terraform for behaviours the
// real one cannot be made to show (ignoring SIGINT, printing plan-time environment).
import { chmod, cp, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { create } from "@bufbuild/protobuf";
import { ConfigSchema, type LogLevel } from "../../../src/gen/provisioner/provisioner_pb.js";
import { createTar, type TarInput } from "../../../src/provisionersdk/archive.js";
import type { Session } from "../../../src/provisionersdk/types.js";
import { repoRoot } from "../../support/cli.js";
import { commandWorks } from "../../support/requirements.js";

export const terraformAvailable = commandWorks("terraform", ["version"]);
export const terraformMissing = "terraform is not on PATH (real-terraform tests need Terraform >= 1.4)";

export const terraformLocalExample = join(repoRoot, "examples", "templates", "terraform-local");

export interface RecordingSession extends Session {
  logs: { level: LogLevel; output: string }[];
  /** All log output joined by newlines. */
  text(): string;
  /** Resolves when a log line contains `needle`. */
  waitForLog(needle: string): Promise<void>;
}

export function recordingSession(
  workDirectory: string,
  state: Uint8Array = new Uint8Array(),
): RecordingSession {
  const logs: { level: LogLevel; output: string }[] = [];
  const waiters: { needle: string; resolve: () => void }[] = [];
  return {
    id: "test-session",
    workDirectory,
    config: create(ConfigSchema, { state, provisionerLogLevel: "" }),
    logs,
    log(level, output) {
      logs.push({ level, output });
      for (const w of waiters.filter((w) => output.includes(w.needle))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    },
    text: () => logs.map((l) => l.output).join("\n"),
    waitForLog(needle) {
      if (logs.some((l) => l.output.includes(needle))) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ needle, resolve }));
    },
  };
}

/** A tar archive of every file under `dir`, as a template push would upload it. */
export async function archiveOf(dir: string): Promise<Uint8Array> {
  const files: TarInput[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files.push({ path: relative(dir, path), data: await readFile(path) });
  }
  return createTar(files);
}

/** A signal that aborts (like a Cancel) once the session has logged a line containing `needle`. */
export function cancelOnLog(session: RecordingSession, needle: string): AbortSignal {
  const cancel = new AbortController();
  void session.waitForLog(needle).then(() => cancel.abort());
  return cancel.signal;
}

/** A temp directory removed by `cleanup()`. */
export class TempDirs {
  private readonly dirs: string[] = [];
  async make(prefix: string): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), `prewarm-tf-${prefix}-`));
    this.dirs.push(dir);
    return dir;
  }
  async cleanup(): Promise<void> {
    await Promise.all(this.dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  }
}

/** A session directory holding a copy of `templateDir`, or of the given files. */
export async function sessionDir(temp: TempDirs, template: string | Record<string, string>): Promise<string> {
  const dir = await temp.make("session");
  if (typeof template === "string") await cp(template, dir, { recursive: true });
  else for (const [name, text] of Object.entries(template)) await writeFile(join(dir, name), text);
  return dir;
}

/** An empty terraform CLI config: no credentials, no mirrors; only built-in providers work offline. */
export async function emptyCliConfig(temp: TempDirs): Promise<string> {
  const dir = await temp.make("cliconfig");
  const path = join(dir, "terraformrc");
  await writeFile(path, "");
  return path;
}

/**
 * A fake terraform (a shell script): `version -json` and `init` succeed; `plan` and `apply` print one JSON log
 * line "fake terraform running", then (per `mode`) print their environment, or ignore SIGINT and hang.
 */
export async function fakeTerraform(
  temp: TempDirs,
  mode: "print-env" | "ignore-sigint",
  version = "1.11.0",
): Promise<string> {
  const dir = await temp.make("fake");
  const path = join(dir, "terraform");
  const body =
    mode === "print-env"
      ? `env | while IFS= read -r line; do printf '%s\\n' "$line"; done; exit 0`
      : `sleep 59.4; exit 0`;
  // The trap is set before the line is printed, so a test that cancels on seeing it always hits the trap.
  const prelude = mode === "ignore-sigint" ? "trap '' INT" : "";
  await writeFile(
    path,
    `#!/bin/sh
case "$1" in
  version) echo '{"terraform_version":"${version}","platform":"linux_amd64"}'; exit 0 ;;
  init) echo "Terraform has been successfully initialized!"; exit 0 ;;
  show|graph) echo "fake terraform has no plan file" >&2; exit 1 ;;
esac
${prelude}
echo '{"@level":"info","@message":"fake terraform running","type":"log"}'
${body}
`,
  );
  await chmod(path, 0o755);
  return path;
}
