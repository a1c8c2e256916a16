// Login throttling through a real server socket: the API answers 429 with Retry-After once a username or an
// address has used its free failures, lets the right password in after the wait and then forgets the
// username's failures; an unknown username is throttled the same way; the dashboard's sign-in form shares the
// counters and says how long to wait. Time is the server's fake clock (the throttle reads `now`).
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { FakeClock } from "../../support/fake-clock.js";
import { WebClient } from "../../web/support.js";
import { call, client, startTestServer, type TestServer } from "./support.js";

const T0 = new Date("2026-01-05T10:00:00Z");

describe("login throttling", () => {
  let server: TestServer;
  const clock = new FakeClock(T0);
  const later = (ms: number) => clock.set(new Date(clock.now().getTime() + ms));
  const login = (username: string, password: string) =>
    call<{ message: string; token?: string }>(server.url, "POST", "/api/v1/users/login", {
      body: { username, password },
    });

  before(async () => {
    server = await startTestServer({ clock, daemons: 0, loginLimits: { perUsername: 3, perAddress: 12 } });
    const admin = client(server.url, server.adminToken);
    for (const username of ["bob", "carol"])
      await admin.post("/api/v1/users", { username, email: `${username}@example.com`, password: "right" });
  });
  after(() => server.close());
  // Each test starts with the address's record from the ones before forgotten (an hour without failures).
  beforeEach(() => later(60 * 60_000));

  test("GIVEN 3 wrong passwords for bob THEN a 429 with Retry-After; after the wait the right one works and resets", async () => {
    for (let i = 0; i < 3; i++) assert.equal((await login("bob", "wrong")).status, 401);
    const refused = await login("bob", "right");
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get("retry-after"), "1");
    assert.match(refused.body.message, /too many failed sign-in attempts; try again in 1 s/);

    later(1_000);
    assert.equal((await login("bob", "wrong")).status, 401);
    const longer = await login("bob", "right");
    assert.equal(longer.status, 429);
    assert.equal(longer.headers.get("retry-after"), "2", "the delay grows");

    later(2_000);
    const ok = await login("bob", "right");
    assert.equal(ok.status, 201);
    for (let i = 0; i < 3; i++)
      assert.equal((await login("bob", "wrong")).status, 401, "failures start afresh");
    assert.equal((await login("bob", "wrong")).status, 429);
  });

  test("GIVEN an unknown username THEN it is refused and throttled exactly like a known one", async () => {
    for (let i = 0; i < 3; i++) {
      const answer = await login("nobody", "wrong");
      assert.equal(answer.status, 401);
      assert.equal(answer.body.message, "invalid username or password");
    }
    assert.equal((await login("nobody", "wrong")).status, 429);
  });

  test("GIVEN the dashboard's sign-in form THEN it shares the counters and shows the wait with a 429", async () => {
    const browser = new WebClient(server.url);
    for (let i = 0; i < 3; i++)
      assert.equal((await browser.signIn({ username: "carol", password: "no" })).status, 401);
    const refused = await browser.signIn({ username: "carol", password: "right" });
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get("retry-after"), "1");
    assert.match(
      refused.text,
      /data-testid="login-error">too many failed sign-in attempts; try again in 1 s</,
    );
    // The API's login for carol is held back too.
    assert.equal((await login("carol", "right")).status, 429);
    later(1_000);
    assert.equal((await browser.signIn({ username: "carol", password: "right" })).status, 303);
  });

  test("GIVEN many usernames guessed from one address THEN the address is throttled whatever the username", async () => {
    for (let i = 0; i < 12; i++) assert.equal((await login(`guess-${i}`, "wrong")).status, 401);
    const refused = await login("carol", "right");
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get("retry-after"), "1");
  });
});
