// Shared fixtures of the tests that run real terraform against the test coder provider: installing the
// filesystem mirror (scripts/coder-provider.mjs), running terraform with a clean environment, the
// template with parameters, a preset with prebuilds, an agent and a local-exec, and JSON accessors.
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "../../support/cli.js";

const execFileAsync = promisify(execFile);

export const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** Installs the provider's mirror under `dir`; returns the CLI config path the script prints. */
export async function installCoderProvider(dir: string): Promise<string> {
  const { stdout } = await execFileAsync(
    process.execPath,
    [join(repoRoot, "scripts", "coder-provider.mjs"), dir],
    {
      timeout: 60_000,
    },
  );
  return stdout.trim();
}

export interface TerraformResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs terraform in `cwd` with only PATH, HOME, the CLI config and `env` (nothing of the test runner's
 * environment, so no stray CODER_* or TF_* variable changes what the provider sees).
 */
export function terraform(
  cwd: string,
  args: string[],
  options: { cliConfig: string; env?: Record<string, string> },
): Promise<TerraformResult> {
  return new Promise((resolve, reject) => {
    const child = spawn("terraform", args, {
      cwd,
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: process.env.HOME ?? "/tmp",
        TF_CLI_CONFIG_FILE: options.cliConfig,
        TF_IN_AUTOMATION: "1",
        CHECKPOINT_DISABLE: "1",
        ...options.env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 50_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs terraform and fails with its output unless it exits 0. */
export async function terraformOk(
  cwd: string,
  args: string[],
  options: { cliConfig: string; env?: Record<string, string> },
): Promise<string> {
  const r = await terraform(cwd, args, options);
  if (r.code !== 0) throw new Error(`terraform ${args.join(" ")}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

export const agentScript =
  "#!/bin/sh\ncurl -fsSL $" + "{ACCESS_URL}bin/agent | CODER_AUTH=$" + "{AUTH_TYPE} sh\n";

/**
 * A Coder-style template: workspace/owner data, a number parameter with validation, a string parameter
 * with options, a default preset with prebuilds (TTL and a schedule), an agent (count = start_count) with
 * metadata, and a terraform_data "machine" that uses the agent's token and init script and records, with
 * local-exec, what the build saw.
 */
export function coderTemplate(arch = "amd64"): Record<string, string> {
  return {
    "main.tf": `terraform {
  required_providers {
    coder = {
      source  = "coder/coder"
      version = "2.13.0"
    }
  }
}

data "coder_workspace" "me" {}
data "coder_workspace_owner" "me" {}

data "coder_parameter" "size" {
  name         = "size"
  display_name = "Size"
  type         = "number"
  default      = "2"
  mutable      = true
  order        = 1
  validation {
    min = 1
    max = 8
  }
}

data "coder_parameter" "region" {
  name    = "region"
  default = "eu"
  option {
    name  = "Europe"
    value = "eu"
  }
  option {
    name  = "United States"
    value = "us"
  }
}

data "coder_workspace_preset" "big" {
  name        = "big"
  default     = true
  description = "Big machines"
  parameters  = { (data.coder_parameter.size.name) = "8", region = "us" }
  prebuilds {
    instances = 2
    expiration_policy {
      ttl = 86400
    }
    scheduling {
      timezone = "Europe/Berlin"
      schedule {
        cron      = "* 8-18 * * 1-5"
        instances = 3
      }
    }
  }
}

resource "coder_agent" "main" {
  count = data.coder_workspace.me.start_count
  os    = "linux"
  arch  = "${arch}"
  dir   = "/home/coder"
  env   = { SIZE = data.coder_parameter.size.value }
  metadata {
    key      = "load"
    script   = "uptime"
    interval = 10
  }
}

resource "terraform_data" "machine" {
  count = data.coder_workspace.me.start_count
  input = {
    token = coder_agent.main[0].token
    init  = coder_agent.main[0].init_script
  }
  provisioner "local-exec" {
    command = "printf '%s\\\\n' \\"$OWNER\\" \\"$PREBUILD\\" \\"$SIZE\\" > \\"$OUT\\""
    environment = {
      OWNER    = data.coder_workspace_owner.me.name
      PREBUILD = data.coder_workspace.me.is_prebuild
      SIZE     = data.coder_parameter.size.value
      OUT      = "\${path.module}/local-exec.out"
    }
  }
}
`,
  };
}

// ---- terraform show -json accessors ------------------------------------------------------------------

export interface ShowResource {
  address: string;
  type: string;
  values: Record<string, unknown>;
}

export interface ShowJson {
  prior_state?: { values?: { root_module?: { resources?: ShowResource[] } } };
  values?: { root_module?: { resources?: ShowResource[] } };
  resource_changes?: {
    address: string;
    change: {
      actions: string[];
      after: Record<string, unknown> | null;
      after_unknown: Record<string, unknown>;
      replace_paths?: unknown[][];
    };
  }[];
}

export function resourceIn(resources: ShowResource[] | undefined, address: string): Record<string, unknown> {
  const r = (resources ?? []).find((x) => x.address === address);
  if (!r) throw new Error(`no ${address} in ${JSON.stringify((resources ?? []).map((x) => x.address))}`);
  return r.values;
}

export function changeOf(plan: ShowJson, address: string) {
  const c = (plan.resource_changes ?? []).find((x) => x.address === address);
  if (!c) throw new Error(`no change for ${address}`);
  return c.change;
}
