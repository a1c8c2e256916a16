// The pools table's pure rules: reading the sort from the URL, the header links, sorting (ties by name, missing
// values last), and how bad a pool's state is (which decides the Status order and the problem row).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  hasProblem,
  type PoolHealth,
  parseSort,
  type SortablePool,
  severity,
  sortPools,
  sortQuery,
} from "../../src/server/web/pool-table.js";

const pool = (over: Partial<SortablePool> & { preset: string }): SortablePool => ({
  template: "t",
  templateVersion: "v1",
  severity: 0,
  eligible: 0,
  desired: 0,
  running: 0,
  starting: 0,
  expired: 0,
  hits: 0,
  misses: 0,
  cost24h: null,
  failures: 0,
  ...over,
});
const names = (rows: SortablePool[]) => rows.map((r) => `${r.template}/${r.preset}`);
const same = (p: SortablePool) => p;

describe("pools table sorting", () => {
  test("GIVEN query strings THEN parseSort takes known keys, each with its natural direction, and ignores the rest", () => {
    const table: Array<{
      query: Record<string, unknown> | undefined;
      expected: ReturnType<typeof parseSort>;
    }> = [
      { query: undefined, expected: { key: "pool", dir: "asc" } },
      { query: { sort: "eligible" }, expected: { key: "eligible", dir: "desc" } },
      { query: { sort: "status" }, expected: { key: "status", dir: "asc" } },
      { query: { sort: "failures", dir: "asc" }, expected: { key: "failures", dir: "asc" } },
      { query: { sort: "<script>", dir: "sideways" }, expected: { key: "pool", dir: "asc" } },
      { query: { sort: ["pool", "cost"] }, expected: { key: "pool", dir: "asc" } },
    ];
    for (const row of table) assert.deepEqual(parseSort(row.query), row.expected, JSON.stringify(row.query));
  });

  test("GIVEN the current sort THEN a header link flips its own column and starts others in their natural direction", () => {
    assert.equal(sortQuery({ key: "pool", dir: "asc" }, "pool"), "?sort=pool&dir=desc");
    assert.equal(sortQuery({ key: "pool", dir: "desc" }, "pool"), "?sort=pool&dir=asc");
    assert.equal(sortQuery({ key: "pool", dir: "asc" }, "hitrate"), "?sort=hitrate&dir=desc");
  });

  test("GIVEN pools THEN each column sorts them, ties by template then preset", () => {
    const rows = [
      pool({ template: "b", preset: "x", eligible: 2, failures: 0, severity: 0 }),
      pool({ template: "a", preset: "z", eligible: 5, failures: 3, severity: 3 }),
      pool({ template: "a", preset: "y", eligible: 2, failures: 1, severity: 2 }),
    ];
    assert.deepEqual(names(sortPools(rows, { key: "pool", dir: "asc" }, same)), ["a/y", "a/z", "b/x"]);
    assert.deepEqual(names(sortPools(rows, { key: "pool", dir: "desc" }, same)), ["b/x", "a/z", "a/y"]);
    assert.deepEqual(names(sortPools(rows, { key: "eligible", dir: "desc" }, same)), ["a/z", "a/y", "b/x"]);
    assert.deepEqual(names(sortPools(rows, { key: "eligible", dir: "asc" }, same)), ["a/y", "b/x", "a/z"]);
    // Status ascending: worst first.
    assert.deepEqual(names(sortPools(rows, { key: "status", dir: "asc" }, same)), ["a/z", "a/y", "b/x"]);
    assert.deepEqual(names(sortPools(rows, { key: "failures", dir: "desc" }, same)), ["a/z", "a/y", "b/x"]);
  });

  test("GIVEN numbered names THEN they sort naturally", () => {
    const rows = ["pool-10", "pool-2", "pool-1"].map((preset) => pool({ preset }));
    assert.deepEqual(names(sortPools(rows, { key: "pool", dir: "asc" }, same)), [
      "t/pool-1",
      "t/pool-2",
      "t/pool-10",
    ]);
  });

  test("GIVEN pools without claims or cost THEN they sort last in both directions", () => {
    const rows = [
      pool({ preset: "none" }),
      pool({ preset: "half", hits: 1, misses: 1, cost24h: 5 }),
      pool({ preset: "all", hits: 3, misses: 0, cost24h: 1 }),
    ];
    assert.deepEqual(names(sortPools(rows, { key: "hitrate", dir: "desc" }, same)), [
      "t/all",
      "t/half",
      "t/none",
    ]);
    assert.deepEqual(names(sortPools(rows, { key: "hitrate", dir: "asc" }, same)), [
      "t/half",
      "t/all",
      "t/none",
    ]);
    assert.deepEqual(names(sortPools(rows, { key: "cost", dir: "desc" }, same)), [
      "t/half",
      "t/all",
      "t/none",
    ]);
  });

  test("GIVEN items of another shape THEN sortPools sorts them through the view and returns them unchanged", () => {
    const items = [
      { id: 1, n: 3 },
      { id: 2, n: 9 },
    ];
    const sorted = sortPools(items, { key: "running", dir: "desc" }, (i) =>
      pool({ preset: String(i.id), running: i.n }),
    );
    assert.deepEqual(sorted, [
      { id: 2, n: 9 },
      { id: 1, n: 3 },
    ]);
  });
});

describe("pool health", () => {
  const healthy: PoolHealth = {
    status: "healthy",
    backingOff: false,
    eligible: 2,
    desired: 2,
    failures: 0,
    claimsRebuild: false,
  };
  test("GIVEN pool states THEN severity ranks them and the troubled ones get a problem row", () => {
    const table: Array<{ h: Partial<PoolHealth>; severity: number; problem: boolean }> = [
      { h: {}, severity: 0, problem: false },
      { h: { eligible: 1 }, severity: 1, problem: false },
      { h: { claimsRebuild: true }, severity: 1, problem: true },
      { h: { failures: 1 }, severity: 2, problem: true },
      { h: { backingOff: true, failures: 2 }, severity: 2, problem: true },
      { h: { status: "hard_limited", failures: 3 }, severity: 3, problem: true },
      { h: { status: "validation_failed" }, severity: 4, problem: true },
    ];
    for (const row of table) {
      const h = { ...healthy, ...row.h };
      assert.equal(severity(h), row.severity, JSON.stringify(row.h));
      assert.equal(hasProblem(h), row.problem, JSON.stringify(row.h));
    }
  });
});
