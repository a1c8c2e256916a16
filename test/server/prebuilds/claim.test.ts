// Claims against real databases: the oldest eligible prebuild is taken, ineligible ones never are, the SQL
// expiry rule agrees with the planner's to the millisecond, hits and misses are recorded, preset matching by
// parameters, and concurrency: many claimers (PostgreSQL: real parallel connections) against a small pool,
// also while a deleter races them through lockUnclaimedPrebuild.
import assert from "node:assert/strict";
import { describe } from "node:test";
import { isExpired } from "../../../src/planning/plan.js";
import { claimPrebuild, lockUnclaimedPrebuild } from "../../../src/server/prebuilds/claim.js";
import { invalidateTemplatePresets } from "../../../src/server/store/presets.js";
import type { Store } from "../../../src/server/store/store.js";
import { softDeleteTemplate, updateTemplate } from "../../../src/server/store/templates.js";
import { forEachDialect } from "../../support/db.js";
import { at, HOUR, MINUTE, PoolFixture, SECOND, T0 } from "./pool-fixtures.js";

const NOW = at(2 * HOUR);

async function claim(store: Store, presetId: string, ownerId: string, name: string, now = NOW) {
  return store.transaction((tx) =>
    claimPrebuild(tx, store.dialect, { presetIds: [presetId], newOwnerId: ownerId, newName: name, now }),
  );
}

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
          presetIds: [p],
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

  forEachDialect(
    "with several candidate presets it claims from the first that has an eligible prebuild, and records one event",
    async ({ store }) => {
      // GIVEN three presets in preference order: "empty" has no eligible prebuild, "ready" and "later" have one
      const f = await PoolFixture.create(store);
      const bob = await f.user("bob");
      const t = await f.template("dev");
      const empty = await f.preset(t.versionId, { name: "empty" });
      const ready = await f.preset(t.versionId, { name: "ready" });
      const later = await f.preset(t.versionId, { name: "later" });
      const fromReady = await f.prebuild(ready);
      await f.prebuild(later);
      const claimAll = (name: string) =>
        store.transaction((tx) =>
          claimPrebuild(tx, store.dialect, {
            presetIds: [empty, ready, later],
            newOwnerId: bob,
            newName: name,
            now: NOW,
          }),
        );
      const events = async () =>
        (
          await store.db
            .selectFrom("prebuild_events")
            .select(["preset_id", "event_type"])
            .orderBy("id")
            .execute()
        ).map((e) => [e.preset_id, e.event_type]);

      // WHEN a claim runs THEN it takes "ready"'s prebuild and records one hit for "ready"
      const first = await claimAll("one");
      assert.equal(first?.presetId, ready);
      assert.equal(first?.workspaceId, fromReady);
      assert.deepEqual(await events(), [[ready, "claim_succeeded"]]);
      // WHEN the next claims run THEN "later" serves one, then there is a single miss for the most preferred
      assert.equal((await claimAll("two"))?.presetId, later);
      assert.equal(await claimAll("three"), null);
      assert.deepEqual((await events()).slice(1), [
        [later, "claim_succeeded"],
        [empty, "claim_missed"],
      ]);
    },
  );

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
