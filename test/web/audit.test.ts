// The dashboard's audit log page against a real server: owners see the entries (sign-ins through the form
// included) with a working filter and a link in the navigation; members get the 403 page and no link, and the
// owner forms they try are recorded as refused; a bad filter is the 400 page, not a 500.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { AuditPageT } from "../../src/contract/api.js";
import {
  type Client,
  client,
  createMember,
  startTestServer,
  type TestServer,
} from "../server/api/support.js";
import { WebClient } from "./support.js";

describe("dashboard audit log", { timeout: 60_000 }, () => {
  let server: TestServer;
  let admin: Client;

  const signedIn = async (who: { username?: string; password?: string; token?: string }) => {
    const web = new WebClient(server.url);
    const answer = await web.signIn(who);
    assert.equal(answer.status, 303, `sign-in failed: ${answer.text.slice(0, 300)}`);
    return web;
  };

  before(async () => {
    server = await startTestServer({ daemons: 0 });
    admin = client(server.url, server.adminToken);
    await createMember(admin, server.url, "mia");
  });
  after(() => server.close());

  test("GIVEN a member WHEN she opens /audit or posts an owner form THEN 403, no nav link, and the refusal is recorded", async () => {
    const web = await signedIn({ username: "mia", password: "pw-1234" });
    const page = await web.get("/audit");
    assert.equal(page.status, 403);
    assert.match(page.text, /Not allowed/);
    assert.doesNotMatch((await web.get("/")).text, /href="\/audit"/);
    const csrf = await web.csrf("/");
    assert.equal((await web.post("/reconciler/pause", { _csrf: csrf })).status, 403);
    const log = (await admin.get<AuditPageT>("/api/v1/audit?actor=mia")).body.entries;
    assert.deepEqual(
      log.map((e) => [e.action, e.outcome, e.detail.via ?? null]),
      [
        ["prebuilds.pause", "failure", null],
        ["user.login", "success", "dashboard"],
        ["user.login", "success", "api"],
      ],
    );
  });

  test("GIVEN an owner THEN the page lists entries, filters by action and links from the nav; a bad filter is a 400 page", async () => {
    const bad = new WebClient(server.url);
    assert.equal((await bad.signIn({ username: "mia", password: "not-it" })).status, 401);
    const web = await signedIn({ token: server.adminToken });
    const page = await web.get("/audit");
    assert.equal(page.status, 200);
    assert.match(page.text, /href="\/audit" aria-current="page"/);
    assert.match(page.text, /data-testid="audit"/);
    assert.match(page.text, /<td>user\.create<\/td><td>user\/mia<\/td>/);
    assert.match(page.text, /<td>user\.login<\/td><td>user\/mia<\/td>\s*<td><span class="badge bad">failure/);
    assert.doesNotMatch(page.text, /not-it/);
    const filtered = await web.get("/audit?action=user.create");
    assert.equal(filtered.status, 200);
    assert.match(filtered.text, /user\.create/);
    assert.doesNotMatch(filtered.text, /<td>user\.login<\/td>/);
    assert.match(filtered.text, /<option value="user\.create" selected>/);
    const wrong = await web.get("/audit?since=whenever");
    assert.equal(wrong.status, 400);
    assert.match(wrong.text, /since: &quot;whenever&quot; is neither/);
  });
});
