// `prewarm server`: the store, the HTTP API (+ daemon API + metrics, on the main port or its own), in-process provisioners and daemons, the
// hung-job reaper, retention and the prebuilds reconciler, started in that order and stopped in reverse.
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { Registry } from "prom-client";
import { agentScriptEnv } from "../agent/bootstrap.js";
import { type Clock, systemClock } from "../clock.js";
import { maxTemplateArchiveBytes } from "../contract/api.js";
import { type RetentionAges, resolveRetentionAges } from "../contract/retention.js";
import { createDaemonClient } from "../provisionerd/api.js";
import { ProvisionerDaemon } from "../provisionerd/daemon.js";
import { hostProvisioners } from "../provisionerd/hosted-provisioners.js";
import { availableProvisionerTypes, type ProvisionerTypeOptions } from "../provisioners/registry.js";
import { parseAddress } from "../provisionersdk/address.js";
import { version } from "../version.js";
import { buildApp } from "./api/app.js";
import { normalizeBasePath } from "./api/base-path.js";
import type { AuthSettings } from "./api/deps.js";
import { registerApiRoutes } from "./api/routes.js";
import { DEFAULT_LOGIN_LIMITS, LoginThrottle, type LoginThrottleLimits } from "./auth/login-throttle.js";
import { DEFAULT_TOKEN_LIFETIMES, type TokenLifetimes } from "./auth/token-lifetime.js";
import type { ServerContext } from "./context.js";
import { bootstrapOwner } from "./first-owner.js";
import { failJobsOfDeadProcess, startReaper } from "./jobs/reaper.js";
import { createLogger, type Logger } from "./logger.js";
import { registerMetricsRoute, startMetricsServer } from "./metrics-endpoint.js";
import { outageLog } from "./outage-log.js";
import { PrebuildMetrics } from "./prebuilds/metrics.js";
import { requestReconcile } from "./prebuilds/operations.js";
import { type CycleReport, Reconciler } from "./prebuilds/reconciler.js";
import type { ReconcilerSettings } from "./prebuilds/settings.js";
import { startRetention } from "./retention/loop.js";
import { ServerMetrics } from "./server-metrics.js";
import { lockDataDir, serverIdentity } from "./store/data-dir-lock.js";
import { openStore, type Store, storeLocation } from "./store/store.js";
import { registerWeb } from "./web/index.js";
import { PoolHistoryRecorder } from "./web/pool-history.js";
import { type LeaseSweep, startLeaseSweep } from "./workspaces/lease-sweep.js";
import { createPrebuildExecutor } from "./workspaces/service.js";

export interface ServerOptions {
  dataDir: string;
  /** `host:port`; port 0 picks a free one. */
  listen: string;
  postgresUrl?: string;
  /** How workspaces reach this server (default: the listen URL). */
  accessUrl?: string;
  /** In-process daemons (0: only external ones). */
  daemons: number;
  /** Pre-shared key external daemons authenticate with (default: random, in-process daemons only). */
  provisionerPsk?: string;
  /** Provisioner types served in-process (default: every available type). */
  provisionerTypes?: string[];
  /** External provisioners by type (gRPC address) that the in-process daemons use instead. */
  externalProvisioners?: Record<string, string>;
  provisionerOptions?: ProvisionerTypeOptions;
  reconcileIntervalMs: number;
  reconcilerSettings?: Partial<ReconcilerSettings>;
  /** `--max-prebuilds`: prebuilds in existence (running or starting) across presets; absent: no ceiling. */
  maxPrebuilds?: number;
  /** `--max-idle-cost`: their summed `daily_cost` per day; absent: no ceiling. */
  maxIdleCostPerDay?: number;
  /** `--upload-quota`: bytes of uploads a member may store (0: none); absent: the contract's default. */
  uploadQuotaBytes?: number;
  /** `--max-prebuild-jobs`: cap on prebuild jobs in flight; absent: two per active daemon. */
  maxInFlightJobs?: number;
  /** A running job without a heartbeat for this long is failed as hung (default 5 min, as Coder). */
  jobHungTimeoutMs?: number;
  /** A job nobody acquired for this long is failed (default 30 min). */
  jobPendingTimeoutMs?: number;
  reaperIntervalMs?: number;
  /** `--retention-*`: age per table in ms (0: keep forever); a table not named keeps its default (contract/retention.ts). */
  retentionAges?: RetentionAges;
  /** How often retention runs (default 10 min). */
  retentionIntervalMs?: number;
  /** How often expired workspace leases are acted on (default 15 s). */
  leaseSweepIntervalMs?: number;
  /** `--trust-proxy`: honour X-Forwarded-* from a proxy in front (client address, https → `Secure` cookies). */
  trustProxy?: boolean;
  /** `--base-path /prewarm`: serve everything under this path prefix (behind a proxy that keeps it). */
  basePath?: string;
  /** `--tls-cert`/`--tls-key`: PEM files; the server speaks HTTPS. */
  tls?: { certFile: string; keyFile: string };
  /** `--metrics-listen host:port`: serve /metrics there instead of on the main port. */
  metricsListen?: string;
  /** `--login-attempts-per-user`/`-address`: failed logins before delays start (default 5 and 20). */
  loginLimits?: LoginThrottleLimits;
  /** `--default-token-lifetime`/`--max-token-lifetime` (default 7 and 30 days). */
  tokenLifetimes?: TokenLifetimes;
  /** `--dev`: create an admin user, print its token and write it to <data-dir>/admin-token. */
  dev: boolean;
  clock?: Clock;
  logger?: Logger;
  /** Called after every reconciliation cycle with its report (tests wait on it). */
  onReconcileCycle?: (report: CycleReport) => void;
}

export interface RunningServer {
  /** The base URL: scheme, listen address and base path. */
  url: string;
  /** Where /metrics is served (the main port's `${url}/metrics` unless `metricsListen`). */
  metricsUrl: string;
  store: Store;
  ctx: ServerContext;
  reconciler: Reconciler;
  /** The workspace lease sweep (its timer runs by itself; `sweep()` runs a pass now). */
  leases: LeaseSweep;
  /** The admin token (dev mode only). */
  adminToken?: string;
  close(): Promise<void>;
}

/**
 * The terraform provisioner passes `CODER_AGENT_SCRIPT_<os>_<arch>` to terraform so a template's
 * `coder_agent.init_script` starts prewarm's agent against this server (docs/agent.md). Known only once the
 * server listens (the access URL may be the listen URL); an operator's own `agentScriptEnv` wins.
 */
export function withAgentBootstrap(
  options: ProvisionerTypeOptions | undefined,
  accessUrl: string,
): ProvisionerTypeOptions {
  return {
    ...options,
    terraform: {
      ...options?.terraform,
      agentScriptEnv: { ...agentScriptEnv(accessUrl), ...options?.terraform?.agentScriptEnv },
    },
  };
}

function tcpAddress(flag: string, text: string): { host: string; port: number } {
  const address = parseAddress(text);
  if (address.kind !== "tcp") throw new Error(`${flag} must be host:port, got "${text}"`);
  return address;
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger();
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  // SQLite: one server per data dir, decided before the database is opened (data-dir-lock.ts).
  const lock = options.postgresUrl ? undefined : lockDataDir(options.dataDir);
  if (lock?.tookOverFrom !== undefined)
    logger.info(
      { dataDir: options.dataDir, previousPid: lock.tookOverFrom },
      "took over the data dir from a server that did not exit cleanly",
    );
  let store: Store;
  try {
    store = await openStore(storeLocation({ dataDir: options.dataDir, postgresUrl: options.postgresUrl }));
  } catch (err) {
    lock?.release();
    throw err;
  }
  const cleanups: Array<() => Promise<void> | void> = [() => lock?.release(), () => store.close()];
  const closeAll = async () => {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (err) {
        logger.warn({ err }, "shutdown step failed");
      }
    }
  };

  try {
    const registry = new Registry();
    const metrics = new PrebuildMetrics(registry, { store, clock });
    const serverMetrics = new ServerMetrics(registry, { store, clock, version });
    const ctx: ServerContext = {
      store,
      clock,
      logger,
      accessUrl: options.accessUrl ?? "",
      events: {
        reconcileSoon: (reason) => void requestReconcile(store, reason),
        claimBuilt: (preset, seconds) => metrics.observeClaim(preset, seconds),
        claimUsable: (preset, seconds) => metrics.observeClaimToReady(preset, seconds),
      },
    };
    const psk = options.provisionerPsk ?? randomBytes(24).toString("base64url");
    const types =
      options.provisionerTypes ??
      (await availableProvisionerTypes({
        onUnavailable: (type, reason) => logger.info({ type, reason }, "provisioner type not available"),
      }));

    const basePath = normalizeBasePath(options.basePath);
    const tls = options.tls
      ? { cert: readFileSync(options.tls.certFile), key: readFileSync(options.tls.keyFile) }
      : undefined;
    const app = await buildApp({
      ctx,
      psk,
      bodyLimit: maxTemplateArchiveBytes + 1024 * 1024,
      version,
      trustProxy: options.trustProxy,
      basePath,
      tls,
      metrics: serverMetrics,
    });
    const listen = tcpAddress("--listen", options.listen);
    const metricsListen = options.metricsListen
      ? tcpAddress("--metrics-listen", options.metricsListen)
      : undefined;
    const auth: AuthSettings = {
      throttle: new LoginThrottle(options.loginLimits ?? DEFAULT_LOGIN_LIMITS),
      tokenLifetimes: options.tokenLifetimes ?? DEFAULT_TOKEN_LIFETIMES,
    };
    registerApiRoutes(app, {
      ctx,
      auth,
      metrics,
      templates: {
        maxArchiveBytes: maxTemplateArchiveBytes,
        provisionerTypes: types,
        ...(options.uploadQuotaBytes === undefined ? {} : { uploadQuotaBytes: options.uploadQuotaBytes }),
      },
      reconciler: () => reconciler,
    });
    registerWeb(app, { ctx, auth, reconciler: () => reconciler });
    if (!metricsListen) registerMetricsRoute(app, registry);
    await app.listen({ host: listen.host, port: listen.port });
    cleanups.push(() => app.close());
    const address = app.server.address();
    const port = typeof address === "object" && address ? address.port : listen.port;
    const host = listen.host.includes(":") ? `[${listen.host}]` : listen.host;
    const url = `${tls ? "https" : "http"}://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}${basePath}`;
    ctx.accessUrl = options.accessUrl ?? url;
    let metricsUrl = `${url}/metrics`;
    if (metricsListen) {
      const metricsServer = await startMetricsServer(registry, metricsListen.host, metricsListen.port);
      cleanups.push(() => metricsServer.close());
      metricsUrl = `${metricsServer.url}/metrics`;
    }

    const adminToken = await bootstrapOwner(store, clock.now(), options.dataDir, options.dev ?? false);

    // This server's in-process daemons are named after its data dir's identity, so that after a crash the next
    // start of the same server fails what they held at once (reaper.ts failJobsOfDeadProcess).
    const daemonPrefix = `${hostname()}-${serverIdentity(options.dataDir)}-builtin-`;
    const orphaned = await failJobsOfDeadProcess(store, clock.now(), daemonPrefix);
    if (orphaned.length > 0) {
      logger.warn(
        { jobs: orphaned.map((j) => j.id) },
        "failed the jobs the previous server process left running",
      );
      ctx.events.reconcileSoon("server restarted");
    }

    // In-process provisioners on private unix sockets, driven by in-process daemons over the same daemon API
    // external daemons use.
    const runDir = mkdtempSync(join(tmpdir(), "prewarm-run-"));
    cleanups.push(() => rmSync(runDir, { recursive: true, force: true }));
    const daemons: ProvisionerDaemon[] = [];
    if (options.daemons > 0) {
      const hosted = await hostProvisioners({
        types,
        runDirectory: runDir,
        external: options.externalProvisioners,
        options: withAgentBootstrap(options.provisionerOptions, ctx.accessUrl),
      });
      cleanups.push(() => hosted.close());
      // In-process daemons reach this server on the listen address, so with TLS they trust its own certificate
      // (besides the usual roots) whatever name it was issued for.
      const api = createDaemonClient(url, psk, {
        compression: false, // this machine: nothing to save on the wire
        ...(tls ? { trustCertificate: tls.cert } : {}),
      });
      for (let i = 0; i < options.daemons; i++) {
        const daemon = new ProvisionerDaemon({
          api,
          identity: {
            name: `${daemonPrefix}${i + 1}`,
            provisionerTypes: hosted.types,
            tags: {},
            version,
          },
          provisioners: hosted.clients,
          heartbeatMs: 1_000,
          clock,
          logger: {
            info: (msg, fields) => logger.debug(fields ?? {}, msg),
            warn: (msg, fields) => logger.warn(fields ?? {}, msg),
          },
        });
        daemon.start();
        daemons.push(daemon);
      }
      cleanups.push(() =>
        Promise.all(daemons.map((d) => d.shutdown({ cancelActiveJob: true }))).then(() => {}),
      );
    }

    const reaperOutage = outageLog(logger, "job reaper");
    const reaper = startReaper({
      store,
      clock,
      runningTimeoutMs: options.jobHungTimeoutMs,
      pendingTimeoutMs: options.jobPendingTimeoutMs,
      intervalMs:
        options.reaperIntervalMs ??
        Math.min(30_000, Math.max(250, (options.jobHungTimeoutMs ?? 300_000) / 4)),
      onReaped: (reaped) => {
        for (const job of reaped) logger.warn({ jobId: job.id, kind: job.kind }, job.error);
        ctx.events.reconcileSoon("jobs reaped");
      },
      onError: (err) => reaperOutage.failed(err, "job reaper failed"),
      onSuccess: () => reaperOutage.succeeded(),
    });
    cleanups.push(() => reaper.stop());
    const retentionOutage = outageLog(logger, "retention");
    const retention = startRetention({
      store,
      clock,
      ages: resolveRetentionAges(options.retentionAges),
      intervalMs: options.retentionIntervalMs,
      // Info only when something went: a quiet run says nothing.
      onPruned: (report) => {
        serverMetrics.rowsPruned(report.deleted);
        logger.info(
          { deleted: report.deleted, ...(report.cut ? { cut: report.cut } : {}) },
          "retention pruned",
        );
      },
      onError: (err) => retentionOutage.failed(err, "retention failed"),
      onSuccess: () => retentionOutage.succeeded(),
    });
    cleanups.push(() => retention.stop());
    const leases = startLeaseSweep(ctx, options.leaseSweepIntervalMs ?? 15_000);
    cleanups.push(() => leases.stop());

    const reconciler = new Reconciler({
      store,
      executor: createPrebuildExecutor(ctx),
      maxInFlightJobs: options.maxInFlightJobs ?? null,
      maxPrebuilds: options.maxPrebuilds ?? null,
      maxIdleCostPerDay: options.maxIdleCostPerDay ?? null,
      clock,
      intervalMs: options.reconcileIntervalMs,
      settings: options.reconcilerSettings,
      logger,
      metrics,
      onCycle: (report) => {
        poolHistory.onCycle(report);
        options.onReconcileCycle?.(report);
      },
    });
    const poolHistory = new PoolHistoryRecorder({ store, logger });
    cleanups.push(() => poolHistory.idle());
    reconciler.start();
    cleanups.push(() => reconciler.stop());

    logger.info(
      { url, store: store.dialect, provisioners: types, daemons: options.daemons },
      "prewarm server started",
    );
    return { url, metricsUrl, store, ctx, reconciler, leases, adminToken, close: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
