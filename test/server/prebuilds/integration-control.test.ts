// Prebuilds end to end through the real server, on SQLite and PostgreSQL: failure backoff and the hard limit
// (and both ways out: a new version, `resume-preset`), pause/resume, and a schedule changing the pool size at
// its boundary. Time is the server's FakeClock; cycles are run explicitly after moving it.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { sql } from "kysely";
import { resumePreset, setPaused } from "../../../src/server/prebuilds/operations.js";
import { readCyclePlan } from "../../../src/server/prebuilds/status.js";
import { getPreset } from "../../../src/server/store/presets.js";
import { DIALECTS, dialectSkip } from "../../support/db.js";
import {
  eventually,
  HOUR,
  isDeleted,
  MINUTE,
  type PrebuildWorld,
  poolStatus,
  presetNamed,
  pushTemplate,
  reconcilerDeleteBuilds,
  runningPrebuilds,
  SECOND,
  START,
  waitForPool,
  waitForReconcilerDeletes,
  withWorld,
} from "./integration-harness.js";

const SCENARIO_TIMEOUT = 45_000;

/** Prebuild creation builds of the preset, by job outcome. */
async function creations(world: PrebuildWorld, presetId: string): Promise<{ total: number; failed: number }> {
  const { rows } = await sql<{ total: number; failed: number }>`
    select count(*) as total, sum(case when coalesce(j.error, '') <> '' then 1 else 0 end) as failed
    from workspace_builds b join provisioner_jobs j on j.id = b.job_id
    where b.preset_id = ${presetId} and b.prebuild_stage = 'create' and j.completed_at is not null`.execute(
    world.store.db,
  );
  return { total: Number(rows[0]?.total ?? 0), failed: Number(rows[0]?.failed ?? 0) };
}

async function unfinishedCreations(world: PrebuildWorld, presetId: string): Promise<number> {
  const { rows } = await sql<{ n: number }>`
    select count(*) as n from workspace_builds b join provisioner_jobs j on j.id = b.job_id
    where b.preset_id = ${presetId} and b.prebuild_stage = 'create' and j.completed_at is null`.execute(
    world.store.db,
  );
  return Number(rows[0]?.n ?? 0);
}

/** Waits until `failed` creations of the preset have failed and none is still running. */
function waitForFailedCreations(world: PrebuildWorld, presetId: string, failed: number) {
  return eventually(
    `${failed} failed creations of preset ${presetId}`,
    async () => {
      const counts = await creations(world, presetId);
      return counts.failed === failed && (await unfinishedCreations(world, presetId)) === 0
        ? counts
        : undefined;
    },
    20_000,
    () => creations(world, presetId),
  );
}

async function planActions(world: PrebuildWorld, presetId: string) {
  const plan = await readCyclePlan(world.store, world.clock.now(), world.server.reconciler.planConfig);
  return plan.presets.find((p) => p.id === presetId)?.actions ?? [];
}

async function hardLimitEvents(world: PrebuildWorld, presetId: string): Promise<number> {
  const { rows } = await sql<{ n: number }>`
    select count(*) as n from prebuild_events where preset_id = ${presetId} and event_type = 'hard_limited'`.execute(
    world.store.db,
  );
  return Number(rows[0]?.n ?? 0);
}

async function presetStatus(world: PrebuildWorld, presetId: string) {
  return (await getPreset(world.store.db, presetId))?.status;
}

for (const dialect of DIALECTS) {
  describe(`prebuild failures, pause and schedules through the real server [${dialect}]`, {
    skip: dialectSkip(dialect),
  }, () => {
    test(
      "a failing template backs off, hits the hard limit, and recovers with a new version",
      { timeout: SCENARIO_TIMEOUT },
      () =>
        withWorld(
          dialect,
          { reconcilerSettings: { hardLimit: 3, backoffIntervalMs: MINUTE } },
          async (world) => {
            const { reconciler } = world.server;
            // GIVEN a template whose apply always fails, with a preset wanting 2 prebuilds
            const v1 = await pushTemplate(world, "broken", {
              presets: [{ name: "p", instances: 2 }],
              applyFails: true,
            });
            const preset = presetNamed(v1, "p");

            // WHEN the first two creations fail (at START)
            await waitForFailedCreations(world, preset.id, 2);

            // THEN creation backs off until lastFailedAt + 2 × interval, and cycles create nothing until then
            assert.deepEqual(await planActions(world, preset.id), [
              { type: "backoff", until: new Date(START.getTime() + 2 * MINUTE) },
            ]);
            world.clock.set(new Date(START.getTime() + 2 * MINUTE)); // at `until` exactly it still waits
            await reconciler.runCycle();
            assert.deepEqual(await creations(world, preset.id), { total: 2, failed: 2 });
            assert.equal(await unfinishedCreations(world, preset.id), 0);

            // WHEN the backoff is over THEN it tries again, fails twice more, and is hard-limited once
            await world.clock.advance(1);
            await reconciler.runCycle();
            await waitForFailedCreations(world, preset.id, 4);
            await eventually("the preset to be hard-limited", async () =>
              (await presetStatus(world, preset.id)) === "hard_limited" ? true : undefined,
            );
            assert.equal(await hardLimitEvents(world, preset.id), 1);

            // AND long after any backoff, cycles still create nothing: the plan says why
            await world.clock.advance(HOUR);
            const report = await reconciler.runCycle();
            assert.equal(report.created, 0);
            assert.deepEqual(await planActions(world, preset.id), [
              { type: "blocked", reason: "hard_limited" },
            ]);
            assert.equal((await poolStatus(world, preset.id))?.status, "hard_limited");
            assert.deepEqual(await creations(world, preset.id), { total: 4, failed: 4 });
            assert.equal(await hardLimitEvents(world, preset.id), 1, "the hard limit is recorded once");

            // WHEN a fixed version is pushed and activated
            const v2 = await pushTemplate(
              world,
              "broken",
              { presets: [{ name: "p", instances: 2 }] },
              { activate: true },
            );
            const fixed = presetNamed(v2, "p");

            // THEN its preset is healthy and its pool fills
            const pool = await waitForPool(world, fixed.id, { running: 2 });
            assert.equal(pool.status, "healthy");
            assert.equal(await presetStatus(world, preset.id), "hard_limited");
          },
        ),
    );

    test(
      "a hard-limited preset stays blocked after the cause is fixed until resume-preset",
      { timeout: SCENARIO_TIMEOUT },
      () =>
        withWorld(dialect, { reconcilerSettings: { hardLimit: 2 } }, async (world) => {
          const { reconciler } = world.server;
          // GIVEN infrastructure that fails every build, and a preset wanting 2 prebuilds
          world.provisioner.failApplies = "quota exceeded";
          const pushed = await pushTemplate(world, "flaky", { presets: [{ name: "p", instances: 2 }] });
          const preset = presetNamed(pushed, "p");

          // WHEN both creations fail THEN the preset is hard-limited (limit 2)
          await waitForFailedCreations(world, preset.id, 2);
          await eventually("the preset to be hard-limited", async () =>
            (await presetStatus(world, preset.id)) === "hard_limited" ? true : undefined,
          );

          // WHEN the infrastructure recovers and the backoff is long over
          world.provisioner.failApplies = undefined;
          await world.clock.advance(10 * MINUTE);
          // THEN the preset stays blocked: nothing is created
          const report = await reconciler.runCycle();
          assert.equal(report.created, 0);
          assert.deepEqual(await creations(world, preset.id), { total: 2, failed: 2 });

          // WHEN an admin resumes the preset (this asks for a cycle by itself)
          assert.equal(
            await resumePreset(world.store, preset.id, {
              actor: world.admin,
              now: world.clock.now(),
              template: "flaky",
              preset: "p",
            }),
            "hard_limited",
          );

          // THEN it is healthy again and its pool fills
          const pool = await waitForPool(world, preset.id, { running: 2 });
          assert.equal(pool.status, "healthy");
          assert.deepEqual(await creations(world, preset.id), { total: 4, failed: 2 });
        }),
    );

    test(
      "a preset whose prebuilds cannot be valid becomes validation_failed without a build, and others carry on",
      { timeout: SCENARIO_TIMEOUT },
      () =>
        withWorld(dialect, {}, async (world) => {
          // GIVEN a template with a required parameter; preset "bare" leaves it unset, preset "eu" sets it
          const pushed = await pushTemplate(world, "needs-region", {
            parameters: [{ name: "region", required: true }],
            presets: [
              { name: "bare", instances: 2 },
              { name: "eu", instances: 1, parameters: { region: "eu" } },
            ],
          });
          const bare = presetNamed(pushed, "bare");
          const eu = presetNamed(pushed, "eu");

          // WHEN the reconciler tries to fill both pools
          await waitForPool(world, eu.id, { running: 1 });
          await eventually("preset bare to be validation_failed", async () =>
            (await presetStatus(world, bare.id)) === "validation_failed" ? true : undefined,
          );

          // THEN "bare" never got a build, stays blocked, and the other preset's pool is unaffected
          await world.server.reconciler.runCycle();
          assert.deepEqual(await creations(world, bare.id), { total: 0, failed: 0 });
          assert.equal(await unfinishedCreations(world, bare.id), 0);
          assert.deepEqual(await planActions(world, bare.id), [
            { type: "blocked", reason: "validation_failed" },
          ]);
          assert.equal((await poolStatus(world, eu.id))?.status, "healthy");
          assert.deepEqual(await creations(world, eu.id), { total: 1, failed: 0 });
        }),
    );

    test("pause stops every action and resume restarts them", { timeout: SCENARIO_TIMEOUT }, () =>
      withWorld(dialect, {}, async (world) => {
        const { reconciler } = world.server;
        // GIVEN a full pool of 2 with a one-hour TTL
        const first = await pushTemplate(world, "paused-a", {
          presets: [{ name: "p", instances: 2, ttlSeconds: 3600 }],
        });
        const existing = presetNamed(first, "p");
        await waitForPool(world, existing.id, { running: 2 });
        const originals = (await runningPrebuilds(world, existing.id)).map((p) => p.id);

        // WHEN the reconciler is paused, the pool expires and a new template wants prebuilds
        await setPaused(world.store, true, { actor: world.admin, now: world.clock.now() });
        await world.clock.advance(HOUR + SECOND);
        const second = await pushTemplate(world, "paused-b", { presets: [{ name: "q", instances: 1 }] });
        const fresh = presetNamed(second, "q");
        const report = await reconciler.runCycle();

        // THEN nothing is deleted or created, although the plan wants both
        assert.equal(report.outcome, "paused");
        assert.deepEqual([report.created, report.deleted, report.canceled], [0, 0, 0]);
        assert.deepEqual(
          (await runningPrebuilds(world, existing.id)).map((p) => p.id),
          originals,
        );
        for (const id of originals) assert.equal(await reconcilerDeleteBuilds(world, id), 0);
        assert.equal((await runningPrebuilds(world, fresh.id)).length, 0);
        assert.equal((await poolStatus(world, existing.id))?.prebuilds.expired, 2);
        assert.deepEqual(
          (await planActions(world, existing.id)).map((a) => a.type),
          ["delete", "create"],
        );

        // WHEN it is resumed (which asks for a cycle by itself)
        await setPaused(world.store, false, { actor: world.admin, now: world.clock.now() });

        // THEN the expired pool is replaced and the new one is built
        await waitForReconcilerDeletes(world, originals);
        await waitForPool(world, existing.id, { running: 2 });
        await waitForPool(world, fresh.id, { running: 1 });
      }),
    );

    test("a schedule changes the desired size at its boundary", { timeout: SCENARIO_TIMEOUT }, () =>
      withWorld(dialect, {}, async (world) => {
        const { reconciler } = world.server;
        // GIVEN a preset of 1, but 3 on weekdays from 12:00 to 13:59 in Berlin; START is Monday 11:00 there
        const pushed = await pushTemplate(world, "office-hours", {
          presets: [
            {
              name: "p",
              instances: 1,
              scheduling: {
                timezone: "Europe/Berlin",
                schedules: [{ cron: "* 12-13 * * 1-5", instances: 3 }],
              },
            },
          ],
        });
        const preset = presetNamed(pushed, "p");
        await waitForPool(world, preset.id, { running: 1 });
        const [original] = await runningPrebuilds(world, preset.id);

        // WHEN it is 11:59:59.999 in Berlin THEN the pool stays at 1
        world.clock.set(new Date(START.getTime() + HOUR - 1));
        assert.equal((await poolStatus(world, preset.id))?.prebuilds.desired, 1);
        await reconciler.runCycle();
        assert.equal((await runningPrebuilds(world, preset.id)).length, 1);

        // WHEN it turns 12:00 THEN the pool grows to 3
        await world.clock.advance(1);
        assert.equal((await poolStatus(world, preset.id))?.prebuilds.desired, 3);
        await reconciler.runCycle();
        await waitForPool(world, preset.id, { running: 3 });

        // WHEN it turns 14:00 THEN it shrinks back to 1, deleting the oldest (the original first)
        world.clock.set(new Date(START.getTime() + 3 * HOUR));
        assert.equal((await poolStatus(world, preset.id))?.prebuilds.desired, 1);
        await reconciler.runCycle();
        await waitForPool(world, preset.id, { running: 1 });
        assert.equal(await isDeleted(world, original?.id ?? ""), true);
        const [survivor] = await runningPrebuilds(world, preset.id);
        assert.equal(survivor?.createdAt, START.getTime() + HOUR);
      }),
    );
  });
}
