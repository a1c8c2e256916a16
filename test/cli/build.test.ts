// The build `npm ci` makes (scripts/build.js) and how bin/prewarm.js chooses between it and the sources. The
// build goes to a scratch directory under .tmp/ (inside the repository, so node_modules resolves), never to
// the real dist/; the choice is checked on a scratch layout whose two entries just say which one ran.
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { routes } from "../../src/contract/api.js";
import { repoRoot } from "../support/cli.js";
import { fakeApiSuite } from "./support/env.js";
import { template } from "./support/fixtures.js";

const execFileAsync = promisify(execFile);
const version = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")).version as string;

describe("scripts/build.js", () => {
  const suite = fakeApiSuite();
  let out: string;
  before(() => {
    mkdirSync(join(repoRoot, ".tmp"), { recursive: true });
    out = mkdtempSync(join(repoRoot, ".tmp", "build-test-"));
    // The package.json next to the build: it makes .js files ES modules and holds the version.
    copyFileSync(join(repoRoot, "package.json"), join(out, "package.json"));
    const build = spawnSync(process.execPath, ["scripts/build.js", "--outdir", join(out, "dist")], {
      cwd: repoRoot,
      encoding: "utf8",
    });
    assert.equal(build.status, 0, build.stderr);
  });
  after(() => rmSync(out, { recursive: true, force: true }));

  test("GIVEN the build THEN its modules import TypeBox from the one vendored file", () => {
    const contract = readFileSync(join(out, "dist", "contract", "api.js"), "utf8");
    assert.match(contract, /from "\.\.\/vendor\/typebox\.js"/);
    assert.doesNotMatch(contract, /@sinclair\/typebox/);
  });

  test("GIVEN the build THEN the compiled CLI runs: --version and an API command", async () => {
    const main = join(out, "dist", "cli", "main.js");
    const v = spawnSync(process.execPath, [main, "--version"], { encoding: "utf8" });
    assert.equal(v.stdout, `${version}\n`, v.stderr);
    suite.fake.on(routes.listTemplates, { status: 200, body: [template({ name: "alpha" })] });
    // Asynchronously: the fake API answers from this process, which a blocking spawn would stall.
    const list = await execFileAsync(process.execPath, [main, "templates", "list", "-o", "json"], {
      env: { ...process.env, ...suite.ctx.env },
      timeout: 60_000,
    });
    assert.equal(JSON.parse(list.stdout)[0].name, "alpha");
  });
});

describe("bin/prewarm.js", () => {
  let root: string;
  const stamp = () => join(root, "dist", ".build-stamp");
  const source = () => join(root, "src", "cli", "main.ts");
  before(() => {
    mkdirSync(join(repoRoot, ".tmp"), { recursive: true });
    root = mkdtempSync(join(repoRoot, ".tmp", "bin-test-"));
    mkdirSync(join(root, "bin"));
    mkdirSync(join(root, "src", "cli"), { recursive: true });
    mkdirSync(join(root, "dist", "cli"), { recursive: true });
    copyFileSync(join(repoRoot, "bin", "prewarm.js"), join(root, "bin", "prewarm.js"));
    writeFileSync(join(root, "package.json"), '{ "type": "module" }\n');
    symlinkSync(join(repoRoot, "node_modules"), join(root, "node_modules"));
    writeFileSync(source(), 'console.log("sources");\n');
    writeFileSync(join(root, "dist", "cli", "main.js"), 'console.log("build");\n');
    writeFileSync(stamp(), "\n");
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  function run(env: NodeJS.ProcessEnv = {}): string {
    const r = spawnSync(process.execPath, [join(root, "bin", "prewarm.js")], {
      encoding: "utf8",
      env: { ...process.env, PREWARM_FROM_SOURCE: undefined, ...env },
    });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim();
  }

  test("GIVEN a build newer than every source THEN the build runs", () => {
    utimesSync(source(), new Date("2026-01-01T00:00:00Z"), new Date("2026-01-01T00:00:00Z"));
    utimesSync(stamp(), new Date("2026-01-02T00:00:00Z"), new Date("2026-01-02T00:00:00Z"));
    assert.equal(run(), "build");
  });

  test("GIVEN PREWARM_FROM_SOURCE=1 THEN the sources run", () => {
    assert.equal(run({ PREWARM_FROM_SOURCE: "1" }), "sources");
  });

  test("GIVEN a source saved after the build THEN the sources run, never the stale build", () => {
    utimesSync(source(), new Date("2026-01-03T00:00:00Z"), new Date("2026-01-03T00:00:00Z"));
    assert.equal(run(), "sources");
  });

  test("GIVEN no build stamp THEN the sources run", () => {
    rmSync(stamp());
    assert.equal(run(), "sources");
  });
});
