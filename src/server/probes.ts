// Readiness (/readyz): can this replica do its work? The database answers, it has every migration this build
// knows, and the reconciler loop turns. Liveness (/healthz) is only "the process answers" and lives with the
// other meta routes. A paused reconciler or a replica that is not the leader is ready: its cycles still end.
import { type Kysely, sql } from "kysely";
import type { ReadinessT } from "../contract/api.js";
import type { Reconciler } from "./prebuilds/reconciler.js";
import { pendingMigrations } from "./store/migrations.js";
import type { Store } from "./store/store.js";

type Check = ReadinessT["checks"]["database"];

/** A database that does not answer within this long is failing (a probe must not hang with it). */
const DATABASE_TIMEOUT_MS = 2_000;

const ok: Check = { status: "ok" };
const failing = (message: string): Check => ({ status: "failing", message });

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export async function readiness(store: Store, reconciler: Reconciler): Promise<ReadinessT> {
  let database = ok;
  let migrations = ok;
  try {
    await withTimeout(sql`select 1`.execute(store.db), DATABASE_TIMEOUT_MS, "the database");
    const pending = await withTimeout(
      pendingMigrations(store.db as unknown as Kysely<unknown>, store.dialect),
      DATABASE_TIMEOUT_MS,
      "the database",
    );
    if (pending.length > 0) migrations = failing(`not applied: ${pending.join(", ")}`);
  } catch (err) {
    database = failing((err as Error).message);
    migrations = failing("unknown: the database is not reachable");
  }
  const loop = reconciler.liveness();
  const checks = { database, migrations, reconciler: loop.ok ? ok : failing(loop.message) };
  const ready = Object.values(checks).every((c) => c.status === "ok");
  return { status: ready ? "ok" : "unavailable", checks };
}
