// The reconciler's snapshot against real databases: every prebuild state lands where plan.ts's snapshot contract
// says, presets of inactive versions keep appearing while they have prebuilds, backoff and the hard limit come
// from build history, and the number of statements does not grow with the number of presets.
import assert from "node:assert/strict";
import { describe } from "node:test";
import {
  insertPrebuildEvent,
  markPresetHealthy,
  writePaused,
} from "../../../src/server/prebuilds/queries.js";
import { type LivePresetSnapshot, readSnapshot } from "../../../src/server/prebuilds/snapshot.js";
import { softDeleteTemplate, updateTemplate } from "../../../src/server/store/templates.js";
import { softDeleteWorkspace } from "../../../src/server/store/workspaces.js";
import { forEachDialect } from "../../support/db.js";
import { at, HOUR, MINUTE, PoolFixture, T0 } from "./pool-fixtures.js";

const NOW = at(2 * HOUR);
const SETTINGS = { lookbackMs: HOUR, hardLimit: 3 };

function presetById(presets: LivePresetSnapshot[], id: string): LivePresetSnapshot {
  const found = presets.find((p) => p.id === id);
  assert.ok(found, `preset ${id} is in the snapshot`);
  return found;
}

describe("prebuild snapshot", () => {
  forEachDialect("each prebuild state lands in the right bucket", async ({ store }) => {
    // GIVEN one preset with a prebuild in every interesting state
    const f = await PoolFixture.create(store);
    const t = await f.template("dev");
    const p = await f.preset(t.versionId, { name: "small", desiredInstances: 3, ttlSeconds: 7200 });
    const ready = await f.prebuild(p, { createdAt: at(1), agents: ["ready", "ready"] });
    const notReady = await f.prebuild(p, { createdAt: at(2), agents: ["ready", "starting"] });
    const agentless = await f.prebuild(p, { createdAt: at(3) });
    const failed = await f.prebuild(p, { createdAt: at(4), outcome: "failed", endedAt: at(5 * MINUTE) });
    const canceled = await f.prebuild(p, { createdAt: at(5), outcome: "canceled", endedAt: at(6 * MINUTE) });
    const stopped = await f.prebuild(p, { createdAt: at(6) });
    await f.build(stopped, { transition: "stop", at: at(HOUR) });
    await f.prebuild(p, { createdAt: at(7), outcome: "pending" });
    await f.prebuild(p, { createdAt: at(8), outcome: "running" });
    await f.prebuild(p, { createdAt: at(9), outcome: "canceling" });
    const deleting = await f.prebuild(p, { createdAt: at(10) });
    await f.build(deleting, { transition: "delete", outcome: "pending", at: at(HOUR) });
    const stopping = await f.prebuild(p, { createdAt: at(11) });
    await f.build(stopping, { transition: "stop", outcome: "running", at: at(HOUR) });
    // … and workspaces that are not prebuilds (any more)
    const alice = await f.user("bob");
    await f.prebuild(p, { createdAt: at(12), ownerId: alice });
    const gone = await f.prebuild(p, { createdAt: at(13) });
    await softDeleteWorkspace(store.db, gone, at(HOUR));

    // WHEN the snapshot is read
    const snapshot = await readSnapshot(store, NOW, SETTINGS);

    // THEN finished builds are prebuilds, in-flight ones are counted by transition
    const preset = presetById(snapshot.presets, p);
    const byId = new Map(preset.prebuilds.map((pb) => [pb.id, pb]));
    assert.deepEqual(byId.get(ready), { id: ready, createdAt: at(1), status: "running", ready: true });
    assert.deepEqual(byId.get(notReady), { id: notReady, createdAt: at(2), status: "running", ready: false });
    assert.deepEqual(byId.get(agentless), {
      id: agentless,
      createdAt: at(3),
      status: "running",
      ready: true,
    });
    assert.deepEqual(byId.get(failed), {
      id: failed,
      createdAt: at(4),
      status: "failed",
      failedAt: at(5 * MINUTE),
    });
    assert.deepEqual(byId.get(canceled), {
      id: canceled,
      createdAt: at(5),
      status: "failed",
      failedAt: at(6 * MINUTE),
    });
    assert.deepEqual(byId.get(stopped), { id: stopped, createdAt: at(6), status: "stopped" });
    assert.equal(preset.prebuilds.length, 6, "in-flight, claimed and deleted workspaces are not listed");
    assert.deepEqual(preset.inProgress, { start: 3, stop: 1, delete: 1 });
    assert.equal(preset.pendingJobs, 1, "only the unacquired start job is pending");
    assert.equal(preset.active, true);
    assert.equal(preset.desiredInstances, 3);
    assert.equal(preset.ttlSeconds, 7200);
    assert.equal(preset.templateName, "dev");
    assert.equal(preset.presetName, "small");
  });

  forEachDialect("active means active version of a live, non-deprecated template", async ({ store }) => {
    // GIVEN a template whose active version moved on, leaving a prebuild on the old one
    const f = await PoolFixture.create(store);
    const t = await f.template("dev");
    const oldWithPrebuild = await f.preset(t.versionId, { name: "old" });
    const oldEmpty = await f.preset(t.versionId, { name: "old-empty" });
    await f.prebuild(oldWithPrebuild, { createdAt: at(1) });
    await f.prebuild(oldWithPrebuild, { createdAt: at(2), outcome: "pending" });
    const v2 = await f.version(t.templateId, { activate: true });
    const current = await f.preset(v2, { name: "new" });
    const noPrebuilds = await f.preset(v2, { name: "plain", desiredInstances: null });
    // … a deprecated template and a deleted one that still has a prebuild
    const deprecated = await f.template("old-tpl");
    const deprecatedPreset = await f.preset(deprecated.versionId, { name: "d" });
    await updateTemplate(store.db, deprecated.templateId, { deprecated: "use dev", now: T0 });
    const deleted = await f.template("gone-tpl");
    const deletedPreset = await f.preset(deleted.versionId, { name: "g" });
    await f.prebuild(deletedPreset, { createdAt: at(1) });
    await softDeleteTemplate(store.db, deleted.templateId, T0);

    // WHEN the snapshot is read
    const { presets } = await readSnapshot(store, NOW, SETTINGS);

    // THEN
    const ids = presets.map((p) => p.id);
    assert.equal(presetById(presets, current).active, true);
    const old = presetById(presets, oldWithPrebuild);
    assert.equal(old.active, false, "an old version's preset with prebuilds is listed, inactive");
    assert.equal(old.pendingJobs, 1, "pending jobs of an inactive version are counted");
    assert.equal(presetById(presets, deletedPreset).active, false);
    assert.ok(!ids.includes(oldEmpty), "an old version's preset without prebuilds has nothing to do");
    assert.ok(!ids.includes(noPrebuilds), "a preset without prebuilds is not reconciled");
    assert.ok(!ids.includes(deprecatedPreset), "a deprecated template's empty preset is not active");
  });

  forEachDialect(
    "backoff counts failures in the look-back window since the last success",
    async ({ store }) => {
      const f = await PoolFixture.create(store);
      const t = await f.template("dev");
      const table: {
        name: string;
        builds: { outcome: "failed" | "succeeded"; endedAt: Date }[];
        want: { numFailed: number; lastFailedAt: Date } | null;
      }[] = [
        { name: "none", builds: [], want: null },
        {
          name: "two recent failures",
          builds: [
            { outcome: "failed", endedAt: at(HOUR + 30 * MINUTE) },
            { outcome: "failed", endedAt: at(HOUR + 50 * MINUTE) },
          ],
          want: { numFailed: 2, lastFailedAt: at(HOUR + 50 * MINUTE) },
        },
        {
          name: "failure before the window",
          builds: [{ outcome: "failed", endedAt: at(HOUR - 1) }],
          want: null,
        },
        {
          name: "failure exactly at the window start",
          builds: [{ outcome: "failed", endedAt: at(HOUR) }],
          want: { numFailed: 1, lastFailedAt: at(HOUR) },
        },
        {
          name: "a success ends the streak",
          builds: [
            { outcome: "failed", endedAt: at(HOUR + 10 * MINUTE) },
            { outcome: "succeeded", endedAt: at(HOUR + 20 * MINUTE) },
            { outcome: "failed", endedAt: at(HOUR + 30 * MINUTE) },
          ],
          want: { numFailed: 1, lastFailedAt: at(HOUR + 30 * MINUTE) },
        },
      ];
      const presetIds = new Map<string, string>();
      for (const row of table) {
        const id = await f.preset(t.versionId, { name: row.name.replaceAll(" ", "-") });
        presetIds.set(row.name, id);
        for (const b of row.builds) {
          await f.prebuild(id, {
            createdAt: new Date(b.endedAt.getTime() - MINUTE),
            outcome: b.outcome,
            endedAt: b.endedAt,
          });
        }
      }
      const { presets } = await readSnapshot(store, NOW, SETTINGS);
      for (const row of table) {
        assert.deepEqual(presetById(presets, presetIds.get(row.name) as string).backoff, row.want, row.name);
      }
    },
  );

  forEachDialect("the hard limit needs the last N finished creations to have failed", async ({ store }) => {
    const f = await PoolFixture.create(store);
    const t = await f.template("dev");
    const outcomes = {
      "three-failed": ["failed", "failed", "failed"],
      "two-failed": ["failed", "failed"],
      "recovered-last": ["failed", "failed", "failed", "succeeded"],
      "failed-after-success": ["succeeded", "failed", "failed", "failed"],
      "canceled-ignored": ["failed", "canceled", "failed", "failed"],
      "success-between": ["failed", "failed", "succeeded", "failed", "failed"],
      "four-after-success": ["failed", "succeeded", "failed", "failed", "failed", "failed"],
    } as const;
    const ids: Record<string, string> = {};
    for (const [name, list] of Object.entries(outcomes)) {
      ids[name] = await f.preset(t.versionId, { name });
      for (const [i, outcome] of list.entries()) {
        await f.prebuild(ids[name] as string, {
          createdAt: at(i * MINUTE),
          outcome,
          endedAt: at(i * MINUTE + 1),
        });
      }
    }
    const { presets } = await readSnapshot(store, NOW, SETTINGS);
    const reached = (name: string) => presetById(presets, ids[name] as string).hardLimitReached;
    assert.equal(reached("three-failed"), true);
    assert.equal(reached("two-failed"), false);
    assert.equal(reached("recovered-last"), false);
    assert.equal(reached("failed-after-success"), true);
    assert.equal(reached("canceled-ignored"), true);
    assert.equal(reached("success-between"), false, "only two failures since the latest success");
    assert.equal(reached("four-after-success"), true);

    // WHEN the limit is disabled THEN nothing is limited
    const disabled = await readSnapshot(store, NOW, { ...SETTINGS, hardLimit: 0 });
    assert.ok(disabled.presets.every((p) => !p.hardLimitReached));

    // WHEN a preset was hard-limited (event) and resumed THEN its earlier failures no longer count
    await insertPrebuildEvent(
      store.db,
      ids["three-failed"] as string,
      "hard_limited",
      at(10 * MINUTE).getTime(),
    );
    await markPresetHealthy(store.db, ids["three-failed"] as string);
    const after = await readSnapshot(store, NOW, SETTINGS);
    assert.equal(presetById(after.presets, ids["three-failed"] as string).hardLimitReached, false);
  });

  forEachDialect("schedules, pause switch and in-flight prebuild jobs", async ({ store }) => {
    const f = await PoolFixture.create(store);
    const t = await f.template("dev");
    const schedules = [
      { cron: "* 8-18 * * 1-5", instances: 3 },
      { cron: "* * * * 6", instances: 0 },
    ];
    const p = await f.preset(t.versionId, {
      name: "sched",
      desiredInstances: 1,
      schedulingTimezone: "Europe/Berlin",
      schedules,
    });
    await f.prebuild(p, { createdAt: at(1), outcome: "running" });
    await f.prebuild(p, { createdAt: at(2), outcome: "pending" });
    await f.prebuild(p, { createdAt: at(3) });
    await writePaused(store.db, true);

    const snapshot = await readSnapshot(store, NOW, SETTINGS);
    assert.deepEqual(presetById(snapshot.presets, p).scheduling, { timezone: "Europe/Berlin", schedules });
    assert.equal(snapshot.paused, true);
    assert.equal(snapshot.inFlightPrebuildJobs, 2);

    await writePaused(store.db, false);
    assert.equal((await readSnapshot(store, NOW, SETTINGS)).paused, false);
  });

  forEachDialect("the number of statements does not grow with the number of presets", async ({ store }) => {
    const f = await PoolFixture.create(store);
    const counts: number[] = [];
    for (const n of [1, 50]) {
      const t = await f.template(`tpl-${n}`);
      for (let i = 0; i < n; i++) {
        const p = await f.preset(t.versionId, { name: `p${i}` });
        await f.prebuild(p, { createdAt: at(i), agents: ["ready"] });
        await f.prebuild(p, { createdAt: at(i), outcome: "failed" });
      }
      const snapshot = await readSnapshot(store, NOW, SETTINGS);
      assert.ok(snapshot.presets.length >= n);
      counts.push(snapshot.queryCount);
    }
    assert.ok((counts[0] ?? 0) > 0, "statements are counted");
    assert.equal(counts[1], counts[0]);
  });

  forEachDialect("a prebuild belongs to the preset of its latest build that names one", async ({ store }) => {
    // GIVEN a prebuild whose delete build (no preset) is pending
    const f = await PoolFixture.create(store);
    const t = await f.template("dev");
    const p = await f.preset(t.versionId, { name: "small" });
    const w = await f.prebuild(p, { createdAt: at(1) });
    await f.build(w, { transition: "delete", outcome: "pending", presetId: null, at: at(MINUTE) });
    const snapshot = await readSnapshot(store, NOW, SETTINGS);
    // THEN it still counts for its preset, as a delete in progress
    assert.deepEqual(presetById(snapshot.presets, p).inProgress, { start: 0, stop: 0, delete: 1 });
  });
});
