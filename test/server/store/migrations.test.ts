import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { sql } from "kysely";
import { PREBUILDS_USER_ID, PREBUILDS_USERNAME } from "../../../src/server/prebuilds/system-user.js";
import { migrateToLatest, migrations } from "../../../src/server/store/migrations.js";
import { openStore, StoreError } from "../../../src/server/store/store.js";
import { createTestDatabase, DIALECTS, dialectSkip, forEachDialect } from "../../support/db.js";

describe("migrations", () => {
  forEachDialect(
    "re-running migrations on a migrated database applies nothing and keeps data",
    async ({ store }) => {
      // GIVEN a migrated store with a row written by the application
      await store.db.insertInto("site_config").values({ key: "probe", value: "kept" }).execute();

      // WHEN migrations run again
      const applied = await migrateToLatest(store.db as never, store.dialect);

      // THEN nothing is applied and the row is still there
      assert.deepEqual(applied, []);
      const row = await store.db
        .selectFrom("site_config")
        .select("value")
        .where("key", "=", "probe")
        .executeTakeFirst();
      assert.equal(row?.value, "kept");
    },
  );

  forEachDialect(
    "the prebuilds system user exists with its fixed id and cannot log in",
    async ({ store }) => {
      const user = await store.db
        .selectFrom("users")
        .selectAll()
        .where("id", "=", PREBUILDS_USER_ID)
        .executeTakeFirst();
      assert.ok(user, "system user missing");
      assert.equal(user.username, PREBUILDS_USERNAME);
      assert.equal(user.is_system, 1);
      assert.equal(user.login_type, "none");
      assert.equal(user.password_hash, null);
    },
  );

  for (const dialect of DIALECTS) {
    test(`replicas opening an empty database at once migrate it exactly once [${dialect}]`, {
      skip: dialectSkip(dialect),
      timeout: 30_000,
    }, async () => {
      // GIVEN an empty database (several replicas only exist on PostgreSQL; SQLite is one process per file)
      const database = await createTestDatabase(dialect);
      try {
        // WHEN replicas open it at the same moment
        const stores = await Promise.all(
          Array.from({ length: dialect === "postgres" ? 4 : 1 }, () => openStore(database.location)),
        );
        try {
          // THEN the schema was applied once, and every replica sees it
          const { rows } = await sql<{
            name: string;
          }>`select name from schema_migrations order by name`.execute(stores[0]!.db);
          assert.deepEqual(
            rows.map((r) => r.name),
            Object.keys(migrations(dialect)),
          );
          for (const s of stores) {
            assert.ok(
              await s.db
                .selectFrom("users")
                .select("id")
                .where("id", "=", PREBUILDS_USER_ID)
                .executeTakeFirst(),
            );
          }
        } finally {
          await Promise.all(stores.map((s) => s.close()));
        }
      } finally {
        await database.drop();
      }
    });
  }

  forEachDialect("foreign keys are enforced", async ({ store }) => {
    await assert.rejects(
      store.db
        .insertInto("api_tokens")
        .values({
          id: "x",
          user_id: "no-such-user",
          hashed_secret: Buffer.alloc(32),
          name: "t",
          created_at: 0,
          expires_at: null,
          last_used_at: null,
        })
        .execute(),
    );
  });

  test("an unreachable PostgreSQL fails the start with a clear error that hides the password", async () => {
    const err = await openStore({ postgresUrl: "postgres://prewarm:s3cret@127.0.0.1:1/prewarm" }).catch(
      (e) => e,
    );
    assert.ok(err instanceof StoreError, String(err));
    assert.match(err.message, /^open store \(PostgreSQL 127\.0\.0\.1:1\/prewarm\): /);
    assert.doesNotMatch(err.message, /s3cret/);
  });

  test("a SQLite path that cannot be created fails with the path in the message", async () => {
    // GIVEN a path whose parent "directory" is a regular file
    const dir = mkdtempSync(join(tmpdir(), "prewarm-store-"));
    try {
      writeFileSync(join(dir, "file"), "");
      const path = join(dir, "file", "sub", "prewarm.db");
      const err = await openStore({ sqlitePath: path }).catch((e) => e);
      assert.ok(err instanceof StoreError, String(err));
      assert.ok(err.message.includes(path), err.message);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
