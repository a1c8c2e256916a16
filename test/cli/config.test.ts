import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import {
  configPath,
  normalizeUrl,
  readConfig,
  resolveConnection,
  writeConfig,
} from "../../src/cli/config.js";

describe("resolveConnection", () => {
  const saved = { url: "http://saved:7080", token: "saved-token" };
  const cases: {
    name: string;
    flags: { url?: string; token?: string };
    env: NodeJS.ProcessEnv;
    want: { url: string; token: string | undefined; tokenSource: string };
  }[] = [
    {
      name: "nothing anywhere: default URL, no token",
      flags: {},
      env: {},
      want: { url: "http://127.0.0.1:7080", token: undefined, tokenSource: "none" },
    },
    {
      name: "saved login is used for its own URL",
      flags: {},
      env: {},
      want: { url: "http://saved:7080", token: "saved-token", tokenSource: "config" },
    },
    {
      name: "PREWARM_TOKEN beats the saved token",
      flags: {},
      env: { PREWARM_TOKEN: "env" },
      want: { url: "http://saved:7080", token: "env", tokenSource: "env" },
    },
    {
      name: "--token beats PREWARM_TOKEN",
      flags: { token: "flag" },
      env: { PREWARM_TOKEN: "env" },
      want: { url: "http://saved:7080", token: "flag", tokenSource: "flag" },
    },
    {
      name: "PREWARM_URL beats the saved URL and the saved token is not sent there",
      flags: {},
      env: { PREWARM_URL: "http://other:1" },
      want: { url: "http://other:1", token: undefined, tokenSource: "none" },
    },
    {
      name: "--url beats PREWARM_URL",
      flags: { url: "https://flag.example" },
      env: { PREWARM_URL: "http://other:1" },
      want: { url: "https://flag.example", token: undefined, tokenSource: "none" },
    },
    {
      name: "the same URL spelled with a trailing slash still matches",
      flags: { url: "http://saved:7080/" },
      env: {},
      want: { url: "http://saved:7080", token: "saved-token", tokenSource: "config" },
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const savedHere = c.name.startsWith("nothing") ? {} : saved;
      assert.deepEqual(resolveConnection({ flags: c.flags, env: c.env, saved: savedHere }), c.want);
    });
  }
});

describe("normalizeUrl", () => {
  test("adds http:// and drops trailing slashes", () =>
    assert.equal(normalizeUrl("localhost:7080/"), "http://localhost:7080"));
  test("rejects other schemes", () => assert.throws(() => normalizeUrl("ftp://x"), /only http and https/));
});

describe("config file", () => {
  test("configPath respects XDG_CONFIG_HOME", () => {
    assert.equal(configPath({ XDG_CONFIG_HOME: "/cfg" }), "/cfg/prewarm/config.json");
  });

  test("GIVEN a written config THEN mode 0600 and it reads back; an existing looser file is tightened", async () => {
    const dir = await mkdtemp(join(tmpdir(), "prewarm-config-"));
    try {
      const path = join(dir, "prewarm", "config.json");
      await writeConfig({ url: "http://a:1", token: "t" }, path);
      assert.equal((await stat(path)).mode & 0o777, 0o600);
      assert.deepEqual(await readConfig(path), { url: "http://a:1", token: "t" });
      await writeFile(path, "{}", { mode: 0o644 });
      await writeConfig({ token: "u" }, path);
      assert.equal((await stat(path)).mode & 0o777, 0o600);
      assert.deepEqual(JSON.parse(await readFile(path, "utf8")), { token: "u" });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("a missing file is an empty config; a corrupt one is a clear error", async () => {
    const dir = await mkdtemp(join(tmpdir(), "prewarm-config-"));
    try {
      assert.deepEqual(await readConfig(join(dir, "none.json")), {});
      const bad = join(dir, "bad.json");
      await writeFile(bad, "[1,2]");
      await assert.rejects(
        readConfig(bad),
        /read config .*bad\.json: not a JSON object \(fix or delete the file\)/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
