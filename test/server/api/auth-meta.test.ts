// Authentication, users and tokens, and the unauthenticated meta routes (health, build info, the OpenAPI
// document, Prometheus metrics) over the real HTTP API.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { routes, type TokenT, type UserT } from "../../../src/contract/api.js";
import { type Client, call, client, createMember, startTestServer, type TestServer } from "./support.js";

describe("auth and meta API", { timeout: 60_000 }, () => {
  let server: TestServer;
  let admin: Client;
  let member: Client;

  before(async () => {
    server = await startTestServer();
    admin = client(server.url, server.adminToken);
    member = (await createMember(admin, server.url, "mia")).api;
  });
  after(() => server.close());

  const protectedRoutes = [
    "/api/v1/users/me",
    "/api/v1/templates",
    "/api/v1/workspaces",
    "/api/v1/prebuilds/status",
  ];
  const badTokens: Array<{ name: string; token: string | null; message: RegExp }> = [
    { name: "no token", token: null, message: /authentication required/ },
    { name: "a malformed token", token: "garbage", message: /invalid/ },
    { name: "a well-formed unknown token", token: `abcdefghij-${"A".repeat(32)}`, message: /invalid/ },
  ];
  for (const bad of badTokens) {
    test(`GIVEN ${bad.name} THEN every protected route answers 401 with a message`, async () => {
      for (const path of protectedRoutes) {
        const answer = await call<{ message: string }>(server.url, "GET", path, { token: bad.token });
        assert.equal(answer.status, 401, path);
        assert.match(answer.body.message, bad.message, path);
      }
    });
  }

  test("GIVEN a member THEN owner-only routes answer 403 and the member's own routes work", async () => {
    assert.equal((await member.get("/api/v1/users")).status, 403);
    assert.equal((await member.post("/api/v1/users", { username: "eve", email: "e@x.io" })).status, 403);
    const me = await member.get<UserT>("/api/v1/users/me");
    assert.deepEqual(
      [me.status, me.body.username, me.body.role, me.body.system],
      [200, "mia", "member", false],
    );
  });

  test("GIVEN a user with a password WHEN logging in THEN the right password gives a working token and a wrong one 401", async () => {
    const wrong = await call<{ message: string }>(server.url, "POST", "/api/v1/users/login", {
      body: { username: "mia", password: "nope" },
    });
    assert.equal(wrong.status, 401);
    const unknown = await call<{ message: string }>(server.url, "POST", "/api/v1/users/login", {
      body: { username: "nobody", password: "nope" },
    });
    assert.equal(unknown.status, 401);
    assert.equal(
      unknown.body.message,
      wrong.body.message,
      "the answer does not reveal which usernames exist",
    );
    const prebuilds = await call(server.url, "POST", "/api/v1/users/login", {
      body: { username: "prebuilds", password: "x" },
    });
    assert.equal(prebuilds.status, 401, "the system user cannot log in");

    const ok = await call<{ token: string; expiresAt: string; user: UserT }>(
      server.url,
      "POST",
      "/api/v1/users/login",
      {
        body: { username: "MIA", password: "pw-1234" },
      },
    );
    assert.equal(ok.status, 201);
    assert.equal(ok.body.user.username, "mia");
    assert.ok(Date.parse(ok.body.expiresAt) > Date.now());
    assert.equal(
      (await client(server.url, ok.body.token).get<UserT>("/api/v1/users/me")).body.username,
      "mia",
    );
  });

  test("GIVEN a user WHEN creating a token THEN it is shown once and authenticates", async () => {
    const created = await member.post<TokenT>("/api/v1/users/me/tokens", {
      name: "ci",
      lifetimeSeconds: 3600,
    });
    assert.equal(created.status, 201);
    assert.equal(created.body.name, "ci");
    assert.ok(created.body.expiresAt);
    const me = await client(server.url, created.body.token).get<UserT>("/api/v1/users/me");
    assert.equal(me.body.username, "mia");
  });

  test("GIVEN an existing username WHEN creating the user again THEN 409; bad input 400 names the field", async () => {
    const dup = await admin.post("/api/v1/users", { username: "Mia", email: "m2@example.com" });
    assert.equal(dup.status, 409);
    const bad = await admin.post<{ field?: string }>("/api/v1/users", {
      username: "has space",
      email: "x@y.z",
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.field, "username");
    const users = await admin.get<UserT[]>("/api/v1/users");
    assert.deepEqual(
      users.body.map((u) => u.username),
      ["admin", "mia"],
    );
  });

  test("GIVEN no token THEN health, build info, the OpenAPI document and metrics are served", async () => {
    const health = await call(server.url, "GET", "/healthz");
    assert.deepEqual([health.status, health.body], [200, { status: "ok" }]);
    const info = await call<{ database: string; version: string }>(server.url, "GET", "/api/v1/buildinfo");
    assert.equal(info.body.database, "sqlite");
    assert.match(info.body.version, /^\d+\.\d+\.\d+/);

    const doc = await call<{ openapi: string; paths: Record<string, Record<string, unknown>> }>(
      server.url,
      "GET",
      "/api/v1/openapi.json",
    );
    assert.equal(doc.status, 200);
    assert.match(doc.body.openapi, /^3\./);
    for (const route of Object.values(routes)) {
      // The document is the JSON API's: the probes are outside /api/v1 and hidden.
      if (!route.url.startsWith("/api/v1/")) continue;
      const path = route.url.replace(/:([A-Za-z]+)/g, "{$1}");
      assert.ok(doc.body.paths[path]?.[route.method.toLowerCase()], `${route.method} ${path} is documented`);
    }
    assert.equal(doc.body.paths["/metrics"], undefined, "/metrics is not part of the JSON API");

    const metrics = await call<string>(server.url, "GET", "/metrics");
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers.get("content-type") ?? "", /^text\/plain/);
    for (const name of [
      "prewarm_prebuilt_workspaces_created_total",
      "prewarm_prebuilt_workspace_claims_total",
      "prewarm_prebuilds_reconciliation_duration_seconds",
      "prewarm_prebuilt_workspace_claim_duration_seconds",
    ]) {
      assert.match(metrics.body, new RegExp(`^# TYPE ${name} `, "m"), name);
    }
  });

  test("GIVEN an unknown route THEN 404 with the error body", async () => {
    const answer = await call<{ message: string }>(server.url, "GET", "/api/v1/nothing-here", {
      token: server.adminToken,
    });
    assert.equal(answer.status, 404);
    assert.match(answer.body.message, /no such route/);
  });
});
