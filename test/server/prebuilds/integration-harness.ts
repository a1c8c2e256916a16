// The prebuild integration tests' world: a real `startServer` (store, HTTP + daemon API, reconciler, in-process
// daemons speaking the daemon API) whose "echo" provisioner is a RecordingProvisioner served over real gRPC.
// The RecordingProvisioner replays echo archives and, like a real provisioner would, issues a FRESH agent token
// for every workspace build that is not a claim, and keeps the tokens it is handed (`running_agent_auth_tokens`)
// on a CLAIM build; it records each request's metadata so tests can check what a build was told.
//
// Time: a FakeClock is the server's clock (job, workspace and event timestamps, the reconciler's `now`), while
// real timers drive the daemons and the reconciler's triggers. Tests advance the clock and call
// `reconciler.runCycle()` instead of waiting for the 15 s tick, and wait for outcomes that depend on builds
// finishing with `eventually`, which re-checks the database when a job ends, a workspace changes or a cycle
// ends (test/support/changes.ts) rather than every few milliseconds.
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { sql } from "kysely";
import {
  ApplyCompleteSchema,
  type Metadata,
  PrebuiltWorkspaceBuildStage,
  type ResourceSchema,
  WorkspaceTransition,
} from "../../../src/gen/provisioner/provisioner_pb.js";
import { applyFailed, buildEchoArchive, type EchoStepInit } from "../../../src/provisioners/echo/archive.js";
import { createEchoProvisioner } from "../../../src/provisioners/echo/provisioner.js";
import { type ProvisionerServer, serve } from "../../../src/provisionersdk/serve.js";
import type { InMemoryProvisioner } from "../../../src/provisionersdk/types.js";
import { type Logger, silentLogger } from "../../../src/server/logger.js";
import { type ClaimRehearsal, claimRehearsals } from "../../../src/server/prebuilds/rehearsal.js";
import type { ReconcilerSettings } from "../../../src/server/prebuilds/settings.js";
import { type PresetPoolStatus, poolStatuses, readCyclePlan } from "../../../src/server/prebuilds/status.js";
import { PREBUILDS_USER_ID } from "../../../src/server/prebuilds/system-user.js";
import { type RunningServer, startServer } from "../../../src/server/server.js";
import { setAgentLifecycle } from "../../../src/server/store/agent-reports.js";
import { getJob } from "../../../src/server/store/jobs.js";
import { listPresets, type Preset } from "../../../src/server/store/presets.js";
import type { Store } from "../../../src/server/store/store.js";
import type { Template, TemplateVersion } from "../../../src/server/store/templates.js";
import { getUserByUsername, insertUser, type User } from "../../../src/server/store/users.js";
import { createTemplateVersion, uploadTemplateFile } from "../../../src/server/templates/service.js";
import { changes, until } from "../../support/changes.js";
import { createTestDatabase, type DialectName, type TestDatabase } from "../../support/db.js";
import { FakeClock, withRealTimers } from "../../support/fake-clock.js";

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
/** A Monday, 10:00 UTC. */
export const START = new Date("2026-01-05T10:00:00.000Z");

// ---- the recording provisioner -----------------------------------------------------------------------

export interface RecordedRequest {
  kind: "plan" | "apply";
  workspaceId: string;
  workspaceName: string;
  transition: WorkspaceTransition;
  stage: PrebuiltWorkspaceBuildStage;
  /** `running_agent_auth_tokens` as received. */
  runningAgentTokens: string[];
  /** Apply only: the agent tokens this apply returned (what the server stores for the agents). */
  issuedTokens: string[];
}

/** Echo plus: a fresh agent token per non-claim build, a claim keeps its tokens, requests recorded, faults. */
export class RecordingProvisioner implements InMemoryProvisioner {
  readonly archive = "in-memory";
  readonly requests: RecordedRequest[] = [];
  /** While set, every workspace build's apply fails with this message (flaky infrastructure). */
  failApplies: string | undefined;
  /** While set, every workspace build's apply waits for it (or for its cancellation) before replaying. */
  holdApplies: Promise<void> | undefined;
  readonly #echo = createEchoProvisioner();

  parse: InMemoryProvisioner["parse"] = (session, request, signal) =>
    this.#echo.parse(session, request, signal);

  plan: InMemoryProvisioner["plan"] = async (session, request, signal) => {
    const complete = await this.#echo.plan(session, request, signal);
    this.#record("plan", request.metadata, []);
    return complete;
  };

  apply: InMemoryProvisioner["apply"] = async (session, request, signal) => {
    const metadata = request.metadata;
    if (this.failApplies !== undefined && metadata?.workspaceId) {
      this.#record("apply", metadata, []);
      return create(ApplyCompleteSchema, { error: this.failApplies });
    }
    if (this.holdApplies && metadata?.workspaceId) await Promise.race([this.holdApplies, aborted(signal)]);
    const complete = await this.#echo.apply(session, request, signal);
    const handed = (metadata?.runningAgentAuthTokens ?? []).map((t) => t.token);
    const claim = metadata?.prebuiltWorkspaceBuildStage === PrebuiltWorkspaceBuildStage.CLAIM;
    const issued: string[] = [];
    for (const resource of complete.resources) {
      for (const agent of resource.agents) {
        if (agent.auth.case !== "token") continue;
        const token = (claim ? handed[issued.length] : undefined) ?? randomUUID();
        agent.auth = { case: "token", value: token };
        issued.push(token);
      }
    }
    this.#record("apply", metadata, issued);
    return complete;
  };

  #record(kind: RecordedRequest["kind"], metadata: Metadata | undefined, issuedTokens: string[]): void {
    if (!metadata?.workspaceId) return; // a template import
    this.requests.push({
      kind,
      workspaceId: metadata.workspaceId,
      workspaceName: metadata.workspaceName,
      transition: metadata.workspaceTransition,
      stage: metadata.prebuiltWorkspaceBuildStage,
      runningAgentTokens: metadata.runningAgentAuthTokens.map((t) => t.token),
      issuedTokens,
    });
  }

  /** Requests for one workspace, in order. */
  of(workspaceId: string): RecordedRequest[] {
    return this.requests.filter((r) => r.workspaceId === workspaceId);
  }
}

function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
}

// ---- the server ----------------------------------------------------------------------------------------

export interface PrebuildWorld {
  dialect: DialectName;
  server: RunningServer;
  store: Store;
  clock: FakeClock;
  provisioner: RecordingProvisioner;
  admin: User;
  settings: Partial<ReconcilerSettings>;
  close(): Promise<void>;
}

export interface WorldOptions {
  daemons?: number;
  /** The server's logger (default: silent). */
  logger?: Logger;
  reconcilerSettings?: Partial<ReconcilerSettings>;
}

const DAY = 24 * HOUR;

export async function startWorld(dialect: DialectName, options: WorldOptions = {}): Promise<PrebuildWorld> {
  const dir = mkdtempSync(join(tmpdir(), "prewarm-prebuilds-it-"));
  const cleanups: Array<() => Promise<unknown> | unknown> = [
    () => rmSync(dir, { recursive: true, force: true }),
  ];
  const closeAll = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  };
  try {
    const provisioner = new RecordingProvisioner();
    const served: ProvisionerServer = await serve(provisioner, { listen: `unix:${join(dir, "echo.sock")}` });
    cleanups.push(() => served.close({ deadlineMs: 0 }));
    let database: TestDatabase | undefined;
    if (dialect === "postgres") {
      database = await createTestDatabase("postgres", { migrated: true });
      cleanups.push(() => database?.drop());
    }
    const clock = new FakeClock(START);
    const settings = options.reconcilerSettings ?? {};
    const server = await startServer({
      dataDir: join(dir, "data"),
      listen: "127.0.0.1:0",
      postgresUrl: database && "postgresUrl" in database.location ? database.location.postgresUrl : undefined,
      daemons: options.daemons ?? 2,
      provisionerTypes: ["echo"],
      externalProvisioners: { echo: served.address },
      // The periodic tick stays out of the way: tests run cycles themselves (triggers still fire).
      reconcileIntervalMs: 10 * MINUTE,
      reconcilerSettings: settings,
      // The fake clock jumps by hours; the reaper must not take that for hung or stale jobs.
      jobHungTimeoutMs: 30 * DAY,
      jobPendingTimeoutMs: 30 * DAY,
      reaperIntervalMs: 10 * MINUTE,
      dev: false,
      // Fake time for what the server decides and records; real timers for its daemons, long polls and loops.
      clock: withRealTimers(clock),
      logger: options.logger ?? silentLogger,
      onReconcileCycle: changes.bump,
    });
    cleanups.push(() => server.close());
    cleanups.push(changes.follow(server.store.pubsub));
    // The server's first start created the owner `admin`.
    const admin = (await getUserByUsername(server.store.db, "admin"))!;
    return {
      dialect,
      server,
      store: server.store,
      clock,
      provisioner,
      admin,
      settings,
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

export async function createMember(world: PrebuildWorld, username: string): Promise<User> {
  return insertUser(world.store.db, { username, role: "member", now: world.clock.now() });
}

// ---- templates -----------------------------------------------------------------------------------------

export interface PresetSpec {
  name: string;
  instances: number;
  /** Parameter values the preset fixes. */
  parameters?: Record<string, string>;
  ttlSeconds?: number;
  scheduling?: { timezone: string; schedules: { cron: string; instances: number }[] };
}

export interface TemplateSpec {
  presets: PresetSpec[];
  /** The template's rich parameters (string type). */
  parameters?: { name: string; required?: boolean; defaultValue?: string }[];
  /** Give the workspace an agent with token auth (then eligibility waits for the agent to be ready). */
  agent?: boolean;
  /** Every workspace build's apply fails (a broken template). */
  applyFails?: boolean;
  /** Makes otherwise identical archives differ. */
  marker?: string;
  /** The plan of a claim (and of its rehearsal) replaces these resources, as a name-dependent one would. */
  claimReplaces?: { resource: string; paths: string[] }[];
}

function resourcesOf(spec: TemplateSpec): MessageInitShape<typeof ResourceSchema>[] {
  const agents = spec.agent
    ? [{ id: randomUUID(), name: "main", auth: { case: "token" as const, value: "replaced-per-build" } }]
    : [];
  return [{ name: "dev", type: "echo_instance", agents }];
}

/** An echo template whose import plan declares the presets (that is where a provisioner reports them). */
export function prebuildTemplateArchive(spec: TemplateSpec): Uint8Array {
  const resources = resourcesOf(spec);
  const presets = spec.presets.map((p) => ({
    name: p.name,
    parameters: Object.entries(p.parameters ?? {}).map(([name, value]) => ({ name, value })),
    prebuild: {
      instances: p.instances,
      expirationPolicy: { ttl: p.ttlSeconds ?? 0 },
      scheduling: p.scheduling
        ? { timezone: p.scheduling.timezone, schedule: p.scheduling.schedules }
        : undefined,
    },
  }));
  const parameters = (spec.parameters ?? []).map((p) => ({
    name: p.name,
    type: "string",
    required: p.required ?? false,
    defaultValue: p.defaultValue ?? "",
    mutable: true,
  }));
  const plan: EchoStepInit[] = [{ type: { case: "plan", value: { resources, presets, parameters } } }];
  const apply: EchoStepInit[] = spec.applyFails
    ? applyFailed()
    : [{ type: { case: "apply", value: { resources } } }];
  const planByTransition = spec.claimReplaces
    ? {
        claim: [
          { type: { case: "plan" as const, value: { resources, resourceReplacements: spec.claimReplaces } } },
        ],
      }
    : undefined;
  return buildEchoArchive({
    plan,
    apply,
    planByTransition,
    readme: `# test template ${spec.marker ?? ""}\n`,
  });
}

const templateSettings = { maxArchiveBytes: 10 * 1024 * 1024, provisionerTypes: ["echo"] };

export interface PushedVersion {
  template: Template;
  version: TemplateVersion;
  presets: Preset[];
}

/** Uploads and imports a version through the templates service; waits for its import to succeed. */
export async function pushTemplate(
  world: PrebuildWorld,
  name: string,
  spec: TemplateSpec,
  options: { activate?: boolean } = {},
): Promise<PushedVersion> {
  const { hash } = await uploadTemplateFile(
    world.server.ctx,
    world.admin,
    prebuildTemplateArchive(spec),
    templateSettings,
  );
  const { template, version } = await createTemplateVersion(
    world.server.ctx,
    world.admin,
    name,
    { fileHash: hash, provisioner: "echo", activate: options.activate ?? false },
    templateSettings,
  );
  const job = await eventually(`import of ${name} ${version.name}`, async () => {
    const j = await getJob(world.store.db, version.jobId);
    return j && j.completedAt !== null ? j : undefined;
  });
  if (job.status !== "succeeded")
    throw new Error(`import of ${name} ${version.name} ${job.status}: ${job.error}`);
  return { template, version, presets: await listPresets(world.store.db, { versionIds: [version.id] }) };
}

export function presetNamed(pushed: PushedVersion, name: string): Preset {
  const preset = pushed.presets.find((p) => p.name === name);
  if (!preset) throw new Error(`no preset ${name} in ${pushed.version.name}`);
  return preset;
}

// ---- waiting and reading state -------------------------------------------------------------------------

/**
 * Resolves with `check`'s first value (not undefined), re-checking whenever a job ends, a workspace changes or
 * a cycle ends in the world (test/support/changes.ts); fails after `timeoutMs` with `what` and the last value
 * seen.
 */
export function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 20_000,
  describe?: () => Promise<unknown>,
): Promise<T> {
  return until(what, check, { timeoutMs, describe });
}

/** Every pool and the prebuild jobs in flight, as `prewarm prebuilds status` reports them at the fake clock's now. */
async function reconcilerStatus(world: PrebuildWorld) {
  const plan = await readCyclePlan(world.store, world.clock.now(), world.server.reconciler.planConfig);
  return { inFlightJobs: plan.inFlight, presets: poolStatuses(plan) };
}

/** The preset's pool as `prewarm prebuilds status` reports it, at the fake clock's now. */
export async function poolStatus(
  world: PrebuildWorld,
  presetId: string,
): Promise<PresetPoolStatus | undefined> {
  return (await reconcilerStatus(world)).presets.find((p) => p.presetId === presetId);
}

export type PoolCounts = PresetPoolStatus["prebuilds"];

/**
 * Waits until the preset's pool is settled at `expected` (running = eligible = expected, nothing starting)
 * and no prebuild job is in flight (deletions finished too).
 */
export async function waitForPool(
  world: PrebuildWorld,
  presetId: string,
  expected: { running: number; eligible?: number },
  timeoutMs = 20_000,
): Promise<PresetPoolStatus> {
  const eligible = expected.eligible ?? expected.running;
  return eventually(
    `pool of preset ${presetId} to settle at running=${expected.running} eligible=${eligible}`,
    async () => {
      const status = await reconcilerStatus(world);
      const pool = status.presets.find((p) => p.presetId === presetId);
      const settled =
        pool &&
        status.inFlightJobs === 0 &&
        pool.prebuilds.running === expected.running &&
        pool.prebuilds.eligible === eligible &&
        pool.prebuilds.starting === 0;
      return settled ? pool : undefined;
    },
    timeoutMs,
    async () => {
      const status = await reconcilerStatus(world);
      return {
        inFlight: status.inFlightJobs,
        pool: status.presets.find((p) => p.presetId === presetId),
        lastCycle: world.server.reconciler.lastReport,
      };
    },
  );
}

export interface PrebuildRow {
  id: string;
  createdAt: number;
  versionId: string;
}

/** Live, unclaimed prebuild workspaces whose latest build is a successful start of the preset, oldest first. */
export async function runningPrebuilds(world: PrebuildWorld, presetId: string): Promise<PrebuildRow[]> {
  const { rows } = await sql<{ id: string; created_at: number; template_version_id: string }>`
    select w.id, w.created_at, b.template_version_id
    from workspaces w
    join workspace_builds b on b.workspace_id = w.id
      and b.build_number = (select max(x.build_number) from workspace_builds x where x.workspace_id = w.id)
    join provisioner_jobs j on j.id = b.job_id
    where w.owner_id = ${PREBUILDS_USER_ID} and w.deleted = 0 and b.preset_id = ${presetId}
      and b.transition = 'start' and j.completed_at is not null and coalesce(j.error, '') = ''
      and j.canceled_at is null
    order by w.created_at, w.id`.execute(world.store.db);
  return rows.map((r) => ({ id: r.id, createdAt: Number(r.created_at), versionId: r.template_version_id }));
}

/**
 * Waits until every workspace in `ids` is deleted, each through exactly one delete build the reconciler started
 * (the prebuilds user initiated it).
 */
export async function waitForReconcilerDeletes(
  world: PrebuildWorld,
  ids: Iterable<string>,
  timeoutMs = 20_000,
): Promise<void> {
  const list = [...ids];
  await eventually(
    `${list.length} prebuilds to be deleted by the reconciler`,
    async () => {
      for (const id of list) if (!(await isDeleted(world, id))) return undefined;
      return true;
    },
    timeoutMs,
  );
  for (const id of list) {
    const builds = await reconcilerDeleteBuilds(world, id);
    if (builds !== 1)
      throw new Error(`workspace ${id}: ${builds} delete builds by the reconciler, expected 1`);
  }
}

/** Whether the workspace is soft-deleted (its delete build succeeded). */
export async function isDeleted(world: PrebuildWorld, workspaceId: string): Promise<boolean> {
  const row = await world.store.db
    .selectFrom("workspaces")
    .select("deleted")
    .where("id", "=", workspaceId)
    .executeTakeFirstOrThrow();
  return Number(row.deleted) === 1;
}

/** Delete builds of the workspace initiated by the prebuilds user (the reconciler). */
export async function reconcilerDeleteBuilds(world: PrebuildWorld, workspaceId: string): Promise<number> {
  const { rows } = await sql<{ n: number }>`
    select count(*) as n from workspace_builds
    where workspace_id = ${workspaceId} and transition = 'delete' and initiator_id = ${PREBUILDS_USER_ID}`.execute(
    world.store.db,
  );
  return Number(rows[0]?.n ?? 0);
}

/**
 * Marks every not-ready agent of live prebuilds ready, as the agent process on the workspace would report it
 * (the agent itself belongs to another issue; its API route calls the same store function).
 */
export async function markPrebuildAgentsReady(world: PrebuildWorld): Promise<number> {
  const { rows } = await sql<{ id: string }>`
    select a.id from workspace_agents a
    join workspace_resources r on r.id = a.resource_id
    join workspace_builds b on b.job_id = r.job_id
    join workspaces w on w.id = b.workspace_id
    where w.owner_id = ${PREBUILDS_USER_ID} and w.deleted = 0 and a.lifecycle_state <> 'ready'`.execute(
    world.store.db,
  );
  const now = world.clock.now();
  for (const row of rows)
    await setAgentLifecycle(world.store.db, row.id, { state: "ready", changedAt: now }, now);
  return rows.length;
}

/** Waits for the preset's claim rehearsal to finish (any status but pending); returns it. */
export async function waitForRehearsal(world: PrebuildWorld, presetId: string): Promise<ClaimRehearsal> {
  return eventually(`claim rehearsal of preset ${presetId}`, async () => {
    const rehearsal = (await claimRehearsals(world.store.db, [presetId])).get(presetId);
    return rehearsal && rehearsal.status !== "pending" ? rehearsal : undefined;
  });
}

/** Waits for a job to end; returns its status. */
export async function waitForJob(world: PrebuildWorld, jobId: string, timeoutMs = 20_000): Promise<string> {
  const job = await eventually(
    `job ${jobId} to end`,
    async () => {
      const j = await getJob(world.store.db, jobId);
      return j && j.completedAt !== null ? j : undefined;
    },
    timeoutMs,
  );
  return job.status;
}

/** Stage/transition names for readable assertion messages. */
export const STAGE = PrebuiltWorkspaceBuildStage;
export const TRANSITION = WorkspaceTransition;

/** Runs `fn` against a fresh world and always closes it. */
export async function withWorld(
  dialect: DialectName,
  options: WorldOptions,
  fn: (world: PrebuildWorld) => Promise<void>,
): Promise<void> {
  const world = await startWorld(dialect, options);
  try {
    await fn(world);
  } finally {
    await world.close();
  }
}
