#!/usr/bin/env node
// Installs prewarm's test `coder` provider (test/support/terraform-provider-coder) as a terraform
// filesystem mirror under DIR, and prints the path of a terraform CLI config file that uses that mirror
// for registry.terraform.io/coder/coder (and nothing else; every other provider installs as usual):
//
//   TF_CLI_CONFIG_FILE=$(node scripts/coder-provider.mjs DIR) terraform init && terraform plan
//
// DIR/provider/terraform-provider-coder.mjs  the provider, bundled into one file (fast start: terraform
//                                            starts a provider several times per plan and apply)
// DIR/mirror/registry.terraform.io/coder/coder/2.13.0/<os>_<arch>/terraform-provider-coder_v2.13.0
//                                            a shell script that runs that bundle with this node
// DIR/terraformrc                            the CLI config (its path is the only output on stdout)
import { chmod, mkdir, writeFile } from "node:fs/promises";
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

const shellQuote = (s) => `'${s.replaceAll("'", `'\\''`)}'`;
const hclString = (s) => JSON.stringify(s);

async function install(dir) {
  const root = resolve(dir);
  const bundle = join(root, "provider", "terraform-provider-coder.mjs");
  await build({
    entryPoints: [entry],
    outfile: bundle,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    minify: true,
    legalComments: "none",
    logLevel: "error",
  });
  const packageDir = join(root, "mirror", "registry.terraform.io", "coder", "coder", version, platform());
  await mkdir(packageDir, { recursive: true });
  const executable = join(packageDir, `terraform-provider-coder_v${version}`);
  await writeFile(executable, `#!/bin/sh\nexec ${shellQuote(process.execPath)} ${shellQuote(bundle)} "$@"\n`);
  await chmod(executable, 0o755);
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
