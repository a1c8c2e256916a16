// Claims that deliver what they promise, through the real server on SQLite and PostgreSQL: a create without
// --preset claims only from a preset whose resolved values equal the request's (no over-match, no
// under-match), prefers a preset with an eligible prebuild, then the default; a --preset that contradicts a
// parameter is refused naming it; a taken name is a conflict on `name` on the claim path too; cleaning up an
// outdated version cancels only its pending creations, never a queued delete.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { sql } from "kysely";
import { DomainError } from "../../../src/server/domain-errors.js";
import { setPaused } from "../../../src/server/prebuilds/operations.js";
import { getJob } from "../../../src/server/store/jobs.js";
import { getWorkspace } from "../../../src/server/store/workspaces.js";
import { activateVersion } from "../../../src/server/templates/service.js";
import { createWorkspace } from "../../../src/server/workspaces/service.js";
import { DIALECTS, dialectSkip } from "../../support/db.js";
import {
  createMember,
  eventually,
  HOUR,
  isDeleted,
  presetNamed,
  pushTemplate,
  runningPrebuilds,
  waitForJob,
  waitForPool,
  waitForRehearsal,
  withWorld,
} from "./integration-harness.js";

const SCENARIO_TIMEOUT = 60_000;

/** The error a service call rejected with (a DomainError is expected). */
async function rejection(promise: Promise<unknown>): Promise<DomainError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof DomainError, `expected a DomainError, got ${err}`);
    return err;
  }
  assert.fail("expected the call to fail");
}

for (const dialect of DIALECTS) {
  describe(`claims through the real server [${dialect}]`, { skip: dialectSkip(dialect) }, () => {
    test(
      "a create without --preset claims only from a preset its resolved values equal",
      { timeout: SCENARIO_TIMEOUT },
      () =>
        withWorld(dialect, {}, async (world) => {
          // GIVEN parameters region (default us) and size (default small), and three pools of one:
          // "us" fixes region=us, "plain" fixes nothing, "eu-big" fixes region=eu and size=big
          const pushed = await pushTemplate(world, "match", {
            parameters: [
              { name: "region", defaultValue: "us" },
              { name: "size", defaultValue: "small" },
            ],
            presets: [
              { name: "us", instances: 1, parameters: { region: "us" } },
              { name: "plain", instances: 1 },
              { name: "eu-big", instances: 1, parameters: { region: "eu", size: "big" } },
            ],
          });
          const [us, plain, euBig] = ["us", "plain", "eu-big"].map((n) => presetNamed(pushed, n));
          for (const p of [us, plain, euBig]) await waitForPool(world, p!.id, { running: 1 });
          // (paused from here on, so a claimed pool is not refilled while the test looks)
          await setPaused(world.store, true, { actor: world.admin, now: world.clock.now() });
          const user = await createMember(world, "mia");
          const create = (name: string, parameters: Record<string, string> = {}, preset?: string) =>
            createWorkspace(world.server.ctx, user, { name, template: "match", parameters, preset });

          // WHEN a create asks for size=big in the US THEN nothing matches: "us" was built with size=small
          const big = await create("big", { region: "us", size: "big" });
          assert.equal(big.claimedPrebuild, false);
          assert.equal(big.presetId, null);

          // WHEN a create gives no parameters THEN it matches every all-defaults preset and claims from the
          // first by name that has an eligible prebuild ("plain"), then from the next ("us")
          const first = await create("first");
          assert.deepEqual([first.claimedPrebuild, first.presetId], [true, plain!.id]);
          const second = await create("second", { region: "us", size: "small" });
          assert.deepEqual([second.claimedPrebuild, second.presetId], [true, us!.id]);
          // AND once neither has one it is a miss recorded against the preferred preset
          const third = await create("third");
          assert.deepEqual([third.claimedPrebuild, third.presetId], [false, plain!.id]);

          // WHEN the values equal "eu-big"'s THEN it claims from "eu-big"
          const eu = await create("eu", { size: "big", region: "eu" });
          assert.deepEqual([eu.claimedPrebuild, eu.presetId], [true, euBig!.id]);

          // WHEN --preset contradicts a parameter THEN the request is refused, naming the parameter
          const contradicted = await rejection(create("bad", { size: "small" }, "eu-big"));
          assert.deepEqual([contradicted.kind, contradicted.field], ["invalid", "size"]);
          assert.match(contradicted.message, /size/);

          // AND the claims and the miss are what the prebuild events recorded
          const { rows } = await sql<{ name: string; event_type: string }>`
            select p.name, e.event_type from prebuild_events e join presets p on p.id = e.preset_id
            where e.event_type in ('claim_succeeded', 'claim_missed') order by e.id`.execute(world.store.db);
          assert.deepEqual(
            rows.map((r) => [r.name, r.event_type]),
            [
              ["plain", "claim_succeeded"],
              ["us", "claim_succeeded"],
              ["plain", "claim_missed"],
              ["eu-big", "claim_succeeded"],
            ],
          );
        }),
    );

    test(
      "a taken name on the claim path is a conflict on `name` and leaves the pool alone",
      { timeout: SCENARIO_TIMEOUT },
      () =>
        withWorld(dialect, {}, async (world) => {
          // GIVEN a workspace named "taken" and a full pool of one
          const pushed = await pushTemplate(world, "names", { presets: [{ name: "dev", instances: 1 }] });
          const dev = presetNamed(pushed, "dev");
          await waitForPool(world, dev.id, { running: 1 });
          const user = await createMember(world, "noa");
          // (no parameters: all defaults, which are the preset's values — so this claims the prebuild)
          const existing = await createWorkspace(world.server.ctx, user, {
            name: "taken",
            template: "names",
          });
          assert.equal(existing.claimedPrebuild, true);
          await waitForPool(world, dev.id, { running: 1 });
          const [prebuild] = await runningPrebuilds(world, dev.id);
          const prebuildName = (await getWorkspace(world.store.db, prebuild!.id))?.name;

          // WHEN the same user creates "taken" again with the preset
          const err = await rejection(
            createWorkspace(world.server.ctx, user, { name: "taken", template: "names", preset: "dev" }),
          );

          // THEN a conflict naming the field, and the prebuild is still unclaimed
          assert.deepEqual([err.kind, err.field], ["conflict", "name"]);
          assert.match(err.message, /already have a workspace named "taken"/);
          assert.equal((await getWorkspace(world.store.db, prebuild!.id))?.name, prebuildName);
          assert.deepEqual(
            (await runningPrebuilds(world, dev.id)).map((p) => p.id),
            [prebuild!.id],
          );
        }),
    );

    test(
      "cleaning up an outdated version cancels its pending creations but never its queued delete",
      { timeout: SCENARIO_TIMEOUT },
      () =>
        withWorld(dialect, { daemons: 2 }, async (world) => {
          const { reconciler } = world.server;
          // GIVEN v1 with a pool of one whose prebuild has a 1 h TTL (2 daemons: an in-flight cap of 2)
          const v1 = await pushTemplate(world, "ttl", {
            presets: [{ name: "p", instances: 1, ttlSeconds: 3600 }],
            marker: "1",
          });
          const p1 = presetNamed(v1, "p");
          await waitForPool(world, p1.id, { running: 1 });
          // (its claim rehearsal, a prebuild job too, done so it holds no in-flight slot below)
          await waitForRehearsal(world, p1.id);
          const [expiring] = await runningPrebuilds(world, p1.id);
          const v2 = await pushTemplate(world, "ttl", {
            presets: [{ name: "p", instances: 1, ttlSeconds: 3600 }],
            marker: "2",
          });
          // AND both daemons busy with users' builds (of another template) that do not finish yet
          await pushTemplate(world, "other", { presets: [] });
          let finish: () => void = () => {};
          world.provisioner.holdApplies = new Promise<void>((resolve) => {
            finish = resolve;
          });
          const user = await createMember(world, "ola");
          for (const name of ["busy1", "busy2"]) {
            const busy = await createWorkspace(world.server.ctx, user, { name, template: "other" });
            await eventually(`${name}'s build to be running`, async () =>
              (await getJob(world.store.db, busy.job.id))?.status === "running" ? true : undefined,
            );
          }
          // AND the prebuild expired: the next cycle queues its delete and a replacement behind the busy daemon
          await world.clock.advance(HOUR + 1);
          await reconciler.runCycle();
          const queued = async (transition: string) => {
            const { rows } = await sql<{ job_id: string; workspace_id: string }>`
              select b.job_id, b.workspace_id from workspace_builds b join provisioner_jobs j on j.id = b.job_id
              where b.preset_id = ${p1.id} and b.transition = ${transition} and j.completed_at is null`.execute(
              world.store.db,
            );
            return rows;
          };
          const [remove] = await queued("delete");
          const creations = (await queued("start")).filter((r) => r.workspace_id !== expiring!.id);
          assert.equal(remove?.workspace_id, expiring!.id);
          assert.equal(creations.length, 1);

          // WHEN v2 becomes active and a cycle cleans up v1
          await activateVersion(world.server.ctx, world.admin, "ttl", v2.version.name);
          const report = await reconciler.runCycle();

          // THEN v1's pending creation is canceled and its workspace gone, but the delete is still queued
          assert.equal(report.canceled, 1);
          assert.equal((await getJob(world.store.db, creations[0]!.job_id))?.status, "canceled");
          assert.equal(await isDeleted(world, creations[0]!.workspace_id), true);
          assert.equal((await getJob(world.store.db, remove!.job_id))?.status, "pending");
          // AND once the daemon is free the delete runs: the expired prebuild's infrastructure is torn down
          finish();
          assert.equal(await waitForJob(world, remove!.job_id), "succeeded");
          assert.equal(await isDeleted(world, expiring!.id), true);
        }),
    );
  });
}
