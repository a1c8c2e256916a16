// `prewarm server` and `prewarm demo` (what `npm start` runs: a dev server with the echo demo template pushed,
// so its prebuild pool fills up).
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { CliError } from "../errors.js";
import { collect, parseDurationFlag, parseKeyValues, parseReplaceAheadFlag } from "./shared.js";

// The server module is loaded only when the command runs (import() below); its types come along at no cost.
type ServerModule = typeof import("../../server/server.js");
type ServerOptions = Parameters<ServerModule["startServer"]>[0];
type RunningServer = Awaited<ReturnType<ServerModule["startServer"]>>;

interface ServerFlags {
  dataDir: string;
  listen: string;
  postgresUrl?: string;
  accessUrl?: string;
  reconcileInterval: string;
  daemons: string;
  provisionerPsk?: string;
  provisionerTypes?: string;
  provisioner: string[];
  jobHangTimeout: string;
  jobPendingTimeout: string;
  replaceAhead: string;
  maxPrebuilds?: string;
  maxIdleCost?: string;
  dev?: boolean;
  logLevel: string;
}

function serverOptions(flags: ServerFlags): ServerOptions {
  const daemons = Number(flags.daemons);
  if (!Number.isInteger(daemons) || daemons < 0)
    throw new CliError(`--daemons must be a whole number, got "${flags.daemons}"`, 2);
  const external = parseKeyValues("--provisioner", flags.provisioner);
  return {
    dataDir: flags.dataDir,
    listen: flags.listen,
    postgresUrl: flags.postgresUrl || undefined,
    accessUrl: flags.accessUrl,
    daemons,
    provisionerPsk: flags.provisionerPsk || undefined,
    provisionerTypes: flags.provisionerTypes
      ? flags.provisionerTypes.split(",").map((t) => t.trim())
      : undefined,
    externalProvisioners: external,
    reconcileIntervalMs: parseDurationFlag("--reconcile-interval", flags.reconcileInterval),
    jobHungTimeoutMs: parseDurationFlag("--job-hang-timeout", flags.jobHangTimeout),
    jobPendingTimeoutMs: parseDurationFlag("--job-pending-timeout", flags.jobPendingTimeout),
    reconcilerSettings: { replaceAhead: parseReplaceAheadFlag("--replace-ahead", flags.replaceAhead) },
    ...(flags.maxPrebuilds === undefined
      ? {}
      : { maxPrebuilds: parseCountFlag("--max-prebuilds", flags.maxPrebuilds) }),
    ...(flags.maxIdleCost === undefined
      ? {}
      : { maxIdleCostPerDay: parseAmountFlag("--max-idle-cost", flags.maxIdleCost) }),
    dev: flags.dev ?? false,
  };
}

function parseCountFlag(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new CliError(`${flag} must be a whole number, got "${text}"`, 2);
  return n;
}

function parseAmountFlag(flag: string, text: string): number {
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n) || n < 0)
    throw new CliError(`${flag} must be a non-negative number, got "${text}"`, 2);
  return n;
}

function addServerFlags(command: Command): Command {
  return command
    .option(
      "--data-dir <dir>",
      "where the embedded database and the admin token live",
      process.env.PREWARM_DATA_DIR ?? ".prewarm",
    )
    .option("--listen <host:port>", "address of the dashboard, API, metrics and daemon API", "127.0.0.1:7080")
    .option(
      "--postgres-url <url>",
      "use PostgreSQL instead of embedded SQLite (env PREWARM_POSTGRES_URL)",
      process.env.PREWARM_POSTGRES_URL,
    )
    .option("--access-url <url>", "how workspaces reach this server (default: the listen URL)")
    .option("--reconcile-interval <duration>", "prebuilds reconciliation period", "15s")
    .option("--daemons <n>", "in-process provisioner daemons", "2")
    .option(
      "--provisioner-psk <key>",
      "pre-shared key for external daemons (env PREWARM_PROVISIONER_PSK)",
      process.env.PREWARM_PROVISIONER_PSK,
    )
    .option(
      "--provisioner-types <list>",
      "provisioner types served in-process (default: echo, and terraform when installed)",
    )
    .option(
      "--provisioner <type=address>",
      "use an external gRPC provisioner for a type (repeatable)",
      collect,
      [],
    )
    .option("--job-hang-timeout <duration>", "fail running jobs without a heartbeat for this long", "5m")
    .option("--job-pending-timeout <duration>", "fail jobs no daemon picked up for this long", "30m")
    .option(
      "--replace-ahead <auto|0|duration>",
      "start replacing a prebuild this long before its TTL ends (auto: the p90 build time; 0: off), for presets without their own",
      "auto",
    )
    .option("--max-prebuilds <n>", "ceiling on prebuilds (running or starting) across all presets")
    .option("--max-idle-cost <cost>", "ceiling on the idle prebuilds' summed daily_cost per day")
    .option(
      "--log-level <level>",
      "server log level (trace, debug, info, warn, error)",
      process.env.PREWARM_LOG_LEVEL ?? "info",
    );
}

/** Runs until SIGINT/SIGTERM, then shuts down gracefully. */
async function runUntilSignal(server: RunningServer): Promise<void> {
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  process.stdout.write("shutting down…\n");
  await server.close();
}

async function start(flags: ServerFlags): Promise<RunningServer> {
  const options = serverOptions(flags);
  const { startServer } = await import("../../server/server.js");
  const { createLogger } = await import("../../server/logger.js");
  try {
    return await startServer({ ...options, logger: createLogger({ level: flags.logLevel }) });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === "EADDRINUSE")
      throw new CliError(`cannot listen on ${flags.listen}: the address is in use`);
    throw err;
  }
}

function printBanner(server: RunningServer, dataDir: string) {
  const lines = [
    `prewarm server listening on ${server.url}`,
    `  dashboard: ${server.url}/ (sign in with the admin token)`,
    `  API:     ${server.url}/api/v1 (OpenAPI: ${server.url}/api/v1/openapi.json)`,
    `  metrics: ${server.url}/metrics`,
  ];
  if (server.adminToken) {
    lines.push(`  admin token (also in ${join(dataDir, "admin-token")}):`, `    ${server.adminToken}`);
    lines.push(
      `  try: export PREWARM_URL=${server.url} PREWARM_TOKEN=$(cat ${join(dataDir, "admin-token")})`,
    );
  }
  process.stdout.write(`${lines.join("\n")}\n`);
}

export function registerServerCommands(program: Command): void {
  addServerFlags(
    program
      .command("server")
      .description("Run the prewarm server: dashboard, API, reconciler and in-process daemons"),
  )
    .option("--dev", "create an admin user, print its token and write it to <data-dir>/admin-token")
    .action(async (flags: ServerFlags) => {
      const server = await start(flags);
      printBanner(server, flags.dataDir);
      await runUntilSignal(server);
    });

  addServerFlags(
    program
      .command("demo")
      .description(
        "A dev server with the echo demo template pushed, whose prebuild pool fills up (npm start)",
      ),
  ).action(async (flags: ServerFlags) => {
    const server = await start({ ...flags, dev: true });
    printBanner(server, flags.dataDir);
    const demoDir = fileURLToPath(new URL("../../../examples/templates/echo-demo", import.meta.url));
    const { pushDemoTemplate } = await import("../../server/demo.js");
    const { buildTemplateArchive } = await import("../template-archive.js");
    const presets = await pushDemoTemplate(server, "echo-demo", (await buildTemplateArchive(demoDir)).bytes);
    process.stdout.write(
      `pushed template "echo-demo"; presets: ${presets.map((p) => `${p.name} (pool of ${p.desiredInstances ?? 0})`).join(", ")}\n` +
        `  watch the pool fill: prewarm presets list echo-demo\n` +
        `  claim one:           prewarm create mine --template echo-demo --preset ${presets.find((p) => p.desiredInstances)?.name ?? "<preset>"}\n`,
    );
    await runUntilSignal(server);
  });
}
