// The audit log over a real server, on both dialects: every audited action through the API recorded with its
// actor, target and outcome (refusals and failed logins as failures, never a secret in the detail), nothing
// for a failed push, a member's own delete or the reconciler's work; GET /audit's filters, pages and 400s;
// owners only.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { AuditEntryT, AuditPageT, TokenT, WorkspaceT } from "../../../src/contract/api.js";
import { createTestDatabase, DIALECTS, dialectSkip } from "../../support/db.js";
import {
  type Client,
  call,
  client,
  createMember,
  exampleArchive,
  pushTemplate,
  startTestServer,
  type TestServer,
  waitForJob,
} from "./support.js";

async function withServer(dialect: (typeof DIALECTS)[number], fn: (s: TestServer) => Promise<void>) {
  const database = await createTestDatabase(dialect, { migrated: true });
  const postgresUrl = "postgresUrl" in database.location ? database.location.postgresUrl : undefined;
  const server = await startTestServer({ daemons: 1, ...(postgresUrl ? { postgresUrl } : {}) });
  try {
    await fn(server);
  } finally {
    await server.close();
    await database.drop();
  }
}

/** Every entry, newest first, reading all pages. */
async function allEntries(api: Client, query = ""): Promise<AuditEntryT[]> {
  const out: AuditEntryT[] = [];
  let cursor: string | null = null;
  do {
    const sep: string = query ? "&" : "";
    const page: { status: number; body: AuditPageT } = await api.get<AuditPageT>(
      `/api/v1/audit?${query}${cursor ? `${sep}cursor=${encodeURIComponent(cursor)}` : ""}`,
    );
    assert.equal(page.status, 200, JSON.stringify(page.body));
    out.push(...page.body.entries);
    cursor = page.body.nextCursor;
  } while (cursor);
  return out;
}

const brief = (e: AuditEntryT) => [e.actor, e.action, e.target, e.outcome];

for (const dialect of DIALECTS) {
  describe(`audit log API [${dialect}]`, { skip: dialectSkip(dialect), timeout: 120_000 }, () => {
    test("GIVEN owner and member actions THEN each is recorded with its actor, target and outcome, in order", async () => {
      await withServer(dialect, async (server) => {
        const admin = client(server.url, server.adminToken);
        // WHEN the admin creates a member who signs in; then two failed logins
        const mia = (await createMember(admin, server.url, "mia")).api;
        const login = (username: string, password: string) =>
          call(server.url, "POST", "/api/v1/users/login", { body: { username, password } });
        assert.equal((await login("mia", "wrong-secret-1")).status, 401);
        assert.equal((await login("ghost", "wrong-secret-2")).status, 401);
        // AND the member tries owner actions and reading the log
        assert.equal((await mia.post("/api/v1/prebuilds/pause")).status, 403);
        assert.equal((await mia.get("/api/v1/audit")).status, 403);
        // AND the owner runs the prebuild and template operations
        assert.equal((await admin.post("/api/v1/prebuilds/pause")).status, 200);
        const bad = await admin.post("/api/v1/templates/echo-demo/versions", {
          fileHash: "0".repeat(64),
          provisioner: "echo",
        });
        assert.equal(bad.status, 400);
        const { job } = await pushTemplate(admin, "echo-demo", exampleArchive("echo-demo"));
        assert.equal(job.status, "succeeded", job.error ?? "");
        assert.equal((await admin.post("/api/v1/templates/echo-demo/versions/v1/activate")).status, 200);
        assert.equal((await admin.post("/api/v1/templates/echo-demo/prebuilds/invalidate")).status, 200);
        assert.equal((await admin.post("/api/v1/templates/echo-demo/presets/dev/resume")).status, 200);
        const autoscale = await call(server.url, "PUT", "/api/v1/templates/echo-demo/presets/dev/autoscale", {
          token: server.adminToken,
          body: { min: 0, max: 3, targetHitRate: 0.9 },
        });
        assert.equal(autoscale.status, 200, JSON.stringify(autoscale.body));
        assert.equal(
          (await admin.patch("/api/v1/templates/echo-demo", { deprecationMessage: "use v2" })).status,
          200,
        );
        assert.equal(
          (await admin.patch("/api/v1/templates/echo-demo", { deprecationMessage: "" })).status,
          200,
        );
        assert.equal((await admin.post("/api/v1/prebuilds/resume")).status, 200);
        // AND tokens and roles change
        const token = await admin.post<TokenT>("/api/v1/users/me/tokens", { name: "ci" });
        assert.equal(token.status, 201);
        assert.equal((await admin.delete(`/api/v1/users/me/tokens/${token.body.id}`)).status, 204);
        assert.equal((await admin.patch("/api/v1/users/mia", { role: "owner" })).status, 200);
        assert.equal((await admin.patch("/api/v1/users/mia", { role: "member" })).status, 200);
        assert.equal((await admin.patch("/api/v1/users/admin", { role: "member" })).status, 409);
        // AND the member deletes her own workspace, the owner deletes another of hers
        const made = async (name: string) => {
          const w = await mia.post<WorkspaceT>("/api/v1/workspaces", { name, template: "echo-demo" });
          assert.equal(w.status, 201, JSON.stringify(w.body));
          await waitForJob(mia, w.body.latestBuild.jobId);
          return w.body;
        };
        const own = await made("own");
        const other = await made("other");
        const del = (api: Client, w: WorkspaceT) =>
          api.post(`/api/v1/workspaces/${w.id}/builds`, { transition: "delete" });
        assert.equal((await del(mia, own)).status, 201);
        assert.equal((await del(admin, other)).status, 201);

        // THEN the log, oldest first, holds exactly these entries
        const entries = (await allEntries(admin)).reverse();
        assert.deepEqual(entries.map(brief), [
          ["admin", "user.create", "user/mia", "success"],
          ["mia", "user.login", "user/mia", "success"],
          ["mia", "user.login", "user/mia", "failure"],
          [null, "user.login", "user", "failure"],
          ["mia", "prebuilds.pause", "prebuilds", "failure"],
          ["admin", "prebuilds.pause", "prebuilds", "success"],
          ["admin", "template.push", "template/echo-demo", "success"],
          ["admin", "template.activate", "template/echo-demo", "success"],
          ["admin", "prebuilds.invalidate", "template/echo-demo", "success"],
          ["admin", "preset.resume", "preset/echo-demo/dev", "success"],
          ["admin", "preset.settings", "preset/echo-demo/dev", "success"],
          ["admin", "template.deprecate", "template/echo-demo", "success"],
          ["admin", "template.deprecate", "template/echo-demo", "success"],
          ["admin", "prebuilds.resume", "prebuilds", "success"],
          ["admin", "token.create", `token/${token.body.id}`, "success"],
          ["admin", "token.revoke", `token/${token.body.id}`, "success"],
          ["admin", "user.role", "user/mia", "success"],
          ["admin", "user.role", "user/mia", "success"],
          ["admin", "workspace.delete", "workspace/mia/other", "success"],
        ]);
        // AND the details say what happened, never a password or a token secret
        const byAction = (a: string) => entries.filter((e) => e.action === a);
        assert.deepEqual(byAction("user.login")[2]?.detail, {
          method: "password",
          reason: "unknown user",
          username: "ghost",
        });
        assert.equal(byAction("template.push")[0]?.detail.version, "v1");
        assert.deepEqual(
          byAction("template.deprecate").map((e) => e.detail.deprecated),
          [true, false],
        );
        assert.deepEqual(byAction("user.role")[0]?.detail, { from: "member", to: "owner" });
        const text = JSON.stringify(entries);
        for (const secret of ["wrong-secret-1", "wrong-secret-2", "pw-1234", token.body.token])
          assert.ok(!text.includes(secret), `a secret leaked into the log: ${secret}`);
      });
    });

    test("GIVEN many entries THEN pages follow the cursor newest first, filters narrow, bad input is a 400", async () => {
      await withServer(dialect, async (server) => {
        const admin = client(server.url, server.adminToken);
        for (let i = 0; i < 5; i++)
          await admin.post(i % 2 === 0 ? "/api/v1/prebuilds/pause" : "/api/v1/prebuilds/resume");
        const all = await allEntries(admin);
        assert.equal(all.length, 5);
        // WHEN read two at a time THEN the pages join up to the whole log, in the same order
        const first = await admin.get<AuditPageT>("/api/v1/audit?limit=2");
        assert.equal(first.body.entries.length, 2);
        assert.ok(first.body.nextCursor);
        const paged = await allEntries(admin, "limit=2");
        assert.deepEqual(paged, all);
        assert.ok(all.every((e, i) => i === 0 || e.time <= (all[i - 1] as AuditEntryT).time));
        // filters
        assert.equal((await allEntries(admin, "action=prebuilds.pause")).length, 3);
        assert.equal((await allEntries(admin, "actor=ADMIN")).length, 5);
        assert.equal((await allEntries(admin, "actor=nobody")).length, 0);
        assert.equal((await allEntries(admin, "since=1h")).length, 5);
        assert.equal(
          (
            await allEntries(
              admin,
              `since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`,
            )
          ).length,
          0,
        );
        // bad input: a 400 naming the field
        for (const [query, field] of [
          ["action=template.explode", "action"],
          ["since=yesterday", "since"],
          ["cursor=bm9wZQ", "cursor"],
          ["limit=0", "limit"],
          ["limit=1001", "limit"],
        ] as const) {
          const answer = await admin.get<{ field?: string; message: string }>(`/api/v1/audit?${query}`);
          assert.equal(answer.status, 400, query);
          assert.equal(answer.body.field, field, query);
        }
        const unknown = await admin.get<{ message: string }>("/api/v1/audit?action=template.explode");
        assert.match(unknown.body.message, /unknown audit action "template\.explode".*template\.push/);
      });
    });
  });
}
