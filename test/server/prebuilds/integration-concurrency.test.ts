// Claims under load through the real server, on SQLite and PostgreSQL (4 daemons):
//   1. 100 concurrent creates against a pool of 20 ready prebuilds: exactly 20 claims of 20 distinct prebuilds
//      and 80 normal builds;
//   2. the same while the reconciler is deleting the pool's expired prebuilds: no claimed workspace is ever
//      deleted by the reconciler or handed out twice, and no expired prebuild is handed out;
//   3. the same while a second reconciler whose clock runs ahead deletes the very prebuilds the claims take
//      (both go oldest first): the delete's re-check inside its transaction is what keeps a claimed workspace
//      alive (§5 rule 8).
// The template has an agent, so a prebuild only becomes eligible once the test marks its agent ready: prebuilds
// the reconciler builds DURING a burst can never be claimed in it, which makes the expected counts exact.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { sql } from "kysely";
import { setPaused } from "../../../src/server/prebuilds/operations.js";
import { Reconciler } from "../../../src/server/prebuilds/reconciler.js";
import { PREBUILDS_USER_ID } from "../../../src/server/prebuilds/system-user.js";
import type { User } from "../../../src/server/store/users.js";
import {
  type CreatedWorkspace,
  createPrebuildExecutor,
  createWorkspace,
} from "../../../src/server/workspaces/service.js";
import { DIALECTS, dialectSkip } from "../../support/db.js";
import { FakeClock } from "../../support/fake-clock.js";
import {
  createMember,
  eventually,
  MINUTE,
  markPrebuildAgentsReady,
  type PrebuildWorld,
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

const POOL = 20;
const CREATES = 100;
const TTL_SECONDS = 3600;

/** `count` creates at once with the preset, spread over the users, named `<prefix>-<i>`. */
function createMany(
  world: PrebuildWorld,
  users: User[],
  prefix: string,
  count: number,
): Promise<CreatedWorkspace[]> {
  return Promise.all(
    Array.from({ length: count }, (_, i) =>
      createWorkspace(world.server.ctx, users[i % users.length] as User, {
        name: `${prefix}-${i}`,
        template: "crowd",
        preset: "p",
      }),
    ),
  );
}

/** Fills the pool to POOL ready prebuilds (marking the agents ready as their agent process would). */
async function readyPool(world: PrebuildWorld, presetId: string): Promise<void> {
  await waitForPool(world, presetId, { running: POOL, eligible: 0 }, 40_000);
  assert.equal(await markPrebuildAgentsReady(world), POOL);
  await waitForPool(world, presetId, { running: POOL });
}

/** Workspaces owned by someone else than the prebuilds user that have a delete build the reconciler started. */
async function claimedWorkspacesDeletedByReconciler(world: PrebuildWorld): Promise<string[]> {
  const { rows } = await sql<{ id: string }>`
    select distinct w.id from workspaces w join workspace_builds b on b.workspace_id = w.id
    where w.owner_id <> ${PREBUILDS_USER_ID} and b.transition = 'delete' and b.initiator_id = ${PREBUILDS_USER_ID}`.execute(
    world.store.db,
  );
  return rows.map((r) => r.id);
}

async function claimEvents(world: PrebuildWorld): Promise<{ hits: number; misses: number }> {
  const { rows } = await sql<{ event_type: string; n: number }>`
    select event_type, count(*) as n from prebuild_events
    where event_type in ('claim_succeeded', 'claim_missed') group by event_type`.execute(world.store.db);
  const count = (type: string) => Number(rows.find((r) => r.event_type === type)?.n ?? 0);
  return { hits: count("claim_succeeded"), misses: count("claim_missed") };
}

function claimedIds(results: CreatedWorkspace[]): string[] {
  return results.filter((r) => r.claimedPrebuild).map((r) => r.workspace.id);
}

/** Claims and reconciler deletions of `members`: every member is claimed exactly once or deleted, never both. */
async function assertClaimedXorDeleted(
  world: PrebuildWorld,
  members: Set<string>,
  claimed: string[],
): Promise<number> {
  assert.equal(new Set(claimed).size, claimed.length, "no prebuild handed out twice");
  for (const id of claimed) assert.ok(members.has(id), `claimed ${id} was not in the pool`);
  const unclaimed = [...members].filter((id) => !claimed.includes(id));
  await waitForReconcilerDeletes(world, unclaimed, 30_000);
  for (const id of claimed) assert.equal(await reconcilerDeleteBuilds(world, id), 0, `claimed ${id} deleted`);
  assert.deepEqual(await claimedWorkspacesDeletedByReconciler(world), []);
  return unclaimed.length;
}

/**
 * Runs reconciliation cycles back to back until `burst` settles, then one more. Returns how many ran during the
 * burst and how many deletions found their prebuild claimed meanwhile (the re-check of §5 rule 8 at work).
 */
async function cyclesDuring<T>(
  reconciler: Reconciler,
  burst: Promise<T>,
): Promise<{ value: T; cycles: number; deleteSkipped: number }> {
  let bursting = true;
  let deleteSkipped = 0;
  const cycle = async () => {
    const report = await reconciler.runCycle();
    assert.equal(report.errors.length, 0, JSON.stringify(report.errors));
    deleteSkipped += report.deleteSkipped;
    return report;
  };
  const loop = (async () => {
    let ran = 0;
    while (bursting || ran === 0) {
      await cycle();
      ran++;
    }
    return ran;
  })();
  const value = await burst.finally(() => {
    bursting = false;
  });
  const cycles = await loop;
  // One full cycle after the burst (another reconciler may hold the leadership for a moment).
  await eventually("a reconciliation cycle as leader", async () =>
    (await cycle()).outcome === "ran" ? true : undefined,
  );
  return { value, cycles, deleteSkipped };
}

async function setup(world: PrebuildWorld): Promise<{ users: User[]; presetId: string }> {
  const users = await Promise.all(Array.from({ length: 10 }, (_, i) => createMember(world, `user${i}`)));
  const pushed = await pushTemplate(world, "crowd", {
    presets: [{ name: "p", instances: POOL, ttlSeconds: TTL_SECONDS }],
    agent: true,
  });
  return { users, presetId: presetNamed(pushed, "p").id };
}

const TIMEOUT = 60_000;

for (const dialect of DIALECTS) {
  describe(`concurrent claims through the real server [${dialect}]`, { skip: dialectSkip(dialect) }, () => {
    test(
      "100 concurrent creates against a pool of 20 give exactly 20 distinct claims and 80 normal builds",
      {
        timeout: TIMEOUT,
      },
      () =>
        withWorld(dialect, { daemons: 4 }, async (world) => {
          // GIVEN a pool of 20 ready prebuilds
          const { users, presetId } = await setup(world);
          await readyPool(world, presetId);
          const pool = new Set((await runningPrebuilds(world, presetId)).map((p) => p.id));

          // WHEN 100 creates with the preset run at once (the reconciler paused, so the burst meets exactly the
          // 20 prebuilds of the GIVEN: refills are not part of this count)
          await setPaused(world.store, true, { actor: world.admin, now: world.clock.now() });
          const burst = await createMany(world, users, "first", CREATES);

          // THEN exactly 20 claims, of 20 distinct pool members, and 80 normal builds
          const claimed = claimedIds(burst);
          assert.equal(claimed.length, POOL);
          assert.equal(new Set(claimed).size, POOL, "no prebuild handed out twice");
          assert.ok(
            claimed.every((id) => pool.has(id)),
            "claims come from the pool",
          );
          const misses = burst.filter((r) => !r.claimedPrebuild);
          assert.equal(misses.length, CREATES - POOL);
          assert.ok(misses.every((r) => !pool.has(r.workspace.id) && r.build.prebuildStage === "none"));
          burst.forEach((r, i) => {
            assert.equal(r.workspace.ownerId, users[i % users.length]?.id);
            assert.equal(r.workspace.name, `first-${i}`);
          });
          assert.deepEqual(await claimEvents(world), { hits: POOL, misses: CREATES - POOL });
          assert.equal((await runningPrebuilds(world, presetId)).length, 0);
        }),
    );

    test(
      "claims never take the expired prebuilds the reconciler is deleting meanwhile",
      { timeout: TIMEOUT },
      () =>
        withWorld(dialect, { daemons: 4 }, async (world) => {
          // GIVEN a pool of 20 ready prebuilds: 10 built at START, 10 built ten minutes later (claims took the
          // other half of the START ones and the pool refilled)
          const { users, presetId } = await setup(world);
          await readyPool(world, presetId);
          await world.clock.advance(10 * MINUTE);
          const half = await createMany(world, users, "half", POOL / 2);
          assert.equal(claimedIds(half).length, POOL / 2);
          await waitForPool(world, presetId, { running: POOL, eligible: POOL / 2 });
          assert.equal(await markPrebuildAgentsReady(world), POOL / 2);
          await waitForPool(world, presetId, { running: POOL });
          const pool = await runningPrebuilds(world, presetId);
          const old = new Set(pool.filter((p) => p.createdAt === START.getTime()).map((p) => p.id));
          const young = new Set(
            pool.filter((p) => p.createdAt === START.getTime() + 10 * MINUTE).map((p) => p.id),
          );
          assert.deepEqual([old.size, young.size], [POOL / 2, POOL / 2]);

          // WHEN the START ones are past their TTL and 100 creates run while reconciliation cycles run back to
          // back, deleting the expired ones (the oldest: what a claim would take first if it ignored expiry)
          world.clock.set(new Date(START.getTime() + TTL_SECONDS * SECOND + SECOND));
          const { value: burst, cycles } = await cyclesDuring(
            world.server.reconciler,
            createMany(world, users, "second", CREATES),
          );
          assert.ok(cycles > 0);

          // THEN exactly the 10 non-expired ones are claimed, each once, and the other 90 creates are normal builds
          const claimed = claimedIds(burst);
          assert.deepEqual(new Set(claimed), young);
          assert.equal(burst.filter((r) => !r.claimedPrebuild).length, CREATES - POOL / 2);
          // AND every expired one is deleted by the reconciler, and no claimed workspace ever got a delete build
          assert.equal(await assertClaimedXorDeleted(world, new Set([...old, ...young]), claimed), POOL / 2);
        }),
    );

    test(
      "claims racing a replica that deletes the same prebuilds as expired never lose a workspace to it",
      { timeout: TIMEOUT },
      (t) =>
        withWorld(dialect, { daemons: 4 }, async (world) => {
          // GIVEN a pool of 20 ready prebuilds built at START, and a second reconciler (another replica) whose
          // clock runs an hour ahead, so that to it the whole pool is expired while claims still see it fresh
          const { users, presetId } = await setup(world);
          await readyPool(world, presetId);
          const pool = new Set((await runningPrebuilds(world, presetId)).map((p) => p.id));
          const replica = new Reconciler({
            store: world.store,
            executor: createPrebuildExecutor(world.server.ctx),
            maxInFlightJobs: 4,
            clock: new FakeClock(new Date(START.getTime() + TTL_SECONDS * SECOND + SECOND)),
            listen: false,
          });

          // WHEN 100 creates run while the replica's cycles run back to back: both take the oldest first, so
          // its deletions and the claims go for the same prebuilds at the same time
          const { value: burst, deleteSkipped } = await cyclesDuring(
            replica,
            createMany(world, users, "third", CREATES),
          );

          // THEN each pool member was either claimed once or deleted by the reconciler, never both
          const claimed = claimedIds(burst);
          assert.equal(burst.filter((r) => !r.claimedPrebuild).length, CREATES - claimed.length);
          const deleted = await assertClaimedXorDeleted(world, pool, claimed);
          t.diagnostic(
            `${claimed.length} claimed, ${deleted} deleted as expired, ${deleteSkipped} deletions found their prebuild claimed meanwhile`,
          );
        }),
    );
  });
}
