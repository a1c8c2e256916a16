// Runs the template's scripts on the workspace host: `sh -c <script>` in the manifest directory, each in its
// own process group so a timeout or shutdown stops everything the script started. The pure parts (which
// scripts run when, in what environment, where their logs go, how an exit is described) are separate
// functions so they can be tested without processes.
import { spawn } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import type { AgentManifestT, AgentScriptT } from "../contract/agent.js";

/** Environment variables a script never sees: the agent's own credentials. */
const withheld = ["PREWARM_AGENT_TOKEN", "CODER_AGENT_TOKEN", "CODER_AGENT_TOKEN_FILE"];

/**
 * What a script sees: the agent's environment (without the agent token), then variables naming the
 * workspace (PREWARM_* and their CODER_* equivalents, so Coder scripts work unchanged), then the manifest's
 * `env` over all of it: the template author has the last word.
 */
export function scriptEnvironment(agentEnv: NodeJS.ProcessEnv, manifest: AgentManifestT): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...agentEnv };
  for (const key of withheld) delete env[key];
  Object.assign(env, {
    PREWARM: "true",
    PREWARM_WORKSPACE_NAME: manifest.workspaceName,
    PREWARM_WORKSPACE_OWNER_NAME: manifest.ownerName,
    PREWARM_AGENT_NAME: manifest.name,
    CODER: "true",
    CODER_WORKSPACE_NAME: manifest.workspaceName,
    CODER_WORKSPACE_OWNER_NAME: manifest.ownerName,
    CODER_WORKSPACE_AGENT_NAME: manifest.name,
  });
  return { ...env, ...manifest.env };
}

/** The manifest directory: empty means $HOME, a leading `~` is $HOME. */
export function resolveDirectory(directory: string, home = homedir()): string {
  if (directory === "" || directory === "~") return home;
  if (directory.startsWith("~/")) return join(home, directory.slice(2));
  if (directory === "$HOME") return home;
  if (directory.startsWith("$HOME/")) return join(home, directory.slice(6));
  return directory;
}

/** Start scripts in two phases: `start_blocks_login` ones first, then the rest. Empty phases are dropped. */
export function startPhases(scripts: AgentScriptT[]): AgentScriptT[][] {
  const start = scripts.filter((s) => s.runOnStart);
  return [start.filter((s) => s.startBlocksLogin), start.filter((s) => !s.startBlocksLogin)].filter(
    (phase) => phase.length > 0,
  );
}

export function stopScripts(scripts: AgentScriptT[]): AgentScriptT[] {
  return scripts.filter((s) => s.runOnStop);
}

/** A file name from a display name: "Install deps!" → "install-deps.log". */
export function defaultLogName(displayName: string): string {
  const slug = displayName
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
  return `${slug || "script"}.log`;
}

export function resolveLogPath(script: AgentScriptT, logDir: string): string {
  if (script.logPath === "") return join(logDir, defaultLogName(script.displayName));
  return isAbsolute(script.logPath) ? script.logPath : join(logDir, script.logPath);
}

export interface ShellExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  canceled: boolean;
  /** Set when the process could not start at all (e.g. the directory is missing). */
  spawnError?: string;
}

/** "exited with code 3", "timed out after 5s", …; undefined for success. */
export function describeFailure(exit: ShellExit, timeoutSeconds: number): string | undefined {
  if (exit.spawnError !== undefined) return `could not start: ${exit.spawnError}`;
  if (exit.timedOut) return `timed out after ${timeoutSeconds}s`;
  if (exit.canceled) return "canceled";
  if (exit.code === 0) return undefined;
  if (exit.code !== null) return `exited with code ${exit.code}`;
  return `killed by ${exit.signal ?? "a signal"}`;
}

export interface ShellOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** 0: none. */
  timeoutMs: number;
  signal?: AbortSignal;
  onData: (chunk: Buffer, stream: "stdout" | "stderr") => void;
}

/** How long a script gets between SIGTERM and SIGKILL when it is stopped. */
const killGraceMs = 3_000;

/** Runs `sh -c script` in its own process group; resolves when it exits (never rejects). */
export function runShell(script: string, options: ShellOptions): Promise<ShellExit> {
  return new Promise((resolve) => {
    let timedOut = false;
    let canceled = false;
    const child = spawn("sh", ["-c", script], {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const killGroup = (sig: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        // the group is already gone
      }
    };
    let graceTimer: NodeJS.Timeout | undefined;
    const stop = () => {
      killGroup("SIGTERM");
      graceTimer ??= setTimeout(() => killGroup("SIGKILL"), killGraceMs);
    };
    const timer =
      options.timeoutMs > 0
        ? setTimeout(() => {
            timedOut = true;
            stop();
          }, options.timeoutMs)
        : undefined;
    const onAbort = () => {
      canceled = true;
      stop();
    };
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener("abort", onAbort, { once: true });
    child.stdout.on("data", (chunk: Buffer) => options.onData(chunk, "stdout"));
    child.stderr.on("data", (chunk: Buffer) => options.onData(chunk, "stderr"));
    const finish = (exit: ShellExit) => {
      clearTimeout(timer);
      clearTimeout(graceTimer);
      options.signal?.removeEventListener("abort", onAbort);
      // Anything the script left running in its group goes with it.
      if (exit.spawnError === undefined) killGroup("SIGKILL");
      resolve(exit);
    };
    child.on("error", (err) =>
      finish({ code: null, signal: null, timedOut, canceled, spawnError: err.message }),
    );
    child.on("close", (code, signal) => finish({ code, signal, timedOut, canceled }));
  });
}

export interface ScriptResult {
  script: AgentScriptT;
  /** Undefined on success. */
  failure: string | undefined;
}

export interface RunScriptOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  logDir: string;
  signal?: AbortSignal;
  /** Each complete output line (without its newline). */
  onLine: (line: string, stream: "stdout" | "stderr") => void;
}

/** Runs one template script, writing its output to its log file and handing each line to `onLine`. */
export async function runScript(script: AgentScriptT, options: RunScriptOptions): Promise<ScriptResult> {
  const logPath = resolveLogPath(script, options.logDir);
  mkdirSync(dirname(logPath), { recursive: true });
  const file = createWriteStream(logPath, { flags: "a" });
  const splitters = { stdout: new LineSplitter(), stderr: new LineSplitter() };
  const exit = await runShell(script.script, {
    cwd: options.cwd,
    env: options.env,
    timeoutMs: script.timeoutSeconds * 1_000,
    ...(options.signal ? { signal: options.signal } : {}),
    onData: (chunk, stream) => {
      file.write(chunk);
      for (const line of splitters[stream].push(chunk.toString("utf8"))) options.onLine(line, stream);
    },
  });
  for (const stream of ["stdout", "stderr"] as const) {
    const rest = splitters[stream].end();
    if (rest !== undefined) options.onLine(rest, stream);
  }
  await new Promise<void>((resolve) => file.end(resolve));
  return { script, failure: describeFailure(exit, script.timeoutSeconds) };
}

/** Splits a stream of text into lines ("\n" or "\r\n"), keeping an unfinished last line for later. */
export class LineSplitter {
  private rest = "";
  push(text: string): string[] {
    const parts = (this.rest + text).split(/\r?\n/);
    this.rest = parts.pop() ?? "";
    return parts;
  }
  end(): string | undefined {
    const rest = this.rest;
    this.rest = "";
    return rest === "" ? undefined : rest;
  }
}
