// Start time of the test coder provider (scripts/coder-provider.mjs) — spawn until the go-plugin handshake
// line, with AutoMTLS as terraform asks for it — against a floor measured in the same run: a bare `node`
// that prints one line. Terraform starts the provider several times per plan and apply, so this is what a
// test template pays per start. With --terraform, also the wall time of init, plan and apply of the
// test's template (needs terraform on PATH).
//
//   node --import tsx bench/coder-provider-start.ts [--starts 20] [--terraform]

import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import {
  agentScript,
  coderTemplate,
  installCoderProvider,
  terraformOk,
} from "../test/provisioners/terraform/coder-provider-fixtures.js";
import { selfSignedCertificate } from "../test/support/terraform-provider-coder/cert.js";
import { record } from "./results.js";

const { values } = parseArgs({
  options: { starts: { type: "string", default: "20" }, terraform: { type: "boolean", default: false } },
});
const STARTS = Number(values.starts);

/** Milliseconds from spawn until the first stdout line; the process is then killed. */
function timeToFirstLine(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "inherit"] });
    child.stdout.once("data", () => {
      const elapsed = performance.now() - start;
      child.once("exit", () => resolve(elapsed));
      child.kill("SIGKILL");
    });
    child.once("error", reject);
  });
}

const percentile = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * p)]!;
const fmt = (xs: number[]) =>
  `p50 ${percentile(xs, 0.5).toFixed(0)} ms, min ${Math.min(...xs).toFixed(0)} ms`;

const dir = await mkdtemp(join(tmpdir(), "prewarm-bench-coder-provider-"));
try {
  const cliConfig = await installCoderProvider(dir);
  const executable = join(
    dir,
    "mirror/registry.terraform.io/coder/coder/2.13.0",
    `${process.platform === "win32" ? "windows" : process.platform}_${process.arch === "x64" ? "amd64" : process.arch}`,
    "terraform-provider-coder_v2.13.0",
  );
  const env = {
    PATH: process.env.PATH,
    TF_PLUGIN_MAGIC_COOKIE: "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2",
    PLUGIN_PROTOCOL_VERSIONS: "5,6",
    PLUGIN_CLIENT_CERT: selfSignedCertificate().certPem,
  };
  const floor: number[] = [];
  const provider: number[] = [];
  for (let i = 0; i < STARTS; i++) {
    // Alternate, so both see the same machine load.
    floor.push(await timeToFirstLine(process.execPath, ["-e", "process.stdout.write('ready\\n')"], env));
    provider.push(await timeToFirstLine(executable, [], env));
  }
  console.log(`floor (bare node):    ${fmt(floor)}`);
  console.log(`test coder provider:  ${fmt(provider)}`);
  record({
    measure: "test coder provider start (p50)",
    value: percentile(provider, 0.5),
    unit: "ms",
    floor: percentile(floor, 0.5),
    ratio: percentile(provider, 0.5) / percentile(floor, 0.5),
  });
  console.log(`ratio (p50):          ${(percentile(provider, 0.5) / percentile(floor, 0.5)).toFixed(2)}x`);

  if (values.terraform) {
    const work = join(dir, "template");
    await mkdir(work);
    for (const [name, text] of Object.entries(coderTemplate())) await writeFile(join(work, name), text);
    const buildEnv = { CODER_WORKSPACE_IS_PREBUILD: "true", CODER_AGENT_SCRIPT_linux_amd64: agentScript };
    for (const [step, args] of [
      ["init", ["init", "-input=false", "-no-color"]],
      ["plan", ["plan", "-input=false", "-no-color", "-out=tfplan"]],
      ["apply", ["apply", "-input=false", "-no-color", "-auto-approve", "tfplan"]],
    ] as const) {
      const start = performance.now();
      await terraformOk(work, [...args], { cliConfig, env: buildEnv });
      console.log(`terraform ${step}:`.padEnd(22) + `${(performance.now() - start).toFixed(0)} ms`);
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
