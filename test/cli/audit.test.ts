// `prewarm audit list` and `prewarm users role` as a real child process against the fake API: the query
// carries the filters, pages are followed up to --limit, the table has TIME ACTOR ACTION TARGET OUTCOME, and
// -o json prints the entries array.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type AuditEntryT, routes } from "../../src/contract/api.js";
import { runCli } from "../support/cli.js";
import { fakeApiSuite } from "./support/env.js";

const entry = (i: number, extra: Partial<AuditEntryT> = {}): AuditEntryT => ({
  time: `2026-01-05T10:00:0${i}.123Z`,
  actor: "admin",
  action: "template.push",
  target: `template/t${i}`,
  outcome: "success",
  detail: { version: "v1" },
  ...extra,
});

describe("audit list (real CLI)", () => {
  const suite = fakeApiSuite();

  test("GIVEN two pages WHEN listed with filters THEN the query carries them and the table shows both pages", async () => {
    suite.fake.on(routes.listAudit, (request) =>
      request.query.get("cursor") === "next"
        ? {
            status: 200,
            body: {
              entries: [entry(1, { actor: null, action: "user.login", target: "user", outcome: "failure" })],
              nextCursor: null,
            },
          }
        : { status: 200, body: { entries: [entry(2)], nextCursor: "next" } },
    );
    const res = await runCli(
      ["audit", "list", "--action", "template.push", "--actor", "admin", "--since", "24h"],
      {
        env: suite.ctx.env,
      },
    );
    assert.equal(res.code, 0, res.stderr);
    const first = suite.fake.calls(routes.listAudit).at(-2)?.query;
    assert.equal(first?.get("action"), "template.push");
    assert.equal(first?.get("actor"), "admin");
    assert.equal(first?.get("since"), "24h");
    assert.equal(first?.get("limit"), "100");
    assert.match(res.stdout, /^TIME +ACTOR +ACTION +TARGET +OUTCOME$/m);
    assert.match(res.stdout, /^2026-01-05T10:00:02Z +admin +template\.push +template\/t2 +success$/m);
    assert.match(res.stdout, /^2026-01-05T10:00:01Z +- +user\.login +user +failure$/m);
  });

  test("GIVEN -o json and --limit 1 THEN the entries array is printed, one page read", async () => {
    suite.fake.on(routes.listAudit, { status: 200, body: { entries: [entry(3)], nextCursor: "more" } });
    const before = suite.fake.calls(routes.listAudit).length;
    const res = await runCli(["audit", "list", "--limit", "1", "-o", "json"], { env: suite.ctx.env });
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(JSON.parse(res.stdout), [entry(3)]);
    assert.equal(suite.fake.calls(routes.listAudit).length, before + 1);
    assert.equal(suite.fake.calls(routes.listAudit).at(-1)?.query.get("limit"), "1");
  });

  test("GIVEN a bad --limit THEN a usage error, nothing is asked", async () => {
    const res = await runCli(["audit", "list", "--limit", "zero"], { env: suite.ctx.env });
    assert.equal(res.code, 2);
    assert.match(res.stderr, /invalid --limit "zero"/);
  });

  test("users role NAME ROLE patches the user", async () => {
    suite.fake.on(routes.updateUser, {
      status: 200,
      body: {
        id: "u1",
        username: "mia",
        email: "mia@example.com",
        role: "owner",
        system: false,
        createdAt: "2026-01-05T10:00:00.000Z",
      },
    });
    const res = await runCli(["users", "role", "mia", "owner"], { env: suite.ctx.env });
    assert.equal(res.code, 0, res.stderr);
    const call = suite.fake.calls(routes.updateUser).at(-1);
    assert.equal(call?.path, "/api/v1/users/mia");
    assert.deepEqual(JSON.parse(String(call?.body)), { role: "owner" });
    assert.match(res.stdout, /^User mia is now owner\.$/m);
  });
});
