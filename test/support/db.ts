// Runs store-touching tests on both dialects: SQLite (a temp file) and real PostgreSQL (test/support/postgres.ts).
//
//   forEachDialect("a workspace name can be reused after delete", async ({ store, dialect }) => { … });
//
// registers two tests, "… [sqlite]" and "… [postgres]", each with a fresh, migrated store that is closed and
// deleted afterwards. PostgreSQL tests skip (or fail under PREWARM_TEST_REQUIRE_ALL=1) without a server.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  type OpenStoreOptions,
  openStore,
  type Store,
  type StoreLocation,
} from "../../src/server/store/store.js";
import { POSTGRES_MISSING, postgresAvailable, startPostgres, templateDatabase } from "./postgres.js";
import { skipUnless } from "./requirements.js";

export type DialectName = "sqlite" | "postgres";
export const DIALECTS: readonly DialectName[] = ["sqlite", "postgres"];

export interface DialectContext {
  store: Store;
  dialect: DialectName;
  /** Where the store lives; open a second Store on it to play a second replica (PostgreSQL). */
  location: StoreLocation;
}

export interface TestDatabase {
  location: StoreLocation;
  /** Deletes the database (temp file or PG database). */
  drop(): Promise<void>;
}

/** A PostgreSQL database with the current schema, to copy test databases from (one per process). */
function migratedTemplate(): Promise<string | undefined> {
  return templateDatabase("migrated", async (url) => {
    const store = await openStore({ postgresUrl: url });
    await store.close();
  });
}

/**
 * A fresh database of the given dialect (not opened). Empty, or with `migrated: true` on PostgreSQL possibly
 * already migrated (copied from a template: faster; openStore then finds nothing to apply).
 */
export async function createTestDatabase(
  dialect: DialectName,
  options: { migrated?: boolean } = {},
): Promise<TestDatabase> {
  if (dialect === "postgres") {
    const template = options.migrated ? await migratedTemplate() : undefined;
    const pg = await startPostgres({ template });
    return { location: { postgresUrl: pg.url }, drop: pg.stop };
  }
  const dir = mkdtempSync(join(tmpdir(), "prewarm-test-sqlite-"));
  return {
    location: { sqlitePath: join(dir, "prewarm.db") },
    drop: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Opens a fresh migrated store; `cleanup` closes it and drops the database. */
export async function openTestStore(
  dialect: DialectName,
  options: OpenStoreOptions = {},
): Promise<DialectContext & { cleanup(): Promise<void> }> {
  const database = await createTestDatabase(dialect, { migrated: true });
  let store: Store;
  try {
    store = await openStore(database.location, options);
  } catch (err) {
    await database.drop();
    throw err;
  }
  return {
    store,
    dialect,
    location: database.location,
    cleanup: async () => {
      await store.close();
      await database.drop();
    },
  };
}

/** `skip` option for a test on `dialect` (PostgreSQL needs a server). */
export function dialectSkip(dialect: DialectName): false | string {
  return dialect === "postgres" ? skipUnless(postgresAvailable(), POSTGRES_MISSING) : false;
}

/** Registers `name [sqlite]` and `name [postgres]`, each running `fn` on its own fresh store. */
export function forEachDialect(
  name: string,
  fn: (ctx: DialectContext) => Promise<void>,
  options: { timeout?: number } = {},
): void {
  for (const dialect of DIALECTS) {
    test(`${name} [${dialect}]`, {
      skip: dialectSkip(dialect),
      timeout: options.timeout ?? 30_000,
    }, async () => {
      const ctx = await openTestStore(dialect);
      try {
        await fn(ctx);
      } finally {
        await ctx.cleanup();
      }
    });
  }
}
