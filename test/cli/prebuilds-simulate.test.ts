// `prewarm prebuilds simulate --input FILE` through the real CLI process: the output document for a trace worked
// out by hand, `--policy` replacing the input's policy, the table summary, and invalid input (exit 2, naming the
// field) versus an unreadable file (exit 1).
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { runCli } from "../support/cli.js";

// A static pool of 2, builds of 5 min, one hour. 00:00 builds p1 and p2 (eligible 00:05); the claims at 00:10
// and 00:10:30 take them and start replacements (eligible 00:15 and 00:15:30); the claim at 00:12 misses.
// Prebuild-seconds: 600 + 630 + 3000 + 2970.
const INPUT = {
  start: "2026-01-05T00:00:00Z",
  end: "2026-01-05T01:00:00Z",
  buildSeconds: 300,
  claims: ["2026-01-05T00:10:00Z", "2026-01-05T00:10:30Z", "2026-01-05T00:12:00Z"],
  policy: { type: "static", instances: 2 },
};

let dir: string;
let file: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "prewarm-simulate-"));
  file = join(dir, "trace.json");
  await writeFile(file, JSON.stringify(INPUT));
});
after(() => rm(dir, { recursive: true, force: true }));

describe("prewarm prebuilds simulate", () => {
  test("GIVEN a trace WHEN simulated THEN the output document is printed as JSON", async () => {
    const r = await runCli(["prebuilds", "simulate", "--input", file]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      claims: 3,
      hits: 2,
      hitRate: 0.6667,
      prebuildSeconds: 7200,
      created: 4,
      desired: [["2026-01-05T00:00:00Z", 2]],
    });
  });

  test("GIVEN --policy WHEN simulated THEN it replaces the input's, and -o table summarises", async () => {
    // A pool of 3: the third prebuild serves the claim at 00:12.
    const r = await runCli([
      "prebuilds",
      "simulate",
      "--input",
      file,
      "--policy",
      '{"type":"static","instances":3}',
      "-o",
      "table",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Hit rate:\s+100\.0% \(3 hits\)/);
    assert.match(r.stdout, /Claims:\s+3/);
  });

  test("GIVEN an invalid input WHEN simulated THEN it exits 2 naming the field", async () => {
    const bad = join(dir, "bad.json");
    await writeFile(
      bad,
      JSON.stringify({ ...INPUT, claims: ["2026-01-05T00:12:00Z", "2026-01-05T00:10:00Z"] }),
    );
    const r = await runCli(["prebuilds", "simulate", "--input", bad]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /^prewarm: invalid simulation input ".*bad\.json": claims\[1\]: claims must be sorted/,
    );
  });

  test("GIVEN a file that does not exist WHEN simulated THEN it exits 1", async () => {
    const r = await runCli(["prebuilds", "simulate", "--input", join(dir, "missing.json")]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /read simulation input ".*missing\.json": no such file/);
  });
});
