// login / users / tokens as a real child process against the fake API.
import assert from "node:assert/strict";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { routes } from "../../src/contract/api.js";
import { runCli } from "../support/cli.js";
import { cliEnv } from "./support/env.js";
import { FakeApi } from "./support/fake-api.js";
import { T0, user } from "./support/fixtures.js";

describe("login (real CLI)", () => {
  let fake: FakeApi;
  before(async () => {
    fake = await FakeApi.start();
    fake.on(routes.me, { status: 200, body: user() });
    fake.on(routes.login, {
      status: 201,
      body: { token: "session-token", expiresAt: null, user: user({ username: "bob", role: "member" }) },
    });
  });
  after(() => fake.close());

  test("GIVEN --token WHEN login THEN the token is checked, saved with mode 0600, and later commands use it", async () => {
    const ctx = await cliEnv();
    try {
      const res = await runCli(["login", fake.url, "--token", "tok-1"], { env: ctx.env });
      assert.equal(res.code, 0, res.stderr);
      assert.equal(fake.calls(routes.me).at(-1)?.headers.authorization, "Bearer tok-1");
      const path = join(ctx.configHome, "prewarm", "config.json");
      assert.equal((await stat(path)).mode & 0o777, 0o600);
      assert.equal((await stat(join(ctx.configHome, "prewarm"))).mode & 0o777, 0o700);
      assert.deepEqual(JSON.parse(await readFile(path, "utf8")), {
        url: fake.url,
        token: "tok-1",
        username: "alice",
      });
      assert.match(
        res.stdout,
        /^Logged in to http:\/\/127\.0\.0\.1:\d+ as alice \(owner\); token saved to .*config\.json\.\n$/,
      );

      const later = await runCli(["whoami"], { env: ctx.env });
      assert.equal(later.code, 0, later.stderr);
      assert.equal(fake.calls(routes.me).at(-1)?.headers.authorization, "Bearer tok-1");
      assert.equal(later.stdout, `alice (owner) at ${fake.url}\n`);
    } finally {
      await ctx.cleanup();
    }
  });

  test("GIVEN --username and --password-stdin WHEN login THEN it exchanges them for a token and saves it", async () => {
    const ctx = await cliEnv({ PREWARM_URL: fake.url });
    try {
      const res = await runCli(["login", "--username", "bob", "--password-stdin"], {
        env: ctx.env,
        input: "s3cret\n",
      });
      assert.equal(res.code, 0, res.stderr);
      assert.deepEqual(JSON.parse(fake.calls(routes.login).at(-1)!.body.toString()), {
        username: "bob",
        password: "s3cret",
      });
      const saved = JSON.parse(await readFile(join(ctx.configHome, "prewarm", "config.json"), "utf8"));
      assert.equal(saved.token, "session-token");
      assert.doesNotMatch(res.stdout + res.stderr, /s3cret|session-token/, "secrets are never printed");
    } finally {
      await ctx.cleanup();
    }
  });

  test("GIVEN no terminal and no credentials WHEN login THEN exit 2 without prompting", async () => {
    const ctx = await cliEnv({ PREWARM_URL: fake.url });
    try {
      const res = await runCli(["login"], { env: ctx.env });
      assert.equal(res.code, 2);
      assert.match(
        res.stderr,
        /^prewarm: login: no credentials; pass --token TOKEN .* \(prompts only on a terminal\)\n$/,
      );
    } finally {
      await ctx.cleanup();
    }
  });

  test("GIVEN a rejected token WHEN login THEN nothing is saved", async () => {
    fake.on(routes.me, { status: 401, body: { message: "invalid API token" } });
    const ctx = await cliEnv();
    try {
      const res = await runCli(["login", fake.url, "--token", "bad"], { env: ctx.env });
      assert.equal(res.code, 1);
      assert.match(res.stderr, /^prewarm: invalid API token/);
      await assert.rejects(stat(join(ctx.configHome, "prewarm", "config.json")), { code: "ENOENT" });
    } finally {
      await ctx.cleanup();
      fake.on(routes.me, { status: 200, body: user() });
    }
  });

  test("the fake saw only contract-shaped traffic", () => assert.deepEqual(fake.violations, []));
});

describe("users and tokens (real CLI)", () => {
  let fake: FakeApi;
  before(async () => {
    fake = await FakeApi.start();
  });
  after(() => fake.close());

  test("users create sends username, email, role and the stdin password", async () => {
    fake.on(routes.createUser, {
      status: 201,
      body: user({ id: "u2", username: "carol", email: "c@example.com", role: "member" }),
    });
    const ctx = await cliEnv({ PREWARM_URL: fake.url, PREWARM_TOKEN: "t" });
    try {
      const res = await runCli(["users", "create", "carol", "-e", "c@example.com", "--password-stdin"], {
        env: ctx.env,
        input: "pw\n",
      });
      assert.equal(res.code, 0, res.stderr);
      assert.deepEqual(JSON.parse(fake.calls(routes.createUser).at(-1)!.body.toString()), {
        username: "carol",
        email: "c@example.com",
        role: "member",
        password: "pw",
      });
      assert.equal(res.stdout, "User carol (member) created.\n");
    } finally {
      await ctx.cleanup();
    }
  });

  test("tokens create --lifetime 30d prints only the token on stdout", async () => {
    fake.on(routes.createToken, {
      status: 201,
      body: {
        id: "k1",
        name: "ci",
        token: "secret-token",
        createdAt: T0,
        expiresAt: "2026-02-04T10:00:00.000Z",
      },
    });
    const ctx = await cliEnv({ PREWARM_URL: fake.url, PREWARM_TOKEN: "t" });
    try {
      const res = await runCli(["tokens", "create", "--name", "ci", "--lifetime", "30d"], { env: ctx.env });
      assert.equal(res.code, 0, res.stderr);
      assert.equal(res.stdout, "secret-token\n");
      assert.deepEqual(JSON.parse(fake.calls(routes.createToken).at(-1)!.body.toString()), {
        name: "ci",
        lifetimeSeconds: 2_592_000,
      });
    } finally {
      await ctx.cleanup();
    }
  });

  test("tokens list -o json prints id, name, createdAt, expiresAt, lastUsedAt; --user asks for another user's", async () => {
    const listed = [
      {
        id: "abc123def4",
        name: "ci",
        createdAt: T0,
        expiresAt: "2026-02-04T10:00:00.000Z",
        lastUsedAt: null,
      },
    ];
    fake.on(routes.listMyTokens, { status: 200, body: listed });
    fake.on(routes.listUserTokens, { status: 200, body: [] });
    const ctx = await cliEnv({ PREWARM_URL: fake.url, PREWARM_TOKEN: "t" });
    try {
      const mine = await runCli(["tokens", "list", "-o", "json"], { env: ctx.env });
      assert.equal(mine.code, 0, mine.stderr);
      assert.deepEqual(JSON.parse(mine.stdout), listed);
      const table = await runCli(["tokens", "list"], { env: ctx.env });
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /^ID\s+NAME\s+CREATED\s+EXPIRES\s+LAST USED\n/i);
      assert.match(table.stdout, /abc123def4\s+ci\s.*\snever\n$/);

      const bobs = await runCli(["tokens", "list", "--user", "bob", "-o", "json"], { env: ctx.env });
      assert.equal(bobs.code, 0, bobs.stderr);
      assert.equal(fake.requests.at(-1)?.path, "/api/v1/users/bob/tokens");
    } finally {
      await ctx.cleanup();
    }
  });

  test("tokens delete ID revokes the caller's token, or with --user another user's", async () => {
    fake.on(routes.deleteMyToken, { status: 204 });
    fake.on(routes.deleteUserToken, { status: 204 });
    const ctx = await cliEnv({ PREWARM_URL: fake.url, PREWARM_TOKEN: "t" });
    try {
      const mine = await runCli(["tokens", "delete", "abc123def4"], { env: ctx.env });
      assert.equal(mine.code, 0, mine.stderr);
      assert.equal(fake.requests.at(-1)?.method, "DELETE");
      assert.equal(fake.requests.at(-1)?.path, "/api/v1/users/me/tokens/abc123def4");
      assert.equal(mine.stdout, "Token abc123def4 deleted; requests with it are refused from now on.\n");
      const bobs = await runCli(["tokens", "delete", "abc123def4", "--user", "bob"], { env: ctx.env });
      assert.equal(bobs.code, 0, bobs.stderr);
      assert.equal(fake.requests.at(-1)?.path, "/api/v1/users/bob/tokens/abc123def4");
    } finally {
      await ctx.cleanup();
    }
  });

  test("the fake saw only contract-shaped traffic", () => assert.deepEqual(fake.violations, []));
});
