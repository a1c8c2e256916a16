#!/usr/bin/env node
// Installs prewarm's test `coder` provider (test/support/terraform-provider-coder) as a terraform
// filesystem mirror under DIR, and prints the path of a terraform CLI config file that uses that mirror
// for registry.terraform.io/coder/coder (and nothing else; every other provider installs as usual):
//
//   TF_CLI_CONFIG_FILE=$(node scripts/coder-provider.mjs DIR) terraform init && terraform plan
//
// DIR/provider/terraform-provider-coder.cjs  the provider, bundled into one file, and start.cjs, which runs it
//                                            with a V8 code cache (.v8cache, made by a first start here):
//                                            terraform starts a provider several times per plan and apply,
//                                            so start time matters, and Node 20 has no compile cache
// DIR/mirror/registry.terraform.io/coder/coder/2.13.0/<os>_<arch>/terraform-provider-coder_v2.13.0
//                                            a shell script that runs start.cjs with this node
// DIR/terraformrc                            the CLI config (its path is the only output on stdout)
import { spawn } from "node:child_process";
import { access, chmod, mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const version = "2.13.0";
const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const entry = join(repoRoot, "test", "support", "terraform-provider-coder", "main.ts");

/** Terraform's platform names (GOOS_GOARCH). */
function platform() {
  const os = { win32: "windows" }[process.platform] ?? process.platform;
  const arch = { x64: "amd64", ia32: "386" }[process.arch] ?? process.arch;
  return `${os}_${arch}`;
}

const magicCookie = {
  TF_PLUGIN_MAGIC_COOKIE: "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2",
};

/** Runs the bundle from a V8 code cache, and writes the cache when there is none (or it was rejected). */
const loader = `// Starts the bundled test coder provider (written by scripts/coder-provider.mjs).
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const vm = require("node:vm");
const { wrap } = require("node:module");
const file = path.join(__dirname, "terraform-provider-coder.cjs");
const cacheFile = \`\${file}.v8cache\`;
let cachedData;
try {
  cachedData = fs.readFileSync(cacheFile);
} catch {}
const script = new vm.Script(wrap(fs.readFileSync(file, "utf8")), { filename: file, cachedData });
const mod = { exports: {} };
script.runInThisContext()(mod.exports, require, mod, file, __dirname);
if (cachedData === undefined || script.cachedDataRejected) {
  // After start-up, so the functions that ran are in the cache too; a rename is atomic for racing starts.
  setTimeout(() => {
    try {
      const tmp = \`\${cacheFile}.\${process.pid}\`;
      fs.writeFileSync(tmp, script.createCachedData());
      fs.renameSync(tmp, cacheFile);
    } catch {}
  }, 300).unref();
}
`;

const exists = (path) =>
  access(path).then(
    () => true,
    () => false,
  );

/** Starts the provider once (as terraform would, minus TLS) so that it writes its code cache. */
async function warmUp(executable, cacheFile) {
  const child = spawn(executable, [], {
    env: { ...process.env, ...magicCookie },
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    const started = await new Promise((resolve) => {
      child.stdout.once("data", () => resolve(true));
      child.once("exit", () => resolve(false));
    });
    for (let i = 0; started && i < 50 && !(await exists(cacheFile)); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    child.kill("SIGKILL");
  }
  // Without a cache the provider still works (its first real start writes one); only slower.
}

const shellQuote = (s) => `'${s.replaceAll("'", `'\\''`)}'`;
const hclString = (s) => JSON.stringify(s);

async function install(dir) {
  const root = resolve(dir);
  const providerDir = join(root, "provider");
  const bundle = join(providerDir, "terraform-provider-coder.cjs");
  await build({
    entryPoints: [entry],
    outfile: bundle,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    minify: true,
    legalComments: "none",
    logLevel: "error",
  });
  const start = join(providerDir, "start.cjs");
  await writeFile(start, loader);
  const packageDir = join(root, "mirror", "registry.terraform.io", "coder", "coder", version, platform());
  await mkdir(packageDir, { recursive: true });
  const executable = join(packageDir, `terraform-provider-coder_v${version}`);
  // NODE_OPTIONS and NODE_EXTRA_CA_CERTS are dropped: an inherited `--import tsx`, a debugger flag or a CA
  // bundle (node reads it at start, ~100 ms) would slow every start; the provider makes no TLS calls.
  await writeFile(
    executable,
    `#!/bin/sh\nunset NODE_OPTIONS NODE_EXTRA_CA_CERTS\nexec ${shellQuote(process.execPath)} ${shellQuote(start)} "$@"\n`,
  );
  await chmod(executable, 0o755);
  await warmUp(executable, `${bundle}.v8cache`);
  const config = join(root, "terraformrc");
  await writeFile(
    config,
    [
      "# prewarm's test coder provider from a filesystem mirror; every other provider installs as usual.",
      "provider_installation {",
      "  filesystem_mirror {",
      `    path    = ${hclString(join(root, "mirror"))}`,
      '    include = ["registry.terraform.io/coder/coder"]',
      "  }",
      "  direct {",
      '    exclude = ["registry.terraform.io/coder/coder"]',
      "  }",
      "}",
      "",
    ].join("\n"),
  );
  return config;
}

const dir = process.argv[2];
if (!dir || process.argv.length > 3) {
  process.stderr.write("usage: node scripts/coder-provider.mjs DIR\n");
  process.exit(2);
}
try {
  process.stdout.write(`${await install(dir)}\n`);
} catch (err) {
  process.stderr.write(`coder-provider: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
