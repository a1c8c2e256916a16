// What agents report, in the store (both dialects): metadata definitions and latest values, bounded logs,
// lifecycle with its changedAt.
import assert from "node:assert/strict";
import { describe } from "node:test";
import {
  appendAgentLogs,
  setAgentLifecycle,
  upsertAgentMetadata,
} from "../../src/server/store/agent-reports.js";
import {
  getAgentWithDetails,
  insertResources,
  listResourcesOfJobs,
  type NewAgent,
} from "../../src/server/store/resources.js";
import type { Store } from "../../src/server/store/store.js";
import { at, T0, workspaceWithBuild, world } from "../server/store/fixtures.js";
import { forEachDialect } from "../support/db.js";

/** A workspace whose one build created `agent`; returns the agent's id. */
async function newAgent(store: Store, agent: NewAgent): Promise<string> {
  const { build } = await workspaceWithBuild(await world(store));
  await insertResources(store.db, {
    jobId: build.jobId,
    transition: "start",
    now: T0,
    resources: [{ type: "echo_instance", name: "dev", agents: [agent] }],
  });
  const [resource] = await listResourcesOfJobs(store.db, [build.jobId]);
  const id = resource?.agents[0]?.id;
  if (!id) throw new Error("no agent inserted");
  return id;
}

describe("agent reports in the store", () => {
  forEachDialect("metadata: definitions from the build, the newest value per key wins", async ({ store }) => {
    const agentId = await newAgent(store, {
      name: "main",
      metadata: [
        { key: "load", displayName: "Load", script: "cat /proc/loadavg", intervalSeconds: 5 },
        { key: "disk", displayName: "Disk", script: "df -h .", intervalSeconds: 60, timeoutSeconds: 3 },
      ],
    });
    await upsertAgentMetadata(store.db, agentId, [
      { key: "load", value: "0.5", error: "", collectedAt: at(2_000) },
      { key: "extra", value: "x", error: "", collectedAt: at(2_000) },
    ]);
    // An older value arriving late does not replace the newer one.
    await upsertAgentMetadata(store.db, agentId, [
      { key: "load", value: "9.9", error: "", collectedAt: at(1_000) },
    ]);
    await upsertAgentMetadata(store.db, agentId, [
      { key: "disk", value: "", error: "timed out after 3s", collectedAt: at(3_000) },
    ]);
    const agent = await getAgentWithDetails(store.db, agentId);
    assert.deepEqual(
      agent?.metadata.map((m) => [
        m.key,
        m.displayName,
        m.value,
        m.error,
        m.collectedAt?.toISOString() ?? null,
      ]),
      [
        ["load", "Load", "0.5", "", at(2_000).toISOString()],
        ["disk", "Disk", "", "timed out after 3s", at(3_000).toISOString()],
        ["extra", "extra", "x", "", at(2_000).toISOString()],
      ],
    );
    assert.equal(agent?.metadata[1]?.timeoutSeconds, 3);
  });

  forEachDialect(
    "logs are kept up to the bound, newest lines win; lifecycle keeps its changedAt",
    async ({ store }) => {
      const agentId = await newAgent(store, { name: "main" });
      const lines = (from: number, n: number) =>
        Array.from({ length: n }, (_, i) => ({
          createdAt: at(from + i),
          level: "info" as const,
          output: `line ${from + i}`,
          source: "Install",
        }));
      await appendAgentLogs(store.db, agentId, lines(0, 4), 5);
      await appendAgentLogs(store.db, agentId, lines(4, 3), 5);
      assert.deepEqual(
        (
          await store.db
            .selectFrom("workspace_agent_logs")
            .select("output")
            .where("agent_id", "=", agentId)
            .orderBy("id")
            .execute()
        ).map((l) => l.output),
        ["line 2", "line 3", "line 4", "line 5", "line 6"],
      );

      await setAgentLifecycle(store.db, agentId, { state: "starting", changedAt: at(100) }, at(200));
      const agent = await getAgentWithDetails(store.db, agentId);
      assert.equal(agent?.lifecycleState, "starting");
      assert.equal(agent?.lifecycleChangedAt?.toISOString(), at(100).toISOString());
      assert.equal(agent?.lastConnectedAt?.toISOString(), at(200).toISOString());
    },
  );
});
