// `prewarm agent`: the long-running process on a workspace host. The main loop ties the pieces together:
//
//   fetch manifest (retrying while the server is away; a refused token ends the agent, after the token
//   wait if one is set: a template may start the agent before its build has finished)
//   → starting: run start scripts (start_blocks_login ones first), each with its timeout
//   → ready | start_error (naming the failing script)
//   → on `claimed` (a new owner) or `updated` (a later build kept the running agent, e.g. an upgrade):
//     fetch the manifest again, run the start scripts again → ready (handover.ts decides)
//   → on SIGTERM/SIGINT: shutting_down: stop start scripts still running, run stop scripts → off → exit 0
//
// Alongside: heartbeats (a third of the connection timeout), metadata scripts at their intervals, cron
// scripts while ready, and the Reporter, which queues every report while the server is away and delivers it
// in order once it is back.
import { mkdirSync } from "node:fs";
import { Cron } from "croner";
import type { AgentManifestT, AgentScriptT } from "../contract/agent.js";
import {
  AgentApiClient,
  AgentAuthError,
  AgentRequestError,
  describe,
  ServerAwayError,
} from "./api-client.js";
import { type AgentConfig, backoffMs, heartbeatIntervalMs } from "./config.js";
import { type AgentEvent, reinitReason } from "./handover.js";
import { type LifecycleEvent, type LifecycleState, nextState } from "./lifecycle.js";
import { MetadataCollector } from "./metadata.js";
import { Reporter } from "./reporter.js";
import {
  resolveDirectory,
  runScript,
  type ScriptResult,
  scriptEnvironment,
  startPhases,
  stopScripts,
} from "./scripts.js";

export { AgentAuthError } from "./api-client.js";

export interface AgentRunOptions {
  /** The agent's own log lines (default: stdout). */
  say?: (line: string) => void;
  /** How long shutdown waits for queued reports to reach the server. */
  shutdownFlushMs?: number;
  /** The environment scripts inherit (default: process.env). */
  env?: NodeJS.ProcessEnv;
}

/** Thrown when the agent cannot run at all (bad token, unusable manifest). The message is for a person. */
export class AgentFatalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AgentFatalError";
  }
}

/** Runs the agent until it is told to stop (resolves) or cannot go on (rejects with AgentFatalError). */
export async function runAgent(config: AgentConfig, options: AgentRunOptions = {}): Promise<void> {
  const agent = new Agent(config, options);
  return agent.run();
}

class Agent {
  private readonly client: AgentApiClient;
  private readonly say: (line: string) => void;
  private readonly reporter: Reporter;
  private state: LifecycleState = "created";
  private manifest: AgentManifestT | undefined;
  private readonly stopping = new AbortController();
  private fatal: AgentFatalError | undefined;
  private wakeMain: (() => void) | undefined;
  private pendingEvent: AgentEvent | undefined;
  private metadata: MetadataCollector | undefined;
  private crons: Cron[] = [];
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private heartbeatFailing = false;

  constructor(
    private readonly config: AgentConfig,
    private readonly options: AgentRunOptions,
  ) {
    this.client = new AgentApiClient(config.url, config.token);
    this.say = options.say ?? ((line) => process.stdout.write(`prewarm agent: ${line}\n`));
    this.reporter = new Reporter(this.client, {
      maxBackoffMs: config.maxBackoffMs,
      say: this.say,
      onFatal: (err) => this.fail(err),
    });
  }

  async run(): Promise<void> {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals += 1;
      if (signals > 1) {
        process.stderr.write(`prewarm agent: ${signal} again, exiting without running stop scripts\n`);
        process.exit(1);
      }
      this.say(`${signal} received, shutting down`);
      this.stopping.abort();
      this.wakeMain?.();
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
    // Keeps the process alive while the loop waits on promises only.
    const keepAlive = setInterval(() => {}, 1 << 30);
    try {
      await this.loop();
    } finally {
      clearInterval(keepAlive);
      clearInterval(this.heartbeatTimer);
      process.off("SIGTERM", onSignal);
      process.off("SIGINT", onSignal);
    }
    if (this.fatal) throw this.fatal;
  }

  private async loop(): Promise<void> {
    const manifest = await this.fetchManifest();
    if (!manifest) return this.shutdown();
    this.manifest = manifest;
    this.say(
      `connected to ${this.config.url}: agent "${manifest.name}" of workspace "${manifest.workspaceName}" (owner ${manifest.ownerName})`,
    );
    this.startHeartbeats(manifest);
    void this.followEvents();
    await this.initialise("start");
    for (;;) {
      if (this.stopping.signal.aborted) return this.shutdown();
      const event = this.pendingEvent;
      this.pendingEvent = undefined;
      const reason = event && reinitReason(event, this.manifest);
      if (reason) {
        this.say(reason);
        const next = await this.fetchManifest();
        if (!next) return this.shutdown();
        this.manifest = next;
        await this.initialise("reinit");
        continue;
      }
      await new Promise<void>((resolve) => {
        this.wakeMain = resolve;
      });
      this.wakeMain = undefined;
    }
  }

  /** Runs the start scripts for the current manifest: starting → ready | start_error. */
  private async initialise(event: "start" | "reinit"): Promise<void> {
    const manifest = this.manifest!;
    this.stopBackground();
    this.transition(event);
    const cwd = resolveDirectory(manifest.directory);
    const env = scriptEnvironment(this.options.env ?? process.env, manifest);
    try {
      mkdirSync(cwd, { recursive: true });
    } catch (err) {
      this.agentLog("error", `create directory ${cwd}: ${describe(err)}`);
    }
    this.metadata = new MetadataCollector(manifest.metadata, {
      cwd,
      env,
      report: (result) => this.reporter.metadata(result),
    });
    for (const phase of startPhases(manifest.scripts)) {
      const results = await Promise.all(phase.map((s) => this.runOne(s, cwd, env, this.stopping.signal)));
      if (this.stopping.signal.aborted) return;
      const failed = results.find((r) => r.failure !== undefined);
      if (failed) {
        const detail = `script "${failed.script.displayName}" ${failed.failure}`;
        this.agentLog("error", detail);
        this.transition("startFailed", detail);
        return;
      }
    }
    this.transition("started");
    this.startCrons(manifest, cwd, env);
  }

  private async shutdown(): Promise<void> {
    if (this.state === "off") return;
    this.stopBackground();
    if (this.state !== "shutting_down") this.transition("shutdown");
    const manifest = this.manifest;
    if (manifest && !this.fatal) {
      const cwd = resolveDirectory(manifest.directory);
      const env = scriptEnvironment(this.options.env ?? process.env, manifest);
      for (const script of stopScripts(manifest.scripts)) {
        const result = await this.runOne(script, cwd, env);
        if (result.failure) this.agentLog("error", `stop script "${script.displayName}" ${result.failure}`);
      }
    }
    this.transition("stopped");
    if (!this.fatal) {
      const delivered = await this.reporter.flush(this.options.shutdownFlushMs ?? 15_000);
      if (!delivered)
        this.say(`exiting with ${this.reporter.pending()} reports undelivered (server unreachable)`);
    }
    await this.reporter.close();
  }

  private runOne(script: AgentScriptT, cwd: string, env: NodeJS.ProcessEnv, signal?: AbortSignal) {
    this.say(`running script "${script.displayName}"`);
    return runScript(script, {
      cwd,
      env,
      logDir: this.config.logDir,
      ...(signal ? { signal } : {}),
      onLine: (output) =>
        this.reporter.log({
          createdAt: new Date().toISOString(),
          level: "info",
          output,
          source: script.displayName,
        }),
    }).then((result: ScriptResult) => {
      this.say(`script "${script.displayName}" ${result.failure ?? "finished"}`);
      return result;
    });
  }

  private transition(event: LifecycleEvent, detail?: string): void {
    const from = this.state;
    const changedAt = new Date().toISOString();
    this.state = nextState(this.state, event);
    this.reporter.lifecycle({ state: this.state, changedAt, ...(detail ? { detail } : {}) });
    this.say(`lifecycle ${from} → ${this.state}${detail ? ` (${detail})` : ""}`);
  }

  private agentLog(level: "info" | "warn" | "error", output: string): void {
    this.reporter.log({ createdAt: new Date().toISOString(), level, output, source: "agent" });
  }

  /** The manifest, retrying while the server is away; undefined when the agent was told to stop meanwhile. */
  private async fetchManifest(): Promise<AgentManifestT | undefined> {
    const firstAt = Date.now();
    for (let attempt = 0; ; attempt++) {
      if (this.stopping.signal.aborted) return undefined;
      try {
        return await this.client.manifest();
      } catch (err) {
        // Before the first manifest a refused token may be one whose build is still applying (config.ts).
        if (
          err instanceof AgentAuthError &&
          this.manifest === undefined &&
          Date.now() - firstAt < this.config.tokenWaitMs
        ) {
          if (attempt === 0)
            this.say(
              `${err.message}; its build may still be running: retrying for up to ${Math.round(this.config.tokenWaitMs / 1000)} s`,
            );
          await this.pause(backoffMs(attempt, this.config.maxBackoffMs));
          continue;
        }
        if (err instanceof AgentAuthError) {
          throw new AgentFatalError(
            `${err.message}; check --token, PREWARM_AGENT_TOKEN or CODER_AGENT_TOKEN (server ${this.config.url})`,
          );
        }
        if (err instanceof AgentRequestError) throw new AgentFatalError(err.message);
        if (!(err instanceof ServerAwayError)) throw err;
        const wait = backoffMs(attempt, this.config.maxBackoffMs);
        if (attempt === 0) this.say(`${err.message}; retrying`);
        await this.pause(wait);
      }
    }
  }

  private startHeartbeats(manifest: AgentManifestT): void {
    const every = heartbeatIntervalMs(manifest.connectionTimeoutSeconds, this.config.heartbeatIntervalMs);
    const beat = () => {
      this.client.heartbeat().then(
        () => {
          if (this.heartbeatFailing) this.say("heartbeats delivered again");
          this.heartbeatFailing = false;
        },
        (err: unknown) => {
          if (err instanceof AgentAuthError) return this.fail(err);
          if (!this.heartbeatFailing) this.say(`heartbeat failed: ${describe(err)}`);
          this.heartbeatFailing = true;
        },
      );
    };
    beat();
    this.heartbeatTimer = setInterval(beat, every);
  }

  /** Follows the events stream (claims, in-place rebuilds) for the agent's whole life, reconnecting with backoff. */
  private async followEvents(): Promise<void> {
    let attempt = 0;
    while (!this.stopping.signal.aborted) {
      const connectedAt = Date.now();
      // One controller per connection, so listeners never pile up on the long-lived stopping signal.
      const connection = new AbortController();
      const onStop = () => connection.abort();
      this.stopping.signal.addEventListener("abort", onStop, { once: true });
      try {
        const known = { owner: this.manifest?.ownerName ?? "", agentId: this.manifest?.agentId ?? "" };
        await this.client.events(known, connection.signal, (event) => {
          this.pendingEvent = event;
          this.wakeMain?.();
        });
      } catch (err) {
        if (this.stopping.signal.aborted) return;
        if (err instanceof AgentAuthError) return this.fail(err);
        if (err instanceof AgentRequestError) this.say(`claim events: ${err.message}`);
      } finally {
        this.stopping.signal.removeEventListener("abort", onStop);
      }
      // A stream that lived a while was healthy: start the backoff over.
      if (Date.now() - connectedAt > 30_000) attempt = 0;
      await this.pause(backoffMs(attempt++, this.config.maxBackoffMs));
    }
  }

  private startCrons(manifest: AgentManifestT, cwd: string, env: NodeJS.ProcessEnv): void {
    for (const script of manifest.scripts.filter((s) => s.cron !== "")) {
      try {
        this.crons.push(
          new Cron(script.cron, { protect: true }, async () => {
            await this.runOne(script, cwd, env);
          }),
        );
      } catch (err) {
        this.agentLog(
          "error",
          `script "${script.displayName}": invalid cron "${script.cron}": ${describe(err)}`,
        );
      }
    }
  }

  private stopBackground(): void {
    this.metadata?.stop();
    this.metadata = undefined;
    for (const c of this.crons) c.stop();
    this.crons = [];
  }

  /** A 401 after start: the token was revoked (workspace deleted). Stop without running stop scripts. */
  private fail(err: AgentAuthError): void {
    if (this.fatal) return;
    this.fatal = new AgentFatalError(`${err.message}; the workspace was probably deleted`);
    this.stopping.abort();
    this.wakeMain?.();
  }

  /** Waits `ms`, or less if the agent is told to stop. */
  private pause(ms: number): Promise<void> {
    const signal = this.stopping.signal;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
    });
  }
}
