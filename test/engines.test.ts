// package.json's `engines` tells the truth: every runtime dependency in package-lock.json runs on the oldest
// Node.js it admits, and every installed package (development tools too) accepts the Node.js running the
// tests — the condition under which `npm ci` prints an EBADENGINE warning. (cookie 2.x needs Node ≥ 22, hence
// the overrides in package.json that keep cookie 1.x.)
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import semver from "semver";

const root = new URL("../", import.meta.url);
const pkg = JSON.parse(readFileSync(new URL("package.json", root), "utf8")) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(new URL("package-lock.json", root), "utf8")) as {
  packages: Record<string, { version?: string; dev?: boolean; engines?: { node?: string } | string[] }>;
};

/** [path in node_modules, version, engines.node] of every locked package that states a Node.js range. */
function nodeRanges(filter: (entry: { dev?: boolean }) => boolean): [string, string, string][] {
  const out: [string, string, string][] = [];
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === "" || !filter(entry)) continue;
    const engines = entry.engines;
    const range = engines && !Array.isArray(engines) ? engines.node : undefined;
    if (range) out.push([path, entry.version ?? "?", range]);
  }
  return out;
}

describe("engines", () => {
  test("GIVEN the oldest Node.js package.json admits THEN every runtime dependency accepts it", () => {
    const oldest = semver.minVersion(pkg.engines.node)?.version;
    assert.ok(oldest, `engines.node "${pkg.engines.node}" has no minimum`);
    const refusing = nodeRanges((e) => !e.dev).filter(([, , range]) => !semver.satisfies(oldest, range));
    assert.deepEqual(refusing, [], `runtime dependencies that refuse Node ${oldest}`);
  });

  test("GIVEN the running Node.js THEN no installed package refuses it (npm ci warns EBADENGINE)", () => {
    const refusing = nodeRanges(() => true).filter(
      ([, , range]) => !semver.satisfies(process.version, range),
    );
    assert.deepEqual(refusing, [], `packages that refuse ${process.version}`);
  });

  test("cookie stays on 1.x, which runs on Node.js 20", () => {
    const cookies = Object.entries(lock.packages).filter(([path]) => path.endsWith("node_modules/cookie"));
    assert.ok(cookies.length > 0);
    for (const [path, entry] of cookies) assert.equal(semver.major(entry.version ?? "0.0.0"), 1, path);
  });
});
