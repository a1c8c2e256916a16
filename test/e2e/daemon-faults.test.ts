// Faults through real processes: an external daemon killed mid-job (the reaper fails the job once its
// heartbeats stop; the log lines it flushed before it died stay stored), and the server killed mid-build
// (nothing half-written; the daemon reports the outcome to the restarted server). Timeouts are shortened with
// flags, never faked.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, test } from "node:test";
import { type SseEvent, SseParser } from "../../src/cli/sse.js";
import type { JobLogT, JobT, WorkspaceT } from "../../src/contract/api.js";
import { echoDelay, echoLog, echoTemplateFiles, planComplete } from "../../src/provisioners/echo/archive.js";
import { openStore } from "../../src/server/store/store.js";
import { runCli, startCli, startEchoDaemon, stopChild } from "../support/cli.js";
import { freePort } from "../support/net.js";

const tmp = mkdtempSync(join(tmpdir(), "prewarm-faults-"));
const children: ChildProcess[] = [];
after(async () => {
  for (const child of children) await stopChild(child, "SIGKILL");
  rmSync(tmp, { recursive: true, force: true });
});

const PSK = "test-psk-0123456789";

async function startServer(dataDir: string, port: number, extra: string[] = []) {
  const started = await startCli(
    [
      "server",
      "--dev",
      "--data-dir",
      dataDir,
      "--listen",
      `127.0.0.1:${port}`,
      "--daemons",
      "0",
      "--provisioner-psk",
      PSK,
      "--provisioner-types",
      "echo",
      "--reconcile-interval",
      "1m",
      ...extra,
    ],
    /listening on (http:\/\/\S+)/,
    { timeoutMs: 60_000 },
  );
  children.push(started.child);
  const url = started.match[1]!;
  const token = readFileSync(join(dataDir, "admin-token"), "utf8").trim();
  return { child: started.child, url, env: { PREWARM_URL: url, PREWARM_TOKEN: token, NO_COLOR: "1" } };
}

async function startDaemon(url: string, name: string) {
  const child = await startEchoDaemon(url, PSK, name);
  children.push(child);
  return child;
}

function writeTemplate(name: string, files: Array<{ path: string; data: Uint8Array }>): string {
  const dir = join(tmp, "templates", name);
  for (const f of files) {
    mkdirSync(dirname(join(dir, f.path)), { recursive: true });
    writeFileSync(join(dir, f.path), f.data);
  }
  return dir;
}

type Ws = { latestBuild: { status: string; jobId: string; error?: string | null } };

/**
 * Polls the workspace over the HTTP API (the same JSON `prewarm show -o json` prints) until its latest build
 * has one of the wanted statuses. Plain HTTP, not a CLI process per poll: a short state such as "running" must
 * not slip between two polls on a loaded machine. A refused connection (the server restarting) is retried.
 */
async function waitForStatus(
  env: NodeJS.ProcessEnv,
  name: string,
  wanted: string[],
  timeoutMs = 60_000,
): Promise<Ws> {
  const deadline = Date.now() + timeoutMs;
  let last: Ws | undefined;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${env.PREWARM_URL}/api/v1/users/me/workspaces/${name}`, {
        headers: { authorization: `Bearer ${env.PREWARM_TOKEN}` },
      });
      if (res.ok) {
        last = (await res.json()) as Ws;
        if (wanted.includes(last.latestBuild.status)) return last;
      }
    } catch {
      // not listening (yet, or any more)
    }
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`workspace ${name} never reached ${wanted.join("|")}; last: ${JSON.stringify(last)}`);
}

describe("an external daemon killed mid-job", () => {
  test("GIVEN a running build WHEN its daemon is SIGKILLed THEN the reaper fails the job after the hang timeout", async () => {
    const port = await freePort();
    const server = await startServer(join(tmp, "data-kill"), port, ["--job-hang-timeout", "2s"]);
    const daemon = await startDaemon(server.url, "doomed");
    const dir = writeTemplate(
      "forever",
      echoTemplateFiles({ plan: planComplete(), apply: [echoLog("working forever")] }),
    );
    const push = await runCli(["templates", "push", "forever", "-d", dir, "--provisioner", "echo"], {
      env: server.env,
    });
    assert.equal(push.code, 0, push.stderr);
    assert.equal(
      (await runCli(["create", "victim", "--template", "forever", "--no-wait"], { env: server.env })).code,
      0,
    );
    await waitForStatus(server.env, "victim", ["running"]);

    await stopChild(daemon, "SIGKILL");

    const ws = await waitForStatus(server.env, "victim", ["failed"]);
    assert.match(ws.latestBuild.error ?? "", /job hung: no heartbeat for 2s/);
    await stopChild(server.child);
  });
});

/**
 * Follows a job's logs over SSE (`GET /jobs/:id/logs?follow=true`): the stream carries only stored lines, so a
 * line seen here was flushed by the daemon and committed by the server. `until` resolves at the first event
 * that satisfies it (the events so far are in `events`), and rejects if the stream ends first; the stream
 * ends by itself after `end`.
 */
function followJobLogs(env: NodeJS.ProcessEnv, jobId: string) {
  const events: SseEvent[] = [];
  type Waiter = {
    test: (e: SseEvent) => boolean;
    resolve: (e: SseEvent) => void;
    reject: (e: Error) => void;
  };
  const waiters: Waiter[] = [];
  let ended: Error | undefined;
  const controller = new AbortController();
  const done = (async () => {
    const res = await fetch(`${env.PREWARM_URL}/api/v1/jobs/${jobId}/logs?follow=true`, {
      headers: { authorization: `Bearer ${env.PREWARM_TOKEN}`, accept: "text/event-stream" },
      signal: controller.signal,
    });
    assert.equal(res.status, 200);
    const parser = new SseParser();
    const decoder = new TextDecoder();
    const reader = res.body?.getReader();
    for (;;) {
      const chunk = await reader?.read();
      if (!chunk || chunk.done) break;
      for (const event of parser.push(decoder.decode(chunk.value, { stream: true }))) {
        events.push(event);
        for (const w of waiters.filter((x) => x.test(event))) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(event);
        }
      }
    }
  })();
  // A stream that ends or breaks fails whoever still waits on it, rather than leaving them to the timeout.
  void done
    .then(
      () => new Error("the log stream ended first"),
      (err: Error) => new Error(`the log stream broke: ${err.message}`),
    )
    .then((err) => {
      ended = err;
      for (const w of waiters.splice(0)) w.reject(err);
    });
  return {
    events,
    until: (test: (e: SseEvent) => boolean) =>
      new Promise<SseEvent>((resolve, reject) => {
        const seen = events.find(test);
        if (seen) resolve(seen);
        else if (ended) reject(ended);
        else waiters.push({ test, resolve, reject });
      }),
    close: () => controller.abort(),
  };
}

describe("logs a daemon flushed before it was killed", { timeout: 90_000 }, () => {
  test("GIVEN a build that logged and hangs WHEN its daemon is SIGKILLed and the reaper fails the job THEN every line stored before the kill is still stored, durably", async () => {
    const port = await freePort();
    const dataDir = join(tmp, "data-logs");
    const server = await startServer(dataDir, port, ["--job-hang-timeout", "2s"]);
    const daemon = await startDaemon(server.url, "chatty");
    const dir = writeTemplate(
      "chatty",
      echoTemplateFiles({
        plan: [echoLog("plan line"), ...planComplete()],
        apply: [echoLog("apply line 1"), echoLog("apply line 2")], // and no apply result: it never ends
      }),
    );
    const push = await runCli(["templates", "push", "chatty", "-d", dir, "--provisioner", "echo"], {
      env: server.env,
    });
    assert.equal(push.code, 0, push.stderr);
    const created = await fetch(`${server.url}/api/v1/workspaces`, {
      method: "POST",
      headers: { authorization: `Bearer ${server.env.PREWARM_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "chatty", template: "chatty" }),
    });
    assert.ok(created.ok, `create workspace: ${created.status}`);
    const jobId = ((await created.json()) as WorkspaceT).latestBuild.jobId;
    const stream = followJobLogs(server.env, jobId);
    try {
      // GIVEN the daemon flushed the apply's lines (its log buffer sends them after a quiet 250 ms): the
      // stream shows them, so the server stored them.
      await stream.until((e) => e.event === "log" && e.data.includes("apply line 2"));
      const beforeKill = stream.events
        .filter((e) => e.event === "log")
        .map((e) => JSON.parse(e.data) as JobLogT);

      // WHEN the daemon dies without a word, and the reaper fails its job once the heartbeats stop
      await stopChild(daemon, "SIGKILL");
      const end = await stream.until((e) => e.event === "end");
      const final = JSON.parse(end.data) as JobT;
      assert.equal(final.status, "failed");
      assert.match(final.error ?? "", /job hung: no heartbeat for 2s/);

      // THEN the API still serves every line that was stored before the kill, unchanged
      const listed = await fetch(`${server.url}/api/v1/jobs/${jobId}/logs`, {
        headers: { authorization: `Bearer ${server.env.PREWARM_TOKEN}` },
      });
      const stored = (await listed.json()) as JobLogT[];
      const byId = new Map(stored.map((l) => [l.id, l]));
      for (const line of beforeKill) assert.deepEqual(byId.get(line.id), line);
      const outputs = beforeKill.map((l) => l.output);
      for (const wanted of ["plan line", "apply line 1", "apply line 2"]) assert.ok(outputs.includes(wanted));
    } finally {
      stream.close();
    }

    // AND they are on disk, not only in a live process: still there after the server is SIGKILLed too.
    await stopChild(server.child, "SIGKILL");
    const store = await openStore({ sqlitePath: join(dataDir, "prewarm.db") }, { migrate: false });
    try {
      const rows = await store.db
        .selectFrom("provisioner_job_logs")
        .select("output")
        .where("job_id", "=", jobId)
        .execute();
      const onDisk = rows.map((r) => r.output);
      for (const wanted of ["plan line", "apply line 1", "apply line 2"]) assert.ok(onDisk.includes(wanted));
    } finally {
      await store.close();
    }
  });
});

describe("the server killed mid-build", () => {
  test("GIVEN a build in progress WHEN the server is SIGKILLed and restarted THEN nothing is half-written and the build completes", async () => {
    const port = await freePort();
    const dataDir = join(tmp, "data-restart");
    let server = await startServer(dataDir, port);
    await startDaemon(server.url, "survivor");
    const dir = writeTemplate(
      "slow",
      echoTemplateFiles({
        plan: planComplete(),
        apply: [
          echoLog("starting"),
          echoDelay(8_000, echoLog("still going")),
          {
            type: {
              case: "apply",
              value: {
                state: new TextEncoder().encode("final-state"),
                resources: [{ name: "vm", type: "null_resource" }],
              },
            },
          },
        ],
      }),
    );
    assert.equal(
      (await runCli(["templates", "push", "slow", "-d", dir, "--provisioner", "echo"], { env: server.env }))
        .code,
      0,
    );
    assert.equal(
      (await runCli(["create", "phoenix", "--template", "slow", "--no-wait"], { env: server.env })).code,
      0,
    );
    const running = await waitForStatus(server.env, "phoenix", ["running"]);

    await stopChild(server.child, "SIGKILL");

    // WHILE the server is down: the job is running and none of its results exist — nothing half-written.
    const store = await openStore({ sqlitePath: join(dataDir, "prewarm.db") }, { migrate: false });
    const job = await store.db
      .selectFrom("provisioner_jobs")
      .selectAll()
      .where("id", "=", running.latestBuild.jobId)
      .executeTakeFirstOrThrow();
    assert.equal(job.completed_at, null);
    const resources = await store.db
      .selectFrom("workspace_resources")
      .select("id")
      .where("job_id", "=", running.latestBuild.jobId)
      .execute();
    assert.equal(resources.length, 0);
    await store.close();

    // WHEN the server comes back on the same port, the daemon's retries deliver the outcome.
    server = await startServer(dataDir, port);
    const done = await waitForStatus(server.env, "phoenix", ["succeeded", "failed"]);
    assert.equal(done.latestBuild.status, "succeeded", JSON.stringify(done));
    const after = await openStore({ sqlitePath: join(dataDir, "prewarm.db") }, { migrate: false });
    const build = await after.db
      .selectFrom("workspace_builds")
      .select("provisioner_state")
      .where("job_id", "=", running.latestBuild.jobId)
      .executeTakeFirstOrThrow();
    assert.equal(Buffer.from(build.provisioner_state ?? []).toString(), "final-state");
    const stored = await after.db
      .selectFrom("workspace_resources")
      .select("name")
      .where("job_id", "=", running.latestBuild.jobId)
      .execute();
    assert.deepEqual(
      stored.map((r) => r.name),
      ["vm"],
    );
    await after.close();
    await stopChild(server.child);
  });
});
