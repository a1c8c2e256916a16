// The dashboard in a real browser (Debian's chromium driven by playwright-core): sign in (a wrong password
// first), watch the echo-demo pool fill, create a workspace from the form with an invalid parameter and then
// with the `dev` preset (claiming a prebuild), follow its build logs live to the end, pause and resume the
// reconciler, and check narrow screens, keyboard access and that no request leaves the server's origin.
// Screenshots go to test-artifacts/web/; with PREWARM_UPDATE_SCREENSHOTS=1 the pools overview is also copied to
// docs/images/pools.png (the README's screenshot).
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { createTar } from "../../src/provisionersdk/archive.js";
import { hashPassword } from "../../src/server/auth/passwords.js";
import { insertUser } from "../../src/server/store/users.js";
import {
  type Client,
  client,
  pushTemplate,
  startTestServer,
  type TestServer,
} from "../server/api/support.js";
import { skipUnless } from "../support/requirements.js";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = new URL("../../test-artifacts/web/", import.meta.url).pathname;
const README_SHOT = new URL("../../docs/images/pools.png", import.meta.url).pathname;

/** echo-demo with a 2.5 s pause at the start of a claim's apply, so the claim build outlives the page load. */
function slowEchoDemo(): Uint8Array {
  const dir = new URL("../../examples/templates/echo-demo/", import.meta.url).pathname;
  return createTar(
    readdirSync(dir)
      .sort()
      .map((file) => {
        let data = readFileSync(join(dir, file));
        if (file === "0.claim.apply.json") {
          const json = JSON.parse(data.toString("utf8")) as { delayMs?: number };
          data = Buffer.from(JSON.stringify({ ...json, delayMs: 2_500 }));
        }
        if (file === "1.claim.apply.json") {
          // Timings for the waterfall (echo-demo itself reports none).
          const json = JSON.parse(data.toString("utf8")) as { apply: Record<string, unknown> };
          const span = (stage: string, start: string, end: string) => ({
            start: `2026-01-05T10:00:${start}Z`,
            end: `2026-01-05T10:00:${end}Z`,
            action: "claim",
            source: "echo",
            resource: "echo_instance.dev",
            stage,
            state: "COMPLETED",
          });
          json.apply.timings = [span("plan", "00.000", "00.400"), span("apply", "00.400", "02.900")];
          data = Buffer.from(JSON.stringify(json));
        }
        return { path: file, data };
      }),
  );
}

describe("dashboard in a browser", {
  timeout: 90_000,
  skip: skipUnless(existsSync(CHROMIUM), `${CHROMIUM} not installed`),
}, () => {
  let server: TestServer;
  let admin: Client;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  const offOrigin: string[] = [];
  const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, name) });

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    server = await startTestServer({ daemons: 2, reconcileIntervalMs: 5_000 });
    admin = client(server.url, server.adminToken);
    const db = server.server.store.db;
    await insertUser(db, {
      username: "olivia",
      role: "owner",
      passwordHash: await hashPassword("correct horse"),
      now: new Date(),
    });
    const { job } = await pushTemplate(admin, "echo-demo", slowEchoDemo(), { activate: true });
    assert.equal(job.status, "succeeded", `import failed: ${job.error}`);
    profile = mkdtempSync(join(tmpdir(), "prewarm-chromium-"));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--no-sandbox",
        "--disable-background-networking",
        "--disable-gpu",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
      viewport: { width: 1000, height: 760 },
    });
    // Nothing may leave the server's origin (no CDN, no fonts): record and block anything else.
    await context.route("**/*", (route) => {
      const url = route.request().url();
      if (url.startsWith(server.url)) return route.continue();
      offOrigin.push(url);
      return route.abort();
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(20_000);
  });

  after(async () => {
    await context?.close();
    await server?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  test("GIVEN a wrong password THEN the sign-in page says so; THEN the right one opens the pools", async () => {
    await page.goto(`${server.url}/`);
    assert.match(page.url(), /\/login\?next=%2F$/);
    await page.fill("#username", "olivia");
    await page.fill("#password", "wrong");
    await page.click("button[type=submit]");
    const error = await page.textContent("[data-testid=login-error]");
    assert.match(error ?? "", /wrong username or password/);
    await shot("login-error.png");
    await page.fill("#password", "correct horse");
    await page.click("button[type=submit]");
    await page.waitForURL(`${server.url}/`);
    assert.equal(await page.textContent("h1"), "Prebuild pools");
  });

  test("GIVEN echo-demo's dev preset THEN the overview fills to 2 eligible prebuilds by itself", async () => {
    // htmx re-renders #pools every 2 s; no reload here.
    await page.waitForSelector('[data-testid=pool][data-preset=dev][data-eligible="2"]', { timeout: 40_000 });
    const card = await page.textContent("[data-testid=pool][data-preset=dev]");
    assert.match(card ?? "", /2 eligible/);
    assert.match(card ?? "", /TTL\s*24h/);
    // The history recorder caught up with the full pool (next reconciler cycle at the latest).
    await page.waitForSelector('[data-testid=pool][data-preset=dev] svg.chart[aria-label*="2 eligible"]', {
      timeout: 15_000,
    });
    await shot("pools.png");
    if (process.env.PREWARM_UPDATE_SCREENSHOTS === "1") {
      mkdirSync(new URL("../../docs/images/", import.meta.url).pathname, { recursive: true });
      copyFileSync(join(ARTIFACTS, "pools.png"), README_SHOT);
    }
  });

  test("GIVEN the create form WHEN a parameter is invalid THEN the error is shown next to it", async () => {
    await page.goto(`${server.url}/workspaces/new?template=echo-demo`);
    assert.match((await page.textContent("[data-testid=claim-hint]")) ?? "", /2 ready prebuilds/);
    await page.fill("#name", "my-ws");
    await page.check('input[name=preset][value=""]');
    await page.fill("#param-region", "mars");
    await page.click("[data-testid=create-form] button[type=submit]");
    const error = await page.textContent("#param-region-error");
    assert.match(error ?? "", /region/);
    assert.equal(await page.getAttribute("#param-region", "aria-invalid"), "true");
    await shot("invalid-parameter.png");
  });

  test("GIVEN a full pool WHEN a workspace is created with the dev preset THEN it claims a prebuild and its logs stream to the end", async () => {
    await page.fill("#param-region", "");
    await page.check("input[name=preset][value=dev]");
    await page.click("[data-testid=create-form] button[type=submit]");
    await page.waitForURL(/\/workspaces\/[^/?]+\?done=claimed$/);
    assert.match((await page.textContent("[role=status].notice")) ?? "", /from a ready prebuild/);
    // The claim build pauses 2.5 s before its apply logs: the page loads while it runs, the rest arrives over SSE.
    await page.waitForSelector("pre[data-testid=logs][data-log-state=ended]", { timeout: 30_000 });
    const streamed = Number(await page.getAttribute("pre[data-testid=logs]", "data-streamed"));
    assert.ok(streamed > 0, "no log line arrived over the live stream");
    assert.match(
      (await page.textContent("pre[data-testid=logs]")) ?? "",
      /handing the prebuilt workspace over/,
    );
    assert.match((await page.textContent("#log-status")) ?? "", /ended: succeeded/);
    await page.waitForSelector("#ws-status[data-status=succeeded]");
    assert.match((await page.textContent("#ws-status")) ?? "", /claimed from a prebuild/);
    await shot("workspace.png");
    // A reload shows the finished build with its timings waterfall.
    await page.reload();
    assert.match((await page.getAttribute("svg.waterfall", "aria-label")) ?? "", /2 spans over 2900 ms/);
  });

  test("GIVEN the reconciler page THEN an owner pauses and resumes reconciliation", async () => {
    await page.goto(`${server.url}/reconciler`);
    assert.equal((await page.textContent("[data-testid=pause-toggle]"))?.trim(), "Pause reconciliation");
    await page.click("[data-testid=pause-toggle]");
    await page.waitForURL(/done=paused/);
    assert.match((await page.textContent("[data-testid=reconciler-state]")) ?? "", /paused/);
    assert.equal((await admin.get<{ paused: boolean }>("/api/v1/prebuilds/status")).body.paused, true);
    await shot("reconciler-paused.png");
    await page.click("[data-testid=pause-toggle]");
    await page.waitForURL(/done=unpaused/);
    assert.equal((await page.textContent("[data-testid=pause-toggle]"))?.trim(), "Pause reconciliation");
    assert.equal((await admin.get<{ paused: boolean }>("/api/v1/prebuilds/status")).body.paused, false);
    assert.ok(await page.isVisible("[data-testid=plan]"));
  });

  test("GIVEN a narrow screen THEN the overview fits without sideways scrolling and is keyboard reachable", async () => {
    await page.setViewportSize({ width: 380, height: 800 });
    await page.goto(`${server.url}/`);
    await page.waitForSelector("[data-testid=pool][data-preset=dev]");
    // The claim above was a hit.
    assert.match(
      (await page.textContent("[data-testid=pool][data-preset=dev]")) ?? "",
      /100% \(1 of 1 claims warm/,
    );
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    assert.ok(overflow <= 1, `page is ${overflow}px wider than the screen`);
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Skip to content");
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute("href")), "/");
    await shot("pools-narrow.png");
    assert.deepEqual(offOrigin, []);
  });
});
