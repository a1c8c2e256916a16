// The acquired jobs' archive cache: a file is read once while it is kept, an unknown file is not remembered,
// and the bound on bytes evicts the least recently used archive first (a big one is never kept).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ArchiveCache } from "../../../src/server/daemon-api/archive-cache.js";

function counting(files: Record<string, number>) {
  const reads: string[] = [];
  const load = (id: string) => async () => {
    reads.push(id);
    const size = files[id];
    return size === undefined ? undefined : new Uint8Array(size);
  };
  return { reads, load };
}

describe("ArchiveCache", () => {
  test("GIVEN an archive read once THEN later gets are served from memory; an unknown file is read each time", async () => {
    const cache = new ArchiveCache(1_000);
    const { reads, load } = counting({ a: 100 });
    const first = await cache.get("a", load("a"));
    assert.equal(await cache.get("a", load("a")), first);
    assert.equal(await cache.get("missing", load("missing")), undefined);
    assert.equal(await cache.get("missing", load("missing")), undefined);
    assert.deepEqual(reads, ["a", "missing", "missing"]);
  });

  test("GIVEN more bytes than the bound THEN the least recently used goes first, and an archive over a quarter of it is never kept", async () => {
    const cache = new ArchiveCache(1_000);
    const { reads, load } = counting({ a: 250, b: 250, c: 250, d: 250, e: 250, big: 251 });
    for (const id of ["a", "b", "c", "d"]) await cache.get(id, load(id));
    await cache.get("a", load("a")); // a is now the most recently used
    await cache.get("e", load("e")); // 1,250 bytes: b goes
    await cache.get("big", load("big"));
    await cache.get("big", load("big"));
    for (const id of ["a", "c", "d", "e", "b"]) await cache.get(id, load(id));
    assert.deepEqual(reads, ["a", "b", "c", "d", "e", "big", "big", "b"]);
  });
});
