// API tokens over a real server socket, on both dialects: lifetimes (default, bounds, 400 naming the field),
// listing (metadata only, lastUsedAt), and revocation by the user or an owner taking effect on the next request.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { TokenInfoT, TokenT, UserT } from "../../../src/contract/api.js";
import { createTestDatabase, DIALECTS, dialectSkip } from "../../support/db.js";
import { FakeClock } from "../../support/fake-clock.js";
import { call, client, startTestServer, type TestServer } from "./support.js";

const T0 = new Date("2026-01-05T10:00:00Z");
const DAY_MS = 86_400_000;

async function withServer(
  dialect: (typeof DIALECTS)[number],
  fn: (s: TestServer, clock: FakeClock) => Promise<void>,
) {
  const database = await createTestDatabase(dialect, { migrated: true });
  const clock = new FakeClock(T0);
  const postgresUrl = "postgresUrl" in database.location ? database.location.postgresUrl : undefined;
  const server = await startTestServer({ clock, daemons: 0, ...(postgresUrl ? { postgresUrl } : {}) });
  try {
    await fn(server, clock);
  } finally {
    await server.close();
    await database.drop();
  }
}

async function member(server: TestServer, username: string): Promise<string> {
  const admin = client(server.url, server.adminToken);
  const created = await admin.post<UserT>("/api/v1/users", {
    username,
    email: `${username}@example.com`,
    password: "correct horse",
  });
  assert.equal(created.status, 201);
  const login = await call<{ token: string }>(server.url, "POST", "/api/v1/users/login", {
    body: { username, password: "correct horse" },
  });
  assert.equal(login.status, 201);
  return login.body.token;
}

for (const dialect of DIALECTS) {
  describe(`API tokens [${dialect}]`, { skip: dialectSkip(dialect) }, () => {
    test("GIVEN token requests THEN absent is 7 days, 1..30 days is taken, anything else is a 400 naming lifetimeSeconds", async () => {
      await withServer(dialect, async (server) => {
        const admin = client(server.url, server.adminToken);
        const plain = await admin.post<TokenT>("/api/v1/users/me/tokens", { name: "plain" });
        assert.equal(plain.status, 201);
        assert.equal(plain.body.expiresAt, new Date(T0.getTime() + 7 * DAY_MS).toISOString());
        const month = await admin.post<TokenT>("/api/v1/users/me/tokens", { lifetimeSeconds: 30 * 86_400 });
        assert.equal(month.status, 201);
        assert.equal(month.body.expiresAt, new Date(T0.getTime() + 30 * DAY_MS).toISOString());
        for (const lifetimeSeconds of [0, -5, 30 * 86_400 + 1, 1e20]) {
          const bad = await admin.post<{ field?: string; message: string }>("/api/v1/users/me/tokens", {
            lifetimeSeconds,
          });
          assert.equal(bad.status, 400, `lifetimeSeconds ${lifetimeSeconds}`);
          assert.equal(bad.body.field, "lifetimeSeconds");
        }
      });
    });

    test("GIVEN a member's tokens WHEN listed THEN metadata only (never the secret), lastUsedAt once used; the bootstrap token alone never expires", async () => {
      await withServer(dialect, async (server, clock) => {
        const bobToken = await member(server, "bob");
        const bob = client(server.url, bobToken);
        const extra = await bob.post<TokenT>("/api/v1/users/me/tokens", {
          name: "ci",
          lifetimeSeconds: 3_600,
        });
        clock.set(new Date(T0.getTime() + 5 * 60_000));
        assert.equal((await bob.get("/api/v1/users/me")).status, 200);

        const listed = await bob.get<TokenInfoT[]>("/api/v1/users/me/tokens");
        assert.equal(listed.status, 200);
        assert.equal(listed.body.length, 2);
        for (const t of listed.body)
          assert.deepEqual(Object.keys(t).sort(), ["createdAt", "expiresAt", "id", "lastUsedAt", "name"]);
        // The secret is everything after the id's dash; it may itself hold dashes (base64url), even lead with one.
        const secret = bobToken.slice(bobToken.indexOf("-") + 1);
        assert.ok(!JSON.stringify(listed.body).includes(secret), "the secret is never listed");
        const login = listed.body.find((t) => bobToken.startsWith(`${t.id}-`));
        assert.equal(login?.lastUsedAt, new Date(T0.getTime() + 5 * 60_000).toISOString());
        assert.equal(login?.expiresAt, new Date(T0.getTime() + 7 * DAY_MS).toISOString());
        const ci = listed.body.find((t) => t.id === extra.body.id);
        assert.deepEqual(ci, {
          id: extra.body.id,
          name: "ci",
          createdAt: T0.toISOString(),
          expiresAt: new Date(T0.getTime() + 3_600_000).toISOString(),
          lastUsedAt: null,
        });

        const admins = await client(server.url, server.adminToken).get<TokenInfoT[]>(
          "/api/v1/users/me/tokens",
        );
        assert.deepEqual(
          admins.body.map((t) => t.expiresAt),
          [null],
          "the first owner's bootstrap token is the one without an expiry",
        );
      });
    });

    test("GIVEN a token WHEN its user deletes it THEN the next request with it is refused; another user's token id is not found", async () => {
      await withServer(dialect, async (server) => {
        const bobToken = await member(server, "bob");
        const bob = client(server.url, bobToken);
        const spare = await bob.post<TokenT>("/api/v1/users/me/tokens", { name: "spare" });
        const adminId = server.adminToken.split("-")[0]!;

        assert.equal((await bob.delete(`/api/v1/users/me/tokens/${adminId}`)).status, 404);
        assert.equal((await bob.get(`/api/v1/users/admin/tokens`)).status, 403);
        assert.equal((await bob.delete(`/api/v1/users/admin/tokens/${adminId}`)).status, 403);

        assert.equal((await client(server.url, spare.body.token).get("/api/v1/users/me")).status, 200);
        assert.equal((await bob.delete(`/api/v1/users/me/tokens/${spare.body.id}`)).status, 204);
        assert.equal((await client(server.url, spare.body.token).get("/api/v1/users/me")).status, 401);
        assert.equal((await bob.delete(`/api/v1/users/me/tokens/${spare.body.id}`)).status, 404);
        assert.equal((await bob.get("/api/v1/users/me")).status, 200, "the other token still works");
      });
    });

    test("GIVEN an owner WHEN they list and delete a member's token THEN the member's next request with it is refused", async () => {
      await withServer(dialect, async (server) => {
        const bobToken = await member(server, "bob");
        const admin = client(server.url, server.adminToken);
        const listed = await admin.get<TokenInfoT[]>("/api/v1/users/bob/tokens");
        assert.equal(listed.status, 200);
        const id = bobToken.split("-")[0]!;
        assert.deepEqual(
          listed.body.map((t) => t.id),
          [id],
        );
        assert.equal((await admin.get("/api/v1/users/nobody/tokens")).status, 404);
        assert.equal((await admin.delete(`/api/v1/users/nobody/tokens/${id}`)).status, 404);
        assert.equal((await admin.delete(`/api/v1/users/bob/tokens/${id}`)).status, 204);
        assert.equal((await client(server.url, bobToken).get("/api/v1/users/me")).status, 401);
        assert.deepEqual((await admin.get<TokenInfoT[]>("/api/v1/users/bob/tokens")).body, []);
      });
    });
  });
}
