import assert from "node:assert/strict";
import { describe } from "node:test";
import {
  isUniqueViolation,
  type UniqueConstraintName,
  uniqueViolation,
} from "../../../src/server/store/errors.js";
import { insertPresets } from "../../../src/server/store/presets.js";
import { insertTemplate, softDeleteTemplate } from "../../../src/server/store/templates.js";
import { insertUser } from "../../../src/server/store/users.js";
import { insertWorkspace, softDeleteWorkspace } from "../../../src/server/store/workspaces.js";
import { forEachDialect } from "../../support/db.js";
import { addBuild, T0, workspaceWithBuild, world } from "./fixtures.js";

// The drivers' codes for the other constraint kinds, on both dialects. Production maps only unique violations
// (store/errors.ts); these tests check that the foreign keys and CHECKs exist at all.
const codeOf = (err: unknown) => (err as { code?: unknown }).code;
const isForeignKeyViolation = (err: unknown) =>
  codeOf(err) === "23503" || codeOf(err) === "SQLITE_CONSTRAINT_FOREIGNKEY";
const isCheckViolation = (err: unknown) =>
  codeOf(err) === "23514" || codeOf(err) === "SQLITE_CONSTRAINT_CHECK";

/** Runs `fn`, expecting a unique violation; returns the constraint name both dialects report. */
async function violated(fn: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await fn();
  } catch (err) {
    return uniqueViolation(err);
  }
  assert.fail("expected a unique violation");
}

describe("constraints", () => {
  forEachDialect(
    "each unique constraint is reported by the same name on both dialects",
    async ({ store }) => {
      const w = await world(store);
      const { workspace } = await workspaceWithBuild(w, { name: "box" });
      const cases: { name: string; constraint: UniqueConstraintName; run: () => Promise<unknown> }[] = [
        {
          name: "username, case-insensitively",
          constraint: "users_username_key",
          run: () => insertUser(store.db, { username: "ALICE", role: "member", now: T0 }),
        },
        {
          name: "live template name",
          constraint: "templates_name_live_key",
          run: () => insertTemplate(store.db, { name: "dev", createdBy: w.alice.id, now: T0 }),
        },
        {
          name: "live workspace name per owner",
          constraint: "workspaces_owner_name_live_key",
          run: () =>
            insertWorkspace(store.db, {
              ownerId: w.alice.id,
              templateId: w.template.id,
              name: "box",
              now: T0,
            }),
        },
        {
          name: "build number per workspace",
          constraint: "workspace_builds_number_key",
          run: () => addBuild(store.db, w, workspace.id, { buildNumber: 1 }),
        },
        {
          name: "preset name per version",
          constraint: "presets_version_name_key",
          run: () =>
            insertPresets(
              store.db,
              w.version.id,
              [
                { name: "p", desiredInstances: null },
                { name: "p", desiredInstances: 1 },
              ],
              T0,
            ),
        },
        {
          name: "one default preset per version",
          constraint: "presets_one_default_key",
          run: () =>
            insertPresets(
              store.db,
              w.version.id,
              [
                { name: "a", isDefault: true, desiredInstances: null },
                { name: "b", isDefault: true, desiredInstances: null },
              ],
              T0,
            ),
        },
      ];
      for (const c of cases) {
        const name = await violated(c.run);
        assert.equal(name, c.constraint, c.name);
      }
    },
  );

  forEachDialect(
    "a violation is recognised by isUniqueViolation, with and without a constraint name",
    async ({ store }) => {
      await insertUser(store.db, { username: "bob", role: "member", now: T0 });
      const err = await insertUser(store.db, { username: "bob", role: "member", now: T0 }).catch((e) => e);
      assert.equal(isUniqueViolation(err), true);
      assert.equal(isUniqueViolation(err, "users_username_key"), true);
      assert.equal(isUniqueViolation(err, "templates_name_live_key"), false);
      assert.equal(isUniqueViolation(new Error("something else")), false);
      assert.equal(isForeignKeyViolation(err), false);
    },
  );

  forEachDialect("foreign key and check violations are recognised", async ({ store }) => {
    const fk = await insertWorkspace(store.db, {
      ownerId: "nobody",
      templateId: "none",
      name: "x",
      now: T0,
    }).catch((e) => e);
    assert.equal(isForeignKeyViolation(fk), true);
    const check = await insertUser(store.db, { username: "carol", role: "admin" as never, now: T0 }).catch(
      (e) => e,
    );
    assert.equal(isCheckViolation(check), true);
  });

  forEachDialect("a workspace name can be reused after the workspace is deleted", async ({ store }) => {
    // GIVEN alice's workspace "box", deleted
    const w = await world(store);
    const { workspace: first } = await workspaceWithBuild(w, { name: "box" });
    assert.equal(await softDeleteWorkspace(store.db, first.id, T0), true);

    // WHEN she creates another "box"
    const second = await insertWorkspace(store.db, {
      ownerId: w.alice.id,
      templateId: w.template.id,
      name: "box",
      now: T0,
    });

    // THEN it exists next to the deleted one; another owner may also use the name
    assert.notEqual(second.id, first.id);
    const bob = await insertUser(store.db, { username: "bob", role: "member", now: T0 });
    await insertWorkspace(store.db, { ownerId: bob.id, templateId: w.template.id, name: "box", now: T0 });
    assert.equal(await softDeleteWorkspace(store.db, first.id, T0), false, "deleting twice changes nothing");
  });

  forEachDialect("a template name can be reused after the template is deleted", async ({ store }) => {
    const w = await world(store);
    assert.equal(await softDeleteTemplate(store.db, w.template.id, T0), true);
    const again = await insertTemplate(store.db, { name: "dev", createdBy: w.alice.id, now: T0 });
    assert.notEqual(again.id, w.template.id);
  });
});
