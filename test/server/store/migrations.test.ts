import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { type Kysely, Migrator, sql } from "kysely";
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

  test("0005 rebuilds SQLite's provisioner_jobs for claim_rehearsal and keeps every job, log and reference", async () => {
    const dir = mkdtempSync(join(tmpdir(), "prewarm-migrate-0005-"));
    const store = await openStore({ sqlitePath: join(dir, "prewarm.db") }, { migrate: false });
    try {
      // GIVEN a database at 0004 with a job, its logs and a later column's value (a `tags` JSON)
      const db = store.db as never as Kysely<unknown>;
      const all = migrations(store.dialect);
      const upTo4 = Object.fromEntries(Object.entries(all).filter(([name]) => name < "0005"));
      const migrator = new Migrator({
        db,
        provider: { getMigrations: async () => upTo4 },
        migrationTableName: "schema_migrations",
        migrationLockTableName: "schema_migrations_lock",
      });
      assert.equal((await migrator.migrateToLatest()).error, undefined);
      await sql`insert into files (id, hash, mimetype, data, size, created_by, created_at)
        values ('f1', 'h1', 'application/x-tar', x'00', 1, null, 1)`.execute(db);
      await sql`insert into provisioner_jobs (id, type, provisioner, file_id, input, tags, initiator_id,
        is_prebuild, created_at, updated_at, completed_at, error)
        values ('j1', 'workspace_build', 'echo', 'f1', '{}', '{"os":"linux"}', ${PREBUILDS_USER_ID}, 1, 1, 2, 3,
        'boom')`.execute(db);
      for (const output of ["one", "two"]) {
        await sql`insert into provisioner_job_logs (job_id, created_at, source, level, stage, output)
          values ('j1', 1, 'provisioner', 'info', 'Planning', ${output})`.execute(db);
      }

      // WHEN the rest of the migrations run
      assert.ok((await migrateToLatest(db, store.dialect)).includes("0005_claims"));

      // THEN the job and its logs are intact, nothing dangles, and the new job type is accepted
      const { rows: jobs } = await sql<Record<string, unknown>>`select * from provisioner_jobs`.execute(db);
      assert.equal(jobs.length, 1);
      assert.deepEqual([jobs[0]!.tags, jobs[0]!.error, jobs[0]!.is_prebuild], ['{"os":"linux"}', "boom", 1]);
      const { rows: logs } = await sql<{
        output: string;
      }>`select output from provisioner_job_logs order by id`.execute(db);
      assert.deepEqual(
        logs.map((l) => l.output),
        ["one", "two"],
      );
      assert.deepEqual((await sql`pragma foreign_key_check`.execute(db)).rows, []);
      assert.deepEqual((await sql<{ foreign_keys: number }>`pragma foreign_keys`.execute(db)).rows, [
        { foreign_keys: 1 },
      ]);
      await sql`insert into provisioner_jobs (id, type, provisioner, file_id, input, tags, initiator_id,
        is_prebuild, created_at, updated_at) values ('j2', 'claim_rehearsal', 'echo', 'f1', '{}', '{}',
        ${PREBUILDS_USER_ID}, 1, 1, 1)`.execute(db);
      await assert.rejects(
        sql`insert into provisioner_jobs (id, type, provisioner, file_id, input, tags, initiator_id,
          is_prebuild, created_at, updated_at) values ('j3', 'bogus', 'echo', 'f1', '{}', '{}',
          ${PREBUILDS_USER_ID}, 1, 1, 1)`.execute(db),
        /CHECK constraint failed/,
      );
      // AND the logs still cascade with their job (the references survived the rebuild)
      await sql`delete from provisioner_jobs where id = 'j1'`.execute(db);
      assert.equal((await sql`select * from provisioner_job_logs`.execute(db)).rows.length, 0);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

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

  for (const dialect of DIALECTS) {
    test(`0009 stores untagged jobs and daemons as Coder's {scope: organization, owner: ""} [${dialect}]`, {
      skip: dialectSkip(dialect),
      timeout: 30_000,
    }, async () => {
      const database = await createTestDatabase(dialect);
      const store = await openStore(database.location, { migrate: false });
      try {
        // GIVEN a database at 0008 with an untagged job, a tagged job and an untagged daemon
        const db = store.db as never as Kysely<unknown>;
        const upTo8 = Object.fromEntries(
          Object.entries(migrations(dialect)).filter(([name]) => name < "0009"),
        );
        const migrator = new Migrator({
          db,
          provider: { getMigrations: async () => upTo8 },
          migrationTableName: "schema_migrations",
          migrationLockTableName: "schema_migrations_lock",
        });
        assert.equal((await migrator.migrateToLatest()).error, undefined);
        await sql`insert into files (id, hash, mimetype, data, size, created_by, created_at)
          values ('f1', 'h1', 'application/x-tar', ${Buffer.from([0])}, 1, null, 1)`.execute(db);
        for (const [id, tags] of [
          ["j1", "{}"],
          ["j2", '{"gpu":"1","owner":"","scope":"organization"}'],
        ]) {
          await sql`insert into provisioner_jobs (id, type, provisioner, file_id, input, tags, initiator_id,
            is_prebuild, created_at, updated_at) values (${id}, 'workspace_build', 'echo', 'f1', '{}', ${tags},
            ${PREBUILDS_USER_ID}, 1, 1, 1)`.execute(db);
        }
        await sql`insert into provisioner_daemons (id, name, provisioners, tags, version, created_at, last_seen_at)
          values ('d1', 'd1', '["echo"]', '{}', 'v', 1, 1)`.execute(db);

        // WHEN the rest of the migrations run
        await migrateToLatest(db, store.dialect);

        // THEN `{}` became the untagged set and other tags are untouched
        const untagged = '{"owner":"","scope":"organization"}';
        const { rows: jobs } = await sql<{ id: string; tags: string }>`select id, tags from provisioner_jobs
          order by id`.execute(db);
        assert.deepEqual(jobs, [
          { id: "j1", tags: untagged },
          { id: "j2", tags: '{"gpu":"1","owner":"","scope":"organization"}' },
        ]);
        const { rows: daemons } = await sql<{ tags: string }>`select tags from provisioner_daemons`.execute(
          db,
        );
        assert.deepEqual(daemons, [{ tags: untagged }]);
      } finally {
        await store.close();
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
