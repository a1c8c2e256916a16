// Cross-replica locks. PostgreSQL advisory locks use the two-int form (namespace, key) so prewarm's keys
// cannot collide with another application's single-bigint keys on a shared database. On SQLite one process
// owns the file, so exclusion is in-process (Kysely serialises the single connection; callers that need a
// leader within the process keep their own flag).

import type { QueryExecutorProvider } from "kysely";
import { sql } from "kysely";
import type { Dialect } from "./dialect.js";

/** "pwm" — every prewarm advisory lock lives in this namespace. */
export const ADVISORY_LOCK_NAMESPACE = 0x70776d;

const KEYS = {
  migrations: 1,
  reconcilerLeader: 2,
  /** Start-up writes (the first owner): replicas starting together on an empty database take turns. */
  bootstrap: 3,
  /** Retention's deleting transactions (retention/prune.ts): one replica prunes at a time. */
  retention: 4,
} as const;

export type AdvisoryLockKey = keyof typeof KEYS;

export function advisoryLockIds(key: AdvisoryLockKey): [number, number] {
  return [ADVISORY_LOCK_NAMESPACE, KEYS[key]];
}

/**
 * Tries to take a transaction-scoped lock (released at commit/rollback). PostgreSQL:
 * `pg_try_advisory_xact_lock`, never waits. SQLite: always true (single process; the transaction itself is
 * exclusive because every SQLite transaction is BEGIN IMMEDIATE).
 */
export async function tryAdvisoryXactLock(
  tx: QueryExecutorProvider,
  dialect: Dialect,
  key: AdvisoryLockKey,
): Promise<boolean> {
  if (dialect === "sqlite") return true;
  const [ns, id] = advisoryLockIds(key);
  const { rows } = await sql<{
    locked: boolean;
  }>`select pg_try_advisory_xact_lock(${ns}, ${id}) as locked`.execute(tx);
  return rows[0]?.locked === true;
}
