// Prebuild metrics on real databases: counters counted from history (so a fresh process reports the same
// values), refreshed at most once per window, gauges set from a reconciliation cycle for active presets only.
import assert from "node:assert/strict";
import { describe } from "node:test";
import { Registry } from "prom-client";
import { claimPrebuild } from "../../../src/server/prebuilds/claim.js";
import { PrebuildMetrics } from "../../../src/server/prebuilds/metrics.js";
import { Reconciler } from "../../../src/server/prebuilds/reconciler.js";
import type { Store } from "../../../src/server/store/store.js";
import { forEachDialect } from "../../support/db.js";
import { FakeClock } from "../../support/fake-clock.js";
import { at, HOUR, MINUTE, PoolFixture } from "./pool-fixtures.js";

const NOW = at(2 * HOUR);

/** The value of one series in Prometheus text, or undefined when the series is absent. */
async function sample(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const text = await registry.metrics();
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelPart = line.slice(name.length).split(" ")[0] ?? "";
    if (wanted.every((w) => labelPart.includes(w))) return Number(line.split(" ").at(-1));
  }
  return undefined;
}

async function claim(store: Store, presetId: string, ownerId: string, name: string) {
  return store.transaction((tx) =>
    claimPrebuild(tx, store.dialect, { presetIds: [presetId], newOwnerId: ownerId, newName: name, now: NOW }),
  );
}

describe("prebuild metrics", () => {
  forEachDialect(
    "counters come from the database, so a fresh process reports the same",
    async ({ store }) => {
      // GIVEN three prebuilds created (one failed), one claimed, and one miss
      const f = await PoolFixture.create(store);
      const bob = await f.user("bob");
      const t = await f.template("dev");
      const p = await f.preset(t.versionId, { name: "small", desiredInstances: 2 });
      await f.prebuild(p, { createdAt: at(0) });
      await f.prebuild(p, { createdAt: at(1) });
      await f.prebuild(p, { createdAt: at(2), outcome: "failed" });
      assert.notEqual(await claim(store, p, bob, "mine"), null);
      await claim(store, p, bob, "mine-2");
      assert.equal(await claim(store, p, bob, "mine-3"), null);

      for (const process of ["first", "restarted"]) {
        // WHEN a process scrapes its registry
        const registry = new Registry();
        new PrebuildMetrics(registry, { store, clock: new FakeClock(NOW) });
        const labels = { template_name: "dev", preset_name: "small" };
        // THEN
        assert.equal(await sample(registry, "prewarm_prebuilt_workspaces_created_total", labels), 3, process);
        assert.equal(await sample(registry, "prewarm_prebuilt_workspaces_failed_total", labels), 1, process);
        assert.equal(await sample(registry, "prewarm_prebuilt_workspaces_claimed_total", labels), 2, process);
        assert.equal(
          await sample(registry, "prewarm_prebuilt_workspace_claims_total", { ...labels, result: "hit" }),
          2,
          process,
        );
        assert.equal(
          await sample(registry, "prewarm_prebuilt_workspace_claims_total", { ...labels, result: "miss" }),
          1,
          process,
        );
      }
    },
  );

  forEachDialect("counters are re-counted at most once per refresh window", async ({ store }) => {
    const f = await PoolFixture.create(store);
    const t = await f.template("dev");
    const p = await f.preset(t.versionId, { name: "small" });
    await f.prebuild(p, { createdAt: at(0) });
    const clock = new FakeClock(NOW);
    const registry = new Registry();
    new PrebuildMetrics(registry, { store, clock, counterRefreshMs: 10_000 });
    const created = () =>
      sample(registry, "prewarm_prebuilt_workspaces_created_total", { preset_name: "small" });
    assert.equal(await created(), 1);

    await f.prebuild(p, { createdAt: at(1) });
    await clock.advance(9_999);
    assert.equal(await created(), 1, "inside the window the cached value is served");
    await clock.advance(1);
    assert.equal(await created(), 2, "after the window the database is counted again");
  });

  forEachDialect("gauges follow the latest cycle, for active presets only", async ({ store }) => {
    // GIVEN an active preset with one ready and one not-ready prebuild, a hard-limited active preset, and an
    // old version's preset with a leftover prebuild
    const f = await PoolFixture.create(store);
    const t = await f.template("dev");
    const old = await f.preset(t.versionId, { name: "legacy" });
    await f.prebuild(old, { createdAt: at(0) });
    const v2 = await f.version(t.templateId, { activate: true });
    const small = await f.preset(v2, { name: "small", desiredInstances: 3 });
    await f.prebuild(small, { createdAt: at(0), agents: ["ready"] });
    await f.prebuild(small, { createdAt: at(1), agents: ["starting"] });
    const flaky = await f.preset(v2, { name: "flaky", desiredInstances: 1 });
    for (let i = 0; i < 3; i++) await f.prebuild(flaky, { createdAt: at(i * MINUTE), outcome: "failed" });
    const registry = new Registry();
    const metrics = new PrebuildMetrics(registry, { store, clock: new FakeClock(NOW) });
    const reconciler = new Reconciler({
      store,
      maxInFlightJobs: 10,
      clock: new FakeClock(NOW),
      listen: false,
      metrics,
      executor: {
        createPrebuilds: async (_p, count) => ({ created: count }),
        deletePrebuild: async () => true,
        cancelPendingPrebuildJobs: async () => 0,
        rehearseClaim: async () => true,
      },
    });

    // WHEN a cycle runs
    await reconciler.runCycle();

    // THEN
    const small_ = { template_name: "dev", preset_name: "small" };
    assert.equal(await sample(registry, "prewarm_prebuilt_workspaces_desired", small_), 3);
    assert.equal(await sample(registry, "prewarm_prebuilt_workspaces_running", small_), 2);
    assert.equal(await sample(registry, "prewarm_prebuilt_workspaces_eligible", small_), 1);
    assert.equal(
      await sample(registry, "prewarm_prebuilt_workspaces_preset_hard_limited", { preset_name: "flaky" }),
      1,
    );
    assert.equal(
      await sample(registry, "prewarm_prebuilt_workspaces_preset_hard_limited", small_),
      undefined,
    );
    assert.equal(
      await sample(registry, "prewarm_prebuilt_workspaces_desired", { preset_name: "legacy" }),
      undefined,
    );
    assert.equal(await sample(registry, "prewarm_prebuilds_reconciliation_paused"), 0);
    assert.equal(await sample(registry, "prewarm_prebuilds_reconciliation_duration_seconds_count"), 1);

    // WHEN a claim duration is observed THEN it lands in the histogram with the preset's labels
    metrics.observeClaim({ templateName: "dev", presetName: "small" }, 0.2);
    assert.equal(
      await sample(registry, "prewarm_prebuilt_workspace_claim_duration_seconds_count", small_),
      1,
    );
  });
});
