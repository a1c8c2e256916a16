// The database goes away and comes back, through real processes: a `prewarm server` child process on a
// PostgreSQL cluster of the test's own, which the test stops (pg_ctl stop -m fast: every connection is
// terminated, as when the database server goes down) while requests arrive, then starts again. The server must
// not exit, must answer 503 with Retry-After and the reason meanwhile, must log the outage once per loop (not
// once per tick), and must serve again by itself once the database is back.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { startCli, stopChild } from "../support/cli.js";
import { startOwnCluster } from "../support/postgres.js";

const tmp = mkdtempSync(join(tmpdir(), "prewarm-outage-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const OUTAGE_MS = 4_000;

describe("a database that goes away", { timeout: 120_000 }, () => {
  let child: ChildProcess | undefined;
  after(async () => {
    if (child) await stopChild(child);
  });

  test("GIVEN a server on PostgreSQL WHEN the database stops and restarts THEN 503s with a reason, one warning per loop, and recovery by itself", async () => {
    const cluster = await startOwnCluster();
    const dataDir = join(tmp, "data");
    const started = await startCli(
      [
        "server",
        "--dev",
        "--data-dir",
        dataDir,
        "--listen",
        "127.0.0.1:0",
        "--postgres-url",
        cluster.url,
        "--reconcile-interval",
        "200ms",
      ],
      /listening on (http:\/\/\S+)/,
      { timeoutMs: 60_000 },
    );
    child = started.child;
    const exited = new Promise<number | null>((resolve) =>
      started.child.once("exit", (code) => resolve(code)),
    );
    const url = started.match[1]!;
    const token = readFileSync(join(dataDir, "admin-token"), "utf8").trim();
    const get = (path: string) => fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });

    assert.equal((await get("/api/v1/templates")).status, 200);

    cluster.pause();
    // While it is down: a bounded stream of requests, each answered (never a hang, never a 500).
    const statuses = new Map<number, number>();
    let sample: { retryAfter: string | null; body: { message?: string } } | undefined;
    const until = Date.now() + OUTAGE_MS;
    while (Date.now() < until) {
      const res = await get("/api/v1/templates");
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status === 503 && !sample)
        sample = { retryAfter: res.headers.get("retry-after"), body: await res.json() };
      else await res.arrayBuffer();
      await new Promise((r) => setTimeout(r, 50)); // bounded load, not a wait for state
    }
    assert.deepEqual(
      [...statuses.keys()],
      [503],
      `statuses during the outage: ${JSON.stringify([...statuses])}`,
    );
    assert.equal(sample?.retryAfter, "5");
    assert.match(sample?.body.message ?? "", /^storage unavailable: .*database.*; retry later$/);
    assert.equal((await fetch(`${url}/healthz`)).status, 200, "the process is up");

    cluster.resume();
    const deadline = Date.now() + 30_000;
    let status = 0;
    while (Date.now() < deadline && status !== 200) {
      status = (await get("/api/v1/templates")).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 200, "serves again once the database is back");
    assert.equal(started.child.exitCode, null, "the server never exited");

    // Logs: the reconciler ticked ~20 times during the outage but warned once, and said when it was back.
    const count = (re: RegExp) =>
      started
        .output()
        .split("\n")
        .filter((line) => re.test(line)).length;
    await eventually(() => count(/reconciler: storage available again/) === 1, started.output);
    const output = started.output();
    assert.equal(count(/reconciler: storage unavailable, skipping until it returns/), 1, output.slice(-4000));
    assert.equal(count(/request failed/), 0, "a 503 for a storage fault is not logged per request");
    assert.doesNotMatch(output, /Unhandled 'error' event|uncaughtException/);
    assert.equal(await Promise.race([exited, Promise.resolve("running")]), "running");
  });
});

/** Waits for `ok` (checked every 100 ms, at most 10 s): the reconciler's next cycle after recovery logs it. */
async function eventually(ok: () => boolean, output: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!ok()) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for the recovery log line; output:\n${output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
