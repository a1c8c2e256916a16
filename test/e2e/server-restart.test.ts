// A server SIGKILLed with a prebuild build running on one of its in-process daemons: at its next start the job
// is failed at once ("server restarted", not after the 5-minute hang timeout), the failure counts toward
// neither the backoff nor the hard limit, and the pool refills at once. Real processes: a `prewarm server`
// child process on SQLite, the CLI as child processes.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, test } from "node:test";
import { echoDelay, echoTemplateFiles } from "../../src/provisioners/echo/archive.js";
import { runCli, startCli, stopChild } from "../support/cli.js";

const tmp = mkdtempSync(join(tmpdir(), "prewarm-restart-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const BUILD_MS = 15_000; // long enough to kill the server while the build runs, even on a loaded machine

async function startServerProcess(dataDir: string) {
  const { child, output } = await startCli(
    ["server", "--dev", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--daemons", "1"],
    /listening on (http:\/\/\S+)/,
    { timeoutMs: 60_000 },
  );
  const url = /listening on (http:\/\/\S+)/.exec(output())![1]!;
  const token = readFileSync(join(dataDir, "admin-token"), "utf8").trim();
  return { child, output, env: { PREWARM_URL: url, PREWARM_TOKEN: token, NO_COLOR: "1" } };
}

async function json<T>(env: NodeJS.ProcessEnv, args: string[]): Promise<T> {
  const r = await runCli([...args, "-o", "json"], { env, timeoutMs: 60_000 });
  assert.equal(r.code, 0, `prewarm ${args.join(" ")}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  seen: () => Promise<unknown> = async () => undefined,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; last seen: ${JSON.stringify(await seen())}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

type Ws = {
  id: string;
  name: string;
  latestBuild: { number: number; status: string; error?: string | null };
};
type PresetJson = { name: string; status: string; prebuilds: { eligible: number; starting: number } };

describe("a server killed mid-build", { timeout: 180_000 }, () => {
  let child: ChildProcess | undefined;
  after(async () => {
    if (child) await stopChild(child);
  });

  test("GIVEN a prebuild build running WHEN the server is SIGKILLed and restarted THEN the job fails at once, no backoff, the pool refills", async () => {
    const dataDir = join(tmp, "data");
    let server = await startServerProcess(dataDir);
    child = server.child;
    const resources = [{ name: "dev", type: "echo_instance" }];
    const dir = join(tmp, "slow");
    const presets = [{ name: "one", parameters: [], prebuild: { instances: 1 } }];
    for (const f of echoTemplateFiles({
      plan: [{ type: { case: "plan", value: { resources, presets } } }],
      apply: [echoDelay(BUILD_MS, { type: { case: "apply", value: { resources } } })],
    })) {
      mkdirSync(dirname(join(dir, f.path)), { recursive: true });
      writeFileSync(join(dir, f.path), f.data);
    }
    const pushed = await runCli(["templates", "push", "slow", "-d", dir, "--provisioner", "echo"], {
      env: server.env,
      timeoutMs: 90_000,
    });
    assert.equal(pushed.code, 0, pushed.stderr);

    // The prebuild's creation is running on the in-process daemon: kill the server under it.
    const running = await eventually(
      "the prebuild build to run",
      async () => {
        const all = await json<Ws[]>(server.env, ["list", "--all", "--prebuilds"]);
        return all.find((w) => w.latestBuild.status === "running");
      },
      () => json(server.env, ["list", "--all", "--prebuilds"]),
    );
    await stopChild(server.child, "SIGKILL");

    const restartedAt = Date.now();
    server = await startServerProcess(dataDir);
    child = server.child;
    const failed = await eventually("the orphaned build to fail", async () => {
      const all = await json<Ws[]>(server.env, ["list", "--all", "--prebuilds"]);
      const w = all.find((x) => x.id === running.id);
      return w && w.latestBuild.status === "failed" ? w : !w ? running : undefined;
    });
    assert.ok(Date.now() - restartedAt < 60_000, "failed at the restart, not after the hang timeout");
    assert.match(server.output(), /failed the jobs the previous server process left running/);
    if (failed !== running) {
      const logs = await runCli(["logs", `prebuilds/${failed.name}`], { env: server.env, timeoutMs: 60_000 });
      assert.match(logs.stdout + logs.stderr, /server restarted/);
    }

    // Not the template's fault: healthy, no backoff, and the pool is full again within a build or two.
    const pool = await eventually("the pool to refill", async () => {
      const [p] = await json<PresetJson[]>(server.env, ["presets", "list", "slow"]);
      return p && p.prebuilds.eligible === 1 ? p : undefined;
    });
    assert.equal(pool.status, "healthy");
    const status = await json<{ presets: Array<{ preset: string; backoffUntil: string | null }> }>(
      server.env,
      ["prebuilds", "status"],
    );
    assert.equal(status.presets.find((p) => p.preset === "one")?.backoffUntil ?? null, null);
  });
});
