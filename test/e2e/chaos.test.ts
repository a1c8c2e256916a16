// The chaos suite: faults a production control plane meets, through real processes (`prewarm server` child
// processes, a PostgreSQL cluster of the suite's own that it stops and starts, a tmpfs it fills), each scenario
// bounded in time. What must hold: no process exits, every request gets an answer (503 with a reason while the
// database is away, 507 on a full disk; never a 500, never a hang), no prebuild is handed out twice, and
// everything resumes by itself. The figures (recovery time, takeover time, statuses during each outage) are
// printed as test diagnostics; the closing notes quote them.
//
// Faults tested in sibling files, not repeated here: an external daemon SIGKILLed mid-job and the server
// SIGKILLed mid-build (daemon-faults.test.ts), the server SIGKILLed with prebuild builds in flight and restarted
// (server-restart.test.ts), two servers on one SQLite data dir (data-dir-lock.test.ts), one replica through a
// database outage with its log lines (db-outage.test.ts).
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, type TestContext, test } from "node:test";
import { echoDelay, echoTemplateFiles } from "../../src/provisioners/echo/archive.js";
import { runCli, startCli, stopChild } from "../support/cli.js";
import { POSTGRES_MISSING, postgresAvailable, startOwnCluster } from "../support/postgres.js";
import { skipUnless } from "../support/requirements.js";

const tmp = mkdtempSync(join(tmpdir(), "prewarm-chaos-"));
const children: ChildProcess[] = [];
after(async () => {
  for (const child of children) await stopChild(child, "SIGKILL");
  rmSync(tmp, { recursive: true, force: true });
});

const POOL = 4; // prebuilds of the pool under load
const OUTAGE_MS = 10_000;
const OUTAGES = 3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Server {
  name: string;
  child: ChildProcess;
  url: string;
  output: () => string;
}

async function startServer(name: string, args: string[]): Promise<Server> {
  const started = await startCli(
    ["server", "--dev", "--data-dir", join(tmp, name), "--listen", "127.0.0.1:0", ...args],
    /listening on (http:\/\/\S+)/,
    { timeoutMs: 90_000 },
  );
  children.push(started.child);
  return { name, child: started.child, url: started.match[1]!, output: started.output };
}

/** The first owner's token: written by whichever replica bootstrapped the database. */
function adminToken(...dataDirs: string[]): string {
  for (const dir of dataDirs) {
    const file = join(tmp, dir, "admin-token");
    if (existsSync(file)) return readFileSync(file, "utf8").trim();
  }
  throw new Error(`no admin-token in ${dataDirs.join(", ")}`);
}

function writeTemplate(name: string, buildMs: number, instances: number): string {
  const resources = [{ name: "dev", type: "echo_instance" }];
  const presets = [{ name: "dev", parameters: [], prebuild: { instances } }];
  const dir = join(tmp, "templates", name);
  for (const f of echoTemplateFiles({
    plan: [{ type: { case: "plan", value: { resources, presets } } }],
    apply: [echoDelay(buildMs, { type: { case: "apply", value: { resources } } })],
  })) {
    mkdirSync(dirname(join(dir, f.path)), { recursive: true });
    writeFileSync(join(dir, f.path), f.data);
  }
  return dir;
}

function api(server: Server, token: string) {
  return (path: string, init: { method?: string; body?: unknown } = {}) =>
    fetch(`${server.url}/api/v1${path}`, {
      method: init.method ?? "GET",
      headers: {
        authorization: `Bearer ${token}`,
        ...(init.body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      signal: AbortSignal.timeout(15_000),
    });
}

async function eligible(server: Server, token: string, template: string): Promise<number | undefined> {
  try {
    const res = await api(server, token)(`/templates/${template}/presets`);
    if (!res.ok) return undefined;
    const presets = (await res.json()) as Array<{ name: string; prebuilds: { eligible: number } }>;
    return presets.find((p) => p.name === "dev")?.prebuilds.eligible;
  } catch {
    return undefined;
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Prometheus counter value of `name` on a server's /metrics, or undefined when it does not answer. */
async function metric(server: Server, name: string): Promise<number | undefined> {
  try {
    const text = await (await fetch(`${server.url}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
    const line = text.split("\n").find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
    return line ? Number(line.split(" ").at(-1)) : 0;
  } catch {
    return undefined;
  }
}

const CYCLES = "prewarm_prebuilds_reconciliation_duration_seconds_count";

/** The answers a claim load may get: "gone" is a retried delete's 404 after an answer that may hide its success. */
const EXPECTED = /^(200|201|409|503|gone)$/;

/**
 * A bounded claim/delete load: `workers` loops spread over the servers, each creating a workspace from the
 * pool's preset, waiting until it is usable (`?wait=ready`), then deleting it (retried while its build runs or
 * the database is away). One workspace per worker at a time, so the load cannot outrun the daemons and starve
 * the pool. Every answer is recorded under the phase in which the request started and ended (a request
 * spanning a phase change is "mixed").
 */
function claimLoad(servers: Server[], token: string, template: string, workers: number) {
  let phase = "steady";
  let stopped = false;
  const statuses = new Map<string, Map<string, number>>();
  const claimed: string[] = [];
  const lastSuccess = new Map<string, number>();
  const note = (p: string, status: string) => {
    const m = statuses.get(p) ?? new Map<string, number>();
    m.set(status, (m.get(status) ?? 0) + 1);
    statuses.set(p, m);
  };
  const send = async (
    server: Server,
    path: string,
    init: { method?: string; body?: unknown } = {},
    mayBeGone = false,
  ) => {
    const started = phase;
    let status: string;
    let res: Response | undefined;
    try {
      res = await api(server, token)(path, init);
      status = res.status === 404 && mayBeGone ? "gone" : String(res.status);
      // An answer the test does not expect names its request and the server's message, to explain a failure.
      if (!EXPECTED.test(status))
        status += ` ${init.method ?? "GET"} ${path.replace(/[0-9a-f-]{36}/g, ":id")} ${(await res.clone().text()).slice(0, 200)}`;
    } catch (err) {
      status = `error ${(err as Error).cause ?? (err as Error).message}`;
    }
    note(started === phase ? started : "mixed", status);
    if (res?.ok) lastSuccess.set(server.name, Date.now());
    return res;
  };
  const loops = Array.from({ length: workers }, async (_, w) => {
    const server = servers[w % servers.length]!;
    const pending: string[] = [];
    // Deletes answered 503 or not at all: the database may have gone away after the commit, so the delete may
    // have happened, and once its build is done the workspace answers 404 — the one 404 that is expected.
    const ambiguous = new Set<string>();
    for (let i = 0; !stopped; i++) {
      const res = await send(server, "/workspaces", {
        method: "POST",
        body: { name: `w${w}-${i}`, template, preset: "dev" },
      });
      if (res?.status === 201) {
        const ws = (await res.json()) as { id: string; claimedPrebuild: boolean };
        if (ws.claimedPrebuild) claimed.push(ws.id);
        pending.push(ws.id);
        await (await send(server, `/workspaces/${ws.id}?wait=ready&timeout=10s`))?.arrayBuffer();
      } else await res?.arrayBuffer();
      for (const id of [...pending]) {
        const del = await send(
          server,
          `/workspaces/${id}/builds`,
          { method: "POST", body: { transition: "delete" } },
          ambiguous.has(id),
        );
        if (del?.status === 201 || (del?.status === 404 && ambiguous.has(id)))
          pending.splice(pending.indexOf(id), 1);
        else if (!del || del.status === 503) ambiguous.add(id);
        await del?.arrayBuffer();
      }
      await sleep(200); // bounded load
    }
  });
  return {
    setPhase: (p: string) => {
      phase = p;
    },
    lastSuccess,
    statuses,
    claimed,
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

const fmt = (m: Map<string, number> | undefined) =>
  m ? [...m].map(([status, n]) => `${status}×${n}`).join(" ") : "none";

describe("two replicas on PostgreSQL under a claim load", { timeout: 300_000 }, () => {
  test("GIVEN two replicas and a claim load WHEN PostgreSQL stops for 10 s three times, THEN no exit, 503s, no double handout, recovery and refill; WHEN the leader is SIGKILLed THEN the other reconciles", {
    skip: skipUnless(postgresAvailable(), POSTGRES_MISSING),
  }, async (t: TestContext) => {
    const cluster = await startOwnCluster();
    const common = [
      "--postgres-url",
      cluster.url,
      "--reconcile-interval",
      "1s",
      "--daemons",
      "2",
      // The killed replica's in-process jobs wait out the hang timeout (no other process knows they died).
      "--job-hang-timeout",
      "10s",
    ];
    const a = await startServer("a", common);
    const b = await startServer("b", common);
    const token = adminToken("a", "b");
    const exits: string[] = [];
    for (const s of [a, b]) s.child.once("exit", (code, sig) => exits.push(`${s.name}: ${code ?? sig}`));

    const pushed = await runCli(
      ["templates", "push", "pool", "-d", writeTemplate("pool", 150, POOL), "--provisioner", "echo"],
      { env: { PREWARM_URL: a.url, PREWARM_TOKEN: token, NO_COLOR: "1" }, timeoutMs: 90_000 },
    );
    assert.equal(pushed.code, 0, pushed.stderr);
    await until("the pool to fill", async () =>
      (await eligible(b, token, "pool")) === POOL ? true : undefined,
    );

    const load = claimLoad([a, b], token, "pool", 3);
    const figures: string[] = [];
    try {
      await until("a first claim", async () => (load.claimed.length > 0 ? true : undefined));
      for (let n = 1; n <= OUTAGES; n++) {
        load.setPhase(`outage ${n}`);
        cluster.pause();
        await sleep(OUTAGE_MS); // the outage's length, not a wait for a state
        load.setPhase(`recovery ${n}`);
        const resumedAt = Date.now();
        cluster.resume();
        // Recovered: each replica has answered a request of the load with a 2xx since the database returned.
        const recovered = await Promise.all(
          [a, b].map((s) =>
            until(`${s.name} to serve again`, async () => {
              const at = load.lastSuccess.get(s.name) ?? 0;
              return at > resumedAt ? at - resumedAt : undefined;
            }),
          ),
        );
        figures.push(
          `outage ${n}: during: ${fmt(load.statuses.get(`outage ${n}`))}; recovered after ${recovered
            .map((ms, i) => `${[a, b][i]!.name} ${ms} ms`)
            .join(", ")}`,
        );
        load.setPhase("steady");
        const claims = load.claimed.length;
        await until("a claim after the recovery", async () =>
          load.claimed.length > claims ? true : undefined,
        );
      }
    } catch (err) {
      // What the servers said is what explains a stuck pool: attach the end of both logs.
      const tails = [a, b].map((s) => `--- ${s.name}:\n${s.output().slice(-4000)}`).join("\n");
      throw new Error(`${(err as Error).message}\n${tails}`);
    } finally {
      await load.stop();
      for (const f of figures) t.diagnostic(f);
      t.diagnostic(`all answers: ${[...load.statuses].map(([p, m]) => `${p}: ${fmt(m)}`).join("; ")}`);
      t.diagnostic(`claims: ${load.claimed.length}`);
    }

    assert.deepEqual(exits, [], "no process exited");
    for (const [p, m] of load.statuses) {
      const bad = [...m.keys()].filter((s) => !EXPECTED.test(s));
      assert.deepEqual(bad, [], `unexpected answers in phase ${p}: ${fmt(m)}`);
      if (p.startsWith("outage"))
        assert.deepEqual([...m.keys()], ["503"], `during ${p} every request gets a 503: ${fmt(m)}`);
    }
    assert.equal(new Set(load.claimed).size, load.claimed.length, "no prebuild handed out twice");
    assert.ok(load.claimed.length >= OUTAGES + 1, `claims succeeded: ${load.claimed.length}`);
    for (const s of [a, b])
      assert.doesNotMatch(s.output(), /Unhandled 'error' event|uncaughtException|\n\s+at /);
    await until("the pool to refill after the outages", async () =>
      (await eligible(a, token, "pool")) === POOL ? true : undefined,
    );

    // The leader: the replica whose reconciliation count moved last. Kill it; the survivor must run the cycles.
    const counts = async () => Promise.all([a, b].map((s) => metric(s, CYCLES)));
    const before = await counts();
    const leaderIndex = await until("a reconciliation cycle", async () => {
      const now = await counts();
      const moved = now.findIndex((v, i) => v !== undefined && v > (before[i] ?? 0));
      return moved >= 0 ? moved : undefined;
    });
    const [leader, survivor] = leaderIndex === 0 ? [a, b] : [b, a];
    const survivorCycles = (await metric(survivor, CYCLES)) ?? 0;
    const killedAt = Date.now();
    await stopChild(leader.child, "SIGKILL");
    const res = await api(survivor, token)("/workspaces", {
      method: "POST",
      body: { name: "after-kill", template: "pool", preset: "dev" },
    });
    assert.equal(res.status, 201, await res.text());
    await until("the survivor's next cycle", async () =>
      ((await metric(survivor, CYCLES)) ?? 0) > survivorCycles ? true : undefined,
    );
    const takeoverMs = Date.now() - killedAt;
    await until(
      "the survivor to refill the pool",
      async () => ((await eligible(survivor, token, "pool")) === POOL ? true : undefined),
      90_000,
    );
    const refillMs = Date.now() - killedAt;
    t.diagnostic(
      `leader ${leader.name} SIGKILLed: ${survivor.name} ran a cycle after ${takeoverMs} ms; pool full again after ${refillMs} ms (a claim in between; jobs the dead replica held wait out --job-hang-timeout 10s)`,
    );
    assert.equal(survivor.child.exitCode, null, "the survivor runs on");
    await stopChild(survivor.child);
  });
});

/** Whether this process may mount a tmpfs (root, and the kernel lets it). */
function canMountTmpfs(): boolean {
  if (process.getuid?.() !== 0) return false;
  const probe = mkdtempSync(join(tmpdir(), "prewarm-tmpfs-probe-"));
  const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", probe]).status === 0;
  if (mounted) spawnSync("umount", [probe]);
  rmSync(probe, { recursive: true, force: true });
  return mounted;
}

/** An archive of `bytes` incompressible bytes, as `tar` writes it (the upload checks it is a valid tar). */
function bigArchive(bytes: number): Buffer {
  const dir = join(tmp, "big");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "main.tf"), "# filler\n");
  writeFileSync(join(dir, "blob.bin"), randomBytes(bytes));
  return execFileSync("tar", ["-cf", "-", "-C", dir, "main.tf", "blob.bin"], { maxBuffer: bytes * 2 });
}

describe("a full disk", { timeout: 120_000 }, () => {
  test("GIVEN a server whose data dir is on a full tmpfs WHEN a write arrives THEN 507 with the reason, nothing half-written, and it serves again once space is freed", {
    skip: skipUnless(canMountTmpfs(), "mounting a tmpfs needs root (the full-disk scenario)"),
  }, async (t: TestContext) => {
    const mount = join(tmp, "disk");
    mkdirSync(mount);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=32m", "tmpfs", mount]);
    try {
      const server = await startServer("disk/data", ["--daemons", "0", "--reconcile-interval", "1s"]);
      const token = adminToken("disk/data");
      const call = api(server, token);
      const upload = (body: Buffer) =>
        fetch(`${server.url}/api/v1/files`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/x-tar" },
          body: new Uint8Array(body),
          signal: AbortSignal.timeout(15_000),
        });
      assert.equal((await upload(bigArchive(64 * 1024))).status, 201, "a first upload is stored");

      // Fill the disk: a filler file grows until the kernel says ENOSPC.
      const filler = join(mount, "filler");
      const chunk = Buffer.alloc(256 * 1024);
      let filled = 0;
      for (;;) {
        try {
          writeFileSync(filler, chunk, { flag: "a" });
          filled += chunk.length;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
          break;
        }
      }
      // Bigger than any WAL the server may reuse, so the write needs new space.
      const archive = bigArchive(6 * 1024 * 1024);
      const refused = await upload(archive);
      const body = (await refused.json()) as { message?: string };
      t.diagnostic(`disk filled with ${filled} bytes; upload answered ${refused.status}: ${body.message}`);
      assert.equal(refused.status, 507, JSON.stringify(body));
      assert.match(body.message ?? "", /full/);
      assert.equal((await fetch(`${server.url}/healthz`)).status, 200, "the process is up");
      assert.equal(server.child.exitCode, null);

      // Freed: the same upload is stored now (201, not 200: the refused one left nothing behind).
      rmSync(filler);
      const stored = await until("an answer other than 507 once space is freed", async () => {
        const res = await upload(archive);
        await res.arrayBuffer();
        return res.status === 507 ? undefined : res.status;
      });
      assert.equal(stored, 201);
      assert.equal((await call("/templates")).status, 200);
      assert.doesNotMatch(server.output(), /Unhandled 'error' event|uncaughtException/);
      const stopped = await stopChild(server.child);
      assert.equal(stopped.code, 0, server.output().slice(-3000));
      const check = spawnSync(
        process.execPath,
        [
          "-e",
          `const D=require("better-sqlite3");const d=new D(process.argv[1],{readonly:true});console.log(d.pragma("integrity_check",{simple:true}))`,
          join(mount, "data", "prewarm.db"),
        ],
        { encoding: "utf8" },
      );
      assert.equal(check.stdout.trim(), "ok", check.stderr);
    } finally {
      spawnSync("umount", ["-l", mount]);
    }
  });
});
