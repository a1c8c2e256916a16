// Dashboard access control against a real server: sign-in (password, token, wrong password), session cookie
// attributes, CSRF on every form post, members confined to their own workspaces and kept off owner pages.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { WorkspaceT } from "../../src/contract/api.js";
import {
  type Client,
  client,
  createMember,
  exampleArchive,
  pushTemplate,
  startTestServer,
  type TestServer,
  waitForJob,
} from "../server/api/support.js";
import { WebClient } from "./support.js";

describe("dashboard access control", { timeout: 90_000 }, () => {
  let server: TestServer;
  let admin: Client;
  let adminWorkspace: WorkspaceT;
  let miaWorkspace: WorkspaceT;

  const signedIn = async (who: { username?: string; password?: string; token?: string }) => {
    const web = new WebClient(server.url);
    const answer = await web.signIn(who);
    assert.equal(answer.status, 303, `sign-in failed: ${answer.text.slice(0, 300)}`);
    return web;
  };
  const mia = () => signedIn({ username: "mia", password: "pw-1234" });
  const owner = () => signedIn({ token: server.adminToken });
  const paused = async () => (await admin.get<{ paused: boolean }>("/api/v1/prebuilds/status")).body.paused;

  before(async () => {
    server = await startTestServer({ daemons: 1 });
    admin = client(server.url, server.adminToken);
    const member = await createMember(admin, server.url, "mia");
    const { job } = await pushTemplate(admin, "echo-demo", exampleArchive("echo-demo"), { activate: true });
    assert.equal(job.status, "succeeded", `import failed: ${job.error}`);
    // Pause the reconciler: these tests are about access, not pools (fewer builds competing for the daemon).
    await admin.post("/api/v1/prebuilds/pause");
    const create = async (api: Client, name: string) => {
      const created = await api.post<WorkspaceT>("/api/v1/workspaces", {
        name,
        template: "echo-demo",
        preset: "big-us",
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      await waitForJob(api, created.body.latestBuild.jobId ?? "");
      return created.body;
    };
    adminWorkspace = await create(admin, "admins-box");
    miaWorkspace = await create(member.api, "mias-box");
  });
  after(() => server.close());

  test("GIVEN no session WHEN a page is requested THEN it redirects to the sign-in page; assets stay public", async () => {
    const web = new WebClient(server.url);
    const home = await web.get("/workspaces?x=1");
    assert.equal(home.status, 303);
    assert.equal(home.location, "/login?next=%2Fworkspaces%3Fx%3D1");
    const htmx = await web.get("/static/htmx.min.js");
    assert.equal(htmx.status, 200);
    assert.match(htmx.headers.get("content-type") ?? "", /javascript/);
    assert.match(htmx.text, /htmx/);
    const fragment = await web.request("GET", "/fragments/pools");
    assert.equal(fragment.status, 303);
  });

  test("GIVEN a wrong password or unknown token THEN sign-in fails with a message and no session", async () => {
    for (const credentials of [
      { username: "mia", password: "wrong" },
      { username: "nobody", password: "pw-1234" },
      { token: "abcdefghij-0123456789012345678901234567890a" },
      { username: "prebuilds", password: "" },
    ]) {
      const web = new WebClient(server.url);
      const answer = await web.signIn(credentials);
      assert.equal(answer.status, 401, JSON.stringify(credentials));
      assert.match(answer.text, /data-testid="login-error"/);
      assert.match(answer.text, /wrong username or password|not valid|enter a username/);
      assert.equal(web.cookies.has("prewarm_session"), false);
    }
  });

  test("GIVEN the right password THEN an HttpOnly SameSite=Lax session cookie is set and pages render", async () => {
    const web = new WebClient(server.url);
    const csrf = await web.csrf("/login");
    const answer = await web.request("POST", "/login", {
      _csrf: csrf,
      next: "/workspaces",
      username: "MIA",
      password: "pw-1234",
    });
    assert.equal(answer.status, 303);
    assert.equal(answer.location, "/workspaces");
    const cookie = answer.headers.getSetCookie().find((c) => c.startsWith("prewarm_session="));
    assert.ok(cookie);
    assert.match(cookie, /HttpOnly/i);
    assert.match(cookie, /SameSite=Lax/i);
    const page = await web.get("/workspaces");
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-security-policy") ?? "", /default-src 'self'/);
    assert.match(page.text, /mias-box/);
  });

  test("GIVEN a sign-in form post without its CSRF cookie/field THEN it is refused", async () => {
    const web = new WebClient(server.url);
    const answer = await web.post("/login", { username: "mia", password: "pw-1234", next: "/" });
    assert.equal(answer.status, 403);
    assert.equal(web.cookies.has("prewarm_session"), false);
  });

  test("GIVEN an owner's session WHEN a form is posted without or with a wrong CSRF token THEN it is rejected", async () => {
    const web = await owner();
    const csrf = await web.csrf("/reconciler");
    const forms: Record<string, string>[] = [
      {},
      { _csrf: "" },
      { _csrf: `${csrf}x` },
      { _csrf: await mia().then((m) => m.csrf("/")) },
    ];
    for (const form of forms) {
      const answer = await web.post("/reconciler/resume", form);
      assert.equal(answer.status, 403, JSON.stringify(form));
      assert.match(answer.text, /CSRF/);
    }
    assert.equal(await paused(), true);
    const ok = await web.post("/reconciler/resume", { _csrf: csrf });
    assert.equal(ok.status, 303);
    assert.equal(await paused(), false);
    assert.equal((await web.post("/reconciler/pause", { _csrf: csrf })).status, 303);
    assert.equal(await paused(), true);
  });

  test("GIVEN a member THEN another user's workspace is not found and it is missing from their list", async () => {
    const web = await mia();
    const table: Array<{ path: string; status: number }> = [
      { path: `/workspaces/${adminWorkspace.id}`, status: 404 },
      { path: `/workspaces/${adminWorkspace.id}/status`, status: 404 },
      { path: `/workspaces/${adminWorkspace.id}/builds/1/logs`, status: 404 },
      { path: `/workspaces/${miaWorkspace.id}`, status: 200 },
    ];
    for (const row of table) assert.equal((await web.get(row.path)).status, row.status, row.path);
    const list = await web.get("/workspaces");
    assert.match(list.text, /mias-box/);
    assert.doesNotMatch(list.text, /admins-box/);
    const csrf = await web.csrf("/");
    const stop = await web.post(`/workspaces/${adminWorkspace.id}/builds`, {
      _csrf: csrf,
      transition: "stop",
    });
    assert.equal(stop.status, 404);
    assert.equal((await web.post(`/workspaces/${adminWorkspace.id}/cancel`, { _csrf: csrf })).status, 404);
    assert.equal((await web.get(`/workspaces/${adminWorkspace.id}/builds/1/log-lines`)).status, 404);
    // Her own workspace's build has ended: nothing to cancel (the API's conflict, as an HTML page).
    const ended = await web.post(`/workspaces/${miaWorkspace.id}/cancel`, { _csrf: csrf });
    assert.equal(ended.status, 409);
    assert.match(ended.text, /already ended/);
    // …while an owner sees both.
    const ownerList = await (await owner()).get("/workspaces");
    assert.match(ownerList.text, /admins-box/);
    assert.match(ownerList.text, /mias-box/);
  });

  test("GIVEN a member THEN the reconciler page and owner actions answer 403 and change nothing", async () => {
    const web = await mia();
    const csrf = await web.csrf("/");
    assert.equal((await web.get("/reconciler")).status, 403);
    assert.equal((await web.post("/reconciler/resume", { _csrf: csrf })).status, 403);
    assert.equal((await web.post("/templates/echo-demo/invalidate", { _csrf: csrf })).status, 403);
    assert.equal(
      (await web.post("/templates/echo-demo/presets/dev/resume", { _csrf: csrf, back: "pools" })).status,
      403,
    );
    assert.equal(await paused(), true);
    const home = await web.get("/");
    assert.equal(home.status, 200);
    assert.doesNotMatch(home.text, /href="\/reconciler"/);
  });

  test("GIVEN the create form WHEN a parameter or the name is invalid THEN the error is shown next to that field", async () => {
    const web = await mia();
    const csrf = await web.csrf("/workspaces/new?template=echo-demo");
    const cases: { form: Record<string, string>; field: string; text: RegExp }[] = [
      { form: { name: "ok-name", preset: "", param_region: "mars" }, field: "param-region", text: /region/ },
      { form: { name: "-bad-", preset: "dev" }, field: "name", text: /invalid workspace name/ },
      { form: { name: "mias-box", preset: "big-us" }, field: "name", text: /already have a workspace/ },
      {
        form: { name: "x1", preset: "dev", param_size: "large" },
        field: "param-size",
        text: /preset sets it/,
      },
    ];
    for (const c of cases) {
      const answer = await web.post("/workspaces", { _csrf: csrf, template: "echo-demo", ...c.form });
      assert.ok(answer.status >= 400 && answer.status < 500, `${c.field}: ${answer.status}`);
      const error = new RegExp(`id="${c.field}-error"[^>]*>([^<]*)<`).exec(answer.text);
      assert.ok(error, `no error next to ${c.field}`);
      assert.match(error[1] ?? "", c.text);
      // the field names its error first (then its hint, if any)
      assert.match(answer.text, new RegExp(`aria-describedby="${c.field}-error[ "]`));
    }
  });

  test("GIVEN an owner on a template page THEN versions and presets show, and invalidate / resume-preset work", async () => {
    const web = await owner();
    const page = await web.get("/templates/echo-demo");
    assert.equal(page.status, 200);
    assert.match(page.text, /v1 <span class="badge ok">active<\/span>/);
    assert.match(page.text, /data-preset="dev"/);
    assert.match(page.text, /<code>region=eu-west<\/code>/);
    const csrf = await web.csrf("/templates/echo-demo");
    const invalidated = await web.post("/templates/echo-demo/invalidate", { _csrf: csrf });
    assert.equal(invalidated.status, 303);
    assert.equal(invalidated.location, "/templates/echo-demo?done=invalidated");
    const dev = (
      await admin.get<{ name: string; lastInvalidatedAt: string | null }[]>(
        "/api/v1/templates/echo-demo/presets",
      )
    ).body.find((p) => p.name === "dev");
    assert.notEqual(dev?.lastInvalidatedAt, null);
    assert.match((await web.get("/templates/echo-demo?done=invalidated")).text, /Prebuilds invalidated/);
    // A notice is chosen by code: text in the URL is never shown.
    assert.doesNotMatch((await web.get("/templates/echo-demo?done=%3Cb%3Ehi")).text, /hi<|&lt;b&gt;hi/);
    const resumed = await web.post("/templates/echo-demo/presets/dev/resume", { _csrf: csrf });
    assert.equal(resumed.status, 303);
    // From the pools table or a pool's page, the buttons lead back there (a fixed code, never a URL).
    const back = async (path: string, form: Record<string, string>) =>
      (await web.post(path, { _csrf: csrf, ...form })).location;
    assert.equal(await back("/templates/echo-demo/invalidate", { back: "pools" }), "/?done=invalidated");
    assert.equal(
      await back("/templates/echo-demo/invalidate", { back: "pool", preset_id: "p/1" }),
      "/pools/p%2F1?done=invalidated",
    );
    assert.equal(
      await back("/templates/echo-demo/invalidate", { back: "https://evil.example" }),
      "/templates/echo-demo?done=invalidated",
    );
    assert.match(
      (await back("/templates/echo-demo/presets/dev/resume", { back: "pool" })) ?? "",
      /^\/pools\/[^/?]+\?done=resumed$/,
    );
    assert.equal((await web.post("/templates/echo-demo/presets/nope/resume", { _csrf: csrf })).status, 404);
  });

  test("GIVEN an owner on a template page WHEN they autoscale a preset THEN the API and the pools page show it, and off undoes it", async () => {
    type Dev = { name: string; autoscale: { min: number; max: number; targetHitRate: number } | null };
    const dev = async () =>
      (await admin.get<Dev[]>("/api/v1/templates/echo-demo/presets")).body.find((p) => p.name === "dev");
    const web = await owner();
    assert.match((await web.get("/templates/echo-demo")).text, /data-testid="autoscale-form"/);
    const csrf = await web.csrf("/templates/echo-demo");
    const path = "/templates/echo-demo/presets/dev/autoscale";
    // a member may not, and a missing number is refused naming it
    const member = await mia();
    assert.equal(
      (await member.post(path, { _csrf: await member.csrf("/"), min: "1", max: "6", target: "95" })).status,
      403,
    );
    const blank = await web.post(path, { _csrf: csrf, action: "on", min: "1", max: "6", target: "" });
    assert.ok(blank.status >= 400 && blank.status < 500, `blank target: ${blank.status}`);
    assert.match(blank.text, /target: a number, please/);
    assert.equal((await dev())?.autoscale, null);

    const on = await web.post(path, { _csrf: csrf, action: "on", min: "1", max: "6", target: "95" });
    assert.deepEqual([on.status, on.location], [303, "/templates/echo-demo?done=autoscaled"]);
    assert.deepEqual((await dev())?.autoscale, { min: 1, max: 6, targetHitRate: 0.95, timezone: "UTC" });
    assert.match((await web.get("/templates/echo-demo")).text, /data-testid="autoscale">1–6 for 95%/);
    // The pools table links the pool's page, which has the demand chart.
    const devPool = async () => {
      const link = /href="(\/pools\/[^"]+)" data-testid="pool-link">dev</.exec((await web.get("/")).text);
      assert.ok(link?.[1], "no link to the dev pool's page");
      return (await web.get(link[1])).text;
    };
    assert.match(await devPool(), /data-testid="demand-chart"/);

    const off = await web.post(path, { _csrf: csrf, action: "off" });
    assert.deepEqual([off.status, off.location], [303, "/templates/echo-demo?done=unscaled"]);
    assert.equal((await dev())?.autoscale, null);
    assert.doesNotMatch(await devPool(), /data-testid="demand-chart"/);
  });

  test("GIVEN an unknown page THEN a browser gets an HTML 404 in the dashboard's shell; API clients keep JSON", async () => {
    const web = await mia();
    const page = await web.request("GET", "/no/such/page?x=<b>", undefined, { accept: "text/html" });
    assert.equal(page.status, 404);
    assert.match(page.headers.get("content-type") ?? "", /text\/html/);
    assert.match(page.text, /<h1>Not found<\/h1>/);
    assert.match(page.text, /there is no page at \/no\/such\/page</);
    assert.match(page.text, /<nav aria-label="Main">/);
    const anonymous = await new WebClient(server.url).request("GET", "/nope", undefined, {
      accept: "text/html",
    });
    assert.equal(anonymous.status, 404);
    assert.doesNotMatch(anonymous.text, /<nav/);
    for (const [path, accept] of [
      ["/api/v1/nope", "text/html"],
      ["/nope", "application/json"],
    ] as const) {
      const answer = await web.request("GET", path, undefined, { accept });
      assert.equal(answer.status, 404, path);
      assert.match(answer.text, /"message":"no such route/, path);
    }
    const pool = await web.request("GET", "/pools/no-such-preset", undefined, { accept: "text/html" });
    assert.equal(pool.status, 404);
    assert.match(pool.text, /data-testid="error">pool no-such-preset/);
  });

  test("GIVEN a signed-in user WHEN they sign out THEN the session token no longer works", async () => {
    const web = await mia();
    const session = web.cookies.get("prewarm_session") ?? "";
    const csrf = await web.csrf("/");
    const out = await web.post("/logout", { _csrf: csrf });
    assert.equal(out.status, 303);
    const again = new WebClient(server.url);
    again.cookies.set("prewarm_session", session);
    assert.equal((await again.get("/")).status, 303);
  });
});
