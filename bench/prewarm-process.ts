// Real `prewarm` processes for benchmarks that measure the system as an operator runs it (soak.ts, scale.ts):
// starting bin/prewarm.js (the built CLI) and waiting for its banner, and a small JSON client for its API.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const bin = fileURLToPath(new URL("../bin/prewarm.js", import.meta.url));

/**
 * Starts `prewarm args…` and resolves with the process and the first match of `ready` in its output (stdout or
 * stderr); rejects if it exits first or within 90 s. The pipes keep being drained (or copied to `log`), so the
 * child never blocks on a full one.
 */
export function startPrewarm(
  args: string[],
  ready: RegExp,
  log?: NodeJS.WritableStream,
): Promise<{ child: ChildProcess; match: RegExpMatchArray }> {
  const child = spawn(process.execPath, [bin, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1" },
  });
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`bench: prewarm ${args[0]} not ready within 90 s:\n${out}`));
    }, 90_000);
    const onData = (d: Buffer) => {
      out += d;
      const match = out.match(ready);
      if (!match) return;
      clearTimeout(timer);
      child.stdout?.removeListener("data", onData);
      child.stderr?.removeListener("data", onData);
      if (log) child.stdout?.pipe(log);
      else child.stdout?.resume();
      child.stderr?.resume();
      resolve({ child, match });
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => reject(new Error(`bench: prewarm ${args[0]} exited with ${code}:\n${out}`)));
  });
}

/** Stops the processes (SIGTERM) and waits for each to exit. */
export async function stopAll(children: readonly ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map((c) => {
      if (c.exitCode !== null || c.signalCode !== null) return undefined;
      const exited = new Promise((r) => c.once("exit", r));
      c.kill("SIGTERM");
      return exited;
    }),
  );
}

export interface ApiAnswer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: benchmarks read a few known fields of the API's JSON
  body: any;
}

/** `call(path, method, body)` against `${url}/api/v1` with the token; `raw` sends a tar archive instead. */
export function apiClient(url: string, token: string) {
  return async (path: string, method = "GET", body?: unknown, raw?: Uint8Array): Promise<ApiAnswer> => {
    const res = await fetch(`${url}/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": raw ? "application/x-tar" : "application/json",
      },
      body: raw ? new Uint8Array(raw) : body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(90_000),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
}
