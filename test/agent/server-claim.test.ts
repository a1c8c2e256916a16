// Acceptance: real `prewarm agent` processes against a real server with the echo provisioner. A prebuild
// becomes eligible only once its agent reports ready; a claim goes to the ready one; the claimed agent keeps
// its token, re-initialises and runs its start scripts for the new owner; SIGTERM runs the stop scripts and
// reports off.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { eventually } from "../server/api/support.js";
import { runCli, stopChild } from "../support/cli.js";
import {
  agentBecomes,
  agentOf,
  createAsMember,
  eligibleOf,
  pushAgentTemplate,
  readLines,
  runningPrebuilds,
  startAgent,
  suiteWorld,
  tokenOf,
} from "./server-harness.js";

/** Start script: records who it ran for, then waits for the test to open the gate. */
const gatedTemplate = {
  instances: 2,
  scripts: [
    {
      displayName: "Prepare",
      runOnStart: true,
      script: `echo "start $PREWARM_WORKSPACE_OWNER_NAME" >> "$OUT/runs"; while [ ! -e "$OUT/gate" ]; do sleep 0.1; done`,
    },
    {
      displayName: "Teardown",
      runOnStop: true,
      script: `echo "stop $CODER_WORKSPACE_OWNER_NAME" >> "$OUT/runs"`,
    },
  ],
  metadata: [
    { key: "owner", displayName: "Owner", script: `echo "owner=$PREWARM_WORKSPACE_OWNER_NAME"`, interval: 1 },
  ],
};

describe("agent readiness gates claims; a claim hands the running agent over", { timeout: 150_000 }, () => {
  const suite = suiteWorld();

  test("GIVEN two prebuilds, one agent gated in its start script WHEN it becomes ready and a user claims THEN the ready one is claimed and re-initialised for the user", async () => {
    const world = suite.current;
    await pushAgentTemplate(world, "gated", gatedTemplate);
    const [older, newer] = await runningPrebuilds(world, "gated", 2);
    assert.ok(older && newer);
    const token = await tokenOf(world, newer.id);
    assert.notEqual(token, await tokenOf(world, older.id), "every prebuild's agent has its own token");
    assert.equal(await eligibleOf(world, "gated"), 0, "no agent reported: nothing is eligible");

    // WHEN the newer prebuild's agent starts: its start script runs (for the prebuilds user) and blocks.
    const agent = await startAgent(world, token, "newer");
    await agentBecomes(world, newer.id, { lifecycleState: "starting", status: "connected" });
    await eventually("the start script to run", async () =>
      readLines(join(agent.out, "runs")).length > 0 ? true : undefined,
    );
    assert.deepEqual(readLines(join(agent.out, "runs")), ["start prebuilds"]);
    assert.equal(await eligibleOf(world, "gated"), 0, "a starting agent is not ready");

    // THEN once the script finishes the agent is ready and the prebuild eligible.
    writeFileSync(join(agent.out, "gate"), "");
    await agentBecomes(world, newer.id, { lifecycleState: "ready" });
    await eventually("one eligible prebuild", async () =>
      (await eligibleOf(world, "gated")) === 1 ? 1 : undefined,
    );

    // WHEN a user claims: the ready prebuild (not the older, unready one) is handed over.
    const mine = await createAsMember(world, "alice", "mine", "gated");
    assert.equal(mine.claimedPrebuild, true);
    assert.equal(mine.id, newer.id);

    // THEN the agent re-initialises for alice with its unchanged token, and reports ready again.
    await eventually("the start script to run for alice", async () =>
      readLines(join(agent.out, "runs")).includes("start alice") ? true : undefined,
    );
    const ready = await agentBecomes(world, newer.id, { lifecycleState: "ready", status: "connected" });
    assert.equal(await tokenOf(world, newer.id), token, "the claim build kept the running agent's token");
    assert.match(agent.output(), /workspace claimed by alice: re-initialising/);
    assert.notEqual(ready.id, (await agentOf(world, older.id)).id);
    const metadata = await eventually("metadata for alice", async () => {
      const m = (await agentOf(world, newer.id)).metadata.find((x) => x.key === "owner");
      return m?.value === "owner=alice" ? m : undefined;
    });
    assert.equal(metadata.error, "");

    // `prewarm show` prints the agent's lifecycle, connection and metadata.
    const show = await runCli(["show", "alice/mine"], {
      env: { PREWARM_URL: world.server.url, PREWARM_TOKEN: world.server.adminToken, NO_COLOR: "1" },
      timeoutMs: 30_000,
    });
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /main\s+.*ready\s+.*connected\s+.*Owner: owner=alice/);

    // WHEN the agent gets SIGTERM THEN the stop script runs for alice and the agent reports off, exit 0.
    const exit = await stopChild(agent.child, "SIGTERM", 20_000);
    assert.equal(exit.code, 0, agent.output());
    assert.deepEqual(readLines(join(agent.out, "runs")), ["start prebuilds", "start alice", "stop alice"]);
    await agentBecomes(world, newer.id, { lifecycleState: "off" });
    assert.equal(await eligibleOf(world, "gated"), 0);
  });
});
