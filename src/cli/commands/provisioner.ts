// `prewarm provisioner …`: standalone provisioners and external daemons. The gRPC server and the
// provisioners load when `serve` runs (import() below), so registering these commands stays cheap.
import { resolve } from "node:path";
import { type Command, Option } from "commander";
import {
  loadProvisioner,
  type ProvisionerTypeOptions,
  provisionerTypes,
  type TerraformTypeOptions,
  UnknownProvisionerTypeError,
} from "../../provisioners/registry.js";
import { AddressError, parseAddress } from "../../provisionersdk/address.js";
import { CliError } from "../errors.js";
import { registerProvisionerStart } from "./provisioner-start.js";
import { collect, parseDurationFlag } from "./shared.js";

interface ServeOptions {
  type: string;
  listen: string;
  workDir?: string;
  maxArchiveBytes?: string;
  maxArchiveEntries?: string;
  shutdownTimeout: string;
  terraformExitTimeout?: string;
  terraformPluginCache?: string;
  tfEnv: string[];
}

export function registerProvisionerCommands(program: Command): void {
  const provisioner = program.command("provisioner").description("Run provisioners and provisioner daemons");
  provisioner
    .command("serve")
    .description("Serve a provisioner over gRPC (provisioner.Provisioner/Session) until SIGINT or SIGTERM")
    .addOption(
      new Option(
        "--type <type>",
        `provisioner type: ${Object.keys(provisionerTypes).join(", ")}`,
      ).makeOptionMandatory(),
    )
    .option("--listen <address>", "HOST:PORT (port 0 picks a free one) or unix:/path", "127.0.0.1:0")
    .option("--work-dir <dir>", "where session directories are created (default: a fresh temp directory)")
    .option("--max-archive-bytes <bytes>", "largest total size of a template archive's files")
    .option("--max-archive-entries <count>", "most entries a template archive may have")
    .option(
      "--shutdown-timeout <duration>",
      "how long shutdown waits for running sessions before cancelling them",
      "30s",
    )
    .option(
      "--terraform-exit-timeout <duration>",
      "terraform: how long a cancelled terraform may take to exit after SIGINT before it is killed (default 3m)",
    )
    .option(
      "--terraform-plugin-cache <dir>",
      "terraform: provider plugin cache shared by all sessions (created if missing)",
    )
    .option(
      "--tf-env <NAME=VALUE>",
      "terraform: a TF_* setting for every terraform command (repeatable; values are never logged)",
      collect,
      [],
    )
    .action(async (options: ServeOptions) => serveCommand(options));
  registerProvisionerStart(provisioner);
}

async function serveCommand(options: ServeOptions): Promise<void> {
  const listen = checkListen(options.listen);
  const limits: { maxBytes?: number; maxEntries?: number } = {};
  if (options.maxArchiveBytes !== undefined) {
    limits.maxBytes = positiveInteger("--max-archive-bytes", options.maxArchiveBytes);
  }
  if (options.maxArchiveEntries !== undefined) {
    limits.maxEntries = positiveInteger("--max-archive-entries", options.maxArchiveEntries);
  }
  const shutdownMs = parseDurationFlag("--shutdown-timeout", options.shutdownTimeout);
  const typeOptions = await provisionerTypeOptions(options);
  const provisioner = await loadProvisioner(options.type, typeOptions).catch((err: unknown) => {
    throw err instanceof UnknownProvisionerTypeError ? new CliError(`--type: ${err.message}`, 2) : err;
  });

  const { serve } = await import("../../provisionersdk/serve.js");
  const server = await serve(provisioner, {
    listen,
    ...(options.workDir === undefined ? {} : { workDirectory: options.workDir }),
    limits,
  }).catch((err: unknown) => {
    throw new CliError(`listen on ${listen}: ${describeListenError(err)}`);
  });
  process.stdout.write(`listening on ${server.address}\n`);

  // First signal: graceful shutdown (running sessions get `shutdownMs`, then are cancelled). A second
  // signal gives up waiting.
  await new Promise<void>((resolve, reject) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        process.stderr.write(`prewarm: ${signal} again, exiting without waiting for sessions\n`);
        process.exit(1);
      }
      stopping = true;
      const running = server.activeSessions();
      if (running > 0) {
        process.stderr.write(
          `${signal}: waiting up to ${options.shutdownTimeout} for ${running} session(s)\n`,
        );
      }
      server.close({ deadlineMs: shutdownMs }).then(resolve, reject);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
}

/** The `--terraform-*` / `--tf-env` flags as registry options; they are usage errors with another --type. */
async function provisionerTypeOptions(options: ServeOptions): Promise<ProvisionerTypeOptions> {
  const given = [
    options.terraformExitTimeout !== undefined && "--terraform-exit-timeout",
    options.terraformPluginCache !== undefined && "--terraform-plugin-cache",
    options.tfEnv.length > 0 && "--tf-env",
  ].filter((flag): flag is string => flag !== false);
  if (given.length === 0) return {};
  if (options.type !== "terraform") {
    throw new CliError(`${given.join(", ")}: only for --type terraform`, 2);
  }
  const terraform: TerraformTypeOptions = {};
  if (options.terraformExitTimeout !== undefined) {
    terraform.exitTimeoutMs = parseDurationFlag("--terraform-exit-timeout", options.terraformExitTimeout);
  }
  if (options.terraformPluginCache !== undefined) {
    if (options.terraformPluginCache === "") throw new CliError("--terraform-plugin-cache: empty path", 2);
    // Absolute: terraform runs in each session's directory, where a relative path would mean something else.
    terraform.pluginCacheDir = resolve(options.terraformPluginCache);
  }
  if (options.tfEnv.length > 0) {
    const { parseOperatorEnvEntries, TerraformEnvError } = await import(
      "../../provisioners/terraform/env.js"
    );
    try {
      terraform.extraEnv = parseOperatorEnvEntries(options.tfEnv);
    } catch (err) {
      if (err instanceof TerraformEnvError) throw new CliError(`--tf-env: ${err.message}`, 2);
      throw err;
    }
  }
  return { terraform };
}

/** Checks `--listen` up front so a typo is a usage error, not a listen failure. */
function checkListen(address: string): string {
  try {
    parseAddress(address);
    return address;
  } catch (err) {
    throw new CliError(`--listen: ${err instanceof AddressError ? err.message : String(err)}`, 2);
  }
}

function positiveInteger(flag: string, value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw new CliError(`${flag}: expected a positive whole number, got "${value}"`, 2);
  }
  return Number(value);
}

const listenErrors: Record<string, string> = {
  EADDRINUSE: "address already in use",
  EACCES: "permission denied",
  EADDRNOTAVAIL: "address not available on this machine",
  ENOENT: "no such directory for the socket",
};

/** A short reason for a failed listen; the errno code may sit on the error, its cause, or only in its text. */
function describeListenError(err: unknown): string {
  const codeOf = (e: unknown) => (e && typeof e === "object" && "code" in e ? String(e.code) : undefined);
  const message = err instanceof Error ? err.message : String(err);
  const code =
    codeOf(err) ?? codeOf(err instanceof Error ? err.cause : undefined) ?? /\b(E[A-Z]+)\b/.exec(message)?.[1];
  return (code && listenErrors[code]) ?? message;
}
