// Shared by bench/reconcile-cycle.ts and bench/claim.ts: opening a scratch store of either dialect, filling it
// quickly with prebuild pools (multi-row inserts, one transaction), and timing helpers.
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { PREBUILDS_USER_ID } from "../src/server/prebuilds/system-user.js";
import type { Database } from "../src/server/store/schema.js";
import { openStore, type Store } from "../src/server/store/store.js";
import { agentRow, resourceRow } from "../test/server/prebuilds/pool-fixtures.js";
import { postgresAvailable, startPostgres } from "../test/support/postgres.js";

export type BenchDialect = "sqlite" | "postgres";

export interface BenchStore {
  store: Store;
  close(): Promise<void>;
}

/** A fresh migrated store (PostgreSQL: a durable cluster, its defaults); null for PostgreSQL without a server. */
export async function openBenchStore(dialect: BenchDialect, poolSize = 80): Promise<BenchStore | null> {
  if (dialect === "postgres") {
    if (!postgresAvailable()) return null;
    const pg = await startPostgres({ durable: true });
    const store = await openStore({ postgresUrl: pg.url }, { poolSize });
    return {
      store,
      close: async () => {
        await store.close();
        await pg.stop();
      },
    };
  }
  const dir = mkdtempSync(join(tmpdir(), "prewarm-bench-"));
  const store = await openStore({ sqlitePath: join(dir, "prewarm.db") });
  return {
    store,
    close: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface PopulationOptions {
  templates: number;
  presetsPerTemplate: number;
  prebuildsPerPreset: number;
  now: Date;
  /** Desired instances per preset (default: prebuildsPerPreset, a full pool). */
  desired?: number;
  /** TTL seconds of every preset (default 24 h). */
  ttlSeconds?: number;
  /** Every n-th prebuild is created 2 days ago (expired under a 24 h TTL); 0 = none (default 7). */
  expiredEvery?: number;
}

export interface Population {
  presetIds: string[];
  ownerId: string;
}

async function insertChunked<T extends keyof Database>(
  store: Store,
  table: T,
  rows: Record<string, unknown>[],
): Promise<void> {
  for (let i = 0; i < rows.length; i += 400) {
    await store.db
      .insertInto(table)
      .values(rows.slice(i, i + 400) as never) // rows are built to the schema above
      .execute();
  }
}

/** Templates × presets × prebuilds, every prebuild running with one ready agent. */
export async function populate(store: Store, options: PopulationOptions): Promise<Population> {
  const now = options.now.getTime();
  const ownerId = randomUUID();
  const fileId = randomUUID();
  await store.db
    .insertInto("users")
    .values({
      id: ownerId,
      username: "bench",
      email: "",
      name: "",
      role: "owner",
      login_type: "token",
      password_hash: null,
      is_system: 0,
      created_at: now,
      updated_at: now,
    })
    .execute();
  await store.db
    .insertInto("files")
    .values({
      id: fileId,
      hash: randomUUID(),
      mimetype: "application/x-tar",
      data: Buffer.from("x"),
      size: 1,
      created_by: ownerId,
      created_at: now,
    })
    .execute();
  const job = (
    id: string,
    type: "template_version_import" | "workspace_build",
    prebuild: boolean,
    at: number,
  ) => ({
    id,
    type,
    provisioner: "echo",
    file_id: fileId,
    input: "{}",
    tags: "{}",
    initiator_id: prebuild ? PREBUILDS_USER_ID : ownerId,
    is_prebuild: prebuild ? 1 : 0,
    worker_id: "bench",
    created_at: at,
    updated_at: at,
    started_at: at,
    completed_at: at + 1,
    canceled_at: null,
    error: null,
    error_code: null,
  });
  const jobs: Record<string, unknown>[] = [];
  const templates: Record<string, unknown>[] = [];
  const versions: Record<string, unknown>[] = [];
  const presets: Record<string, unknown>[] = [];
  const workspaces: Record<string, unknown>[] = [];
  const builds: Record<string, unknown>[] = [];
  const resources: Record<string, unknown>[] = [];
  const agents: Record<string, unknown>[] = [];
  const presetIds: string[] = [];
  const expiredEvery = options.expiredEvery ?? 7;
  let n = 0;
  for (let t = 0; t < options.templates; t++) {
    const templateId = randomUUID();
    const versionId = randomUUID();
    const importJob = randomUUID();
    jobs.push(job(importJob, "template_version_import", false, now));
    templates.push({
      id: templateId,
      name: `tpl-${t}`,
      display_name: "",
      description: "",
      icon: "",
      active_version_id: versionId,
      deprecated: "",
      deleted: 0,
      created_by: ownerId,
      created_at: now,
      updated_at: now,
    });
    versions.push({
      id: versionId,
      template_id: templateId,
      name: "v1",
      message: "",
      file_id: fileId,
      provisioner: "echo",
      job_id: importJob,
      readme: "",
      created_by: ownerId,
      created_at: now,
      updated_at: now,
    });
    for (let p = 0; p < options.presetsPerTemplate; p++) {
      const presetId = randomUUID();
      presetIds.push(presetId);
      presets.push({
        id: presetId,
        template_version_id: versionId,
        name: `preset-${p}`,
        is_default: 0,
        description: "",
        icon: "",
        desired_instances: options.desired ?? options.prebuildsPerPreset,
        ttl_seconds: options.ttlSeconds ?? 86_400,
        scheduling_timezone: "",
        status: "healthy",
        last_invalidated_at: null,
        created_at: now,
      });
      for (let w = 0; w < options.prebuildsPerPreset; w++) {
        n++;
        const created =
          expiredEvery > 0 && n % expiredEvery === 0 ? now - 2 * 86_400_000 : now - 3_600_000 + n;
        const workspaceId = randomUUID();
        const jobId = randomUUID();
        jobs.push(job(jobId, "workspace_build", true, created));
        workspaces.push({
          id: workspaceId,
          owner_id: PREBUILDS_USER_ID,
          template_id: templateId,
          name: `prebuild-${n}`,
          created_at: created,
          updated_at: created,
          deleted: 0,
        });
        builds.push({
          id: randomUUID(),
          workspace_id: workspaceId,
          build_number: 1,
          transition: "start",
          template_version_id: versionId,
          preset_id: presetId,
          initiator_id: PREBUILDS_USER_ID,
          reason: "initiator",
          prebuild_stage: "create",
          provisioner_state: null,
          job_id: jobId,
          created_at: created,
          updated_at: created,
        });
        const resource = resourceRow(jobId, "dev", created);
        resources.push(resource);
        agents.push(agentRow(resource.id, "main", "ready", created));
      }
    }
  }
  await insertChunked(store, "provisioner_jobs", jobs);
  await insertChunked(store, "templates", templates);
  await insertChunked(store, "template_versions", versions);
  await insertChunked(store, "presets", presets);
  await insertChunked(store, "workspaces", workspaces);
  await insertChunked(store, "workspace_builds", builds);
  await insertChunked(store, "workspace_resources", resources);
  await insertChunked(store, "workspace_agents", agents);
  // Fresh statistics, as autovacuum (PostgreSQL) would have gathered on a live database; without them the
  // planner picks nested loops for the snapshot's joins and the figures say more about the bulk load than
  // about the queries.
  await sql`analyze`.execute(store.db);
  return { presetIds, ownerId };
}

export const median = (xs: number[]): number => percentile(xs, 50);

export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}
