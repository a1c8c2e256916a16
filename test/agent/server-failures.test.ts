// Acceptance: what goes wrong, with real `prewarm agent` processes against a real server (echo). A failing
// start script gives start_error and the prebuild is never claimed; a killed agent shows as disconnected after
// its connection timeout; a wrong token is refused; the server refuses impossible lifecycle reports (409) and
// the agents of a deleted workspace (401).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { WorkspaceT } from "../../src/contract/api.js";
import { call, eventually, waitForJob } from "../server/api/support.js";
import { runCli, stopChild } from "../support/cli.js";
import {
  agentBecomes,
  createAsMember,
  eligibleOf,
  pushAgentTemplate,
  runningPrebuilds,
  startAgent,
  suiteWorld,
  tokenOf,
} from "./server-harness.js";

describe("agent failures against a real server", { timeout: 150_000 }, () => {
  const suite = suiteWorld();

  test("GIVEN a start script that exits 3 WHEN the agent runs it THEN start_error names the script and a create with the preset does not claim the prebuild", async () => {
    const world = suite.current;
    await pushAgentTemplate(world, "broken", {
      instances: 1,
      scripts: [{ displayName: "Install deps", runOnStart: true, script: "echo installing; exit 3" }],
    });
    const [prebuild] = await runningPrebuilds(world, "broken", 1);
    assert.ok(prebuild);
    const agent = await startAgent(world, await tokenOf(world, prebuild.id), "broken");
    await agentBecomes(world, prebuild.id, { lifecycleState: "start_error", status: "connected" });
    assert.match(agent.output(), /start_error \(script "Install deps" exited with code 3\)/);
    assert.equal(await eligibleOf(world, "broken"), 0);

    const fresh = await createAsMember(world, "bob", "fresh", "broken");
    assert.equal(fresh.claimedPrebuild, false);
    assert.notEqual(fresh.id, prebuild.id);
    const still = await world.admin.get<WorkspaceT>(`/api/v1/workspaces/${prebuild.id}`);
    assert.equal(still.body.owner, "prebuilds");
    await stopChild(agent.child, "SIGKILL");
  });

  test("GIVEN an agent with a 2 s connection timeout WHEN it is killed THEN it shows disconnected, and refused reports answer 409", async () => {
    const world = suite.current;
    await pushAgentTemplate(world, "flaky", {
      instances: 1,
      connectionTimeoutSeconds: 2,
      scripts: [{ displayName: "Noop", runOnStart: true, script: "true" }],
    });
    const [prebuild] = await runningPrebuilds(world, "flaky", 1);
    assert.ok(prebuild);
    const token = await tokenOf(world, prebuild.id);
    const agent = await startAgent(world, token, "flaky");
    await agentBecomes(world, prebuild.id, { lifecycleState: "ready", status: "connected" });

    await stopChild(agent.child, "SIGKILL");
    const gone = await agentBecomes(world, prebuild.id, { status: "disconnected" }, 15_000);
    assert.equal(gone.lifecycleState, "ready", "the last reported lifecycle stays");

    // GIVEN the agent is ready: `created` and a jump to `off` are refused, as is a report older than the
    // current state; the same report again is accepted (a resend after a lost reply).
    const report = (state: string, changedAt: string) =>
      call(world.server.url, "POST", "/api/v1/agent/lifecycle", { token, body: { state, changedAt } });
    const now = new Date().toISOString();
    const cases: Array<[string, string, number]> = [
      ["created", now, 409],
      ["off", now, 409],
      ["starting", "2000-01-01T00:00:00.000Z", 409],
    ];
    for (const [state, changedAt, want] of cases) {
      const res = await report(state, changedAt);
      assert.equal(res.status, want, `${state} at ${changedAt}: ${JSON.stringify(res.body)}`);
    }
    const ready = await agentBecomes(world, prebuild.id, { lifecycleState: "ready" });
    assert.equal(ready.status, "connected", "a refused report still shows the agent is alive");
  });

  test("GIVEN a wrong token WHEN the agent starts THEN it exits 1 saying the server refused the token", async () => {
    const world = suite.current;
    const res = await runCli(["agent", "--url", world.server.url], {
      env: { PREWARM_AGENT_TOKEN: "not-a-real-token", CODER_AGENT_TOKEN: "", CODER_AGENT_URL: "" },
      timeoutMs: 30_000,
    });
    assert.equal(res.code, 1);
    assert.match(res.stderr, /refused the agent token \(401: invalid agent token\)/);
  });

  test("GIVEN a deleted workspace WHEN its agent's token is used THEN every agent route answers 401", async () => {
    const world = suite.current;
    const [prebuild] = await runningPrebuilds(world, "flaky", 1);
    assert.ok(prebuild);
    const token = await tokenOf(world, prebuild.id);
    assert.equal((await call(world.server.url, "GET", "/api/v1/agent/manifest", { token })).status, 200);
    const deleted = await world.admin.post<{ jobId: string }>(`/api/v1/workspaces/${prebuild.id}/builds`, {
      transition: "delete",
    });
    assert.equal(deleted.status, 201, JSON.stringify(deleted.body));
    await waitForJob(world.admin, deleted.body.jobId);
    await eventually("the manifest to be refused", async () => {
      const res = await call(world.server.url, "GET", "/api/v1/agent/manifest", { token });
      return res.status === 401 ? res : undefined;
    });
    const heartbeat = await call(world.server.url, "POST", "/api/v1/agent/heartbeat", { token });
    assert.equal(heartbeat.status, 401);
  });
});
