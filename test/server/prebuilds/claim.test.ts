// Claims against real databases: the oldest eligible prebuild is taken, ineligible ones never are, the SQL
// expiry rule agrees with the planner's to the millisecond, hits and misses are recorded, preset matching by
// parameters, and concurrency: many claimers (PostgreSQL: real parallel connections) against a small pool,
// also while a deleter races them through lockUnclaimedPrebuild.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isExpired, notExpiredSince } from "../../../src/planning/expiry.js";
import { enqueueJob } from "../../../src/server/jobs/queue.js";
import {
  claimPrebuild,
  findMatchingPreset,
  lockUnclaimedPrebuild,
} from "../../../src/server/prebuilds/claim.js";
import { PREBUILDS_USER_ID } from "../../../src/server/prebuilds/system-user.js";
import { invalidateTemplatePresets } from "../../../src/server/store/presets.js";
import type { Store } from "../../../src/server/store/store.js";
import { softDeleteTemplate, updateTemplate } from "../../../src/server/store/templates.js";
import { insertWorkspaceBuild } from "../../../src/server/store/workspaces.js";
import { DIALECTS, type DialectName, dialectSkip, forEachDialect, openTestStore } from "../../support/db.js";
import { at, HOUR, MINUTE, PoolFixture, SECOND, T0 } from "./pool-fixtures.js";

const NOW = at(2 * HOUR);

async function claim(store: Store, presetId: string, ownerId: string, name: string, now = NOW) {
  return store.transaction((tx) =>
    claimPrebuild(tx, store.dialect, { presetId, newOwnerId: ownerId, newName: name, now }),
  );
}

test("the claim's created_at bound is isExpired negated, to the millisecond", () => {
  const ttlSeconds = 3600;
  const invalidated = at(30 * MINUTE);
  const presets = [
    { ttlSeconds: 0, lastInvalidatedAt: null },
    { ttlSeconds, lastInvalidatedAt: null },
    { ttlSeconds: 0, lastInvalidatedAt: invalidated },
    { ttlSeconds, lastInvalidatedAt: invalidated },
    { ttlSeconds, lastInvalidatedAt: at(-5 * HOUR) },
  ];
  const edges = [NOW.getTime() - ttlSeconds * SECOND, invalidated.getTime(), at(-5 * HOUR).getTime(), 0];
  for (const preset of presets) {
    for (const edge of edges) {
      for (const createdAtMs of [edge - 1, edge, edge + 1]) {
        const createdAt = new Date(createdAtMs);
        assert.equal(
          createdAtMs >= notExpiredSince(preset, NOW),
          !isExpired(createdAt, preset, NOW),
          `${JSON.stringify(preset)} created ${createdAt.toISOString()}`,
        );
      }
    }
  }
});

describe("claiming a prebuild", () => {
  forEachDialect("takes the oldest eligible prebuild and hands it over", async ({ store }) => {
    // GIVEN three eligible prebuilds created at different times
    const f = await PoolFixture.create(store);
    const bob = await f.user("bob");
    const t = await f.template("dev");
    const p = await f.preset(t.versionId, { name: "small", desiredInstances: 3 });
    const middle = await f.prebuild(p, { createdAt: at(2 * MINUTE), agents: ["ready"] });
    const oldest = await f.prebuild(p, { createdAt: at(1 * MINUTE), agents: ["ready"] });
    await f.prebuild(p, { createdAt: at(3 * MINUTE), agents: ["ready"] });

    // WHEN bob claims twice
    const first = await claim(store, p, bob, "mine");
    const second = await claim(store, p, bob, "mine-too");

    // THEN he gets the oldest, then the next oldest, renamed and owned by him
    assert.equal(first?.workspaceId, oldest);
    assert.deepEqual(first?.prebuildCreatedAt, at(1 * MINUTE));
    assert.equal(first?.templateId, t.templateId);
    assert.equal(second?.workspaceId, middle);
    const row = await store.db
      .selectFrom("workspaces")
      .selectAll()
      .where("id", "=", oldest)
      .executeTakeFirstOrThrow();
    assert.equal(row.owner_id, bob);
    assert.equal(row.name, "mine");
    assert.equal(row.updated_at, NOW.getTime());
    assert.equal(row.created_at, at(1 * MINUTE).getTime(), "created_at is kept");
  });

  forEachDialect("never takes an ineligible prebuild", async ({ store }) => {
    const f = await PoolFixture.create(store);
    const bob = await f.user("bob");
    const t = await f.template("dev");
    const cases: {
      name: string;
      setup: (presetId: string) => Promise<void>;
      preset?: Record<string, unknown>;
      claimable: boolean;
    }[] = [
      {
        name: "eligible (control)",
        setup: async (p) => void (await f.prebuild(p, { agents: ["ready"] })),
        claimable: true,
      },
      { name: "agentless", setup: async (p) => void (await f.prebuild(p)), claimable: true },
      {
        name: "an agent starting",
        setup: async (p) => void (await f.prebuild(p, { agents: ["ready", "starting"] })),
        claimable: false,
      },
      {
        name: "an agent failed",
        setup: async (p) => void (await f.prebuild(p, { agents: ["start_error"] })),
        claimable: false,
      },
      {
        name: "build pending",
        setup: async (p) => void (await f.prebuild(p, { outcome: "pending" })),
        claimable: false,
      },
      {
        name: "build failed",
        setup: async (p) => void (await f.prebuild(p, { outcome: "failed" })),
        claimable: false,
      },
      {
        name: "delete queued",
        setup: async (p) => {
          const w = await f.prebuild(p);
          await f.build(w, { transition: "delete", outcome: "pending", at: at(MINUTE) });
        },
        claimable: false,
      },
      {
        name: "stopped",
        setup: async (p) => {
          const w = await f.prebuild(p);
          await f.build(w, { transition: "stop", at: at(MINUTE) });
        },
        claimable: false,
      },
      {
        name: "already claimed",
        setup: async (p) => void (await f.prebuild(p, { ownerId: bob })),
        claimable: false,
      },
      {
        name: "ttl exceeded",
        preset: { ttlSeconds: 3600 },
        setup: async (p) => void (await f.prebuild(p, { createdAt: at(HOUR - 1) })),
        claimable: false,
      },
      {
        name: "ttl exactly reached",
        preset: { ttlSeconds: 3600 },
        setup: async (p) => void (await f.prebuild(p, { createdAt: at(HOUR) })),
        claimable: true,
      },
    ];
    for (const c of cases) {
      const p = await f.preset(t.versionId, {
        name: c.name.replaceAll(" ", "-").replace(/[()]/g, ""),
        ...c.preset,
      });
      await c.setup(p);
      const got = await claim(store, p, bob, `ws-${c.name.replaceAll(" ", "-").replace(/[()]/g, "")}`);
      assert.equal(got !== null, c.claimable, c.name);
    }
  });

  forEachDialect(
    "only the active version of a live, non-deprecated template is claimed from",
    async ({ store }) => {
      const f = await PoolFixture.create(store);
      const bob = await f.user("bob");
      const t = await f.template("dev");
      const old = await f.preset(t.versionId, { name: "small" });
      await f.prebuild(old);
      const v2 = await f.version(t.templateId, { activate: true });
      assert.equal(await claim(store, old, bob, "a"), null, "inactive version");

      const fresh = await f.preset(v2, { name: "small" });
      await f.prebuild(fresh);
      await f.prebuild(fresh);
      await updateTemplate(store.db, t.templateId, { deprecated: "moved", now: T0 });
      assert.equal(await claim(store, fresh, bob, "b"), null, "deprecated template");
      await updateTemplate(store.db, t.templateId, { deprecated: "", now: T0 });
      assert.notEqual(await claim(store, fresh, bob, "c"), null, "un-deprecated again");
      await softDeleteTemplate(store.db, t.templateId, T0);
      assert.equal(await claim(store, fresh, bob, "d"), null, "deleted template");
    },
  );

  forEachDialect(
    "the SQL expiry rule agrees with the planner's isExpired at the boundaries",
    async ({ store }) => {
      const f = await PoolFixture.create(store);
      const bob = await f.user("bob");
      const t = await f.template("dev");
      const ttlSeconds = 365 * 24 * 3600; // a year: the TTL in ms overflows a 32-bit integer
      const invalidatedAt = at(HOUR);
      const cases = [
        {
          name: "ttl-minus-1ms",
          createdAt: new Date(NOW.getTime() - ttlSeconds * SECOND + 1),
          invalidate: false,
        },
        { name: "ttl-exact", createdAt: new Date(NOW.getTime() - ttlSeconds * SECOND), invalidate: false },
        {
          name: "ttl-plus-1ms",
          createdAt: new Date(NOW.getTime() - ttlSeconds * SECOND - 1),
          invalidate: false,
        },
        { name: "at-invalidation", createdAt: invalidatedAt, invalidate: true },
        { name: "before-invalidation", createdAt: new Date(invalidatedAt.getTime() - 1), invalidate: true },
      ];
      for (const c of cases) {
        const version = await f.version(t.templateId, { activate: true });
        const p = await f.preset(version, { name: c.name, ttlSeconds });
        await f.prebuild(p, { createdAt: c.createdAt, at: c.createdAt });
        if (c.invalidate) await invalidateTemplatePresets(store.db, t.templateId, invalidatedAt);
        const expired = isExpired(
          c.createdAt,
          { ttlSeconds, lastInvalidatedAt: c.invalidate ? invalidatedAt : null },
          NOW,
        );
        const got = await claim(store, p, bob, c.name);
        assert.equal(got === null, expired, `${c.name}: claimable iff not expired (isExpired=${expired})`);
      }
    },
  );

  forEachDialect("records a hit or a miss with the claim's transaction", async ({ store }) => {
    const f = await PoolFixture.create(store);
    const bob = await f.user("bob");
    const t = await f.template("dev");
    const p = await f.preset(t.versionId, { name: "small" });
    await f.prebuild(p);
    await claim(store, p, bob, "hit");
    await claim(store, p, bob, "miss");
    // A claim whose transaction rolls back leaves no event.
    await f.prebuild(p);
    await assert.rejects(
      store.transaction(async (tx) => {
        await claimPrebuild(tx, store.dialect, {
          presetId: p,
          newOwnerId: bob,
          newName: "rolled-back",
          now: NOW,
        });
        throw new Error("caller failed later");
      }),
      /caller failed later/,
    );
    const events = await store.db
      .selectFrom("prebuild_events")
      .select("event_type")
      .where("preset_id", "=", p)
      .orderBy("id")
      .execute();
    assert.deepEqual(
      events.map((e) => e.event_type),
      ["claim_succeeded", "claim_missed"],
    );
  });

  forEachDialect("lockUnclaimedPrebuild refuses a claimed or deleted workspace", async ({ store }) => {
    const f = await PoolFixture.create(store);
    const bob = await f.user("bob");
    const t = await f.template("dev");
    const p = await f.preset(t.versionId, { name: "small" });
    const unclaimed = await f.prebuild(p, { createdAt: at(1) });
    const claimed = await f.prebuild(p, { createdAt: at(2), ownerId: bob });
    const lock = (id: string) => store.transaction((tx) => lockUnclaimedPrebuild(tx, store.dialect, id));
    assert.deepEqual(await lock(unclaimed), {
      workspaceId: unclaimed,
      templateId: t.templateId,
      createdAt: at(1),
    });
    assert.equal(await lock(claimed), null);
    assert.equal(await lock("no-such-workspace"), null);
  });
});

describe("matching a preset by parameters", () => {
  forEachDialect("picks the most specific preset whose values all match", async ({ store }) => {
    const f = await PoolFixture.create(store);
    const t = await f.template("dev");
    const v = t.versionId;
    await f.preset(v, { name: "any" });
    await f.preset(v, { name: "small", parameters: { size: "s" } });
    await f.preset(v, { name: "small-eu", parameters: { size: "s", region: "eu" } });
    await f.preset(v, { name: "b-large", parameters: { size: "l" } });
    await f.preset(v, { name: "a-large", parameters: { size: "l" }, isDefault: true });
    await f.preset(v, { name: "c-gpu", parameters: { gpu: "1" } });
    await f.preset(v, { name: "b-gpu", parameters: { gpu: "1" } });
    const table: { request: Record<string, string>; want: string | null }[] = [
      { request: { size: "s", region: "eu" }, want: "small-eu" },
      { request: { size: "s", region: "us" }, want: "small" },
      { request: { size: "s" }, want: "small" },
      { request: { size: "m" }, want: "any" },
      { request: {}, want: "any" },
      { request: { size: "l" }, want: "a-large" }, // tie: the default preset wins
      { request: { gpu: "1" }, want: "b-gpu" }, // tie without a default: name order
    ];
    for (const row of table) {
      const got = await findMatchingPreset(store.db, v, row.request);
      assert.equal(got?.name ?? null, row.want, JSON.stringify(row.request));
    }
    const noPresets = await f.version(t.templateId);
    assert.equal(await findMatchingPreset(store.db, noPresets, { size: "s" }), null);
  });
});

/** Enqueues a pending delete build for the workspace inside `tx`, as the executor's delete does. */
async function enqueueDelete(
  tx: Parameters<Parameters<Store["transaction"]>[0]>[0],
  f: PoolFixture,
  workspaceId: string,
  versionId: string,
) {
  const job = await enqueueJob(tx, {
    type: "workspace_build",
    input: { workspaceBuildId: "d" },
    provisioner: "echo",
    fileId: f.fileId,
    initiatorId: PREBUILDS_USER_ID,
    now: NOW,
  });
  await insertWorkspaceBuild(tx, {
    workspaceId,
    transition: "delete",
    templateVersionId: versionId,
    initiatorId: PREBUILDS_USER_ID,
    prebuildStage: "create",
    provisionerState: null,
    jobId: job.id,
    now: NOW,
  });
}

interface ConcurrentPool {
  store: Store;
  f: PoolFixture;
  bob: string;
  versionId: string;
  presetId: string;
}

/** A store with enough connections for parallel claimers (PostgreSQL), a user and a preset wanting 20. */
async function withConcurrentPool(
  dialect: DialectName,
  fn: (pool: ConcurrentPool) => Promise<void>,
): Promise<void> {
  const ctx = await openTestStore(dialect, { poolSize: 40 });
  try {
    const f = await PoolFixture.create(ctx.store);
    const bob = await f.user("bob");
    const t = await f.template("dev");
    const presetId = await f.preset(t.versionId, { name: "small", desiredInstances: 20 });
    await fn({ store: ctx.store, f, bob, versionId: t.versionId, presetId });
  } finally {
    await ctx.cleanup();
  }
}

describe("concurrent claims", () => {
  for (const dialect of DIALECTS) {
    const options = { skip: dialectSkip(dialect), timeout: 120_000 };
    test(`100 claims against 20 prebuilds: exactly 20 distinct winners [${dialect}]`, options, () =>
      withConcurrentPool(dialect, async ({ store, f, bob, presetId: p }) => {
        // GIVEN a pool of 20 eligible prebuilds
        const pool = new Set<string>();
        for (let i = 0; i < 20; i++) pool.add(await f.prebuild(p, { createdAt: at(i), agents: ["ready"] }));

        // WHEN 100 claims run at once
        const results = await Promise.all(
          Array.from({ length: 100 }, (_, i) => claim(store, p, bob, `mine-${i}`)),
        );

        // THEN 20 distinct pool members were claimed and 80 claimers got nothing
        const won = results.filter((r) => r !== null).map((r) => r.workspaceId);
        assert.equal(won.length, 20);
        assert.equal(new Set(won).size, 20);
        assert.ok(won.every((id) => pool.has(id)));
        for (const id of won) assert.equal(await f.ownerOf(id), bob);
        const events = await store.db.selectFrom("prebuild_events").select("event_type").execute();
        assert.equal(events.filter((e) => e.event_type === "claim_succeeded").length, 20);
        assert.equal(events.filter((e) => e.event_type === "claim_missed").length, 80);
      }),
    );

    test(`claims racing a deleter never share or lose a prebuild [${dialect}]`, options, () =>
      withConcurrentPool(dialect, async ({ store, f, bob, versionId, presetId: p }) => {
        for (let round = 0; round < 5; round++) {
          // GIVEN a fresh pool of 20 eligible prebuilds that a stale snapshot wants to delete
          const pool: string[] = [];
          for (let i = 0; i < 20; i++)
            pool.push(await f.prebuild(p, { createdAt: at(round * HOUR + i), agents: ["ready"] }));

          // WHEN 100 claims (10 claimers × 10 in a row) run while 4 deleters walk the pool
          const deleted: string[] = [];
          const deleters = [0, 1, 2, 3].map(async (k) => {
            for (const id of pool.filter((_, i) => i % 4 === k).reverse()) {
              const locked = await store.transaction(async (tx) => {
                const row = await lockUnclaimedPrebuild(tx, store.dialect, id);
                if (row) await enqueueDelete(tx, f, id, versionId);
                return row !== null;
              });
              if (locked) deleted.push(id);
            }
          });
          const results = (
            await Promise.all(
              Array.from({ length: 10 }, async (_, c) => {
                const mine = [];
                for (let i = 0; i < 10; i++) mine.push(await claim(store, p, bob, `r${round}-${c}-${i}`));
                return mine;
              }),
            )
          ).flat();
          await Promise.all(deleters);

          // THEN no prebuild was claimed twice, none was both claimed and deleted, and none was lost
          const won = results.filter((r) => r !== null).map((r) => r.workspaceId);
          assert.equal(new Set(won).size, won.length, "no prebuild claimed twice");
          const deletedSet = new Set(deleted);
          assert.ok(
            won.every((id) => !deletedSet.has(id)),
            "no claimed prebuild was deleted",
          );
          assert.equal(
            won.length + deleted.length,
            pool.length,
            "every prebuild was either claimed or deleted",
          );
          const deleteBuildsOfClaimed = await store.db
            .selectFrom("workspace_builds")
            .select("workspace_id")
            .where("transition", "=", "delete")
            .where("workspace_id", "in", won.length > 0 ? won : ["-"])
            .execute();
          assert.deepEqual(deleteBuildsOfClaimed, [], "no delete build was queued for a claimed workspace");
        }
      }),
    );
  }
});
