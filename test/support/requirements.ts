// System components some tests need (PostgreSQL, Chromium, terraform). A test that lacks one skips with a
// printed reason, unless PREWARM_TEST_REQUIRE_ALL=1 (set by .ci/run): then a missing component is a failure,
// so CI can never pass by skipping.
import { spawnSync } from "node:child_process";

export const requireAll = process.env.PREWARM_TEST_REQUIRE_ALL === "1";

/** Whether `command` runs (`command --version`-style probe with the given args). */
export function commandWorks(command: string, args: string[] = ["--version"]): boolean {
  const r = spawnSync(command, args, { stdio: "ignore", timeout: 20_000 });
  return r.status === 0;
}

/**
 * Returns `false` (skip) or a reason string for node:test's `skip` option when `available` is false, and
 * throws when skipping is not allowed. Use as `test("…", { skip: skipUnless(ok, "terraform not on PATH") }, …)`.
 */
export function skipUnless(available: boolean, reason: string): false | string {
  if (available) return false;
  if (requireAll) throw new Error(`required component missing (PREWARM_TEST_REQUIRE_ALL=1): ${reason}`);
  process.stderr.write(`# skipping: ${reason}\n`);
  return reason;
}
