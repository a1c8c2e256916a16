// `prewarm server` and `prewarm demo` (what `npm start` runs: a dev server with the echo demo template pushed,
// so its prebuild pool fills up).
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import {
  RETENTION_RULES,
  type RetentionAges,
  RetentionSettingError,
  resolveRetentionAges,
} from "../../contract/retention.js";
import { defaultUploadQuotaBytes } from "../../contract/upload-limits.js";
import { CliError } from "../errors.js";
import { shouldUseColor } from "../output.js";
import { addSettings, type Setting, settingLabel } from "../settings.js";
import { parseDurationFlag, parseKeyValues, parseReplaceAheadFlag } from "./shared.js";

// Kept here rather than imported from the server's logger, so `--help` does not load pino.
const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "silent"] as const;
const LOG_FORMATS = ["human", "json"] as const;

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
  provisioner?: string[];
  jobHangTimeout: string;
  jobPendingTimeout: string;
  replaceAhead: string;
  maxPrebuilds?: string;
  maxIdleCost?: string;
  maxPrebuildJobs?: string;
  uploadQuota: string;
  dev?: boolean;
  logLevel: string;
  logFormat?: string;
  trustProxy?: boolean;
  basePath?: string;
  tlsCert?: string;
  tlsKey?: string;
  metricsListen?: string;
  loginAttemptsPerUser: string;
  loginAttemptsPerAddress: string;
  defaultTokenLifetime: string;
  maxTokenLifetime: string;
  /** The `--retention-*` flags (one per retention rule), by commander attribute name. */
  [retention: `retention${string}`]: string;
}

/** Names a flag in a message, with where its value came from (settings.ts). */
type Label = (flag: string) => string;

function serverOptions(flags: ServerFlags, label: Label): ServerOptions {
  const daemons = Number(flags.daemons);
  if (!Number.isInteger(daemons) || daemons < 0)
    throw new CliError(`${label("--daemons")} must be a whole number, got "${flags.daemons}"`, 2);
  const external = parseKeyValues(label("--provisioner"), flags.provisioner ?? []);
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
    reconcileIntervalMs: parseDurationFlag(label("--reconcile-interval"), flags.reconcileInterval),
    jobHungTimeoutMs: parseDurationFlag(label("--job-hang-timeout"), flags.jobHangTimeout),
    jobPendingTimeoutMs: parseDurationFlag(label("--job-pending-timeout"), flags.jobPendingTimeout),
    reconcilerSettings: { replaceAhead: parseReplaceAheadFlag(label("--replace-ahead"), flags.replaceAhead) },
    ...(flags.maxPrebuilds === undefined
      ? {}
      : { maxPrebuilds: parseCountFlag(label("--max-prebuilds"), flags.maxPrebuilds) }),
    ...(flags.maxIdleCost === undefined
      ? {}
      : { maxIdleCostPerDay: parseAmountFlag(label("--max-idle-cost"), flags.maxIdleCost) }),
    ...(flags.maxPrebuildJobs === undefined
      ? {}
      : { maxInFlightJobs: parsePositiveFlag(label("--max-prebuild-jobs"), flags.maxPrebuildJobs) }),
    uploadQuotaBytes: parseCountFlag(label("--upload-quota"), flags.uploadQuota),
    dev: flags.dev ?? false,
    trustProxy: flags.trustProxy ?? false,
    ...(flags.basePath ? { basePath: flags.basePath } : {}),
    ...tlsOption(flags),
    ...(flags.metricsListen ? { metricsListen: flags.metricsListen } : {}),
    loginLimits: {
      perUsername: parsePositiveFlag(label("--login-attempts-per-user"), flags.loginAttemptsPerUser),
      perAddress: parsePositiveFlag(label("--login-attempts-per-address"), flags.loginAttemptsPerAddress),
    },
    tokenLifetimes: tokenLifetimes(flags, label),
    retentionAges: retentionAges(flags, label),
  };
}

/** `--retention-job-logs` → `retentionJobLogs`, the attribute commander stores it under. */
const attributeOf = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** Every `--retention-*` flag as an age in ms (0: forever), checked against its rule's floor. */
function retentionAges(flags: ServerFlags, label: Label): RetentionAges {
  const given: Record<string, number> = {};
  for (const rule of RETENTION_RULES) {
    const text = flags[attributeOf(rule.flag) as `retention${string}`];
    if (text !== undefined) given[rule.table] = parseDurationFlag(label(`--${rule.flag}`), text);
  }
  try {
    return resolveRetentionAges(given);
  } catch (err) {
    if (!(err instanceof RetentionSettingError)) throw err;
    throw new CliError(err.message.replace(`--${err.flag}`, label(`--${err.flag}`)), 2);
  }
}

function tokenLifetimes(flags: ServerFlags, label: Label): NonNullable<ServerOptions["tokenLifetimes"]> {
  const defaultMs = parseDurationFlag(label("--default-token-lifetime"), flags.defaultTokenLifetime);
  const maxMs = parseDurationFlag(label("--max-token-lifetime"), flags.maxTokenLifetime);
  // Whole seconds: the API speaks `lifetimeSeconds`, and a token must live at least one.
  for (const [flag, ms] of [
    ["--default-token-lifetime", defaultMs],
    ["--max-token-lifetime", maxMs],
  ] as const)
    if (ms < 1000 || ms % 1000 !== 0)
      throw new CliError(`${label(flag)} must be whole seconds, at least 1s`, 2);
  if (defaultMs > maxMs)
    throw new CliError(
      `${label("--default-token-lifetime")} (${flags.defaultTokenLifetime}) is longer than ${label("--max-token-lifetime")} (${flags.maxTokenLifetime})`,
      2,
    );
  return { defaultMs, maxMs };
}

function parsePositiveFlag(flag: string, text: string): number {
  const n = parseCountFlag(flag, text);
  if (n === 0) throw new CliError(`${flag} must be at least 1, got "${text}"`, 2);
  return n;
}

function tlsOption(flags: ServerFlags): Pick<ServerOptions, "tls"> {
  if (!flags.tlsCert && !flags.tlsKey) return {};
  if (!flags.tlsCert || !flags.tlsKey) throw new CliError("--tls-cert and --tls-key go together", 2);
  return { tls: { certFile: flags.tlsCert, keyFile: flags.tlsKey } };
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

/**
 * Every flag of `server` and `demo`, each with its environment variable (PREWARM_ + the flag in upper snake
 * case) and its --config key (the flag name) derived in ../settings.ts. A new flag is one entry here.
 */
const SERVER_SETTINGS: readonly Setting[] = [
  {
    flags: "--data-dir <dir>",
    description: "where the embedded database and the admin token live",
    default: ".prewarm",
  },
  {
    flags: "--listen <host:port>",
    description: "address of the dashboard, API, metrics and daemon API",
    default: "127.0.0.1:7080",
  },
  {
    flags: "--postgres-url <url>",
    description:
      "use PostgreSQL instead of embedded SQLite (the URL holds a password: prefer the env or the file)",
    secret: true,
  },
  {
    flags: "--access-url <url>",
    description: "how workspaces reach this server",
    defaultDescription: "the listen URL",
  },
  {
    flags: "--reconcile-interval <duration>",
    description: "prebuilds reconciliation period",
    default: "15s",
  },
  { flags: "--daemons <n>", description: "in-process provisioner daemons", default: "2" },
  {
    flags: "--provisioner-psk <key>",
    description: "pre-shared key for external daemons (prefer the env or the file)",
    defaultDescription: "random, in-process daemons only",
    secret: true,
  },
  {
    flags: "--provisioner-types <list>",
    description: "provisioner types served in-process",
    defaultDescription: "echo, and terraform when installed",
  },
  {
    flags: "--provisioner <type=address>",
    description: "use an external gRPC provisioner for a type (repeatable)",
    repeatable: true,
  },
  {
    flags: "--job-hang-timeout <duration>",
    description: "fail running jobs without a heartbeat for this long",
    default: "5m",
  },
  {
    flags: "--job-pending-timeout <duration>",
    description: "fail jobs no daemon picked up for this long",
    default: "30m",
  },
  {
    flags: "--replace-ahead <auto|0|duration>",
    description:
      "start replacing a prebuild this long before its TTL ends (auto: the p90 build time; 0: off), for presets without their own",
    default: "auto",
  },
  {
    flags: "--max-prebuilds <n>",
    description: "ceiling on prebuilds (running or starting) across all presets",
  },
  {
    flags: "--max-idle-cost <cost>",
    description: "ceiling on the idle prebuilds' summed daily_cost per day",
  },
  {
    flags: "--max-prebuild-jobs <n>",
    description: "cap on prebuild jobs pending or running (default: two per active provisioner daemon)",
  },
  {
    flags: "--upload-quota <bytes>",
    description: "bytes of uploaded template archives a member may store in all (owners exempt; 0: no quota)",
    default: String(defaultUploadQuotaBytes),
  },
  {
    flags: "--trust-proxy",
    description: "honour X-Forwarded-For/-Proto/-Host from a proxy in front (Secure cookies behind TLS)",
  },
  { flags: "--base-path <path>", description: "serve everything under this path prefix, e.g. /prewarm" },
  { flags: "--tls-cert <file>", description: "serve HTTPS with this PEM certificate (with --tls-key)" },
  { flags: "--tls-key <file>", description: "the PEM private key of --tls-cert" },
  {
    flags: "--metrics-listen <host:port>",
    description: "serve /metrics on this address instead of the main one",
  },
  {
    flags: "--login-attempts-per-user <n>",
    description:
      "failed password logins for one username before each attempt waits (1 s, doubling to 15 min)",
    default: "5",
  },
  {
    flags: "--login-attempts-per-address <n>",
    description: "failed password logins from one client address before each attempt waits",
    default: "20",
  },
  {
    flags: "--default-token-lifetime <duration>",
    description: "lifetime of login tokens and of tokens created without lifetimeSeconds",
    default: "7d",
  },
  {
    flags: "--max-token-lifetime <duration>",
    description: "the longest lifetime a token may be created with",
    default: "30d",
  },
  // Retention (docs/storage.md): one flag per rule, its default the rule's.
  ...RETENTION_RULES.map(
    (rule): Setting => ({
      flags: `--${rule.flag} <duration>`,
      description: rule.description,
      default: rule.defaultAge,
    }),
  ),
  { flags: "--log-level <level>", description: "server log level", choices: LOG_LEVELS, default: "info" },
  {
    flags: "--log-format <format>",
    description: "log lines for people or for collectors",
    choices: LOG_FORMATS,
    defaultDescription: "human on a terminal, else json",
  },
];

const DEV_SETTING: Setting = {
  flags: "--dev",
  description: "create an admin user, print its token and write it to <data-dir>/admin-token",
};

/** Runs until SIGINT/SIGTERM, then shuts down gracefully. */
async function runUntilSignal(server: RunningServer): Promise<void> {
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  process.stderr.write("shutting down…\n");
  await server.close();
}

async function start(flags: ServerFlags, label: Label): Promise<RunningServer> {
  const options = serverOptions(flags, label);
  const { startServer } = await import("../../server/server.js");
  const { createLogger } = await import("../../server/logger.js");
  // Logs go to stdout (JSON for a collector, or lines for a person at a terminal); the banner and other words
  // for the person go to stderr, so `prewarm server | collector` gets nothing but log records.
  const format = (flags.logFormat ?? (process.stdout.isTTY ? "human" : "json")) as "human" | "json";
  const logger = createLogger({
    level: flags.logLevel,
    format,
    colors: format === "human" && shouldUseColor(process.stdout.isTTY, process.env),
  });
  try {
    return await startServer({ ...options, logger });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === "EADDRINUSE")
      throw new CliError(`cannot listen on ${flags.listen}: the address is in use`);
    if (e.name === "DataDirInUseError") throw new CliError(e.message);
    throw err;
  }
}

function printBanner(server: RunningServer, dataDir: string) {
  const lines = [
    `prewarm server listening on ${server.url}`,
    `  dashboard: ${server.url}/ (sign in with the admin token)`,
    `  API:     ${server.url}/api/v1 (OpenAPI: ${server.url}/api/v1/openapi.json)`,
    `  metrics: ${server.metricsUrl}`,
  ];
  if (server.adminToken) {
    lines.push(`  admin token (also in ${join(dataDir, "admin-token")}):`, `    ${server.adminToken}`);
    lines.push(
      `  try: export PREWARM_URL=${server.url} PREWARM_TOKEN=$(cat ${join(dataDir, "admin-token")})`,
    );
  }
  process.stderr.write(`${lines.join("\n")}\n`);
}

export function registerServerCommands(program: Command): void {
  addSettings(
    program
      .command("server")
      .description("Run the prewarm server: dashboard, API, reconciler and in-process daemons"),
    [...SERVER_SETTINGS, DEV_SETTING],
    "PREWARM_",
  ).action(async (flags: ServerFlags, command: Command) => {
    const server = await start(flags, (flag) => settingLabel(command, flag));
    printBanner(server, flags.dataDir);
    await runUntilSignal(server);
  });

  addSettings(
    program
      .command("demo")
      .description(
        "A dev server with the echo demo template pushed, whose prebuild pool fills up (npm start)",
      ),
    SERVER_SETTINGS,
    "PREWARM_",
  ).action(async (flags: ServerFlags, command: Command) => {
    const server = await start({ ...flags, dev: true }, (flag) => settingLabel(command, flag));
    printBanner(server, flags.dataDir);
    const demoDir = fileURLToPath(new URL("../../../examples/templates/echo-demo", import.meta.url));
    const { pushDemoTemplate } = await import("../../server/demo.js");
    const { buildTemplateArchive } = await import("../template-archive.js");
    const presets = await pushDemoTemplate(server, "echo-demo", (await buildTemplateArchive(demoDir)).bytes);
    process.stderr.write(
      `pushed template "echo-demo"; presets: ${presets.map((p) => `${p.name} (pool of ${p.desiredInstances ?? 0})`).join(", ")}\n` +
        `  watch the pool fill: prewarm presets list echo-demo\n` +
        `  claim one:           prewarm create mine --template echo-demo --preset ${presets.find((p) => p.desiredInstances)?.name ?? "<preset>"}\n`,
    );
    await runUntilSignal(server);
  });
}
