// Prebuilds over the real HTTP API: the echo-demo pool fills, prebuilds stay hidden from members, a create with
// the preset claims one, the operations API (status, plan, pause/resume, invalidate, resume-preset) and the
// claim metrics at /metrics.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Static } from "@sinclair/typebox";
import type {
  InvalidateResponse,
  PlanT,
  PrebuildsStatusT,
  PresetT,
  WorkspaceT,
} from "../../../src/contract/api.js";
import {
  type Client,
  call,
  client,
  createMember,
  eventually,
  exampleArchive,
  pushTemplate,
  startTestServer,
  type TestServer,
} from "./support.js";

const DEV = "/api/v1/templates/echo-demo/presets";

describe("prebuilds API", { timeout: 120_000 }, () => {
  let server: TestServer;
  let admin: Client;
  let mia: Client;

  const devPool = async () => {
    const presets = (await admin.get<PresetT[]>(DEV)).body;
    return presets.find((p) => p.name === "dev");
  };

  before(async () => {
    server = await startTestServer({ daemons: 2 });
    admin = client(server.url, server.adminToken);
    mia = (await createMember(admin, server.url, "mia")).api;
    const { job } = await pushTemplate(admin, "echo-demo", exampleArchive("echo-demo"));
    assert.equal(job.status, "succeeded", `import failed: ${job.error}`);
  });
  after(() => server.close());

  test("GIVEN echo-demo's dev preset (2 instances) THEN its pool fills to 2 eligible prebuilds", async () => {
    const dev = await eventually(
      "the dev pool to fill",
      async () => {
        const p = await devPool();
        return p && p.prebuilds.eligible === 2 ? p : undefined;
      },
      30_000,
    );
    assert.deepEqual(dev.prebuilds, { desired: 2, running: 2, eligible: 2, expired: 0, starting: 0 });
  });

  test("GIVEN a full pool THEN prebuilds are hidden from members and shown to owners only on request", async () => {
    const table: Array<{ who: Client; query: string; status: number; owners?: string[] }> = [
      { who: mia, query: "", status: 200, owners: [] },
      { who: mia, query: "?all=true&prebuilds=true", status: 403 },
      { who: mia, query: "?owner=prebuilds", status: 403 },
      { who: admin, query: "?all=true", status: 200, owners: [] },
      { who: admin, query: "?all=true&prebuilds=true", status: 200, owners: ["prebuilds", "prebuilds"] },
      { who: admin, query: "?owner=prebuilds", status: 200, owners: ["prebuilds", "prebuilds"] },
    ];
    for (const row of table) {
      const answer = await row.who.get<WorkspaceT[]>(`/api/v1/workspaces${row.query}`);
      assert.equal(answer.status, row.status, row.query);
      if (row.owners)
        assert.deepEqual(
          answer.body.map((w) => w.owner),
          row.owners,
          row.query,
        );
    }
    const prebuild = (await admin.get<WorkspaceT[]>("/api/v1/workspaces?owner=prebuilds"))
      .body[0] as WorkspaceT;
    assert.equal((await mia.get(`/api/v1/workspaces/${prebuild.id}`)).status, 404);
    assert.equal(
      (await mia.post(`/api/v1/workspaces/${prebuild.id}/builds`, { transition: "delete" })).status,
      404,
    );
  });

  test("GIVEN 2 eligible prebuilds WHEN a member creates 3 workspaces with the preset THEN the first 2 are claimed (oldest first) and the 3rd is built", async () => {
    const pool = (await admin.get<WorkspaceT[]>("/api/v1/workspaces?owner=prebuilds")).body;
    const oldestFirst = [...pool].sort((a, b) => a.createdAt.localeCompare(b.createdAt)).map((w) => w.id);
    const created: WorkspaceT[] = [];
    for (const name of ["claim-1", "claim-2", "claim-3"]) {
      const answer = await mia.post<WorkspaceT>("/api/v1/workspaces", {
        name,
        template: "echo-demo",
        preset: "dev",
      });
      assert.equal(answer.status, 201, JSON.stringify(answer.body));
      created.push(answer.body);
    }
    assert.deepEqual(
      created.map((w) => w.claimedPrebuild),
      [true, true, false],
    );
    assert.deepEqual(
      created.slice(0, 2).map((w) => w.id),
      oldestFirst,
    );
    for (const w of created) {
      assert.equal(w.owner, "mia");
      assert.equal(w.preset, "dev");
    }
    const [claimed] = created as [WorkspaceT];
    assert.equal(claimed.latestBuild.prebuildStage, "claim");
    assert.equal(claimed.latestBuild.reason, "claim");
    assert.notEqual(claimed.claimedAt, null);
    assert.equal(claimed.name, "claim-1");

    // The claim duration is the claim build's (Coder's meaning): observed once those builds are done, which
    // `?wait=ready` answers for (agent-less: usable when the claim build finished).
    for (const w of created.slice(0, 2)) {
      const ready = await mia.get<WorkspaceT>(`/api/v1/workspaces/${w.id}?wait=ready&timeout=30s`);
      assert.equal(ready.body.latestBuild.status, "succeeded");
    }
    const metrics = await call<string>(server.url, "GET", "/metrics");
    assert.equal(metrics.status, 200);
    const line = (name: string) =>
      metrics.body.split("\n").find((l) => l.startsWith(name) && l.includes('preset_name="dev"'));
    assert.match(
      line(
        'prewarm_prebuilt_workspace_claims_total{template_name="echo-demo",preset_name="dev",result="hit"}',
      ) ?? "",
      / 2$/,
    );
    assert.match(
      line(
        'prewarm_prebuilt_workspace_claims_total{template_name="echo-demo",preset_name="dev",result="miss"}',
      ) ?? "",
      / 1$/,
    );
    assert.match(line("prewarm_prebuilt_workspace_claim_duration_seconds_count") ?? "", / 2$/);
  });

  test("GIVEN the reconciler WHEN an owner reads its status and plan THEN the dev preset is listed; members get 403", async () => {
    const status = await admin.get<PrebuildsStatusT>("/api/v1/prebuilds/status");
    assert.equal(status.status, 200);
    assert.equal(status.body.paused, false);
    assert.equal(status.body.maxInFlightJobs, 4, "two per active daemon (2 in-process daemons)");
    assert.equal(status.body.reconcileIntervalSeconds, 60);
    const dev = status.body.presets.find((p) => p.preset === "dev");
    assert.equal(dev?.template, "echo-demo");
    assert.equal(dev?.templateVersion, "v1");
    assert.equal(dev?.prebuilds.desired, 2);

    const plan = await admin.get<PlanT>("/api/v1/prebuilds/plan");
    assert.equal(plan.status, 200);
    const devPlan = plan.body.presets.find((p) => p.preset === "dev");
    assert.equal(devPlan?.template, "echo-demo");
    assert.equal(devPlan?.state.desired, 2);
    assert.ok(Array.isArray(devPlan?.actions));

    for (const path of ["/api/v1/prebuilds/status", "/api/v1/prebuilds/plan"]) {
      assert.equal((await mia.get(path)).status, 403, path);
    }
    assert.equal((await mia.post("/api/v1/prebuilds/pause")).status, 403);
  });

  test("GIVEN the reconciler WHEN paused and resumed THEN the switch is persisted and reported", async () => {
    const paused = await admin.post<{ paused: boolean }>("/api/v1/prebuilds/pause");
    assert.deepEqual([paused.status, paused.body], [200, { paused: true }]);
    assert.equal((await admin.get<PrebuildsStatusT>("/api/v1/prebuilds/status")).body.paused, true);
    const resumed = await admin.post<{ paused: boolean }>("/api/v1/prebuilds/resume");
    assert.deepEqual([resumed.status, resumed.body], [200, { paused: false }]);
    assert.equal((await admin.get<PrebuildsStatusT>("/api/v1/prebuilds/status")).body.paused, false);
  });

  test("GIVEN echo-demo WHEN invalidated THEN its dev preset is named and carries the invalidation time", async () => {
    const answer = await admin.post<Static<typeof InvalidateResponse>>(
      "/api/v1/templates/echo-demo/prebuilds/invalidate",
    );
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body.invalidated, [
      { template: "echo-demo", templateVersion: "v1", preset: "dev" },
    ]);
    const dev = await devPool();
    assert.notEqual(dev?.lastInvalidatedAt, null);
  });

  test("GIVEN a healthy preset WHEN resumed THEN it answers the preset, still healthy", async () => {
    const answer = await admin.post<PresetT>("/api/v1/templates/echo-demo/presets/dev/resume");
    assert.equal(answer.status, 200);
    assert.equal(answer.body.name, "dev");
    assert.equal(answer.body.status, "healthy");
    assert.equal(answer.body.template, "echo-demo");
  });
});
