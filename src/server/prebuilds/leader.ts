// Reconciler leadership (§5 rule 12): at most one cycle at a time per database.
//
// PostgreSQL (dialect branch): a read-only REPEATABLE READ transaction takes `pg_try_advisory_xact_lock` and is
// held for the whole cycle; the snapshot is read inside it (so "leader" and "what it saw" are one consistent
// instant) and the lock goes away at commit — or when the connection dies, so a crashed leader never blocks
// the others. Actions run in their own transactions on other pool connections. Replicas that do not get the
// lock skip the cycle; they never wait.
// SQLite (dialect branch): one process owns the file, so leadership is an in-process flag per Store. The
// snapshot cannot be read inside a transaction held for the cycle (the single connection is needed by the
// actions), so it reads in its own short transaction.
import { tryAdvisoryXactLock } from "../store/locks.js";
import type { Executor, Store } from "../store/store.js";

export type Leadership<T> = { leader: true; value: T } | { leader: false };

const sqliteLeaders = new WeakSet<Store>();

/**
 * Runs `fn` if this caller can lead now, else returns `{ leader: false }` at once. `fn` receives the executor to
 * read the snapshot with (the lock transaction on PostgreSQL) or undefined (SQLite: read in a transaction of
 * your own).
 */
export async function withLeadership<T>(
  store: Store,
  fn: (reader: Executor | undefined) => Promise<T>,
): Promise<Leadership<T>> {
  if (store.dialect === "sqlite") {
    if (sqliteLeaders.has(store)) return { leader: false };
    sqliteLeaders.add(store);
    try {
      return { leader: true, value: await fn(undefined) };
    } finally {
      sqliteLeaders.delete(store);
    }
  }
  return store.transaction(
    async (tx): Promise<Leadership<T>> => {
      if (!(await tryAdvisoryXactLock(tx, "postgres", "reconcilerLeader"))) return { leader: false };
      return { leader: true, value: await fn(tx) };
    },
    { isolation: "repeatable read", readOnly: true },
  );
}
