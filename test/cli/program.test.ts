// The program as a whole, run as a real child process against a fake API: global options before or after the
// subcommand, -o yaml and --no-headers, `version`, `completion`, and exit code 2 for every usage error.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, test } from "node:test";
import { parse as parseYaml } from "yaml";
import { toYaml } from "../../src/cli/yaml.js";
import { routes } from "../../src/contract/api.js";
import { runCli } from "../support/cli.js";
import { fakeApiSuite } from "./support/env.js";
import { template, user } from "./support/fixtures.js";

const suite = fakeApiSuite({ PREWARM_URL: "http://127.0.0.1:1", PREWARM_TOKEN: undefined });
const templates = [template({ name: "alpha" }), template({ name: "beta" })];

function serve() {
  suite.fake.on(routes.me, { status: 200, body: user() });
  suite.fake.on(routes.listTemplates, { status: 200, body: templates });
  suite.fake.on(routes.buildInfo, {
    status: 200,
    body: { version: "9.9.9", nodeVersion: "v22.1.0", database: "postgres" },
  });
}

describe("global options", () => {
  test("GIVEN --url, --token and -o before the subcommand THEN they apply as if given after it", async () => {
    serve();
    const before = suite.fake.calls(routes.me).length;
    const res = await runCli(["--url", suite.fake.url, "--token", "global-t", "-o", "json", "whoami"], {
      env: suite.ctx.env,
    });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(JSON.parse(res.stdout).username, user().username);
    assert.equal(suite.fake.calls(routes.me)[before]?.headers.authorization, "Bearer global-t");
  });

  test("GIVEN the same option before and after the subcommand THEN the one after it wins", async () => {
    serve();
    const before = suite.fake.calls(routes.me).length;
    const res = await runCli(
      [
        "--token",
        "outer",
        "-o",
        "table",
        "whoami",
        "--url",
        suite.fake.url,
        "--token",
        "inner",
        "-o",
        "json",
      ],
      { env: suite.ctx.env },
    );
    assert.equal(res.code, 0, res.stderr);
    assert.doesNotThrow(() => JSON.parse(res.stdout));
    assert.equal(suite.fake.calls(routes.me)[before]?.headers.authorization, "Bearer inner");
  });

  for (const args of [
    ["--no-headers", "templates", "list"],
    ["templates", "list", "--no-headers"],
  ]) {
    test(`GIVEN ${args.join(" ")} THEN one line per row and no header line`, async () => {
      serve();
      const res = await runCli(["--url", suite.fake.url, ...args], { env: suite.ctx.env });
      assert.equal(res.code, 0, res.stderr);
      const lines = res.stdout.trimEnd().split("\n");
      assert.deepEqual(
        lines.map((l) => l.split(/\s+/)[0]),
        ["alpha", "beta"],
      );
    });
  }

  test("GIVEN no --no-headers THEN the table starts with its header line", async () => {
    serve();
    const res = await runCli(["templates", "list", "--url", suite.fake.url], { env: suite.ctx.env });
    assert.match(res.stdout.split("\n")[0]!, /^NAME\s/);
  });
});

describe("-o yaml", () => {
  test("GIVEN -o yaml THEN the same data as -o json, as YAML", async () => {
    serve();
    const json = await runCli(["templates", "list", "-o", "json", "--url", suite.fake.url], {
      env: suite.ctx.env,
    });
    const yaml = await runCli(["-o", "yaml", "templates", "list", "--url", suite.fake.url], {
      env: suite.ctx.env,
    });
    assert.equal(yaml.code, 0, yaml.stderr);
    assert.deepEqual(parseYaml(yaml.stdout), JSON.parse(json.stdout));
  });

  test("toYaml: strings a YAML reader would take for something else are quoted; round trips", () => {
    const value = {
      plain: "echo-demo",
      words: [
        "yes",
        "No",
        "on",
        "null",
        "~",
        "true",
        "1.5",
        "007",
        "2026-01-01",
        "",
        " x",
        "a: b",
        "#c",
        "-",
      ],
      nested: [{ a: 1, b: [true, null, { c: "d" }] }, [], {}, [[1, 2], "x"]],
      "key with: colon": "v",
      number: -0.25,
      multiline: "line 1\nline 2\t\u0001",
    };
    const text = toYaml(value);
    assert.deepEqual(parseYaml(text), value);
    assert.deepEqual(parseYaml(text, { version: "1.1" }), value);
    assert.match(text, /^plain: echo-demo$/m);
  });
});

describe("version", () => {
  test("GIVEN a server THEN the client's and the server's version, database and URL", async () => {
    serve();
    const res = await runCli(["version", "--url", suite.fake.url], { env: suite.ctx.env });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^Client: +\d+\.\d+\.\d+ \(Node\.js v\d+/m);
    assert.match(
      res.stdout,
      /^Server: +9\.9\.9 \(Node\.js v22\.1\.0, postgres\) at http:\/\/127\.0\.0\.1:\d+$/m,
    );
    const json = await runCli(["-o", "json", "version", "--url", suite.fake.url], { env: suite.ctx.env });
    const doc = JSON.parse(json.stdout);
    assert.equal(doc.client.nodeVersion, process.version);
    assert.deepEqual(doc.server, {
      url: suite.fake.url,
      version: "9.9.9",
      nodeVersion: "v22.1.0",
      database: "postgres",
    });
  });

  test("GIVEN no server THEN the client's version still prints and the command fails with the reason", async () => {
    const res = await runCli(["version"], { env: suite.ctx.env });
    assert.equal(res.code, 1);
    assert.match(res.stdout, /^Client: /);
    assert.match(res.stderr, /^prewarm: cannot reach the prewarm server/);
  });

  test("--version prints only the client's version", async () => {
    const res = await runCli(["--version"], { env: suite.ctx.env });
    assert.equal(res.code, 0);
    assert.match(res.stdout, /^\d+\.\d+\.\d+\n$/);
  });
});

describe("usage errors exit 2", () => {
  const cases: [string, string[], RegExp][] = [
    ["an unknown command", ["frobnicate"], /unknown command 'frobnicate'/],
    ["an unknown option", ["list", "--frobnicate"], /unknown option '--frobnicate'/],
    ["a missing argument", ["show"], /missing required argument 'workspace'/],
    ["a missing required option", ["create", "dev"], /required option '-t, --template <template>'/],
    ["no subcommand of a group", ["templates"], /Usage: prewarm templates/],
    ["no command at all", [], /Usage: prewarm/],
    ["an unknown output format", ["list", "-o", "xml"], /invalid output format "xml"/],
    ["a global option the command does not take", ["--url", "http://x", "logout"], /--url does not apply/],
    ["an unknown shell", ["completion", "tcsh"], /unknown shell "tcsh"/],
  ];
  for (const [what, args, message] of cases) {
    test(`GIVEN ${what} THEN exit code 2 and a message on stderr`, async () => {
      const res = await runCli(args, { env: suite.ctx.env });
      assert.equal(res.code, 2, `${res.stdout}${res.stderr}`);
      assert.match(res.stderr, message);
    });
  }

  test("--help exits 0", async () => {
    const res = await runCli(["templates", "--help"], { env: suite.ctx.env });
    assert.equal(res.code, 0);
    assert.match(res.stdout, /Usage: prewarm templates/);
  });
});

describe("completion", () => {
  /** Runs the bash script's completion function on the words typed so far; returns the candidates. */
  function bashComplete(script: string, words: string[]): string[] {
    const quoted = words.map((w) => `'${w}'`).join(" ");
    const program = `${script}\nCOMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _prewarm; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const run = spawnSync("bash", ["-c", program], { encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr);
    return run.stdout.split("\n").filter(Boolean);
  }

  test("GIVEN the bash script THEN it completes commands, subcommands and options from the tree", async () => {
    const res = await runCli(["completion", "bash"], { env: suite.ctx.env });
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(bashComplete(res.stdout, ["prewarm", "templates", "p"]), ["push"]);
    assert.deepEqual(bashComplete(res.stdout, ["prewarm", "-o", "json", "pre"]).sort(), [
      "prebuild",
      "prebuilds",
      "preset",
      "presets",
    ]);
    assert.ok(bashComplete(res.stdout, ["prewarm", "preset", "list", "--"]).includes("--template-version"));
    assert.ok(bashComplete(res.stdout, ["prewarm", "completion", ""]).length === 0);
  });

  for (const shell of ["zsh", "fish"]) {
    test(`GIVEN ${shell} THEN a script that names every top-level command`, async () => {
      const res = await runCli(["completion", shell], { env: suite.ctx.env });
      assert.equal(res.code, 0, res.stderr);
      for (const command of ["create", "templates", "presets", "prebuilds", "version", "completion"]) {
        assert.ok(res.stdout.includes(command), `${shell} script lacks ${command}`);
      }
      // Syntax-checked where the shell is installed.
      const check = spawnSync(shell, ["-n"], { input: res.stdout, encoding: "utf8" });
      if (!check.error) assert.equal(check.status, 0, check.stderr);
    });
  }
});
