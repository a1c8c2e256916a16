// The failure streak the pools table shows (prebuilds/queries.ts): failed creations after the preset's latest
// successful one, counted per preset and listed newest first, with the build to link to — on both dialects.
import assert from "node:assert/strict";
import { describe } from "node:test";
import { countFailureStreaks, selectFailureStreak } from "../../src/server/prebuilds/queries.js";
import { softDeleteWorkspace } from "../../src/server/store/workspaces.js";
import { at, MINUTE, PoolFixture } from "../server/prebuilds/pool-fixtures.js";
import { forEachDialect } from "../support/db.js";

describe("pool failure streaks", () => {
  forEachDialect(
    "failed creations since the last success are counted and listed newest first",
    async ({ store }) => {
      const f = await PoolFixture.create(store);
      const t = await f.template("dev");
      const broken = await f.preset(t.versionId, { name: "broken" });
      const recovered = await f.preset(t.versionId, { name: "recovered" });
      const fine = await f.preset(t.versionId, { name: "fine" });
      const failed = (preset: string, minute: number) =>
        f.prebuild(preset, {
          createdAt: at(minute * MINUTE),
          outcome: "failed",
          endedAt: at(minute * MINUTE + 1),
        });
      // broken: a success, then three failures (one of them deleted since) and a cancelled one (not a failure)
      await f.prebuild(broken, { createdAt: at(0), outcome: "succeeded", endedAt: at(1) });
      const first = await failed(broken, 1);
      const second = await failed(broken, 2);
      const third = await failed(broken, 3);
      await f.prebuild(broken, {
        createdAt: at(4 * MINUTE),
        outcome: "canceled",
        endedAt: at(4 * MINUTE + 1),
      });
      await softDeleteWorkspace(store.db, first, at(5 * MINUTE));
      // recovered: a failure, then a success ends the streak
      await failed(recovered, 1);
      await f.prebuild(recovered, {
        createdAt: at(2 * MINUTE),
        outcome: "succeeded",
        endedAt: at(2 * MINUTE + 1),
      });
      await f.prebuild(fine, { createdAt: at(0), outcome: "succeeded", endedAt: at(1) });

      const counts = await countFailureStreaks(store.db, [broken, recovered, fine]);
      assert.deepEqual([...counts], [[broken, 3]]);
      assert.deepEqual(await countFailureStreaks(store.db, []), new Map());

      const rows = await selectFailureStreak(store.db, [broken, recovered, fine], 2);
      assert.deepEqual(
        rows.map((r) => [r.workspace_id, r.build_number, r.workspace_deleted, r.error, r.completed_at]),
        [
          [third, 1, 0, "boom", at(3 * MINUTE + 1).getTime()],
          [second, 1, 0, "boom", at(2 * MINUTE + 1).getTime()],
        ],
      );
      const all = await selectFailureStreak(store.db, [broken], 20);
      assert.deepEqual(
        all.map((r) => [r.workspace_id, r.workspace_deleted]),
        [
          [third, 0],
          [second, 0],
          [first, 1],
        ],
      );
    },
  );
});
