// CLI start-up: the median wall time of `prewarm --version`, `prewarm list` and `prewarm presets list` (both
// against a running server, with the echo demo template pushed) next to the floor, `node -e 0`, measured in the
// same run. Goals (issue 15): --version within 2× the floor, list within 3×.
//
//   node --import tsx bench/cli-start.ts [--runs 15] [--source-runs 3]
//
// The commands run as `node bin/prewarm.js …`, as a user runs them, after `node scripts/build.js` (what
// `npm ci` runs through `prepare`), so the build measured is the current sources'. Runs are interleaved
// (floor, --version, list, presets list, floor, …) so a noisy neighbour slows all of them alike.
// `--source-runs` also times --version from the sources through tsx (PREWARM_FROM_SOURCE=1: what a stale or
// missing build costs); reported, no goal.
import { execFile, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import { buildTemplateArchive } from "../src/cli/template-archive.js";
import { pushDemoTemplate } from "../src/server/demo.js";
import { createLogger } from "../src/server/logger.js";
import { startServer } from "../src/server/server.js";
import { record } from "./results.js";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "15" },
    "source-runs": { type: "string", default: "3" },
  },
});
const RUNS = Number(values.runs);
const SOURCE_RUNS = Number(values["source-runs"]);
const root = fileURLToPath(new URL("..", import.meta.url));
const bin = join(root, "bin/prewarm.js");
const run = promisify(execFile);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * Runs `node args…` to completion; returns its wall time in ms (a non-zero exit fails the bench). Asynchronous
 * because the server answering `list` runs in this process: a blocking spawn would leave it deaf.
 */
async function time(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const start = performance.now();
  try {
    await run(process.execPath, args, { cwd: root, env });
  } catch (err) {
    throw new Error(`node ${args.join(" ")} failed: ${(err as { stderr?: string }).stderr ?? String(err)}`);
  }
  return performance.now() - start;
}

const build = spawnSync(process.execPath, ["scripts/build.js"], { cwd: root, stdio: "inherit" });
if (build.status !== 0) throw new Error("scripts/build.js failed");

const dataDir = mkdtempSync(join(tmpdir(), "prewarm-bench-cli-"));
const configHome = mkdtempSync(join(tmpdir(), "prewarm-bench-cli-config-"));
const server = await startServer({
  dataDir,
  listen: "127.0.0.1:0",
  daemons: 1,
  provisionerTypes: ["echo"],
  reconcileIntervalMs: 3_600_000,
  dev: true,
  logger: createLogger({ level: "warn" }),
});
try {
  const archive = await buildTemplateArchive(join(root, "examples/templates/echo-demo"));
  await pushDemoTemplate(server, "echo-demo", archive.bytes);
  // The child's environment: this server, its admin token, no saved login, no inherited PREWARM_* switches.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PREWARM_URL: server.url,
    PREWARM_TOKEN: server.adminToken,
    PREWARM_FROM_SOURCE: undefined,
    XDG_CONFIG_HOME: configHome,
    NO_COLOR: "1",
  };
  const cases = [
    { name: "node -e 0 (floor)", args: ["-e", "0"] },
    { name: "prewarm --version", args: [bin, "--version"], goal: 2 },
    { name: "prewarm list", args: [bin, "list"], goal: 3 },
    { name: "prewarm presets list echo-demo", args: [bin, "presets", "list", "echo-demo"], goal: 3 },
  ];
  for (const c of cases) await time(c.args, env); // warm the file cache once
  const samples = cases.map(() => [] as number[]);
  for (let i = 0; i < RUNS; i++) {
    for (const [j, c] of cases.entries()) samples[j]!.push(await time(c.args, env));
  }
  const floor = median(samples[0]!);
  console.log(`CLI start, median of ${RUNS} runs each (Node ${process.version})`);
  console.log(`  ${cases[0]!.name.padEnd(34)} ${floor.toFixed(1).padStart(7)} ms`);
  for (const [j, c] of cases.entries()) {
    if (j === 0) continue;
    const value = median(samples[j]!);
    const ratio = value / floor;
    console.log(
      `  ${c.name.padEnd(34)} ${value.toFixed(1).padStart(7)} ms  ${ratio.toFixed(2)}× the floor (goal ≤ ${c.goal}×)`,
    );
    record({ measure: `${c.name} (built)`, value, unit: "ms", floor, ratio, goal: `≤ ${c.goal}` });
  }
  if (SOURCE_RUNS > 0) {
    const fromSource = { ...env, PREWARM_FROM_SOURCE: "1" };
    const runs: number[] = [];
    for (let i = 0; i < SOURCE_RUNS; i++) runs.push(await time([bin, "--version"], fromSource));
    const source = median(runs);
    console.log(
      `  ${"prewarm --version, sources (tsx)".padEnd(34)} ${source.toFixed(1).padStart(7)} ms  ${(source / floor).toFixed(2)}× the floor (median of ${SOURCE_RUNS}; no goal)`,
    );
    record({
      measure: "prewarm --version from the sources (tsx)",
      value: source,
      unit: "ms",
      floor,
      ratio: source / floor,
    });
  }
} finally {
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(configHome, { recursive: true, force: true });
}
