import assert from "node:assert/strict";
import { describe, test } from "node:test";
import BetterSqlite3 from "better-sqlite3";
import { cachingStatements } from "../../../src/server/store/sqlite-statement-cache.js";

function database() {
  const raw = new BetterSqlite3(":memory:");
  raw.exec("create table t (n integer); insert into t values (1), (2), (3)");
  return raw;
}

describe("SQLite statement cache", () => {
  test("GIVEN the same SQL twice THEN one prepared statement serves both, with each call's parameters", () => {
    const db = cachingStatements(database());
    const a = db.prepare("select n from t where n > ? order by n");
    const b = db.prepare("select n from t where n > ? order by n");
    assert.equal(a, b);
    assert.deepEqual(a.all([1]), [{ n: 2 }, { n: 3 }]);
    assert.deepEqual(b.all([2]), [{ n: 3 }]);
    db.close();
  });

  test("GIVEN a cached statement busy in an open iterate() THEN the same SQL gets a fresh statement that works", () => {
    const db = cachingStatements(database());
    const sql = "select n from t order by n";
    const first = db.prepare(sql);
    const rows = first.iterate([])[Symbol.iterator]();
    assert.deepEqual(rows.next().value, { n: 1 });
    const second = db.prepare(sql);
    assert.notEqual(second, first);
    assert.deepEqual(second.all([]), [{ n: 1 }, { n: 2 }, { n: 3 }]);
    assert.deepEqual(rows.next().value, { n: 2 }, "the open iteration goes on undisturbed");
    rows.return?.();
    assert.equal(db.prepare(sql), first, "once it is done the cached one serves again");
    db.close();
  });

  test("GIVEN more distinct SQL than the bound THEN the least recently used is dropped", () => {
    const db = cachingStatements(database(), 2);
    const one = db.prepare("select 1");
    const two = db.prepare("select 2");
    assert.equal(db.prepare("select 1"), one, "a hit makes `select 1` the most recent");
    db.prepare("select 3"); // evicts `select 2`
    assert.equal(db.prepare("select 1"), one);
    assert.notEqual(db.prepare("select 2"), two);
    db.close();
  });
});
