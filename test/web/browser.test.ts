// The dashboard in a real browser (Debian's chromium driven by playwright-core): sign in (a wrong password
// first), watch the echo-demo pool fill in the pools table and sort it, see a failing pool's last error and
// failure count where it shows, follow its link to the failed builds and Resume it there, create a workspace
// from the form (a dropdown parameter that conflicts with the preset, then the `dev` preset, claiming a
// prebuild), follow its build logs live to the end (timestamps, stage durations), Stop it, Cancel the stop,
// Start and Delete it, pause and resume the reconciler, see the HTML 404, and check narrow screens, keyboard
// access, axe-core's accessibility rules on every page visited and that no request leaves the server's origin.
// Screenshots go to test-artifacts/web/; with PREWARM_UPDATE_SCREENSHOTS=1 the pools overview is also copied to
// docs/images/pools.png (the README's screenshot).
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import type { WorkspaceT } from "../../src/contract/api.js";
import { createTar } from "../../src/provisionersdk/archive.js";
import { hashPassword } from "../../src/server/auth/passwords.js";
import { insertUser } from "../../src/server/store/users.js";
import {
  type Client,
  client,
  pushTemplate,
  startTestServer,
  type TestServer,
  waitForJob,
} from "../server/api/support.js";
import { skipUnless } from "../support/requirements.js";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = new URL("../../test-artifacts/web/", import.meta.url).pathname;
const README_SHOT = new URL("../../docs/images/pools.png", import.meta.url).pathname;

/**
 * echo-demo with a 2.5 s pause at the start of a claim's apply, so the claim build outlives the page load, and
 * a 4 s pause at the start of a stop's apply, so the stop can be cancelled from the page.
 */
function slowEchoDemo(): Uint8Array {
  return echoDemo((file, data) => {
    if (file === "0.stop.apply.json") {
      return Buffer.from(JSON.stringify({ ...JSON.parse(data.toString("utf8")), delayMs: 4_000 }));
    }
    return data;
  });
}

/** echo-demo whose start apply fails (a broken template): its pool gets hard-limited. */
function brokenEchoDemo(): Uint8Array {
  return echoDemo((file, data) =>
    file === "4.apply.json"
      ? Buffer.from(JSON.stringify({ apply: { error: "quota exceeded: no capacity in eu-west" } }))
      : data,
  );
}

const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/** Runs axe-core in the page (through the devtools protocol, so the page's CSP stays as it is). */
async function assertAccessible(page: Page, what: string): Promise<void> {
  await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    const axe = (
      window as unknown as {
        axe: {
          run: (
            ctx: Document,
          ) => Promise<{ violations: { id: string; help: string; nodes: { target: string[] }[] }[] }>;
        };
      }
    ).axe;
    const result = await axe.run(document);
    return result.violations.map(
      (v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`,
    );
  });
  assert.deepEqual(violations, [], `axe-core on ${what}`);
}

function echoDemo(edit: (file: string, data: Buffer) => Buffer): Uint8Array {
  const dir = new URL("../../examples/templates/echo-demo/", import.meta.url).pathname;
  return createTar(
    readdirSync(dir)
      .sort()
      .map((file) => {
        let data = edit(file, readFileSync(join(dir, file)));
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
  timeout: 180_000,
  skip: skipUnless(existsSync(CHROMIUM), `${CHROMIUM} not installed`),
}, () => {
  let server: TestServer;
  let admin: Client;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  const offOrigin: string[] = [];
  const shot = (name: string, fullPage = false) => page.screenshot({ path: join(ARTIFACTS, name), fullPage });

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    // A hard limit of 2: the broken pool's first two creations hard-limit it; a short backoff, so once resumed
    // it tries again within seconds.
    server = await startTestServer({
      daemons: 2,
      reconcileIntervalMs: 5_000,
      reconcilerSettings: { hardLimit: 2, backoffIntervalMs: 2_000 },
    });
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
    const broken = await pushTemplate(admin, "broken-demo", brokenEchoDemo(), { activate: true });
    assert.equal(broken.job.status, "succeeded", `import failed: ${broken.job.error}`);
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
    await assertAccessible(page, "the sign-in page");
    await page.fill("#password", "correct horse");
    await page.click("button[type=submit]");
    await page.waitForURL(`${server.url}/`);
    assert.equal(await page.textContent("h1"), "Prebuild pools");
  });

  const devRow = "[data-testid=pool][data-template=echo-demo][data-preset=dev]";
  const brokenRow = "[data-testid=pool][data-template=broken-demo][data-preset=dev]";
  const order = () =>
    page.$$eval("[data-testid=pool]", (rows) =>
      rows.map((r) => `${r.getAttribute("data-template")}/${r.getAttribute("data-eligible")}`),
    );

  test("GIVEN echo-demo's dev preset THEN its row in the pools table fills to 2 eligible prebuilds by itself", async () => {
    // htmx re-renders #pools every 2 s; no reload here.
    await page.waitForSelector(`${devRow}[data-eligible="2"]`, { timeout: 40_000 });
    assert.equal((await page.textContent(`${devRow} [data-testid=counts]`))?.trim(), "2/2");
    assert.match((await page.textContent(devRow)) ?? "", /24h/);
    await assertAccessible(page, "the pools page");
  });

  test("GIVEN the pools table WHEN a column header is clicked THEN it sorts by it, and again the other way, across refreshes", async () => {
    assert.deepEqual(await order(), ["broken-demo/0", "echo-demo/2"]);
    await page.click("#sort-eligible");
    await page.waitForURL(/\?sort=eligible&dir=desc$/);
    assert.deepEqual(await order(), ["echo-demo/2", "broken-demo/0"]);
    assert.equal(await page.getAttribute("th:has(#sort-eligible)", "aria-sort"), "descending");
    // The 2 s refresh (a new #pools section) keeps the order.
    await page.evaluate(() => {
      (document.getElementById("pools") as HTMLElement & { old?: boolean }).old = true;
    });
    await page.waitForFunction(
      () => !(document.getElementById("pools") as HTMLElement & { old?: boolean }).old,
    );
    assert.deepEqual(await order(), ["echo-demo/2", "broken-demo/0"]);
    await page.click("#sort-eligible");
    await page.waitForURL(/\?sort=eligible&dir=asc$/);
    assert.deepEqual(await order(), ["broken-demo/0", "echo-demo/2"]);
    assert.equal(await page.getAttribute("th:has(#sort-eligible)", "aria-sort"), "ascending");
  });

  test("GIVEN a broken template THEN its pool's row says hard-limited, the last error and the failures, and links the failed builds", async () => {
    await page.goto(`${server.url}/?sort=status`);
    // Worst first.
    await page.waitForSelector(`${brokenRow}[data-status=hard_limited]`, { timeout: 40_000 });
    assert.equal(await page.getAttribute("[data-testid=pool]", "data-template"), "broken-demo");
    const problem = "[data-testid=pool-problem][data-template=broken-demo]";
    await page.waitForSelector(`${problem} [data-testid=last-error]`);
    assert.match((await page.textContent(problem)) ?? "", /Hard-limited/);
    assert.match((await page.textContent(`${problem} [data-testid=last-error]`)) ?? "", /quota exceeded/);
    assert.match(
      (await page.textContent(`${problem} [data-testid=failure-count]`)) ?? "",
      /2 failed creations/,
    );
    // The README's screenshot at a common laptop width.
    await page.setViewportSize({ width: 1280, height: 720 });
    await shot("pools.png");
    await page.setViewportSize({ width: 1000, height: 760 });
    if (process.env.PREWARM_UPDATE_SCREENSHOTS === "1") {
      mkdirSync(new URL("../../docs/images/", import.meta.url).pathname, { recursive: true });
      copyFileSync(join(ARTIFACTS, "pools.png"), README_SHOT);
    }
    await assertAccessible(page, "the pools page with a failing pool");
    // The pool's page lists the failed builds, with links to their logs.
    await page.click(`${problem} a[href$="#failures"]`);
    await page.waitForURL(/\/pools\/[^/]+#failures$/);
    const failed = await page.$$eval("[data-testid=failed-builds] tbody tr", (rows) =>
      rows.map((r) => r.textContent ?? ""),
    );
    assert.equal(failed.length, 2);
    for (const row of failed) assert.match(row, /build #1[\s\S]*quota exceeded/);
    await assertAccessible(page, "a failing pool's page");
  });

  test("GIVEN the hard-limited pool WHEN an owner clicks Resume on its row THEN the reconciler tries again", async () => {
    await page.goto(`${server.url}/`);
    const failures = Number(await page.getAttribute(brokenRow, "data-failures"));
    await page.click("[data-testid=pool-problem][data-template=broken-demo] button[data-action=resume]");
    await page.waitForURL(/\/\?done=resumed$/);
    assert.match((await page.textContent("[role=status].notice")) ?? "", /Preset resumed/);
    // New creations ran (and failed again): the failure count grows without a reload.
    await page.waitForFunction(
      ([selector, before]) =>
        Number(document.querySelector(selector as string)?.getAttribute("data-failures")) > Number(before),
      [brokenRow, failures] as const,
      { timeout: 30_000 },
    );
  });

  test("GIVEN the dev pool's page THEN it has the history chart", async () => {
    await page.goto(`${server.url}/`);
    await page.click(`${devRow} [data-testid=pool-link]`);
    await page.waitForURL(/\/pools\/[^/?#]+$/);
    // The history recorder caught up with the full pool (next reconciler cycle at the latest).
    await page.waitForSelector('[data-testid=pool-card] svg.chart[aria-label*="2 eligible"]', {
      timeout: 15_000,
    });
  });

  test("GIVEN the create form WHEN a dropdown parameter conflicts with the preset THEN the error is shown next to it", async () => {
    await page.goto(`${server.url}/workspaces/new?template=echo-demo`);
    assert.match((await page.textContent("[data-testid=claim-hint]")) ?? "", /2 ready prebuilds/);
    // Parameters show their display names and their form types' controls.
    assert.equal(await page.textContent("label[for=param-region]"), "Region");
    assert.equal(await page.getAttribute("[data-kind=radio]", "id"), "param-size");
    const regions = await page.$$eval("#param-region option", (o) => o.map((x) => x.textContent));
    assert.deepEqual(regions, [
      "default (Europe (West))",
      "Europe (West)",
      "US (East)",
      "Asia Pacific (Tokyo)",
    ]);
    await assertAccessible(page, "the create form");
    await page.fill("#name", "my-ws");
    await page.check("input[name=preset][value=dev]");
    await page.selectOption("#param-region", "us-east");
    await page.click("[data-testid=create-form] button[type=submit]");
    const error = await page.textContent("#param-region-error");
    assert.match(error ?? "", /preset sets it/);
    assert.equal(await page.getAttribute("#param-region", "aria-invalid"), "true");
    assert.equal(await page.inputValue("#param-region"), "us-east");
    await shot("invalid-parameter.png", true);
  });

  test("GIVEN a full pool WHEN a workspace is created with the dev preset THEN it claims a prebuild and its logs stream to the end", async () => {
    await page.selectOption("#param-region", "");
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
    // At the end the server's rendering replaces the streamed lines: timestamps and stage durations.
    await page.waitForSelector("pre[data-testid=logs] .stage .dur");
    assert.match((await page.textContent("pre[data-testid=logs]")) ?? "", /\d\d:\d\d:\d\d\.\d{3} /);
    await page.waitForSelector("#ws-status[data-status=succeeded]");
    assert.match((await page.textContent("#ws-status")) ?? "", /claimed from a prebuild/);
    await shot("workspace.png");
    // A reload shows the finished build with its timings waterfall.
    await page.reload();
    assert.match((await page.getAttribute("svg.waterfall", "aria-label")) ?? "", /2 spans over 2900 ms/);
    assert.equal((await page.textContent("#ws-status [data-testid=ws-state]"))?.trim(), "running");
    await assertAccessible(page, "the workspace page");
  });

  test("GIVEN the running workspace WHEN it is stopped, the stop cancelled, then started and deleted THEN each button works", async () => {
    const id = /\/workspaces\/([^/?#]+)/.exec(page.url())?.[1] ?? "";
    const latestJob = async () =>
      (await admin.get<WorkspaceT>(`/api/v1/workspaces/${id}`)).body.latestBuild.jobId ?? "";
    const state = () => page.textContent("#ws-status [data-testid=ws-state]").then((t) => t?.trim());
    assert.ok(await page.isVisible("button[data-action=stop]"));
    await page.click("button[data-action=stop]");
    await page.waitForURL(/done=build/);
    // The stop waits 4 s before its apply: Cancel is offered meanwhile.
    await page.click("button[data-action=cancel]");
    await page.waitForURL(/done=canceled/);
    await page.waitForSelector("#ws-status[data-status=canceled]", { timeout: 20_000 });
    assert.equal(await state(), "canceled");
    assert.equal((await waitForJob(admin, await latestJob())).status, "canceled");
    await page.click("button[data-action=start]");
    await page.waitForURL(/done=build/);
    await page.waitForSelector("#ws-status[data-status=succeeded]", { timeout: 20_000 });
    assert.equal(await state(), "running");
    // Delete asks once more.
    assert.equal(await page.isVisible("button[data-action=delete]"), false);
    await page.click("summary[data-action=delete-ask]");
    await page.click("button[data-action=delete]");
    await page.waitForURL(/done=build/);
    assert.equal((await waitForJob(admin, await latestJob())).status, "succeeded");
    assert.equal((await admin.get(`/api/v1/workspaces/${id}`)).status, 404);
  });

  test("GIVEN the other pages THEN they pass axe-core's rules too", async () => {
    for (const path of [
      "/templates",
      "/templates/echo-demo",
      "/workspaces",
      "/workspaces?prebuilds=1",
      "/audit",
    ]) {
      await page.goto(`${server.url}${path}`);
      await assertAccessible(page, path);
    }
  });

  test("GIVEN an unknown page THEN the browser shows the dashboard's 404 page", async () => {
    const answer = await page.goto(`${server.url}/no-such-page`);
    assert.equal(answer?.status(), 404);
    assert.equal(await page.textContent("h1"), "Not found");
    assert.match((await page.textContent("[data-testid=error]")) ?? "", /no page at \/no-such-page/);
    await assertAccessible(page, "the 404 page");
  });

  test("GIVEN the reconciler page THEN an owner pauses and resumes reconciliation", async () => {
    await page.goto(`${server.url}/reconciler`);
    assert.equal((await page.textContent("[data-testid=pause-toggle]"))?.trim(), "Pause reconciliation");
    await page.click("[data-testid=pause-toggle]");
    await page.waitForURL(/done=paused/);
    assert.match((await page.textContent("[data-testid=reconciler-state]")) ?? "", /paused/);
    assert.equal((await admin.get<{ paused: boolean }>("/api/v1/prebuilds/status")).body.paused, true);
    await shot("reconciler-paused.png");
    await assertAccessible(page, "the reconciler page");
    await page.click("[data-testid=pause-toggle]");
    await page.waitForURL(/done=unpaused/);
    assert.equal((await page.textContent("[data-testid=pause-toggle]"))?.trim(), "Pause reconciliation");
    assert.equal((await admin.get<{ paused: boolean }>("/api/v1/prebuilds/status")).body.paused, false);
    assert.ok(await page.isVisible("[data-testid=plan]"));
  });

  test("GIVEN a narrow screen THEN the overview fits without sideways scrolling and is keyboard reachable", async () => {
    await page.setViewportSize({ width: 380, height: 800 });
    await page.goto(`${server.url}/`);
    await page.waitForSelector(devRow);
    // The claim above was a hit.
    assert.match((await page.textContent(`${devRow} [data-testid=hit-rate]`)) ?? "", /100% \(1\/1\)/);
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
