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
import { addSettings, type Setting, settingLabel } from "../settings.js";
import { parseKeyValues } from "./shared.js";

interface StartOptions {
  url: string;
  psk: string;
  type?: string[];
  name?: string;
  tag?: string[];
  provisioner?: string[];
}

/**
 * The daemon's flags as settings (../settings.ts): each has an environment variable, PREWARM_DAEMON_ + the flag
 * in upper snake case unless named here (the URL and the key are the ones the CLI and the server use), and a
 * --config key. A new flag is one entry here.
 */
const DAEMON_SETTINGS: readonly Setting[] = [
  { flags: "--url <url>", description: "the server's URL", env: "PREWARM_URL", required: true },
  {
    flags: "--psk <key>",
    description: "the server's pre-shared daemon key (prefer the env or the file: ps shows flags)",
    env: "PREWARM_PROVISIONER_PSK",
    secret: true,
    required: true,
  },
  {
    flags: "--type <type>",
    description: "a provisioner type this daemon runs (repeatable)",
    defaultDescription: "echo",
    repeatable: true,
  },
  { flags: "--name <name>", description: "daemon name, unique per server", defaultDescription: "host-pid" },
  {
    flags: "--tag <key=value>",
    description:
      "a tag KEY=VALUE (repeatable): the daemon takes only jobs whose tags it has; untagged, only untagged jobs",
    repeatable: true,
  },
  {
    flags: "--provisioner <type=address>",
    description: "use an external gRPC provisioner for a type (repeatable)",
    repeatable: true,
  },
];

export function registerProvisionerStart(provisioner: Command): void {
  addSettings(
    provisioner
      .command("start")
      .description("Run an external provisioner daemon that takes jobs from a prewarm server"),
    DAEMON_SETTINGS,
    "PREWARM_DAEMON_",
  ).action(async (options: StartOptions, command: Command) =>
    startDaemon(options, (flag) => settingLabel(command, flag)),
  );
}

/** The server's tag rules (jobs/tags.ts), applied before connecting so a bad --tag is a usage error. */
async function checkedTags(flag: string, given: Record<string, string>): Promise<Record<string, string>> {
  const { validateTags, InvalidTagsError } = await import("../../server/jobs/tags.js");
  try {
    return validateTags(given);
  } catch (err) {
    if (err instanceof InvalidTagsError) throw new CliError(`${flag}: ${err.message}`, 2);
    throw err;
  }
}

async function startDaemon(options: StartOptions, label: (flag: string) => string): Promise<void> {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new CliError(`${label("--url")}: not a URL: "${options.url}"`, 2);
  }
  const tags = await checkedTags(label("--tag"), parseKeyValues(label("--tag"), options.tag ?? []));
  const external = parseKeyValues(label("--provisioner"), options.provisioner ?? []);
  const requested = options.type ?? [];
  const types = requested.length > 0 ? requested : Object.keys(external).length > 0 ? [] : ["echo"];
  // The daemon (connect, the generated protobufs) loads only here, so registering the command stays cheap.
  const { createDaemonClient } = await import("../../provisionerd/api.js");
  const { ProvisionerDaemon } = await import("../../provisionerd/daemon.js");
  const { hostProvisioners } = await import("../../provisionerd/hosted-provisioners.js");
  const { agentScriptEnv } = await import("../../agent/bootstrap.js");
  const runDir = mkdtempSync(join(tmpdir(), "prewarm-daemon-"));
  let hosted: Awaited<ReturnType<typeof hostProvisioners>>;
  try {
    // As the server does for its in-process daemons: terraform gets the agent bootstrap scripts, so a Coder
    // template's coder_agent.init_script starts prewarm's agent (the URL is only the script's fallback; the
    // provider puts the build's access URL in).
    const options = { terraform: { agentScriptEnv: agentScriptEnv(url.origin) } };
    hosted = await hostProvisioners({ types, runDirectory: runDir, external, options });
  } catch (err) {
    rmSync(runDir, { recursive: true, force: true });
    if (err instanceof UnknownProvisionerTypeError)
      throw new CliError(`${label("--type")}: ${err.message}`, 2);
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
