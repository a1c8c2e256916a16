// Replicas start together: three servers started at the same moment on one empty PostgreSQL database all come
// up — the migrations run once under their lock, and the first-owner bootstrap under its own, so exactly one
// owner `admin` exists and exactly one replica minted its first token (no duplicate key on users_username_key).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { bootstrapOwner } from "../../src/server/first-owner.js";
import { silentLogger } from "../../src/server/logger.js";
import { type RunningServer, startServer } from "../../src/server/server.js";
import { openStore } from "../../src/server/store/store.js";
import { POSTGRES_MISSING, postgresAvailable, startPostgres } from "../support/postgres.js";
import { skipUnless } from "../support/requirements.js";

const tmp = mkdtempSync(join(tmpdir(), "prewarm-replicas-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe("replicas on an empty database", () => {
  test("GIVEN an empty database WHEN three replicas start at once THEN all run, with one owner and one first token", {
    skip: skipUnless(postgresAvailable(), POSTGRES_MISSING),
    timeout: 120_000,
  }, async () => {
    const pg = await startPostgres();
    const started: RunningServer[] = [];
    try {
      const results = await Promise.allSettled(
        [0, 1, 2].map((i) =>
          startServer({
            dataDir: join(tmp, `replica-${i}`),
            listen: "127.0.0.1:0",
            postgresUrl: pg.url,
            daemons: 0,
            provisionerTypes: ["echo"],
            reconcileIntervalMs: 3_600_000,
            dev: false,
            logger: silentLogger,
          }),
        ),
      );
      for (const r of results) if (r.status === "fulfilled") started.push(r.value);
      const failures = results.flatMap((r) => (r.status === "rejected" ? [String(r.reason)] : []));
      assert.deepEqual(failures, [], "every replica starts");
      const owners = await started[0]!.store.db
        .selectFrom("users")
        .select(["username", "role"])
        .where("username", "=", "admin")
        .execute();
      assert.deepEqual(owners, [{ username: "admin", role: "owner" }]);
      assert.equal(started.filter((s) => s.adminToken).length, 1, "only the first replica mints a token");
      // The same race without the servers around it: bootstraps run at once on a fresh database (the whole
      // window between "is there an owner?" and the insert is open to each of them).
      const fresh = await startPostgres();
      const store = await openStore({ postgresUrl: fresh.url });
      try {
        const tokens = await Promise.all(
          [0, 1, 2, 3, 4].map((i) => bootstrapOwner(store, new Date(), join(tmp, `replica-${i % 3}`), false)),
        );
        assert.equal(tokens.filter(Boolean).length, 1, "one owner, one first token");
      } finally {
        await store.close();
        await fresh.stop();
      }
    } finally {
      for (const s of started) await s.close();
      await pg.stop();
    }
  });
});
