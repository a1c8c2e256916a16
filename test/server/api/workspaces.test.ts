// Workspaces over the real HTTP API: the lifecycle (create → stop → start → delete) through a real daemon and
// the echo provisioner, input errors, members confined to their own workspaces, agents reporting lifecycle.
// The lifecycle also runs once on PostgreSQL.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { AgentT, BuildT, BuildWithTimingsT, WorkspaceT } from "../../../src/contract/api.js";
import { POSTGRES_MISSING, postgresAvailable, startPostgres } from "../../support/postgres.js";
import { skipUnless } from "../../support/requirements.js";
import { AGENT_TOKEN, agentTemplate } from "./fixtures.js";
import {
  type Client,
  call,
  client,
  createMember,
  pushTemplate,
  startTestServer,
  type TestServer,
  waitForJob,
} from "./support.js";

/** Runs a build transition and waits for it; returns the workspace afterwards (undefined once deleted). */
async function transition(api: Client, ws: WorkspaceT, to: "start" | "stop" | "delete") {
  const created = await api.post<BuildT>(`/api/v1/workspaces/${ws.id}/builds`, { transition: to });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body.transition, to);
  const job = await waitForJob(api, created.body.jobId);
  assert.equal(job.status, "succeeded", `${to} build failed: ${job.error}`);
  const after = await api.get<WorkspaceT>(`/api/v1/workspaces/${ws.id}`);
  return {
    build: created.body,
    workspace: after.status === 200 ? after.body : undefined,
    status: after.status,
  };
}

/** GIVEN a pushed agent template: create → stop → start → delete, checking what the API shows at each step. */
async function lifecycle(server: TestServer): Promise<void> {
  const admin = client(server.url, server.adminToken);
  const { job: importJob } = await pushTemplate(admin, "life", agentTemplate());
  assert.equal(importJob.status, "succeeded", `import failed: ${importJob.error}`);

  const created = await admin.post<WorkspaceT>("/api/v1/workspaces", {
    name: "box",
    template: "life",
    parameters: { cpus: "4" },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body.owner, "admin");
  assert.equal(created.body.template, "life");
  assert.equal(created.body.claimedPrebuild, false);
  assert.equal(created.body.preset, null);
  assert.equal(created.body.latestBuild.number, 1);
  assert.equal(created.body.latestBuild.reason, "initiator");
  const first = await waitForJob(admin, created.body.latestBuild.jobId);
  assert.equal(first.status, "succeeded", `start build failed: ${first.error}`);

  const started = (await admin.get<WorkspaceT>(`/api/v1/workspaces/${created.body.id}`)).body;
  assert.equal(started.latestBuild.status, "succeeded");
  assert.deepEqual(
    started.resources.map((r) => [r.name, r.agents.map((a) => a.name)]),
    [["dev", ["main"]]],
  );
  assert.equal(started.resources[0]?.agents[0]?.status, "connecting");
  assert.deepEqual(
    started.resources[0]?.agents[0]?.apps.map((a) => a.slug),
    ["web"],
  );

  const byName = await admin.get<WorkspaceT>("/api/v1/users/me/workspaces/box");
  assert.equal(byName.body.id, created.body.id);

  const stopped = await transition(admin, started, "stop");
  assert.equal(stopped.workspace?.latestBuild.transition, "stop");
  assert.equal(stopped.workspace?.latestBuild.number, 2);

  const restarted = await transition(admin, started, "start");
  assert.equal(restarted.workspace?.latestBuild.number, 3);
  const build3 = await admin.get<BuildWithTimingsT>(`/api/v1/workspaces/${created.body.id}/builds/3`);
  assert.equal(build3.status, 200);
  assert.equal(build3.body.transition, "start");
  assert.ok(Array.isArray(build3.body.timings));

  const builds = await admin.get<BuildT[]>(`/api/v1/workspaces/${created.body.id}/builds`);
  assert.deepEqual(
    builds.body.map((b) => `${b.number}:${b.transition}`),
    ["3:start", "2:stop", "1:start"],
  );

  const deleted = await transition(admin, started, "delete");
  assert.equal(deleted.status, 404, "a deleted workspace is gone");
  const deleteBuild = await admin.get<BuildWithTimingsT>(`/api/v1/builds/${deleted.build.id}`);
  assert.equal(deleteBuild.status, 200, "the finished delete build stays readable");
  assert.equal(deleteBuild.body.status, "succeeded");
  const list = await admin.get<WorkspaceT[]>("/api/v1/workspaces");
  assert.deepEqual(
    list.body.map((w) => w.name),
    [],
  );
}

describe("workspaces API [sqlite]", { timeout: 180_000 }, () => {
  let server: TestServer;
  let admin: Client;
  let mia: { token: string; api: Client };
  let adminWorkspace: WorkspaceT;

  const liveWorkspaces = async () => {
    const row = await server.server.store.db
      .selectFrom("workspaces")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("deleted", "=", 0)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  };

  before(async () => {
    server = await startTestServer();
    admin = client(server.url, server.adminToken);
    mia = await createMember(admin, server.url, "mia");
  });
  after(() => server.close());

  test("GIVEN an agent template WHEN a workspace is created, stopped, started and deleted THEN each build succeeds", () =>
    lifecycle(server));

  test("GIVEN a workspace WHEN another with the same name is created THEN 409 and nothing is added", async () => {
    await pushTemplate(admin, "errs", agentTemplate());
    const first = await admin.post<WorkspaceT>("/api/v1/workspaces", { name: "dup", template: "errs" });
    assert.equal(first.status, 201);
    adminWorkspace = first.body;
    const count = await liveWorkspaces();
    const second = await admin.post<{ message: string }>("/api/v1/workspaces", {
      name: "dup",
      template: "errs",
    });
    assert.equal(second.status, 409);
    assert.match(second.body.message, /dup/);
    assert.equal(await liveWorkspaces(), count);
  });

  const badParameters: Array<{ given: Record<string, string>; field: string }> = [
    { given: { cpus: "0" }, field: "cpus" },
    { given: { cpus: "9" }, field: "cpus" },
    { given: { cpus: "lots" }, field: "cpus" },
    { given: { name: "Not-Lower" }, field: "name" },
    { given: { colour: "blue" }, field: "colour" },
  ];
  for (const bad of badParameters) {
    test(`GIVEN parameters ${JSON.stringify(bad.given)} WHEN creating THEN 400 names "${bad.field}" and nothing is stored`, async () => {
      const count = await liveWorkspaces();
      const answer = await mia.api.post<{ message: string; field?: string }>("/api/v1/workspaces", {
        name: "param-check",
        template: "errs",
        parameters: bad.given,
      });
      assert.equal(answer.status, 400, JSON.stringify(answer.body));
      assert.equal(answer.body.field, bad.field);
      assert.match(answer.body.message, new RegExp(bad.field));
      assert.equal(await liveWorkspaces(), count);
    });
  }

  test("GIVEN an invalid workspace name in the body THEN 400 names the field", async () => {
    const answer = await mia.api.post<{ field?: string }>("/api/v1/workspaces", {
      name: "-bad name",
      template: "errs",
    });
    assert.equal(answer.status, 400);
    assert.equal(answer.body.field, "name");
  });

  const unknowns: Array<{ name: string; run: (api: Client) => ReturnType<Client["get"]> }> = [
    { name: "template", run: (api) => api.post("/api/v1/workspaces", { name: "x", template: "nope" }) },
    {
      name: "preset",
      run: (api) => api.post("/api/v1/workspaces", { name: "x", template: "errs", preset: "nope" }),
    },
    {
      name: "version",
      run: (api) => api.post("/api/v1/workspaces", { name: "x", template: "errs", templateVersion: "v9" }),
    },
    { name: "workspace", run: (api) => api.get("/api/v1/workspaces/00000000-0000-0000-0000-000000000000") },
    { name: "workspace by name", run: (api) => api.get("/api/v1/users/me/workspaces/nope") },
    { name: "build", run: (api) => api.get("/api/v1/builds/nope") },
    { name: "job", run: (api) => api.get("/api/v1/jobs/nope") },
    {
      name: "workspace for a build",
      run: (api) => api.post("/api/v1/workspaces/nope/builds", { transition: "stop" }),
    },
  ];
  for (const u of unknowns) {
    test(`GIVEN an unknown ${u.name} THEN 404`, async () => {
      const answer = await u.run(mia.api);
      assert.equal(answer.status, 404, JSON.stringify(answer.body));
    });
  }

  test("GIVEN the admin's workspace WHEN a member touches it THEN every route answers 404", async () => {
    const id = adminWorkspace.id;
    const answers = await Promise.all([
      mia.api.get(`/api/v1/workspaces/${id}`),
      mia.api.get(`/api/v1/workspaces/${id}/builds`),
      mia.api.get(`/api/v1/workspaces/${id}/builds/1`),
      mia.api.get(`/api/v1/builds/${adminWorkspace.latestBuild.id}`),
      mia.api.get(`/api/v1/workspaces/${id}/agents`),
      mia.api.post(`/api/v1/workspaces/${id}/builds`, { transition: "stop" }),
      mia.api.get(`/api/v1/jobs/${adminWorkspace.latestBuild.jobId}`),
      mia.api.get(`/api/v1/jobs/${adminWorkspace.latestBuild.jobId}/logs`),
      mia.api.post(`/api/v1/jobs/${adminWorkspace.latestBuild.jobId}/cancel`),
      mia.api.get("/api/v1/users/admin/workspaces/dup"),
    ]);
    assert.deepEqual(
      answers.map((a) => a.status),
      answers.map(() => 404),
    );
  });

  test("GIVEN workspaces of two users WHEN listing THEN members see their own and owners may ask for all", async () => {
    const mine = await mia.api.post<WorkspaceT>("/api/v1/workspaces", { name: "mine", template: "errs" });
    assert.equal(mine.status, 201);
    assert.equal(mine.body.owner, "mia");
    await waitForJob(mia.api, mine.body.latestBuild.jobId);

    const table: Array<{ who: Client; query: string; status: number; names?: string[] }> = [
      { who: mia.api, query: "", status: 200, names: ["mine"] },
      { who: mia.api, query: "?owner=me", status: 200, names: ["mine"] },
      { who: mia.api, query: "?owner=admin", status: 403 },
      { who: mia.api, query: "?all=true", status: 403 },
      { who: admin, query: "", status: 200, names: ["dup"] },
      { who: admin, query: "?owner=mia", status: 200, names: ["mine"] },
      { who: admin, query: "?all=true", status: 200, names: ["dup", "mine"] },
      { who: admin, query: "?all=true&template=errs", status: 200, names: ["dup", "mine"] },
      { who: admin, query: "?all=true&template=nope", status: 400 },
    ];
    for (const row of table) {
      const answer = await row.who.get<WorkspaceT[]>(`/api/v1/workspaces${row.query}`);
      assert.equal(answer.status, row.status, `${row.query}: ${JSON.stringify(answer.body)}`);
      if (row.names) assert.deepEqual(answer.body.map((w) => w.name).sort(), row.names, row.query);
    }

    const fromAdmin = await admin.get<WorkspaceT>("/api/v1/users/mia/workspaces/mine");
    assert.equal(fromAdmin.status, 200, "owners see every user's workspace");
  });

  test("GIVEN a member WHEN creating a workspace for another user THEN 403; an owner may", async () => {
    const refused = await mia.api.post("/api/v1/workspaces", {
      name: "gift",
      template: "errs",
      owner: "admin",
    });
    assert.equal(refused.status, 403);
    const gift = await admin.post<WorkspaceT>("/api/v1/workspaces", {
      name: "gift",
      template: "errs",
      owner: "mia",
    });
    assert.equal(gift.status, 201);
    assert.equal(gift.body.owner, "mia");
    await waitForJob(admin, gift.body.latestBuild.jobId);
  });

  test("GIVEN a running build WHEN another build is requested THEN 409", async () => {
    const ws = await admin.post<WorkspaceT>("/api/v1/workspaces", { name: "busy", template: "errs" });
    const second = await admin.post<{ message: string }>(`/api/v1/workspaces/${ws.body.id}/builds`, {
      transition: "stop",
    });
    // The first build may already have finished on a fast machine; then the stop is legitimately accepted.
    const job = await admin.get<{ status: string }>(`/api/v1/jobs/${ws.body.latestBuild.jobId}`);
    if (second.status === 201) assert.equal(job.body.status, "succeeded");
    else {
      assert.equal(second.status, 409);
      assert.match(second.body.message, /in progress/);
    }
    await waitForJob(admin, ws.body.latestBuild.jobId);
  });

  test("GIVEN a built workspace WHEN its agent reports ready with its token THEN the workspace shows it", async () => {
    const ws = await admin.post<WorkspaceT>("/api/v1/workspaces", { name: "agented", template: "errs" });
    await waitForJob(admin, ws.body.latestBuild.jobId);
    const noToken = await call(server.url, "POST", "/api/v1/agent/lifecycle", {
      body: { state: "ready", changedAt: new Date().toISOString() },
    });
    assert.equal(noToken.status, 401);
    const badToken = await call(server.url, "POST", "/api/v1/agent/lifecycle", {
      token: "not-an-agent-token",
      body: { state: "ready", changedAt: new Date().toISOString() },
    });
    assert.equal(badToken.status, 401);
    const userToken = await call(server.url, "POST", "/api/v1/agent/lifecycle", {
      token: server.adminToken,
      body: { state: "ready", changedAt: new Date().toISOString() },
    });
    assert.equal(userToken.status, 401, "a user token is not an agent token");

    for (const state of ["starting", "ready"]) {
      const report = await call(server.url, "POST", "/api/v1/agent/lifecycle", {
        token: AGENT_TOKEN,
        body: { state, changedAt: new Date().toISOString() },
      });
      assert.equal(report.status, 204, JSON.stringify(report.body));
    }
    const agents = await admin.get<AgentT[]>(`/api/v1/workspaces/${ws.body.id}/agents`);
    assert.equal(agents.body[0]?.lifecycleState, "ready");
    assert.equal(agents.body[0]?.status, "connected");
    assert.notEqual(agents.body[0]?.lastSeenAt, null);

    const invalid = await call(server.url, "POST", "/api/v1/agent/lifecycle", {
      token: AGENT_TOKEN,
      body: { state: "dancing", changedAt: new Date().toISOString() },
    });
    assert.equal(invalid.status, 400);
  });

  test("GIVEN a template used by a user's workspace WHEN an owner deletes it THEN 409", async () => {
    const answer = await admin.delete<{ message: string }>("/api/v1/templates/errs");
    assert.equal(answer.status, 409);
    assert.match(answer.body.message, /workspace/);
  });
});

describe("workspaces API [postgres]", {
  timeout: 180_000,
  skip: skipUnless(postgresAvailable(), POSTGRES_MISSING),
}, () => {
  let server: TestServer;
  let stopPostgres: () => Promise<void> = async () => {};

  before(async () => {
    const pg = await startPostgres();
    stopPostgres = pg.stop;
    server = await startTestServer({ postgresUrl: pg.url });
  });
  after(async () => {
    await server?.close();
    await stopPostgres();
  });

  test("GIVEN an agent template WHEN a workspace is created, stopped, started and deleted THEN each build succeeds", () =>
    lifecycle(server));
});
