// The server's logs: JSON records (ISO time, level name) or human lines; one request line at debug with the
// request id, route, status and duration; a user's error (a 409) without a stack; claims, misses, builds and
// the reconciler's state changes at info.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { conflict } from "../../src/server/domain-errors.js";
import { createLogger } from "../../src/server/logger.js";
import { stateChange } from "../../src/server/prebuilds/reconciler.js";
import { createApiToken } from "../../src/server/store/users.js";
import { changes } from "../support/changes.js";
import {
  eventually,
  presetNamed,
  pushTemplate,
  waitForPool,
  withWorld,
} from "./prebuilds/integration-harness.js";

/** A destination that keeps every line written. */
function capture() {
  const lines: string[] = [];
  return {
    lines,
    write(text: string) {
      lines.push(...text.split("\n").filter((l) => l !== ""));
      // A new record may be what a test waits for.
      changes.bump();
    },
    records(): Array<Record<string, unknown>> {
      return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    },
  };
}

describe("log formats", () => {
  test("GIVEN json THEN one record per line with an ISO time and the level's name, secrets redacted", () => {
    const out = capture();
    const logger = createLogger({ level: "info", format: "json", destination: out });
    logger.info({ workspace: "dev", psk: "s3cret" }, "prebuild claimed");
    logger.debug("not at info");
    const [record, ...rest] = out.records();
    assert.equal(rest.length, 0);
    assert.equal(record?.level, "info");
    assert.match(String(record?.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(record?.msg, "prebuild claimed");
    assert.equal(record?.workspace, "dev");
    assert.equal(record?.psk, "[redacted]");
  });

  test("GIVEN human THEN time, level, component, message and key=value on one line; a server fault's stack below", () => {
    const out = capture();
    const logger = createLogger({ level: "info", format: "human", destination: out });
    logger
      .child({ component: "reconciler" })
      .info({ created: 2, reason: "new version" }, "reconciled prebuilds");
    logger.error({ err: new Error("disk full") }, "request failed");
    assert.match(
      out.lines[0]!,
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO {2}\[reconciler\] reconciled prebuilds created=2 reason="new version"$/,
    );
    assert.match(out.lines[1]!, /^\S+Z ERROR request failed err="disk full"$/);
    assert.match(out.lines[2]!, /^ {4}Error: disk full$/);
    assert.match(out.lines[3]!, /^ {4}\s*at /);
  });

  test("GIVEN a user's error (a DomainError or a 4xx) THEN it is logged without a stack", () => {
    const out = capture();
    const logger = createLogger({ level: "info", format: "json", destination: out });
    logger.warn({ err: conflict('you already have a workspace named "dev"') }, "refused");
    logger.warn({ err: Object.assign(new Error("nope"), { statusCode: 403 }) }, "refused");
    for (const record of out.records()) {
      const err = record.err as Record<string, unknown>;
      assert.equal(err.stack, undefined);
      assert.ok(err.message);
    }
    const first = out.records()[0]!;
    assert.equal((first.err as { kind: string }).kind, "conflict");
  });
});

describe("reconciler state changes", () => {
  test("GIVEN outcomes of consecutive cycles THEN a line only when the state changes", () => {
    assert.equal(stateChange(undefined, "ran"), undefined);
    assert.equal(stateChange("ran", "ran"), undefined);
    assert.equal(stateChange("ran", "failed"), undefined, "a failing cycle logs its own error");
    assert.match(stateChange("ran", "paused") ?? "", /paused/);
    assert.match(stateChange(undefined, "paused") ?? "", /paused/);
    assert.match(stateChange("paused", "ran") ?? "", /resumed/);
    assert.match(stateChange("ran", "not_leader") ?? "", /standby/);
    assert.match(stateChange("not_leader", "ran") ?? "", /took over/);
    assert.match(stateChange("failed", "ran") ?? "", /recovered/);
  });
});

describe("server logs", () => {
  test("GIVEN a server at debug WHEN a prebuild is built, claimed, a name reused and the reconciler paused THEN each is logged", async () => {
    const out = capture();
    const logger = createLogger({ level: "debug", format: "json", destination: out });
    await withWorld("sqlite", { daemons: 1, logger }, async (world) => {
      const pushed = await pushTemplate(
        world,
        "logged",
        { presets: [{ name: "dev", instances: 1 }] },
        { activate: true },
      );
      await waitForPool(world, presetNamed(pushed, "dev").id, { running: 1 });
      const find = (msg: string, extra: (r: Record<string, unknown>) => boolean = () => true) =>
        out.records().find((r) => r.msg === msg && extra(r));

      const built = find("workspace build succeeded", (r) => r.prebuildStage === "create");
      assert.equal(built?.level, "info");
      assert.equal(built?.transition, "start");

      const { token } = await createApiToken(world.store.db, {
        userId: world.admin.id,
        name: "logs-test",
        now: world.clock.now(),
      });
      const create = (name: string) =>
        fetch(`${world.server.url}/api/v1/workspaces`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify({ name, template: "logged", preset: "dev" }),
        });
      assert.equal((await create("mine")).status, 201);
      const claimed = find("prebuild claimed");
      assert.equal(claimed?.level, "info");
      assert.equal(claimed?.workspace, "mine");
      assert.equal(claimed?.template, "logged");
      assert.equal(claimed?.preset, "dev");
      // The pool is empty until the reconciler refills it: the next create misses.
      assert.equal((await create("other")).status, 201);
      assert.equal(find("prebuild claim missed: no ready prebuild, building from scratch")?.level, "info");

      assert.equal((await create("mine")).status, 409);
      const requestLine = await eventually("the 409's request line", async () =>
        find("request", (r) => r.status === 409),
      );
      assert.equal(requestLine.level, "debug");
      assert.equal(requestLine.component, "http");
      assert.equal(requestLine.method, "POST");
      assert.equal(requestLine.route, "/api/v1/workspaces");
      assert.match(String(requestLine.reqId), /\S/);
      assert.equal(typeof requestLine.durationMs, "number");
      assert.match(String(requestLine.error), /already have a workspace named "mine"/);
      assert.ok(
        find("request", (r) => r.status === 201),
        "successful requests are logged too",
      );
      assert.doesNotMatch(out.lines.join("\n"), /"stack"|\n\s+at /, "no stack anywhere");
      assert.doesNotMatch(out.lines.join("\n"), new RegExp(token), "the token is never logged");

      const paused = await fetch(`${world.server.url}/api/v1/prebuilds/pause`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(paused.status, 200);
      await world.server.reconciler.runCycle();
      const state = find("reconciler paused: prebuilds are planned but nothing is created or deleted");
      assert.equal(state?.level, "info");
      assert.equal(state?.component, "reconciler");
    });
  });
});
