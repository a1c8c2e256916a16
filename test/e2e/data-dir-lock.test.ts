// One server per SQLite data dir, through real processes: a second `prewarm server` on the same data dir
// exits at once naming the directory and the holder's PID; after the holder is SIGKILLed, a new server takes
// the dir over at once (an OS lock dies with its process) and says so; the database file is owner-only.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { runCli, startCli, stopChild } from "../support/cli.js";

const tmp = mkdtempSync(join(tmpdir(), "prewarm-lock-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const serverArgs = (dataDir: string) => [
  "server",
  "--dev",
  "--data-dir",
  dataDir,
  "--listen",
  "127.0.0.1:0",
  "--daemons",
  "0",
];

describe("one server per SQLite data dir", { timeout: 120_000 }, () => {
  test("GIVEN a running server WHEN a second starts on its data dir THEN it is refused; after a SIGKILL the dir is taken over", async () => {
    const dataDir = join(tmp, "data");
    const first = await startCli(serverArgs(dataDir), /listening on (http:\/\/\S+)/, { timeoutMs: 60_000 });
    try {
      const second = await runCli(serverArgs(dataDir), { timeoutMs: 60_000 });
      assert.equal(second.code, 1, second.stderr);
      assert.match(
        second.stderr,
        new RegExp(
          `the data dir ${dataDir} is in use by another prewarm server \\(PID ${first.child.pid}\\)`,
        ),
      );
      assert.doesNotMatch(second.stderr, /\n\s+at /, "one line, no stack trace");
      assert.equal(statSync(join(dataDir, "prewarm.db")).mode & 0o777, 0o600, "the database is owner-only");
    } finally {
      await stopChild(first.child, "SIGKILL");
    }

    const third = await startCli(serverArgs(dataDir), /listening on (http:\/\/\S+)/, { timeoutMs: 60_000 });
    assert.match(third.output(), new RegExp(`took over the data dir.*|"previousPid":${first.child.pid}`));
    assert.match(third.output(), new RegExp(`${first.child.pid}`));
    // Stop it once it is ready (its reconciler ran a cycle), as an operator would.
    const url = third.match[1]!;
    for (let i = 0; i < 300 && (await fetch(`${url}/readyz`)).status !== 200; i++)
      await new Promise((r) => setTimeout(r, 100));
    const stopped = await stopChild(third.child);
    assert.equal(stopped.code, 0, JSON.stringify(stopped) + third.output().slice(-2000));
    assert.equal(existsSync(join(dataDir, "server.pid")), false, "a clean exit leaves no PID file");
  });
});
