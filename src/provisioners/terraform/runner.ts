// Runs one terraform command: no shell, an explicit environment, output delivered line by line in arrival
// order. Cancellation: when `signal` aborts, terraform gets SIGINT (it stops gracefully and exits 1); if it
// has not exited after `exitTimeoutMs`, its whole process group gets SIGKILL. After an interrupted run the
// group is killed too, so children terraform orphaned (e.g. a `local-exec` grandchild) do not linger.
import { spawn } from "node:child_process";
import { StringDecoder } from "node:string_decoder";

export interface CommandSpec {
  binary: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** Each complete stdout line (without the newline); not called when `captureStdout` is set. */
  onStdoutLine?: (line: string) => void;
  onStderrLine?: (line: string) => void;
  /** Collect stdout as bytes instead (show -json, graph). */
  captureStdout?: boolean;
  signal?: AbortSignal | undefined;
  exitTimeoutMs: number;
}

export interface CommandResult {
  stdout: Buffer;
}

/** The command did not succeed: non-zero exit, killed, or failed to start. */
export class TerraformCommandError extends Error {
  override name = "TerraformCommandError";
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly killed: boolean,
    readonly interrupted: boolean,
  ) {
    super(message);
  }
}

/** The command was not started because the request was already cancelled. */
export class TerraformCanceledError extends Error {
  override name = "TerraformCanceledError";
  constructor() {
    super("canceled");
  }
}

/** How long to wait for output pipes to drain after the process exited (a grandchild may hold them). */
const drainTimeoutMs = 2_000;

/** Splits a byte stream into lines, decoding UTF-8 across chunk boundaries. */
class LineSplitter {
  private readonly decoder = new StringDecoder("utf8");
  private pending = "";
  constructor(private readonly onLine: (line: string) => void) {}
  push(chunk: Buffer): void {
    this.pending += this.decoder.write(chunk);
    let nl = this.pending.indexOf("\n");
    while (nl >= 0) {
      this.onLine(this.pending.slice(0, nl).replace(/\r$/, ""));
      this.pending = this.pending.slice(nl + 1);
      nl = this.pending.indexOf("\n");
    }
  }
  end(): void {
    this.pending += this.decoder.end();
    if (this.pending !== "") this.onLine(this.pending);
    this.pending = "";
  }
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

export function runCommand(spec: CommandSpec): Promise<CommandResult> {
  if (spec.signal?.aborted) return Promise.reject(new TerraformCanceledError());
  return new Promise((resolve, reject) => {
    // detached: terraform leads its own process group, so a timed-out kill reaches its children, and a
    // Ctrl-C aimed at the daemon's terminal does not hit terraform behind the daemon's back.
    const child = spawn(spec.binary, spec.args, {
      cwd: spec.cwd,
      env: spec.env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
      shell: false,
    });
    const stdoutChunks: Buffer[] = [];
    const stdoutLines = new LineSplitter((l) => spec.onStdoutLine?.(l));
    const stderrLines = new LineSplitter((l) => spec.onStderrLine?.(l));
    child.stdout.on("data", (chunk: Buffer) => {
      if (spec.captureStdout) stdoutChunks.push(chunk);
      else stdoutLines.push(chunk);
    });
    child.stderr.on("data", (chunk: Buffer) => stderrLines.push(chunk));

    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let interrupted = false;
    let killed = false;
    let killTimer: NodeJS.Timeout | undefined;
    let drainTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      if (interrupted) return;
      interrupted = true;
      child.kill("SIGINT");
      killTimer = setTimeout(() => {
        if (exit) return; // exited already; only the pipes are still draining
        killed = true;
        killGroup(child.pid, "SIGKILL");
      }, spec.exitTimeoutMs);
    };
    spec.signal?.addEventListener("abort", onAbort, { once: true });

    let settled = false;
    const finish = (err: Error | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(killTimer);
      clearTimeout(drainTimer);
      spec.signal?.removeEventListener("abort", onAbort);
      stdoutLines.end();
      stderrLines.end();
      if (err) reject(err);
      else resolve({ stdout: Buffer.concat(stdoutChunks) });
    };

    const outcome = (): Error | undefined => {
      if (!exit) return undefined;
      if (killed) {
        return new TerraformCommandError(
          `signal: killed (did not exit within ${spec.exitTimeoutMs} ms of the interrupt)`,
          null,
          true,
          true,
        );
      }
      if (exit.code === 0) return undefined;
      const what = exit.code !== null ? `exit status ${exit.code}` : `signal: ${exit.signal}`;
      return new TerraformCommandError(what, exit.code, false, interrupted);
    };

    child.on("error", (err) => {
      finish(new TerraformCommandError(`start ${spec.binary}: ${err.message}`, null, false, interrupted));
    });
    child.on("exit", (code, signal) => {
      exit = { code, signal };
      if (interrupted) killGroup(child.pid, "SIGKILL"); // reap what the interrupted run left behind
      // Normally "close" follows at once; a surviving grandchild holding the pipes must not hang us.
      drainTimer = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        finish(outcome());
      }, drainTimeoutMs);
    });
    child.on("close", () => {
      if (exit) finish(outcome());
    });
  });
}
