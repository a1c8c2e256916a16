// Operator surfaces of a real server over its socket: /healthz and /readyz (database, migrations, reconciler),
// the process/Node, build, HTTP and job-queue metrics, --trust-proxy (Secure cookies behind a TLS proxy),
// --base-path (API, daemons and the dashboard's links, redirects and cookies under a prefix), --tls-cert/
// --tls-key and --metrics-listen.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { sql } from "kysely";
import pg from "pg";
import type { ReadinessT } from "../../src/contract/api.js";
import { advisoryLockIds } from "../../src/server/store/locks.js";
import { version } from "../../src/version.js";
import { runCli, startCli, stopChild } from "../support/cli.js";
import { POSTGRES_MISSING, postgresAvailable, startPostgres } from "../support/postgres.js";
import { commandWorks, skipUnless } from "../support/requirements.js";
import {
  type Client,
  call,
  client,
  eventually,
  exampleArchive,
  pushTemplate,
  startTestServer,
  type TestServer,
} from "./api/support.js";

const metricsText = async (url: string) => (await call<string>(url, "GET", "")).body;

/** A sample's value from Prometheus text (`name{labels} value`), undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries(
      [...(match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(match[3]);
  }
  return undefined;
}

describe("probes and metrics", { timeout: 120_000 }, () => {
  let server: TestServer;
  let admin: Client;

  before(async () => {
    server = await startTestServer();
    admin = client(server.url, server.adminToken);
  });
  after(() => server.close());

  test("GIVEN a running server THEN /healthz is up and /readyz reports every check ok, paused or not", async () => {
    assert.deepEqual((await call(server.url, "GET", "/healthz")).body, { status: "ok" });
    const ready = await call<ReadinessT>(server.url, "GET", "/readyz");
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, {
      status: "ok",
      checks: { database: { status: "ok" }, migrations: { status: "ok" }, reconciler: { status: "ok" } },
    });
    assert.equal((await admin.post("/api/v1/prebuilds/pause")).status, 200);
    await server.server.reconciler.runCycle();
    assert.equal((await call(server.url, "GET", "/readyz")).status, 200, "a paused reconciler is ready");
    assert.equal((await admin.post("/api/v1/prebuilds/resume")).status, 200);
  });

  test("GIVEN jobs built through the daemons THEN metrics show process, build, HTTP, queue-wait, job and daemon series", async () => {
    await pushTemplate(admin, "metrics", exampleArchive("echo-demo"), { activate: true });
    const created = await admin.post<{ id: string }>("/api/v1/workspaces", {
      name: "m1",
      template: "metrics",
      preset: "dev",
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await admin.get(`/api/v1/workspaces/${created.body.id}?wait=ready`);
    await admin.get("/api/v1/users/me");

    const text = await eventually("the build's duration to be observed", async () => {
      const t = await metricsText(`${server.url}/metrics`);
      return sample(t, "prewarm_provisioner_job_duration_seconds_count", {
        job_type: "workspace_build",
        transition: "start",
        status: "succeeded",
      })
        ? t
        : undefined;
    });
    for (const name of [
      "process_cpu_user_seconds_total",
      "process_start_time_seconds",
      "nodejs_heap_size_total_bytes",
    ]) {
      assert.notEqual(sample(text, name), undefined, name);
    }
    assert.equal(sample(text, "prewarm_build_info", { version }), 1);
    assert.ok(
      (sample(text, "prewarm_http_request_duration_seconds_count", {
        method: "GET",
        route: "/api/v1/users/me",
        status: "200",
      }) ?? 0) >= 1,
    );
    assert.ok(
      (sample(text, "prewarm_provisioner_job_queue_wait_seconds_count", {
        provisioner_type: "echo",
        job_type: "template_version_import",
        transition: "",
      }) ?? 0) >= 1,
    );
    assert.ok(
      (sample(text, "prewarm_provisioner_job_queue_wait_seconds_count", {
        job_type: "workspace_build",
        transition: "start",
      }) ?? 0) >= 1,
    );
    assert.equal(sample(text, "prewarm_provisioner_daemons_connected"), 1);
    await call(server.url, "GET", "/no/such/page");
    const later = await metricsText(`${server.url}/metrics`);
    assert.ok(
      (sample(later, "prewarm_http_request_duration_seconds_count", { route: "unmatched", status: "404" }) ??
        0) >= 1,
    );
  });

  test("GIVEN a migration the database lacks, then a stopped reconciler THEN /readyz answers 503 naming the check", async () => {
    const db = server.server.store.db;
    const [last] = (
      await sql<{
        name: string;
        timestamp: string;
      }>`select name, timestamp from schema_migrations order by name desc`.execute(db)
    ).rows;
    assert.ok(last);
    await sql`delete from schema_migrations where name = ${last.name}`.execute(db);
    const missing = await call<ReadinessT>(server.url, "GET", "/readyz");
    assert.equal(missing.status, 503);
    assert.equal(missing.body.status, "unavailable");
    assert.deepEqual(missing.body.checks.migrations, {
      status: "failing",
      message: `not applied: ${last.name}`,
    });
    assert.equal(missing.body.checks.database.status, "ok");
    await sql`insert into schema_migrations (name, timestamp) values (${last.name}, ${last.timestamp})`.execute(
      db,
    );

    await server.server.reconciler.stop();
    const stopped = await call<ReadinessT>(server.url, "GET", "/readyz");
    assert.equal(stopped.status, 503);
    assert.equal(stopped.body.checks.migrations.status, "ok");
    assert.deepEqual(stopped.body.checks.reconciler, {
      status: "failing",
      message: "the reconciler loop is not running",
    });
  });
});

describe("readiness of a replica that is not the leader", { timeout: 120_000 }, () => {
  test("GIVEN PostgreSQL and another holder of the reconciler's leadership lock THEN the replica's cycles end as not_leader and it is ready", {
    skip: skipUnless(postgresAvailable(), POSTGRES_MISSING),
  }, async () => {
    const database = await startPostgres();
    const server = await startTestServer({ postgresUrl: database.url, daemons: 0 });
    const holder = new pg.Client({ connectionString: database.url });
    try {
      await server.server.reconciler.whenIdle();
      await holder.connect();
      const [ns, id] = advisoryLockIds("reconcilerLeader");
      await holder.query("select pg_advisory_lock($1, $2)", [ns, id]);
      const report = await server.server.reconciler.runCycle();
      assert.equal(report.outcome, "not_leader");
      const ready = await call<ReadinessT>(server.url, "GET", "/readyz");
      assert.equal(ready.status, 200, JSON.stringify(ready.body));
    } finally {
      await holder.end();
      await server.close();
      await database.stop();
    }
  });
});

describe("behind a proxy", { timeout: 120_000 }, () => {
  const forwarded = { "x-forwarded-proto": "https", "x-forwarded-for": "203.0.113.9" };

  test("GIVEN no --trust-proxy THEN X-Forwarded-Proto is ignored: the cookie is not Secure", async () => {
    const server = await startTestServer({ daemons: 0 });
    try {
      const login = await call(server.url, "GET", "/login", { headers: forwarded });
      assert.doesNotMatch(login.headers.get("set-cookie") ?? "", /;\s*Secure/i);
    } finally {
      await server.close();
    }
  });

  test("GIVEN --trust-proxy and a TLS proxy THEN the dashboard's cookies are Secure", async () => {
    const server = await startTestServer({ daemons: 0, trustProxy: true });
    try {
      const login = await call(server.url, "GET", "/login", { headers: forwarded });
      assert.match(login.headers.get("set-cookie") ?? "", /;\s*Secure/i);
      const plain = await call(server.url, "GET", "/login");
      assert.doesNotMatch(plain.headers.get("set-cookie") ?? "", /;\s*Secure/i);
    } finally {
      await server.close();
    }
  });

  test("GIVEN --base-path /prewarm THEN the API, the daemons and the dashboard live under it", async () => {
    const server = await startTestServer({ basePath: "/prewarm/" });
    try {
      const root = server.url.replace(/\/prewarm$/, "");
      assert.equal(`${root}/prewarm`, server.url);
      const api = client(server.url, server.adminToken);
      // The in-process daemon reaches the daemon API under the prefix: the import runs.
      const { job } = await pushTemplate(api, "based", exampleArchive("echo-demo"));
      assert.equal(job.status, "succeeded");
      assert.equal((await call(root, "GET", "/api/v1/buildinfo")).status, 404);
      assert.equal((await call(root, "GET", "/healthz")).status, 200, "probes answer at the root too");
      assert.equal((await call(server.url, "GET", "/readyz")).status, 200);
      const doc = await call<{ servers: Array<{ url: string }> }>(server.url, "GET", "/api/v1/openapi.json");
      assert.deepEqual(doc.body.servers, [{ url: server.url }]);

      const home = await fetch(`${server.url}/`, { redirect: "manual" });
      assert.equal(home.status, 303);
      assert.match(home.headers.get("location") ?? "", /^\/prewarm\/login\?next=/);
      const login = await fetch(`${server.url}/login`);
      const page = await login.text();
      assert.match(page, /href="\/prewarm\/static\/app\.css"/);
      assert.match(page, /action="\/prewarm\/login"/);
      const csrfCookie = login.headers.get("set-cookie") ?? "";
      assert.match(csrfCookie, /Path=\/prewarm\/login/);
      const csrf = /name="_csrf" value="([^"]+)"/.exec(page)?.[1] ?? "";
      const signIn = await fetch(`${server.url}/login`, {
        method: "POST",
        redirect: "manual",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          cookie: csrfCookie.split(";")[0] ?? "",
        },
        body: new URLSearchParams({ _csrf: csrf, next: "/templates", token: server.adminToken }).toString(),
      });
      assert.equal(signIn.status, 303);
      assert.equal(signIn.headers.get("location"), "/prewarm/templates");
      const session = signIn.headers.get("set-cookie") ?? "";
      assert.match(session, /Path=\/prewarm\//);
      const templates = await fetch(`${server.url}/templates`, {
        headers: { cookie: session.split(";")[0] ?? "" },
      });
      assert.equal(templates.status, 200);
      const html = await templates.text();
      assert.match(html, /href="\/prewarm\/templates\/based"/);
      assert.doesNotMatch(html, /(href|src|action)="\/(?!prewarm\/)/);
    } finally {
      await server.close();
    }
  });
});

describe("TLS and a separate metrics address", { timeout: 120_000 }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "prewarm-tls-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("GIVEN --tls-cert/--tls-key and --metrics-listen THEN HTTPS serves the API, the in-process daemon connects, /metrics moves", {
    skip: skipUnless(commandWorks("openssl", ["version"]), "openssl not on PATH"),
  }, async () => {
    const certFile = join(dir, "cert.pem");
    const keyFile = join(dir, "key.pem");
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        keyFile,
        "-out",
        certFile,
        "-days",
        "1",
        "-subj",
        "/CN=prewarm-test",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
      ],
      { stdio: "ignore" },
    );
    const server = await startTestServer({ tls: { certFile, keyFile }, metricsListen: "127.0.0.1:0" });
    try {
      assert.match(server.url, /^https:\/\//);
      const ca = (await import("node:fs")).readFileSync(certFile);
      const get = (url: string) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = httpsRequest(url, { ca }, (res) => {
            let body = "";
            res.on("data", (c) => {
              body += c;
            });
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
          });
          req.on("error", reject);
          req.end();
        });
      const info = await get(`${server.url}/api/v1/buildinfo`);
      assert.equal(info.status, 200);
      assert.equal(JSON.parse(info.body).version, version);
      assert.equal((await get(`${server.url}/metrics`)).status, 404, "not on the main port");
      const metricsUrl = server.server.metricsUrl;
      assert.match(metricsUrl, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const connected = await eventually("the in-process daemon to call over TLS", async () => {
        const n = sample(await metricsText(metricsUrl), "prewarm_provisioner_daemons_connected");
        return n === 1 ? n : undefined;
      });
      assert.equal(connected, 1);
    } finally {
      await server.close();
    }
  });
});

describe("`prewarm server` with the operator flags", { timeout: 120_000 }, () => {
  test("GIVEN --base-path, --metrics-listen and --trust-proxy THEN the process serves under the prefix and metrics apart", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "prewarm-flags-"));
    const { child, match } = await startCli(
      [
        "server",
        "--data-dir",
        dataDir,
        "--listen",
        "127.0.0.1:0",
        "--daemons",
        "0",
        "--base-path",
        "/pw",
        "--metrics-listen",
        "127.0.0.1:0",
        "--trust-proxy",
      ],
      /listening on (http:\/\/\S+)[\s\S]*metrics: (http:\/\/\S+)/,
      { timeoutMs: 60_000 },
    );
    try {
      const [, url = "", metricsUrl = ""] = match;
      assert.match(url, /\/pw$/);
      assert.equal((await call<ReadinessT>(url, "GET", "/readyz")).body.status, "ok");
      const login = await call(url, "GET", "/login", { headers: { "x-forwarded-proto": "https" } });
      assert.match(login.headers.get("set-cookie") ?? "", /Path=\/pw\/login;.*Secure/i);
      assert.equal(sample(await metricsText(metricsUrl), "prewarm_build_info", { version }), 1);
      assert.equal((await call(url, "GET", "/metrics")).status, 404);
    } finally {
      await stopChild(child);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test("GIVEN --tls-cert without --tls-key THEN the server refuses to start (exit 2)", async () => {
    const result = await runCli(["server", "--tls-cert", "/nonexistent.pem", "--data-dir", tmpdir()]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /--tls-cert and --tls-key go together/);
  });
});
