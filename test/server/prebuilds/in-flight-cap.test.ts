// The reconciler's default in-flight cap counts the daemons that can take prebuild jobs (status.ts): tags may
// dedicate daemons to prebuilds, or keep prebuilds off some.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { recentPrebuildJobTargets } from "../../../src/server/prebuilds/queries.js";
import { autoInFlightCap, daemonsForPrebuilds } from "../../../src/server/prebuilds/status.js";
import { forEachDialect } from "../../support/db.js";
import { at, queueFixture } from "../jobs/fixtures.js";

const ORG = { owner: "", scope: "organization" };
const people = { provisioners: ["echo"], tags: ORG };
const pool = { provisioners: ["echo"], tags: { ...ORG, is_prebuild: "true" } };
const terraformOnly = { provisioners: ["terraform"], tags: ORG };

describe("daemons that can take prebuild jobs (pure)", () => {
  const cases: [
    string,
    (typeof people)[],
    { provisioner: string; tags: Record<string, string> }[],
    number,
  ][] = [
    ["no recent prebuild jobs: every daemon", [people, pool, terraformOnly], [], 3],
    [
      "untagged prebuild jobs: the untagged daemons of their type",
      [people, pool, terraformOnly],
      [{ provisioner: "echo", tags: ORG }],
      1,
    ],
    [
      "the recipe: only the dedicated daemon",
      [people, people, pool],
      [{ provisioner: "echo", tags: { ...ORG, is_prebuild: "true" } }],
      1,
    ],
    [
      "two kinds of prebuild jobs: the daemons of either",
      [people, pool, terraformOnly],
      [
        { provisioner: "echo", tags: { ...ORG, is_prebuild: "true" } },
        { provisioner: "terraform", tags: ORG },
      ],
      2,
    ],
    ["no daemon can take them", [people], [{ provisioner: "echo", tags: { ...ORG, gpu: "1" } }], 0],
  ];
  for (const [name, daemons, targets, expected] of cases) {
    test(name, () => assert.equal(daemonsForPrebuilds(daemons, targets), expected));
  }
  test("the cap is two per such daemon, at least two", () => {
    assert.deepEqual([0, 1, 3].map(autoInFlightCap), [2, 2, 6]);
  });
});

describe("recent prebuild job targets", () => {
  forEachDialect(
    "distinct (provisioner, tags) of prebuild jobs since a time, human jobs left out",
    async ({ store }) => {
      const f = await queueFixture(store);
      await f.enqueue({ prebuild: true, createdAt: at(0), tags: { ...ORG, old: "1" } });
      await f.enqueue({ prebuild: true, createdAt: at(10_000), tags: { ...ORG, is_prebuild: "true" } });
      await f.enqueue({ prebuild: true, createdAt: at(11_000), tags: { ...ORG, is_prebuild: "true" } });
      await f.enqueue({ createdAt: at(12_000), tags: { ...ORG, human: "1" } });
      const targets = await recentPrebuildJobTargets(store.db, at(5_000).getTime());
      assert.deepEqual(targets, [
        { provisioner: "echo", tags: '{"is_prebuild":"true","owner":"","scope":"organization"}' },
      ]);
    },
  );
});
