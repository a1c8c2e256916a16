// Storage faults: which driver errors mean "the database cannot serve now" (503, 507 for a full disk) and what
// the periodic loops log about them — one warning per outage and one line when it is over, any other failure
// every time. Driver errors are built as the drivers report them (code and message), through cause chains.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { httpError } from "../../src/server/api/errors.js";
import { createLogger } from "../../src/server/logger.js";
import { outageLog } from "../../src/server/outage-log.js";
import { storageFault } from "../../src/server/store/errors.js";

const driverError = (code: string, message = code) => Object.assign(new Error(message), { code });

describe("storageFault", () => {
  test("GIVEN driver errors THEN faults are recognised by code or pg's message, through causes", () => {
    const table: [unknown, number | undefined][] = [
      [driverError("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:5432"), 503],
      [driverError("57P01", "terminating connection due to administrator command"), 503],
      [driverError("08006", "connection failure"), 503],
      [new Error("Connection terminated unexpectedly"), 503],
      [driverError("SQLITE_BUSY", "database is locked"), 503],
      [driverError("SQLITE_READONLY_DBMOVED"), 503],
      [driverError("SQLITE_IOERR_WRITE"), 503],
      [driverError("SQLITE_FULL", "database or disk is full"), 507],
      [new Error("claim prebuild: failed", { cause: driverError("ECONNRESET") }), 503],
      [Object.assign(new AggregateError([driverError("ECONNREFUSED")]), {}), 503],
      // Not faults: the request's own problem, or a bug.
      [driverError("23505", "duplicate key value violates unique constraint"), undefined],
      [driverError("SQLITE_CONSTRAINT_UNIQUE"), undefined],
      [driverError("42P01", 'relation "x" does not exist'), undefined],
      [new TypeError("cannot read properties of undefined"), undefined],
      ["a string", undefined],
    ];
    for (const [err, status] of table)
      assert.equal(storageFault(err)?.status, status, String((err as Error).message ?? err));
  });

  test("GIVEN a fault THEN the API answers its status with the reason and a Retry-After", () => {
    const answer = httpError(driverError("SQLITE_FULL", "database or disk is full"));
    assert.equal(answer?.status, 507);
    assert.equal(answer?.retryAfterSeconds, 5);
    assert.equal(answer?.body.message, "storage unavailable: the database or the disk is full; retry later");
    assert.equal(httpError(new Error("a bug")), undefined, "anything else stays the handler's 500");
  });
});

describe("outageLog", () => {
  test("GIVEN an outage over many ticks THEN one warning, one line when it is over; other errors every time", () => {
    const lines: Array<{ level: string; msg: string }> = [];
    const logger = createLogger({
      level: "info",
      format: "json",
      destination: { write: (t: string) => void lines.push(JSON.parse(t)) },
    });
    const log = outageLog(logger, "reaper");
    log.succeeded();
    for (let i = 0; i < 5; i++) log.failed(driverError("ECONNREFUSED"), "reaper failed");
    log.failed(new Error("a bug"), "reaper failed");
    log.succeeded();
    log.succeeded();
    log.failed(driverError("57P01"), "reaper failed");
    assert.deepEqual(
      lines.map((l) => [l.level, l.msg]),
      [
        ["warn", "reaper: storage unavailable, skipping until it returns"],
        ["error", "reaper failed"],
        ["info", "reaper: storage available again"],
        ["warn", "reaper: storage unavailable, skipping until it returns"],
      ],
    );
  });
});
