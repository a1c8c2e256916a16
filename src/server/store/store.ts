// Opening the database: embedded SQLite (default) or PostgreSQL, migrated at start.
//
// SQLite: one connection (Kysely serialises its use), WAL, busy_timeout, foreign keys on, and every
// transaction is `BEGIN IMMEDIATE` so a transaction that reads then writes can never fail with SQLITE_BUSY
// half-way (it waits for the write lock up front). One server process per database file.
// PostgreSQL: a pool; int8 values are parsed to JS numbers (millisecond timestamps and counts fit easily);
// migrations run under a session advisory lock so replicas starting together apply them exactly once.
import { closeSync, mkdirSync, openSync } from "node:fs";
import { dirname, join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import {
  CompiledQuery,
  type DatabaseConnection,
  Kysely,
  PostgresDialect,
  SqliteDialect,
  type SqliteDialectConfig,
  SqliteDriver,
  type Transaction,
} from "kysely";
import pg from "pg";
import type { Dialect } from "./dialect.js";
import { type AdvisoryLockKey, advisoryLockIds } from "./locks.js";
import { migrateToLatest } from "./migrations.js";
import { LocalPubSub, PgPubSub, type PubSub } from "./pubsub.js";
import type { Database } from "./schema.js";
import { cachingStatements } from "./sqlite-statement-cache.js";

export type { Dialect } from "./dialect.js";

/** Anything queries can run on: the store's Kysely or a transaction (Transaction extends Kysely). */
export type Executor = Kysely<Database>;

export type StoreLocation = { sqlitePath: string } | { postgresUrl: string };

/** The SQLite file inside a data directory. */
export const SQLITE_FILE_NAME = "prewarm.db";

/** PostgreSQL when a URL is given (flag or PREWARM_POSTGRES_URL, resolved by the caller), else `<dataDir>/prewarm.db`. */
export function storeLocation(options: { dataDir: string; postgresUrl?: string | undefined }): StoreLocation {
  return options.postgresUrl
    ? { postgresUrl: options.postgresUrl }
    : { sqlitePath: join(options.dataDir, SQLITE_FILE_NAME) };
}

/** For messages: where the store lives, without credentials. */
export function describeLocation(location: StoreLocation): string {
  if ("sqlitePath" in location) return `SQLite ${location.sqlitePath}`;
  try {
    const url = new URL(location.postgresUrl);
    return `PostgreSQL ${url.hostname}${url.port ? `:${url.port}` : ""}${url.pathname}`;
  } catch {
    return "PostgreSQL (unparseable URL)";
  }
}

export interface OpenStoreOptions {
  /** Apply pending migrations (default true). */
  migrate?: boolean;
  /** PostgreSQL pool size (default 10, at least 2: migrations hold one connection for the lock). */
  poolSize?: number;
  /** SQLite busy timeout in ms (default 5000). */
  busyTimeoutMs?: number;
}

export interface TransactionOptions {
  /** PostgreSQL isolation level (default read committed). SQLite transactions are always serializable. */
  isolation?: "read committed" | "repeatable read" | "serializable";
  /** PostgreSQL `READ ONLY` (e.g. the reconciler's snapshot). Ignored on SQLite. */
  readOnly?: boolean;
}

export class StoreError extends Error {
  override name = "StoreError";
}

const INT8_OID = 20;

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("begin immediate"));
  }
}

class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;
  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }
  override createDriver(): SqliteDriver {
    return new ImmediateSqliteDriver(this.#config);
  }
}

export class Store {
  #pubsub: PubSub | undefined;
  #closed = false;

  constructor(
    readonly db: Kysely<Database>,
    readonly dialect: Dialect,
    private readonly pool: pg.Pool | undefined,
    private readonly postgresUrl: string | undefined,
  ) {}

  /**
   * Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. Inside `fn` use
   * only `tx`: on SQLite the store has a single connection, so a query on `store.db` would wait for this
   * transaction to end — forever.
   */
  transaction<T>(
    fn: (tx: Transaction<Database>) => Promise<T>,
    options: TransactionOptions = {},
  ): Promise<T> {
    let builder = this.db.transaction();
    if (this.dialect === "postgres") {
      if (options.isolation) builder = builder.setIsolationLevel(options.isolation);
      if (options.readOnly) builder = builder.setAccessMode("read only");
    }
    return builder.execute(fn);
  }

  /**
   * Pub/sub bound to this database: LISTEN/NOTIFY on PostgreSQL (reaches every replica), an in-process
   * emitter on SQLite. Created on first use.
   */
  get pubsub(): PubSub {
    if (!this.#pubsub) {
      this.#pubsub =
        this.dialect === "postgres" ? new PgPubSub(this.postgresUrl!, this.pool!) : new LocalPubSub();
    }
    return this.#pubsub;
  }

  /**
   * Holds a session-level advisory lock (PostgreSQL) on a dedicated connection while `fn` runs; on SQLite
   * `fn` just runs (one process owns the file).
   */
  async withSessionLock<T>(key: AdvisoryLockKey, fn: () => Promise<T>): Promise<T> {
    if (!this.pool) return fn();
    const [ns, id] = advisoryLockIds(key);
    const client = await this.pool.connect();
    try {
      await client.query("select pg_advisory_lock($1, $2)", [ns, id]);
      try {
        return await fn();
      } finally {
        await client.query("select pg_advisory_unlock($1, $2)", [ns, id]);
      }
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pubsub?.close();
    await this.db.destroy();
  }
}

function openSqlite(path: string, options: OpenStoreOptions): Store {
  let database: BetterSqlite3.Database;
  try {
    if (path !== ":memory:") {
      mkdirSync(dirname(path), { recursive: true });
      // Owner-only: the database holds token hashes and template variables. SQLite gives the -wal and -shm
      // files the database file's mode.
      closeSync(openSync(path, "a", 0o600));
    }
    database = new BetterSqlite3(path);
  } catch (err) {
    throw new StoreError(`open SQLite database ${path}: ${(err as Error).message}`, { cause: err });
  }
  database.pragma("journal_mode = WAL");
  database.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
  database.pragma("foreign_keys = ON");
  // WAL + NORMAL: durable across application crashes; an OS crash may lose the last transactions, never corrupt.
  database.pragma("synchronous = NORMAL");
  const db = new Kysely<Database>({
    dialect: new ImmediateSqliteDialect({ database: cachingStatements(database) }),
  });
  return new Store(db, "sqlite", undefined, undefined);
}

function openPostgres(url: string, options: OpenStoreOptions): Store {
  const pool = new pg.Pool({
    connectionString: url,
    max: Math.max(2, options.poolSize ?? 10),
    types: {
      getTypeParser: ((oid: number, format?: "text" | "binary") =>
        oid === INT8_OID && format !== "binary"
          ? (value: string) => Number.parseInt(value, 10)
          : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client losing its connection (server restart) must not crash the process; the next query that
  // needs a connection gets a fresh one or a visible error.
  pool.on("error", () => {});
  // pg-pool takes its idle listener off a client while it is checked out (a transaction between statements, the
  // migration lock): a connection lost then would be an unhandled 'error' event that ends the process. The
  // query in progress, or the next one, fails with the reason instead, and pg-pool drops the dead client.
  pool.on("connect", (client) => client.on("error", () => {}));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return new Store(db, "postgres", pool, url);
}

/** Opens (and by default migrates) the store. */
export async function openStore(location: StoreLocation, options: OpenStoreOptions = {}): Promise<Store> {
  const store =
    "sqlitePath" in location
      ? openSqlite(location.sqlitePath, options)
      : openPostgres(location.postgresUrl, options);
  if (options.migrate === false) return store;
  try {
    await store.withSessionLock("migrations", () =>
      migrateToLatest(store.db as unknown as Kysely<unknown>, store.dialect),
    );
  } catch (err) {
    await store.close().catch(() => {});
    if (err instanceof Error && err.name === "MigrationError") throw err;
    throw new StoreError(`open store (${describeLocation(location)}): ${(err as Error).message}`, {
      cause: err,
    });
  }
  return store;
}
