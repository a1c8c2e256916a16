// `prewarm server` / `provisioner start` settings through the real binary: every flag has an environment
// variable shown in help (never a value), durations need a unit wherever they come from, secrets come from
// files, and a --config file gives the same settings (below the environment and the command line).
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { createDaemonClient } from "../../src/provisionerd/api.js";
import { runCli, startCli, stopChild } from "../support/cli.js";

const tmp = mkdtempSync(join(tmpdir(), "prewarm-server-config-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const SECRET_PSK = "psk-that-must-not-show";
const SECRET_PASSWORD = "hunter2-must-not-show";
const secretEnv = {
  PREWARM_PROVISIONER_PSK: SECRET_PSK,
  PREWARM_POSTGRES_URL: `postgres://prewarm:${SECRET_PASSWORD}@127.0.0.1:1/prewarm`,
};

/** Each option's help (its lines up to the next option), by flag name. */
function optionBlocks(help: string): Map<string, string> {
  const blocks = new Map<string, string>();
  for (const m of help.matchAll(/^ {2}(?:-\w, )?--([\w-]+)[^\n]*(?:\n {4,}[^\n]*)*/gm)) {
    if (m[1] !== "help") blocks.set(m[1]!, m[0].replace(/\s+/g, " "));
  }
  return blocks;
}

describe("prewarm server: settings", () => {
  for (const args of [["server"], ["demo"], ["provisioner", "start"]]) {
    test(`GIVEN secrets in the environment WHEN ${args.join(" ")} --help THEN every flag shows its env name and no value`, async () => {
      const res = await runCli([...args, "--help"], { env: { ...secretEnv, COLUMNS: "200" } });
      assert.equal(res.code, 0, res.stderr);
      const blocks = optionBlocks(res.stdout);
      assert.ok(blocks.size > 5, res.stdout);
      for (const [name, text] of blocks) assert.match(text, /\(.*env: PREWARM_[A-Z_]+\)$/, name);
      assert.doesNotMatch(res.stdout, new RegExp(`${SECRET_PSK}|${SECRET_PASSWORD}`));
    });
  }

  for (const [how, args, env, flag] of [
    ["a flag", ["--reconcile-interval", "15"], {}, "--reconcile-interval"],
    [
      "the environment",
      [],
      { PREWARM_JOB_HANG_TIMEOUT: "300" },
      "PREWARM_JOB_HANG_TIMEOUT \\(--job-hang-timeout\\)",
    ],
  ] as const) {
    test(`GIVEN a bare-number duration in ${how} THEN exit 2 naming the flag`, async () => {
      const res = await runCli(["server", "--data-dir", join(tmp, "unused"), ...args], { env });
      assert.equal(res.code, 2, res.stderr);
      assert.match(res.stderr, new RegExp(`^prewarm: ${flag}: .*give a unit`, "m"));
    });
  }

  test("GIVEN a bare-number duration in the config file THEN exit 2 naming the flag and the file", async () => {
    const file = join(tmp, "bare.yaml");
    writeFileSync(file, "job-pending-timeout: 30\n");
    const res = await runCli(["server", "--config", file]);
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /--job-pending-timeout \(job-pending-timeout in .*bare\.yaml\): .*give a unit/);
  });

  test("GIVEN an unknown key in the config file THEN exit 2 naming it", async () => {
    const file = join(tmp, "unknown.json");
    writeFileSync(file, JSON.stringify({ "reconcile-intervall": "15s" }));
    const res = await runCli(["server", "--config", file]);
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /unknown setting "reconcile-intervall"/);
  });

  test("GIVEN a retention below its floor, by flag or environment THEN exit 2 saying which and why", async () => {
    const byFlag = await runCli([
      "server",
      "--data-dir",
      join(tmp, "unused"),
      "--retention-prebuild-events",
      "7d",
    ]);
    assert.equal(byFlag.code, 2, byFlag.stderr);
    assert.match(
      byFlag.stderr,
      /^prewarm: --retention-prebuild-events must be 0 \(keep forever\) or at least 28d: demand-driven sizing reads 28 days of claim history/m,
    );
    const byEnv = await runCli(["server", "--data-dir", join(tmp, "unused")], {
      env: { PREWARM_RETENTION_POOL_HISTORY: "1h" },
    });
    assert.equal(byEnv.code, 2, byEnv.stderr);
    assert.match(
      byEnv.stderr,
      /PREWARM_RETENTION_POOL_HISTORY \(--retention-pool-history\) must be .* at least 3h/,
    );
    const bare = await runCli(["server", "--data-dir", join(tmp, "unused"), "--retention-job-logs", "30"]);
    assert.equal(bare.code, 2, bare.stderr);
    assert.match(bare.stderr, /--retention-job-logs: .*give a unit/);
  });

  test("GIVEN --log-level verbose THEN exit 2 listing the choices", async () => {
    const res = await runCli(["server", "--log-level", "verbose"]);
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /--log-level.*verbose.*trace, debug, info, warn, error/);
  });

  test("GIVEN a key both directly and as a file THEN exit 2 naming both", async () => {
    const file = join(tmp, "psk-both");
    writeFileSync(file, "x\n");
    const res = await runCli(["provisioner", "start", "--url", "http://127.0.0.1:1", "--psk-file", file], {
      env: { PREWARM_PROVISIONER_PSK: SECRET_PSK },
    });
    assert.equal(res.code, 2, res.stderr);
    assert.match(res.stderr, /either PREWARM_PROVISIONER_PSK \(--psk\) or --psk-file/);
    assert.doesNotMatch(res.stderr, new RegExp(SECRET_PSK));
  });

  test("GIVEN the key as a flag THEN a warning that names the safer ways, without the key", async () => {
    const res = await runCli([
      "provisioner",
      "start",
      "--url",
      "http://127.0.0.1:1",
      "--psk",
      SECRET_PSK,
      "--type",
      "no-such-type",
    ]);
    assert.equal(res.code, 2, res.stderr);
    assert.match(
      res.stderr,
      /warning: --psk on the command line .* use PREWARM_PROVISIONER_PSK or --psk-file/,
    );
    assert.doesNotMatch(res.stderr, new RegExp(SECRET_PSK));
  });

  test("GIVEN --postgres-url-file THEN the server uses that URL and never prints its password", async () => {
    const file = join(tmp, "postgres-url");
    writeFileSync(file, `postgres://prewarm:${SECRET_PASSWORD}@127.0.0.1:1/prewarm\n`);
    const res = await runCli(["server", "--postgres-url-file", file, "--data-dir", join(tmp, "pg")], {
      timeoutMs: 60_000,
    });
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stderr, /^prewarm: .*(ECONNREFUSED|connect)/m);
    assert.doesNotMatch(res.stdout + res.stderr, new RegExp(SECRET_PASSWORD));
  });

  test("GIVEN a YAML config file with a psk file, under a flag that wins THEN the server runs with them", async () => {
    const dataDir = join(tmp, "from-config");
    const pskFile = join(tmp, "psk");
    writeFileSync(pskFile, `${SECRET_PSK}\n`);
    const config = join(tmp, "server.yaml");
    writeFileSync(
      config,
      [
        `data-dir: ${dataDir}`,
        "listen: 127.0.0.1:1", // the flag below wins
        "daemons: 0",
        `provisioner-psk-file: ${pskFile}`,
        "provisioner-types: echo",
        "reconcile-interval: 1m",
        "log-format: json",
        "dev: true",
        "",
      ].join("\n"),
    );
    const { child, match, output } = await startCli(
      ["server", "--config", config, "--listen", "127.0.0.1:0"],
      /listening on (http:\/\/\S+)/,
      { timeoutMs: 60_000 },
    );
    try {
      const url = match[1]!;
      assert.ok(readFileSync(join(dataDir, "admin-token"), "utf8").trim().length > 20);
      // The daemon API takes the key from the file (without its trailing newline)…
      const daemon = { name: "config-test", provisionerTypes: ["echo"], tags: {}, version: "test" };
      const ok = await createDaemonClient(url, SECRET_PSK).acquireJob({ daemon, waitMs: 0 });
      assert.ok(ok.daemonId);
      // …and no other.
      await assert.rejects(
        createDaemonClient(url, `${SECRET_PSK}-other`).acquireJob({ daemon, waitMs: 0 }),
        /invalid or missing provisioner daemon key/,
      );
      assert.doesNotMatch(output(), new RegExp(SECRET_PSK));
    } finally {
      await stopChild(child);
    }
  });

  test("GIVEN a default token lifetime over the maximum, or 0 free login attempts THEN exit 2 naming the flags", async () => {
    const over = await runCli([
      "server",
      "--default-token-lifetime",
      "40d",
      "--data-dir",
      join(tmp, "unused"),
    ]);
    assert.equal(over.code, 2, over.stderr);
    assert.match(over.stderr, /--default-token-lifetime \(40d\) is longer than --max-token-lifetime \(30d\)/);
    const zero = await runCli(["server", "--data-dir", join(tmp, "unused")], {
      env: { PREWARM_LOGIN_ATTEMPTS_PER_USER: "0" },
    });
    assert.equal(zero.code, 2, zero.stderr);
    assert.match(
      zero.stderr,
      /PREWARM_LOGIN_ATTEMPTS_PER_USER \(--login-attempts-per-user\) must be at least 1/,
    );
  });

  test("GIVEN login and token settings in the environment THEN the running server applies them", async () => {
    const { child, match } = await startCli(
      ["server", "--data-dir", join(tmp, "auth-settings"), "--listen", "127.0.0.1:0", "--daemons", "0"],
      /listening on (http:\/\/\S+)/,
      {
        timeoutMs: 60_000,
        env: {
          PREWARM_LOGIN_ATTEMPTS_PER_USER: "1",
          PREWARM_DEFAULT_TOKEN_LIFETIME: "1h",
          PREWARM_MAX_TOKEN_LIFETIME: "2h",
          PREWARM_PROVISIONER_TYPES: "echo",
        },
      },
    );
    try {
      const url = match[1]!;
      const login = () =>
        fetch(`${url}/api/v1/users/login`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ username: "nobody", password: "wrong" }),
        });
      // Two guesses at once (an attempt counts when it is admitted, not when its password check ends): one is
      // judged (401), the other must wait the first delay. Sent one after the other, a password check slower
      // than that delay on a loaded machine let the second through.
      const answers = await Promise.all([login(), login()]);
      assert.deepEqual(answers.map((r) => r.status).sort(), [401, 429]);
      const refused = answers.find((r) => r.status === 429)!;
      assert.equal(refused.headers.get("retry-after"), "1");

      const token = readFileSync(join(tmp, "auth-settings", "admin-token"), "utf8").trim();
      const create = (body: object) =>
        fetch(`${url}/api/v1/users/me/tokens`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
          body: JSON.stringify(body),
        });
      const plain = (await (await create({})).json()) as { createdAt: string; expiresAt: string };
      assert.equal(Date.parse(plain.expiresAt) - Date.parse(plain.createdAt), 3_600_000);
      assert.equal((await create({ lifetimeSeconds: 7_201 })).status, 400);
    } finally {
      await stopChild(child);
    }
  });
});
