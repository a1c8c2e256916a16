// Reuses SQLite prepared statements by their SQL text. Kysely prepares every query anew and better-sqlite3
// compiles a statement on each prepare(): a CPU profile of the job path (bench/job-throughput.ts) put
// prepare() at 7.7 % of the server process's CPU. A cached statement that is busy (an iterate() still open on
// it) is never handed out again; a fresh one is prepared for that call. SQLite re-prepares a statement by
// itself after a schema change, so cached statements survive migrations.
import type BetterSqlite3 from "better-sqlite3";
import type { SqliteDatabase, SqliteStatement } from "kysely";

/** Kysely's view of `database`, with prepare() served from a bounded, least-recently-used cache. */
export function cachingStatements(database: BetterSqlite3.Database, max = 500): SqliteDatabase {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return {
    close: () => {
      cache.clear();
      database.close();
    },
    prepare: (sql: string): SqliteStatement => {
      const hit = cache.get(sql);
      if (hit && !hit.busy) {
        // Re-insert: a Map keeps insertion order, so the first key is the least recently used.
        cache.delete(sql);
        cache.set(sql, hit);
        return hit as unknown as SqliteStatement;
      }
      const statement = database.prepare(sql);
      if (!hit) {
        cache.set(sql, statement);
        if (cache.size > max) cache.delete(cache.keys().next().value as string);
      }
      return statement as unknown as SqliteStatement;
    },
  };
}
