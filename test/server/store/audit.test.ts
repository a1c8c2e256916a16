// The audit log's table and its transaction guarantee, on both dialects: an entry commits or rolls back with
// the action it records (both ways), pages walk entries with equal times by id without gaps or repeats, and an
// entry keeps the actor's name after the user is gone.
import assert from "node:assert/strict";
import { sql } from "kysely";
import { audit, readAuditPage } from "../../../src/server/audit.js";
import { setPaused } from "../../../src/server/prebuilds/operations.js";
import { readPaused } from "../../../src/server/prebuilds/queries.js";
import { listAuditEntries } from "../../../src/server/store/audit.js";
import type { Store } from "../../../src/server/store/store.js";
import { insertUser } from "../../../src/server/store/users.js";
import { forEachDialect } from "../../support/db.js";

const NOW = new Date("2026-01-05T10:00:00Z");
const ADMIN = { id: "admin-id", username: "admin" };

/** Makes every insert into audit_log fail, as a full disk or a broken constraint would. */
async function refuseAuditWrites(store: Store): Promise<void> {
  if (store.dialect === "sqlite") {
    await sql`create trigger audit_refused before insert on audit_log begin select raise(abort, 'audit refused'); end`.execute(
      store.db,
    );
    return;
  }
  await sql`create function audit_refused() returns trigger language plpgsql as $$ begin raise exception 'audit refused'; end $$`.execute(
    store.db,
  );
  await sql`create trigger audit_refused before insert on audit_log for each row execute function audit_refused()`.execute(
    store.db,
  );
}

forEachDialect(
  "GIVEN the audit entry cannot be written WHEN an owner pauses THEN the pause is not made",
  async ({ store }) => {
    await refuseAuditWrites(store);
    await assert.rejects(setPaused(store, true, { actor: ADMIN, now: NOW }), /audit refused/);
    assert.equal(await readPaused(store.db), false);
  },
);

forEachDialect(
  "GIVEN an action that fails after its entry is written THEN the entry rolls back with it",
  async ({ store }) => {
    await assert.rejects(
      store.transaction(async (tx) => {
        await audit(tx, NOW, { actor: ADMIN, action: "prebuilds.pause", target: "prebuilds" });
        throw new Error("the action failed");
      }),
      /the action failed/,
    );
    assert.deepEqual(await listAuditEntries(store.db, { limit: 10 }), []);
  },
);

forEachDialect(
  "GIVEN entries with equal times THEN pages of 2 walk them all newest first, by id",
  async ({ store }) => {
    for (let i = 0; i < 5; i++)
      await audit(store.db, i < 3 ? NOW : new Date(NOW.getTime() + 1000), {
        actor: ADMIN,
        action: "template.push",
        target: `template/t${i}`,
      });
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await readAuditPage(store.db, NOW, { limit: 2, cursor });
      seen.push(...page.entries.map((e) => e.target));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    assert.deepEqual(seen, ["template/t4", "template/t3", "template/t2", "template/t1", "template/t0"]);
  },
);

forEachDialect("GIVEN a user who acted is deleted THEN the entry still names them", async ({ store }) => {
  const user = await insertUser(store.db, { username: "gone", role: "owner", now: NOW });
  await audit(store.db, NOW, { actor: user, action: "prebuilds.resume", target: "prebuilds" });
  await store.db.deleteFrom("users").where("id", "=", user.id).execute();
  const [entry] = await listAuditEntries(store.db, { actor: "GONE", limit: 10 });
  assert.equal(entry?.actorName, "gone");
  assert.equal(entry?.outcome, "success");
});
