// The CLI as a real child process against a fake API: which token it sends, how server errors and an
// unreachable server are reported.
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdir, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { routes } from "../../src/contract/api.js";
import { runCli } from "../support/cli.js";
import { cliEnv } from "./support/env.js";
import { FakeApi } from "./support/fake-api.js";
import { user } from "./support/fixtures.js";

describe("token resolution (real CLI)", () => {
  let fake: FakeApi;
  before(async () => {
    fake = await FakeApi.start();
    fake.on(routes.me, { status: 200, body: user() });
  });
  after(() => fake.close());

  const cases: {
    name: string;
    flag?: string;
    env?: string;
    savedFor?: "same" | "other";
    want: string | undefined;
  }[] = [
    {
      name: "--token beats PREWARM_TOKEN and the saved token",
      flag: "flag-t",
      env: "env-t",
      savedFor: "same",
      want: "flag-t",
    },
    { name: "PREWARM_TOKEN beats the saved token", env: "env-t", savedFor: "same", want: "env-t" },
    { name: "the saved token is used for the URL it was saved for", savedFor: "same", want: "saved-t" },
    { name: "a token saved for another URL is never sent", savedFor: "other", want: undefined },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const ctx = await cliEnv({ PREWARM_URL: fake.url, ...(c.env ? { PREWARM_TOKEN: c.env } : {}) });
      try {
        if (c.savedFor) {
          await mkdir(join(ctx.configHome, "prewarm"), { recursive: true });
          const url = c.savedFor === "same" ? fake.url : "http://127.0.0.1:1";
          await writeFile(
            join(ctx.configHome, "prewarm", "config.json"),
            JSON.stringify({ url, token: "saved-t" }),
          );
        }
        const before = fake.calls(routes.me).length;
        const res = await runCli(["whoami", ...(c.flag ? ["--token", c.flag] : [])], { env: ctx.env });
        assert.equal(res.code, 0, res.stderr);
        const sent = fake.calls(routes.me)[before]?.headers.authorization;
        assert.equal(sent, c.want === undefined ? undefined : `Bearer ${c.want}`);
      } finally {
        await ctx.cleanup();
      }
    });
  }
});

describe("errors (real CLI)", () => {
  let fake: FakeApi;
  before(async () => {
    fake = await FakeApi.start();
  });
  after(() => fake.close());

  test("GIVEN a 404 error body with a multi-line detail WHEN show THEN one line with the server's message, exit 1", async () => {
    fake.on(routes.getWorkspaceByName, (req) => ({
      status: 404,
      body: { message: `workspace "${req.params.name}" not found`, detail: "line one\nline two" },
    }));
    const ctx = await cliEnv({ PREWARM_URL: fake.url, PREWARM_TOKEN: "t" });
    try {
      const res = await runCli(["show", "nope"], { env: ctx.env });
      assert.equal(res.code, 1);
      assert.equal(res.stderr, 'prewarm: workspace "nope" not found\n');
      assert.equal(res.stdout, "");
      assert.equal(fake.calls(routes.getWorkspaceByName).at(-1)?.path, "/api/v1/users/me/workspaces/nope");
    } finally {
      await ctx.cleanup();
    }
  });

  test("GIVEN no token and a 401 THEN the message says how to log in", async () => {
    fake.on(routes.listTemplates, { status: 401, body: { message: "no API token" } });
    const ctx = await cliEnv({ PREWARM_URL: fake.url });
    try {
      const res = await runCli(["templates", "list"], { env: ctx.env });
      assert.equal(res.code, 1);
      assert.match(res.stderr, /^prewarm: no API token \(not logged in: run `prewarm login`.*\)\n$/);
    } finally {
      await ctx.cleanup();
    }
  });

  test("GIVEN a reply that is not JSON THEN the status line is reported", async () => {
    fake.on(routes.listTemplates, {
      raw: (res) => {
        res.writeHead(502, { "content-type": "text/html" });
        res.end("<html>bad gateway</html>");
      },
    });
    const ctx = await cliEnv({ PREWARM_URL: fake.url, PREWARM_TOKEN: "t" });
    try {
      const res = await runCli(["templates", "list"], { env: ctx.env });
      assert.equal(res.code, 1);
      assert.equal(res.stderr, "prewarm: server answered 502 Bad Gateway\n");
    } finally {
      await ctx.cleanup();
    }
  });

  test("GIVEN nothing listening WHEN any command THEN 'cannot reach' with the URL and a hint, exit 1", async () => {
    const server = createServer().listen(0, "127.0.0.1");
    await once(server, "listening");
    const { port } = server.address() as AddressInfo;
    server.close();
    await once(server, "close");
    const ctx = await cliEnv({ PREWARM_TOKEN: "t" });
    try {
      const res = await runCli(["list", "--url", `127.0.0.1:${port}`], { env: ctx.env });
      assert.equal(res.code, 1);
      assert.equal(
        res.stderr,
        `prewarm: cannot reach the prewarm server at http://127.0.0.1:${port}: connection refused (is \`prewarm server\` running?)\n`,
      );
    } finally {
      await ctx.cleanup();
    }
  });

  test("the fake saw only contract-shaped traffic", () => assert.deepEqual(fake.violations, []));
});
