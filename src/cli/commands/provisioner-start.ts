// `prewarm provisioner start`: an external provisioner daemon. It hosts the provisioners of its types (or
// uses external gRPC provisioners given with --provisioner TYPE=ADDRESS), acquires jobs from the server's
// daemon API with the pre-shared key, and stops gracefully on SIGINT/SIGTERM (a second signal cancels the
// running job).
import { mkdtempSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import type { Command } from "commander";
import { UnknownProvisionerTypeError } from "../../provisioners/registry.js";
import { version } from "../../version.js";
import { CliError } from "../errors.js";
import { collect, parseKeyValues } from "./shared.js";

interface StartOptions {
  url: string;
  psk?: string;
  type: string[];
  name?: string;
  tag: string[];
  provisioner: string[];
}

export function registerProvisionerStart(provisioner: Command): void {
  provisioner
    .command("start")
    .description("Run an external provisioner daemon that takes jobs from a prewarm server")
    .requiredOption("--url <url>", "the server's URL", process.env.PREWARM_URL)
    .option(
      "--psk <key>",
      "the server's pre-shared daemon key (env PREWARM_PROVISIONER_PSK)",
      process.env.PREWARM_PROVISIONER_PSK,
    )
    .option("--type <type>", "a provisioner type this daemon runs (repeatable; default echo)", collect, [])
    .option("--name <name>", "daemon name, unique per server (default: host-pid)")
    .option("--tag <key=value>", "a tag; the daemon takes jobs whose tags it has (repeatable)", collect, [])
    .option(
      "--provisioner <type=address>",
      "use an external gRPC provisioner for a type (repeatable)",
      collect,
      [],
    )
    .action(async (options: StartOptions) => startDaemon(options));
}

async function startDaemon(options: StartOptions): Promise<void> {
  if (!options.psk) throw new CliError("--psk is required (or set PREWARM_PROVISIONER_PSK)", 2);
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new CliError(`--url: not a URL: "${options.url}"`, 2);
  }
  const tags = parseKeyValues("--tag", options.tag);
  const external = parseKeyValues("--provisioner", options.provisioner);
  const types = options.type.length > 0 ? options.type : Object.keys(external).length > 0 ? [] : ["echo"];
  // The daemon (connect, the generated protobufs) loads only here, so registering the command stays cheap.
  const { createDaemonClient } = await import("../../provisionerd/api.js");
  const { ProvisionerDaemon } = await import("../../provisionerd/daemon.js");
  const { hostProvisioners } = await import("../../provisionerd/hosted-provisioners.js");
  const runDir = mkdtempSync(join(tmpdir(), "prewarm-daemon-"));
  let hosted: Awaited<ReturnType<typeof hostProvisioners>>;
  try {
    hosted = await hostProvisioners({ types, runDirectory: runDir, external });
  } catch (err) {
    rmSync(runDir, { recursive: true, force: true });
    if (err instanceof UnknownProvisionerTypeError) throw new CliError(`--type: ${err.message}`, 2);
    throw err;
  }
  const name = options.name ?? `${hostname()}-${process.pid}`;
  const daemon = new ProvisionerDaemon({
    api: createDaemonClient(url.toString().replace(/\/$/, ""), options.psk),
    identity: { name, provisionerTypes: hosted.types, tags, version },
    provisioners: hosted.clients,
    heartbeatMs: 500,
    logger: {
      info: (msg, fields) => process.stdout.write(`${msg}${fields ? ` ${JSON.stringify(fields)}` : ""}\n`),
      warn: (msg, fields) => process.stderr.write(`${msg}${fields ? ` ${JSON.stringify(fields)}` : ""}\n`),
    },
  });
  daemon.start();
  process.stdout.write(`daemon ${name} started (${hosted.types.join(", ")}) for ${url.origin}\n`);
  await new Promise<void>((resolve) => {
    let signals = 0;
    const onSignal = () => {
      signals++;
      if (signals === 1) {
        process.stdout.write("stopping: finishing the running job (signal again to cancel it)\n");
        daemon.shutdown().then(resolve, resolve);
      } else {
        void daemon.shutdown({ cancelActiveJob: true });
      }
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
  await hosted.close();
  rmSync(runDir, { recursive: true, force: true });
}
