// Demand-driven pools on real databases (issue 13): what the snapshot reads for the sizing model, replace-ahead,
// surge rollouts and the idle-cost ceiling (by template and preset name, across versions); the plan a surge
// rollout makes; claims of an outdated prebuild during one; idle cost and its metrics counted from history.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe } from "node:test";
import { Registry } from "prom-client";
import { claimPrebuild } from "../../../src/server/prebuilds/claim.js";
import { costKey, readIdleCosts } from "../../../src/server/prebuilds/idle-cost.js";
import { PrebuildMetrics } from "../../../src/server/prebuilds/metrics.js";
import { insertPrebuildEvent } from "../../../src/server/prebuilds/queries.js";
import { defaultReconcilerSettings } from "../../../src/server/prebuilds/settings.js";
import { type LivePresetSnapshot, readSnapshot } from "../../../src/server/prebuilds/snapshot.js";
import { readCyclePlan } from "../../../src/server/prebuilds/status.js";
import { updatePresetSettings } from "../../../src/server/store/preset-settings.js";
import type { Store } from "../../../src/server/store/store.js";
import { softDeleteTemplate } from "../../../src/server/store/templates.js";
import { forEachDialect } from "../../support/db.js";
import { FakeClock } from "../../support/fake-clock.js";
import { at, HOUR, MINUTE, PoolFixture, resourceRow, T0 } from "./pool-fixtures.js";

const NOW = at(2 * HOUR);
const SETTINGS = { lookbackMs: HOUR, hardLimit: 3 };
const PLAN = { settings: defaultReconcilerSettings, maxInFlightJobs: 100 };

function presetById(presets: LivePresetSnapshot[], id: string): LivePresetSnapshot {
  const p = presets.find((x) => x.id === id);
  if (!p) throw new Error(`preset ${id} not in the snapshot`);
  return p;
}

/** Adds a resource costing `dailyCost` to a job (a build's or an import's). */
async function costs(store: Store, jobId: string, dailyCost: number): Promise<void> {
  await store.db
    .insertInto("workspace_resources")
    .values({ ...resourceRow(jobId, `r-${randomUUID().slice(0, 6)}`, T0.getTime()), daily_cost: dailyCost })
    .execute();
}

async function firstBuildJob(store: Store, workspaceId: string): Promise<string> {
  const row = await store.db
    .selectFrom("workspace_builds")
    .select("job_id")
    .where("workspace_id", "=", workspaceId)
    .where("build_number", "=", 1)
    .executeTakeFirstOrThrow();
  return row.job_id;
}

async function claim(store: Store, presetId: string, ownerId: string, name: string, allowOutdated = true) {
  return store.transaction((tx) =>
    claimPrebuild(tx, store.dialect, {
      presetIds: [presetId],
      newOwnerId: ownerId,
      newName: name,
      now: NOW,
      allowOutdated,
    }),
  );
}

describe("demand-driven pools in the store", () => {
  forEachDialect(
    "the snapshot reads autoscale, claim history and build times by preset name",
    async ({ store }) => {
      // GIVEN a preset "small" on v1 with two measured creations (1 and 3 minutes to eligible) and two claims
      const f = await PoolFixture.create(store);
      const t = await f.template("dev");
      const v1 = await f.preset(t.versionId, { name: "small", ttlSeconds: 3600 });
      await f.prebuild(v1, { createdAt: at(0), endedAt: at(MINUTE) });
      await f.prebuild(v1, { createdAt: at(HOUR), endedAt: at(HOUR + 3 * MINUTE) });
      await insertPrebuildEvent(store.db, v1, "claim_succeeded", at(30 * MINUTE).getTime());
      await insertPrebuildEvent(store.db, v1, "claim_missed", at(40 * MINUTE).getTime());
      // AND v2 active with its own "small", autoscaled by name
      const version2 = await f.version(t.templateId, { activate: true });
      const v2 = await f.preset(version2, { name: "small", ttlSeconds: 3600 });
      await insertPrebuildEvent(store.db, v2, "claim_missed", at(90 * MINUTE).getTime());
      await updatePresetSettings(
        store.db,
        t.templateId,
        "small",
        { autoscale: { min: 1, max: 6, targetHitRate: 0.9, timezone: "Europe/Berlin" } },
        T0,
      );

      // WHEN the snapshot is read
      const snapshot = await readSnapshot(store, NOW, SETTINGS);
      const current = presetById(snapshot.presets, v2);
      const old = presetById(snapshot.presets, v1);

      // THEN the policy and the whole name's history (both versions) are the model's inputs
      assert.deepEqual(current.autoscale, {
        policy: { min: 1, max: 6, targetHitRate: 0.9, timezone: "Europe/Berlin" },
        demand: {
          claims: [at(30 * MINUTE), at(40 * MINUTE), at(90 * MINUTE)].map((d) => d.getTime()),
          since: T0.getTime(),
        },
      });
      assert.deepEqual(current.buildDurationsMs, [MINUTE, 3 * MINUTE]);
      // AND replace-ahead `auto` (the server's default) is the p90 of those: 3 minutes
      assert.equal(current.replaceAheadSeconds, 180);
      // AND the old version surges into the new one by default
      assert.equal(old.rollout, "surge");
      assert.equal(old.successor, v2);
      assert.equal(current.successor, undefined);
      // AND the plan says why
      const plan = await readCyclePlan(store, NOW, PLAN);
      assert.match(
        plan.presets.find((p) => p.id === v2)?.desiredReason ?? "",
        /claims\/min × refill 3m \(p90\)/,
      );
    },
  );

  forEachDialect(
    "replace-ahead: the preset's own setting, else the server's; auto is off until measured",
    async ({ store }) => {
      const f = await PoolFixture.create(store);
      const t = await f.template("dev");
      const p = await f.preset(t.versionId, { name: "small", ttlSeconds: 3600 });
      const lead = async (server?: "auto" | number) =>
        presetById((await readSnapshot(store, NOW, { ...SETTINGS, replaceAhead: server })).presets, p)
          .replaceAheadSeconds;

      assert.equal(await lead(), undefined, "auto, nothing measured: off");
      assert.equal(await lead(300), 300, "the server's default");
      await updatePresetSettings(store.db, t.templateId, "small", { replaceAhead: 600 }, T0);
      assert.equal(await lead(300), 600, "the preset's own");
      await updatePresetSettings(store.db, t.templateId, "small", { replaceAhead: 0 }, T0);
      assert.equal(await lead(300), undefined, "0: off");
      await updatePresetSettings(store.db, t.templateId, "small", { replaceAhead: null }, T0);
      assert.equal(await lead(300), 300, "null: back to the server's");
    },
  );

  forEachDialect(
    "a prebuild's daily cost: the latest creation's resources, before one the import's",
    async ({ store }) => {
      const f = await PoolFixture.create(store);
      const t = await f.template("dev");
      const p = await f.preset(t.versionId, { name: "small" });
      const version = await store.db
        .selectFrom("template_versions")
        .select("job_id")
        .where("id", "=", t.versionId)
        .executeTakeFirstOrThrow();
      await costs(store, version.job_id, 7);
      const cost = async () => presetById((await readSnapshot(store, NOW, SETTINGS)).presets, p).dailyCost;
      assert.equal(await cost(), 7);
      const w = await f.prebuild(p, { createdAt: at(MINUTE) });
      await costs(store, await firstBuildJob(store, w), 2);
      await costs(store, await firstBuildJob(store, w), 1);
      assert.equal(await cost(), 3);
    },
  );

  forEachDialect(
    "a surge rollout keeps the old pool until the new one has eligible prebuilds",
    async ({ store }) => {
      // GIVEN v1's "small" with two ready prebuilds, and v2 active with "small" wanting 2 and none yet
      const f = await PoolFixture.create(store);
      const t = await f.template("dev");
      const p1 = await f.preset(t.versionId, { name: "small", desiredInstances: 2 });
      const old1 = await f.prebuild(p1, { createdAt: at(0) });
      await f.prebuild(p1, { createdAt: at(MINUTE) });
      const version2 = await f.version(t.templateId, { activate: true });
      const p2 = await f.preset(version2, { name: "small", desiredInstances: 2 });
      const actionsOf = async (id: string) =>
        (await readCyclePlan(store, NOW, PLAN)).presets.find((p) => p.id === id)?.actions;

      // THEN nothing of v1 goes yet, and v2 builds its pool
      assert.deepEqual(await actionsOf(p1), []);
      assert.deepEqual(await actionsOf(p2), [{ type: "create", count: 2, wanted: 2, granted: 2 }]);
      // WHEN one of v2's is eligible THEN the oldest of v1 goes
      await f.prebuild(p2, { createdAt: at(90 * MINUTE) });
      assert.deepEqual(await actionsOf(p1), [{ type: "delete", reason: "outdated", ids: [old1] }]);
      // AND with rollout replace the whole old pool goes at once
      await updatePresetSettings(store.db, t.templateId, "small", { rollout: "replace" }, T0);
      assert.equal((await actionsOf(p1))?.flatMap((a) => (a.type === "delete" ? a.ids : [])).length, 2);
    },
  );

  forEachDialect(
    "during a surge rollout a claim takes an old version's prebuild until the new pool has one",
    async ({ store }) => {
      const f = await PoolFixture.create(store);
      const bob = await f.user("bob");
      const t = await f.template("dev");
      const p1 = await f.preset(t.versionId, { name: "small" });
      const old = await f.prebuild(p1, { createdAt: at(0) });
      const version2 = await f.version(t.templateId, { activate: true });
      const p2 = await f.preset(version2, { name: "small" });

      // Not without allowOutdated (a request the old preset does not serve as is), not with rollout replace.
      assert.equal(await claim(store, p2, bob, "a", false), null);
      await updatePresetSettings(store.db, t.templateId, "small", { rollout: "replace" }, T0);
      assert.equal(await claim(store, p2, bob, "b"), null);
      await updatePresetSettings(store.db, t.templateId, "small", { rollout: "surge" }, T0);

      // WHEN the new pool is empty THEN the old prebuild is handed over, named as outdated
      const got = await claim(store, p2, bob, "c");
      assert.equal(got?.workspaceId, old);
      assert.deepEqual(got?.outdated, { templateVersionId: t.versionId, presetId: p1 });
      assert.equal(await f.ownerOf(old), bob);

      // WHEN the new pool has one THEN that one is taken (and an old one only when it is empty again)
      const old2 = await f.prebuild(p1, { createdAt: at(MINUTE) });
      const fresh = await f.prebuild(p2, { createdAt: at(HOUR) });
      assert.equal((await claim(store, p2, bob, "d"))?.workspaceId, fresh);
      assert.equal((await claim(store, p2, bob, "e"))?.workspaceId, old2);
      // AND never from a deleted template
      await f.prebuild(p1, { createdAt: at(2 * MINUTE) });
      await softDeleteTemplate(store.db, t.templateId, NOW);
      assert.equal(await claim(store, p2, bob, "f"), null);
    },
  );

  forEachDialect(
    "idle time and cost per preset name, over 24 h and 7 d, and the idle metrics",
    async ({ store }) => {
      // GIVEN a prebuild costing 24 a day (1 an hour), idle for 28 h until its claim 2 h ago
      const f = await PoolFixture.create(store);
      const t = await f.template("dev");
      const p = await f.preset(t.versionId, { name: "small" });
      const now = at(40 * HOUR);
      const claimed = await f.prebuild(p, { createdAt: at(10 * HOUR) });
      await costs(store, await firstBuildJob(store, claimed), 24);
      await f.build(claimed, { stage: "claim", at: at(38 * HOUR) });
      // AND one idle for 2 h until the reconciler deleted it unclaimed an hour ago (waste)
      const wasted = await f.prebuild(p, { createdAt: at(37 * HOUR) });
      await costs(store, await firstBuildJob(store, wasted), 24);
      await f.build(wasted, { transition: "delete", at: at(39 * HOUR) });
      // AND one still waiting since 30 minutes ago, and a failed creation (never a prebuild: not counted)
      const waiting = await f.prebuild(p, { createdAt: at(39.5 * HOUR) });
      await costs(store, await firstBuildJob(store, waiting), 24);
      await f.prebuild(p, { createdAt: at(39 * HOUR), outcome: "failed" });

      const cost = (await readIdleCosts(store.db, now)).get(costKey("dev", "small"));
      // 24 h window [16 h, 40 h): 22 h + 2 h + 0.5 h; 7 d: 28 h + 2 h + 0.5 h.
      assert.deepEqual(cost && { ...cost, idleSecondsTotal: undefined, idleCostTotal: undefined }, {
        templateName: "dev",
        presetName: "small",
        idleHours24h: 24.5,
        idleCost24h: 24.5,
        idleHours7d: 30.5,
        idleCost7d: 30.5,
        claims24h: 1,
        claims7d: 1,
        costPerClaim24h: 24.5,
        costPerClaim7d: 30.5,
        wasted24h: 1,
        wasted7d: 1,
        idleSecondsTotal: undefined,
        idleCostTotal: undefined,
      });

      // AND the views' cheaper read (only what 24 h / 7 d need) gives the same window figures
      const recent = (await readIdleCosts(store.db, now, { recentOnly: true })).get(costKey("dev", "small"));
      for (const key of [
        "idleHours24h",
        "idleCost24h",
        "idleHours7d",
        "idleCost7d",
        "claims24h",
        "wasted7d",
      ] as const)
        assert.equal(recent?.[key], cost?.[key], key);

      const registry = new Registry();
      new PrebuildMetrics(registry, { store, clock: new FakeClock(now) });
      const text = await registry.metrics();
      assert.match(
        text,
        /prewarm_prebuilds_idle_seconds_total\{template_name="dev",preset_name="small"\} 109800\n/,
      );
      assert.match(
        text,
        /prewarm_prebuilds_idle_cost_total\{template_name="dev",preset_name="small"\} 30\.5\n/,
      );
    },
  );
});
