// The prebuild executor's `invalid` answer, which makes the reconciler persist the preset as
// `validation_failed` (no more prebuilds until a new version or resume-preset). Only a preset value that does
// not fit its parameter may produce it; any other failure while creating prebuilds must reject instead, so
// the reconciler reports it as the cycle's error and tries again next cycle.
import assert from "node:assert/strict";
import { describe } from "node:test";
import { sql } from "kysely";
import type { ServerContext } from "../../../src/server/context.js";
import { silentLogger } from "../../../src/server/logger.js";
import { PREBUILDS_USER_ID } from "../../../src/server/prebuilds/system-user.js";
import { insertPresets } from "../../../src/server/store/presets.js";
import type { Store } from "../../../src/server/store/store.js";
import {
  insertTemplateVersionParameters,
  setTemplateVersionWorkspaceTags,
  type TemplateParameter,
} from "../../../src/server/store/templates.js";
import { listWorkspaces } from "../../../src/server/store/workspaces.js";
import { createPrebuildExecutor } from "../../../src/server/workspaces/service.js";
import { forEachDialect } from "../../support/db.js";
import { FakeClock } from "../../support/fake-clock.js";
import { T0, world } from "../store/fixtures.js";

const cpus: TemplateParameter = {
  name: "cpus",
  displayName: "CPUs",
  description: "",
  type: "number",
  formType: "input",
  mutable: true,
  defaultValue: "2",
  icon: "",
  options: [],
  validationRegex: "",
  validationError: "",
  validationMin: 1,
  validationMax: 8,
  validationMonotonic: "",
  required: false,
  displayOrder: 0,
  ephemeral: false,
};

/** Template "dev" (active version v1 with parameter `cpus`) and a prebuild preset setting cpus to `value`. */
async function presetWithCpus(store: Store, value: string) {
  const w = await world(store);
  await insertTemplateVersionParameters(store.db, w.version.id, [cpus]);
  const [preset] = await insertPresets(
    store.db,
    w.version.id,
    [{ name: "small", desiredInstances: 1, parameters: { cpus: value } }],
    T0,
  );
  assert.ok(preset);
  const ctx: ServerContext = {
    store,
    clock: new FakeClock(T0),
    logger: silentLogger,
    accessUrl: "http://127.0.0.1:7080",
    events: { reconcileSoon: () => {}, claimBuilt: () => {}, claimUsable: () => {} },
  };
  return { ...w, preset, executor: createPrebuildExecutor(ctx) };
}

const prebuildCount = async (store: Store) =>
  (await listWorkspaces(store.db, { ownerId: PREBUILDS_USER_ID })).length;

describe("prebuild executor: what counts as an invalid preset", () => {
  forEachDialect(
    "GIVEN a preset value that does not fit its parameter THEN creation answers invalid",
    async ({ store }) => {
      const { preset, executor } = await presetWithCpus(store, "lots");

      const result = await executor.createPrebuilds(preset.id, 1);

      assert.deepEqual(result, { created: 0, invalid: 'parameter "cpus": "lots" is not a number' });
      assert.equal(await prebuildCount(store), 0);
    },
  );

  forEachDialect("GIVEN a valid preset THEN creation creates and answers no invalid", async ({ store }) => {
    const { preset, executor } = await presetWithCpus(store, "4");

    assert.deepEqual(await executor.createPrebuilds(preset.id, 2), { created: 2 });
    assert.equal(await prebuildCount(store), 2);
  });

  forEachDialect(
    "GIVEN a corrupt parameter row (options JSON null) WHEN resolving the values fails with a TypeError THEN creation rejects instead of answering invalid",
    async ({ store }) => {
      const { preset, version, executor } = await presetWithCpus(store, "4");
      // Not the preset's fault: a row the server wrote wrong (or a bug) must not disable the preset for good.
      await sql`update template_version_parameters set options = 'null' where template_version_id = ${version.id}`.execute(
        store.db,
      );

      await assert.rejects(executor.createPrebuilds(preset.id, 1), TypeError);
      assert.equal(await prebuildCount(store), 0);
    },
  );

  forEachDialect(
    "GIVEN the database fails while a prebuild is created THEN creation rejects instead of answering invalid",
    async ({ store }) => {
      const { preset, executor } = await presetWithCpus(store, "4");
      // The build's parameter values go to this table inside the creation's transaction.
      await sql`drop table workspace_build_parameters`.execute(store.db);

      await assert.rejects(executor.createPrebuilds(preset.id, 1), /workspace_build_parameters/);
      assert.equal(await prebuildCount(store), 0, "the failed creation's transaction rolled back");
    },
  );

  forEachDialect(
    "GIVEN workspace tags THEN a prebuild's job carries them as evaluated for the prebuilds user; one that cannot be evaluated answers invalid",
    async ({ store }) => {
      const { preset, version, executor } = await presetWithCpus(store, "4");
      const recipe = '(data.coder_workspace_owner.me.name == "prebuilds" ? 1 : 0) > 0 ? ("true") : null';
      await setTemplateVersionWorkspaceTags(store.db, version.id, {
        is_prebuild: recipe,
        cpus: "data.coder_parameter.cpus.value",
      });

      assert.deepEqual(await executor.createPrebuilds(preset.id, 1), { created: 1 });
      const [job] = await store.db
        .selectFrom("provisioner_jobs")
        .select("tags")
        .where("is_prebuild", "=", 1)
        .execute();
      assert.equal(job?.tags, '{"cpus":"4","is_prebuild":"true","owner":"","scope":"organization"}');

      // A tag referring to nothing the build has fails every creation alike: the preset's fault (its template's)
      await setTemplateVersionWorkspaceTags(store.db, version.id, { zone: "var.zone" });
      assert.deepEqual(await executor.createPrebuilds(preset.id, 2), {
        created: 0,
        invalid: 'workspace tag "zone": unknown reference var.zone (in var.zone)',
      });
      assert.equal(await prebuildCount(store), 1, "the refused creation left nothing behind");
    },
  );
});
