// Acceptance: an upgrade keeps the agent (issue 14 item 7). A start build of a running workspace — a new
// template version — hands the running agent its token (as a claim does), and the events stream tells the
// agent (`updated`) to re-initialise with the new build's manifest: the same process, the same token, ready
// again, with the new version's scripts — also when an earlier upgrade attempt failed. Coder mints new
// tokens here and the running agent drops off (coder/coder#17840). Real `prewarm agent` process, real
// server, echo provisioner.
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import { createMember, eventually } from "../server/api/support.js";
import {
  agentBecomes,
  agentOf,
  pushAgentTemplate,
  readLines,
  startAgent,
  suiteWorld,
  tokenOf,
} from "./server-harness.js";

const version = (label: string) => ({
  instances: 0,
  scripts: [
    {
      displayName: "Prepare",
      runOnStart: true,
      script: `echo "${label} $PREWARM_WORKSPACE_OWNER_NAME" >> "$OUT/runs"`,
    },
  ],
});

describe("an upgrade of a running workspace keeps its agent", { timeout: 90_000 }, () => {
  const suite = suiteWorld();

  test("GIVEN a running workspace with a ready agent and a failed upgrade attempt WHEN it is started on a new version THEN the same agent process re-initialises with the new manifest and its token", async () => {
    const world = suite.current;
    await pushAgentTemplate(world, "up", version("v1"));
    const bob = await createMember(world.admin, world.server.url, "bob");
    const created = await bob.api.post<{ id: string }>("/api/v1/workspaces", { name: "box", template: "up" });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id;
    await eventually("the first build", async () =>
      (await tokenOf(world, id).catch(() => "")) ? 1 : undefined,
    );
    const token = await tokenOf(world, id);
    const agent = await startAgent(world, token, "box");
    const first = await agentBecomes(world, id, { lifecycleState: "ready" });
    assert.deepEqual(readLines(join(agent.out, "runs")), ["v1 bob"]);

    // GIVEN an upgrade attempt that fails (nothing changes on the host; the agent keeps running).
    await pushAgentTemplate(world, "up", { ...version("broken"), applyError: "quota exceeded" });
    const failed = await bob.api.post<{ jobId: string }>(`/api/v1/workspaces/${id}/builds`, {
      transition: "start",
    });
    assert.equal(failed.status, 201, JSON.stringify(failed.body));
    await eventually("the failed upgrade", async () => {
      const { body } = await bob.api.get<{ status: string }>(`/api/v1/jobs/${failed.body.jobId}`);
      return body.status === "failed" ? true : undefined;
    });

    // WHEN a fixed version is pushed and the running workspace started on it (the upgrade, retried).
    await pushAgentTemplate(world, "up", version("v2"));
    const build = await bob.api.post(`/api/v1/workspaces/${id}/builds`, { transition: "start" });
    assert.equal(build.status, 201, JSON.stringify(build.body));

    // THEN the agent runs the new version's start script, in the same process, and is ready on the new agent.
    await eventually("the v2 start script to run", async () =>
      readLines(join(agent.out, "runs")).includes("v2 bob") ? true : undefined,
    );
    const upgraded = await agentBecomes(world, id, { lifecycleState: "ready", status: "connected" });
    assert.notEqual(upgraded.id, first.id, "a new build's agent");
    assert.equal((await agentOf(world, id)).id, upgraded.id);
    assert.equal(await tokenOf(world, id), token, "the upgrade kept the running agent's token");
    assert.equal(agent.child.exitCode, null, "the agent process kept running");
    assert.match(agent.output(), /workspace rebuilt in place \(agent [0-9a-f-]+\): re-initialising/);
    assert.deepEqual(readLines(join(agent.out, "runs")), ["v1 bob", "v2 bob"]);
  });
});
