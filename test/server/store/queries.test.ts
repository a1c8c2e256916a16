import assert from "node:assert/strict";
import { describe } from "node:test";
import {
  countPrebuildEvents,
  insertPrebuildEvent,
  markPresetUnhealthy,
  readPaused,
  writePaused,
} from "../../../src/server/prebuilds/queries.js";
import { PREBUILDS_USER_ID } from "../../../src/server/prebuilds/system-user.js";
import { setAgentLifecycle } from "../../../src/server/store/agent-reports.js";
import { listActiveDaemons, upsertDaemon } from "../../../src/server/store/daemons.js";
import { getFile, insertFile } from "../../../src/server/store/files.js";
import { tryAdvisoryXactLock } from "../../../src/server/store/locks.js";
import {
  getPresetByName,
  insertPresets,
  invalidateTemplatePresets,
  listPresets,
} from "../../../src/server/store/presets.js";
import {
  getAgentByToken,
  getAgentTokensOfJob,
  insertResources,
  listResourcesOfJobs,
} from "../../../src/server/store/resources.js";
import { openStore } from "../../../src/server/store/store.js";
import {
  insertTemplateVersionParameters,
  listTemplateVersionParameters,
  type TemplateParameter,
} from "../../../src/server/store/templates.js";
import {
  authenticateApiToken,
  createApiToken,
  deleteApiToken,
  insertUser,
} from "../../../src/server/store/users.js";
import {
  getBuildParameters,
  getLatestBuild,
  getLatestBuilds,
  getWorkspace,
  setBuildProvisionerState,
} from "../../../src/server/store/workspaces.js";
import { forEachDialect } from "../../support/db.js";
import { addBuild, at, T0, workspaceWithBuild, world } from "./fixtures.js";

const MINUTE = 60_000;

describe("store queries", () => {
  forEachDialect("timestamps round-trip to the millisecond, including edge instants", async ({ store }) => {
    const instants = [
      new Date("2026-03-29T01:59:59.999Z"),
      new Date(0),
      new Date("2262-04-11T23:47:16.854Z"),
      at(1),
    ];
    for (const [i, instant] of instants.entries()) {
      const user = await insertUser(store.db, { username: `u${i}`, role: "member", now: instant });
      const back = await store.db
        .selectFrom("users")
        .select("created_at")
        .where("id", "=", user.id)
        .executeTakeFirstOrThrow();
      assert.equal(back.created_at, instant.getTime());
      assert.equal(typeof back.created_at, "number");
      assert.deepEqual(user.createdAt, instant);
    }
  });

  forEachDialect("API tokens authenticate only with the right secret, before expiry", async ({ store }) => {
    // GIVEN a token for alice expiring in an hour
    const alice = await insertUser(store.db, { username: "alice", role: "owner", now: T0 });
    const { token, apiToken } = await createApiToken(store.db, {
      userId: alice.id,
      name: "cli",
      expiresAt: at(60 * MINUTE),
      now: T0,
    });
    assert.match(token, /^[a-z0-9]{10}-[A-Za-z0-9_-]{32}$/);

    // THEN it authenticates alice; a wrong secret, a malformed token and an expired one do not
    assert.equal((await authenticateApiToken(store.db, token, at(1)))?.id, alice.id);
    const wrongSecret = `${apiToken.id}-${"A".repeat(32)}`;
    for (const [label, candidate, now] of [
      ["wrong secret", wrongSecret, at(1)],
      ["malformed", "not-a-token", at(1)],
      ["at expiry", token, at(60 * MINUTE)],
    ] as const) {
      assert.equal(await authenticateApiToken(store.db, candidate, now), undefined, label);
    }
    // AND only a hash is stored
    const row = await store.db.selectFrom("api_tokens").selectAll().executeTakeFirstOrThrow();
    // (the secret is everything after the id's dash; it may contain dashes itself)
    assert.equal(
      Buffer.from(row.hashed_secret).includes(Buffer.from(token.slice(apiToken.id.length + 1))),
      false,
    );
    // AND last_used is written at most once a minute
    const lastUsed = async () =>
      (await store.db.selectFrom("api_tokens").select("last_used_at").executeTakeFirstOrThrow()).last_used_at;
    await authenticateApiToken(store.db, token, at(30_000));
    assert.equal(Number(await lastUsed()), at(1).getTime());
    await authenticateApiToken(store.db, token, at(1 + MINUTE));
    assert.equal(Number(await lastUsed()), at(1 + MINUTE).getTime());
    // AND a deleted token no longer works
    assert.equal(await deleteApiToken(store.db, alice.id, "cli"), false, "by id, not by name");
    assert.equal(await deleteApiToken(store.db, alice.id, apiToken.id), true);
    assert.equal(await authenticateApiToken(store.db, token, at(2)), undefined);
  });

  forEachDialect("the prebuilds system user cannot hold a usable token", async ({ store }) => {
    const { token } = await createApiToken(store.db, { userId: PREBUILDS_USER_ID, name: "x", now: T0 });
    assert.equal(await authenticateApiToken(store.db, token, T0), undefined);
  });

  forEachDialect(
    "active daemons: seen within the window, or running a job however long ago they polled",
    async ({ store }) => {
      const MINUTE = 60_000;
      const daemon = (name: string, seen: Date) =>
        upsertDaemon(store.db, { name, provisioners: ["echo"], tags: {}, version: "0.1.0", now: seen });
      await daemon("fresh", at(9 * MINUTE));
      await daemon("gone", at(0));
      const busy = await daemon("busy", at(0));
      const w = await world(store);
      const { build } = await workspaceWithBuild(w, { now: at(0) });
      const now = at(10 * MINUTE);
      const countActiveDaemons = async (...args: Parameters<typeof listActiveDaemons>) =>
        (await listActiveDaemons(...args)).length;
      assert.equal(await countActiveDaemons(store.db, now, 2 * MINUTE), 1, "only the one that polled lately");
      await store.db
        .updateTable("provisioner_jobs")
        .set({ worker_id: busy.id, started_at: at(MINUTE).getTime() })
        .where("id", "=", build.jobId)
        .execute();
      assert.equal(
        await countActiveDaemons(store.db, now, 2 * MINUTE),
        2,
        "the busy one counts while its job runs",
      );
      await store.db
        .updateTable("provisioner_jobs")
        .set({ completed_at: at(2 * MINUTE).getTime() })
        .where("id", "=", build.jobId)
        .execute();
      assert.equal(await countActiveDaemons(store.db, now, 2 * MINUTE), 1, "not once the job completed");
      assert.equal(await countActiveDaemons(store.db, now, 11 * MINUTE), 3);
    },
  );

  forEachDialect("identical uploads are stored once, also when they race", async ({ store }) => {
    const alice = await insertUser(store.db, { username: "alice", role: "owner", now: T0 });
    const data = Buffer.from("the same archive bytes");
    const results = await Promise.all(
      Array.from({ length: 6 }, () => insertFile(store.db, { data, createdBy: alice.id, now: T0 })),
    );
    assert.equal(new Set(results.map((r) => r.id)).size, 1);
    assert.equal(results.filter((r) => r.created).length, 1);
    const stored = await getFile(store.db, results[0]!.id);
    assert.deepEqual(stored?.data, data);
    assert.equal(stored?.size, data.length);
    assert.equal((await store.db.selectFrom("files").select("id").execute()).length, 1);
  });

  forEachDialect(
    "presets round-trip with parameters and ordered schedules; status and invalidation persist",
    async ({ store }) => {
      const w = await world(store);
      await insertPresets(
        store.db,
        w.version.id,
        [
          {
            name: "eu",
            isDefault: true,
            desiredInstances: 2,
            ttlSeconds: 86_400,
            schedulingTimezone: "Europe/Berlin",
            schedules: [
              { cron: "* 8-18 * * 1-5", instances: 3 },
              { cron: "* 19-23 * * 1-5", instances: 1 },
            ],
            parameters: { region: "eu", size: "large" },
          },
          { name: "plain", desiredInstances: null },
        ],
        T0,
      );
      const [eu, plain] = await listPresets(store.db, { versionIds: [w.version.id] });
      assert.equal(eu?.name, "eu");
      assert.deepEqual(eu?.schedules, [
        { cron: "* 8-18 * * 1-5", instances: 3 },
        { cron: "* 19-23 * * 1-5", instances: 1 },
      ]);
      assert.deepEqual(eu?.parameters, { region: "eu", size: "large" });
      assert.equal(eu?.isDefault, true);
      assert.equal(eu?.status, "healthy");
      assert.equal(plain?.desiredInstances, null);
      assert.equal(plain?.ttlSeconds, 0);

      assert.equal(await markPresetUnhealthy(store.db, eu!.id, "hard_limited", at(4).getTime()), true);
      const invalidated = await invalidateTemplatePresets(store.db, w.template.id, at(5));
      assert.deepEqual(
        invalidated.map((p) => p.presetName),
        ["eu"],
        "only presets that declare prebuilds are invalidated",
      );
      const again = await getPresetByName(store.db, w.version.id, "eu");
      assert.equal(again?.status, "hard_limited");
      assert.deepEqual(again?.lastInvalidatedAt, at(5));
    },
  );

  forEachDialect("template parameters round-trip, optional bounds included", async ({ store }) => {
    const w = await world(store);
    const base: TemplateParameter = {
      name: "cpu",
      displayName: "CPU",
      description: "cores",
      type: "number",
      formType: "slider",
      mutable: true,
      defaultValue: "2",
      icon: "",
      options: [],
      validationRegex: "",
      validationError: "",
      validationMin: 0,
      validationMax: 8,
      validationMonotonic: "increasing",
      required: false,
      displayOrder: 1,
      ephemeral: false,
    };
    const region: TemplateParameter = {
      ...base,
      name: "region",
      type: "string",
      validationMin: null,
      validationMax: null,
      validationMonotonic: "",
      displayOrder: 0,
      options: [{ name: "EU", description: "", value: "eu", icon: "" }],
    };
    await insertTemplateVersionParameters(store.db, w.version.id, [base, region]);
    assert.deepEqual(await listTemplateVersionParameters(store.db, w.version.id), [region, base]);
  });

  forEachDialect("builds number themselves and carry provisioner state bytes exactly", async ({ store }) => {
    const state = Buffer.from([0, 1, 2, 255, 254, 0, 10, 13]);
    const w = await world(store);
    const { workspace, build } = await workspaceWithBuild(w, { state });
    assert.equal(build.buildNumber, 1);
    const second = await addBuild(store.db, w, workspace.id, {
      transition: "stop",
      state: build.provisionerState,
      parameters: { region: "eu" },
    });
    assert.equal(second.buildNumber, 2);
    assert.deepEqual(second.provisionerState, state);
    assert.deepEqual(await getBuildParameters(store.db, second.id), { region: "eu" });

    const next = Buffer.from("new state");
    await setBuildProvisionerState(store.db, second.id, next, at(1));
    assert.deepEqual((await getLatestBuild(store.db, workspace.id))?.provisionerState, next);

    const { workspace: other } = await workspaceWithBuild(w, { name: "other" });
    const latest = await getLatestBuilds(store.db, [workspace.id, other.id]);
    assert.equal(latest.get(workspace.id)?.buildNumber, 2);
    assert.equal(latest.get(other.id)?.buildNumber, 1);
    assert.equal((await getWorkspace(store.db, workspace.id))?.deleted, false);
  });

  forEachDialect(
    "resources, agents, apps and scripts round-trip; agents authenticate by token",
    async ({ store }) => {
      const w = await world(store);
      const { build } = await workspaceWithBuild(w);
      await insertResources(store.db, {
        jobId: build.jobId,
        transition: "start",
        now: T0,
        resources: [
          {
            type: "null_resource",
            name: "dev",
            metadata: [{ key: "ip", value: "10.0.0.1", sensitive: false }],
            agents: [
              {
                name: "main",
                authToken: "token-of-main",
                env: { A: "1" },
                apps: [
                  {
                    slug: "code",
                    displayName: "Code",
                    url: "http://localhost:8080",
                    healthcheck: { url: "http://x", interval: 5, threshold: 3 },
                  },
                ],
                scripts: [
                  { displayName: "setup", script: "echo hi", runOnStart: true, startBlocksLogin: true },
                ],
              },
            ],
          },
          { type: "null_resource", name: "disk" },
        ],
      });

      const resources = await listResourcesOfJobs(store.db, [build.jobId]);
      assert.deepEqual(
        resources.map((r) => [r.name, r.agents.length]),
        [
          ["dev", 1],
          ["disk", 0],
        ],
      );
      const agent = resources[0]!.agents[0]!;
      assert.equal(agent.lifecycleState, "created");
      assert.deepEqual(agent.env, { A: "1" });
      assert.equal(agent.apps[0]?.slug, "code");
      assert.deepEqual(agent.apps[0]?.healthcheck, { url: "http://x", interval: 5, threshold: 3 });
      assert.equal(agent.scripts[0]?.runOnStart, true);
      assert.equal("authToken" in agent, false, "agents never carry their token");

      // The agent authenticates with its token and reports readiness
      const found = await getAgentByToken(store.db, "token-of-main");
      assert.equal(found?.agent.id, agent.id);
      assert.equal(found?.jobId, build.jobId);
      assert.equal(await getAgentByToken(store.db, "wrong"), undefined);
      await setAgentLifecycle(store.db, agent.id, { state: "starting", changedAt: at(1) }, at(1));
      await setAgentLifecycle(store.db, agent.id, { state: "ready", changedAt: at(2) }, at(2));
      await setAgentLifecycle(store.db, agent.id, { state: "ready", changedAt: at(2) }, at(3));
      const [after] = (await listResourcesOfJobs(store.db, [build.jobId], "start"))[0]!.agents;
      assert.equal(after?.lifecycleState, "ready");
      assert.deepEqual(after?.firstConnectedAt, at(1));
      assert.deepEqual(after?.readyAt, at(2), "ready_at records the first ready");
      assert.deepEqual(after?.lastConnectedAt, at(3));

      // A claim can hand the existing tokens to the provisioner
      assert.deepEqual(await getAgentTokensOfJob(store.db, build.jobId), [
        { agentId: agent.id, agentName: "main", token: "token-of-main" },
      ]);
    },
  );

  forEachDialect("the reconciler pause flag, daemons and prebuild events persist", async ({ store }) => {
    assert.equal(await readPaused(store.db), false);
    await writePaused(store.db, true);
    assert.equal(await readPaused(store.db), true);
    await writePaused(store.db, false);
    assert.equal(await readPaused(store.db), false);

    const first = await upsertDaemon(store.db, {
      name: "d1",
      provisioners: ["echo"],
      tags: {},
      version: "0.1.0",
      now: T0,
    });
    const again = await upsertDaemon(store.db, {
      name: "d1",
      provisioners: ["echo", "terraform"],
      tags: { gpu: "true" },
      version: "0.1.1",
      now: at(1),
    });
    assert.equal(again.id, first.id, "a daemon reconnecting under its name keeps its id");
    const rows = await store.db.selectFrom("provisioner_daemons").selectAll().execute();
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.version, "0.1.1");

    const w = await world(store);
    const [preset] = await insertPresets(store.db, w.version.id, [{ name: "p", desiredInstances: 1 }], T0);
    await insertPrebuildEvent(store.db, preset!.id, "claim_succeeded", at(1).getTime());
    await insertPrebuildEvent(store.db, preset!.id, "claim_succeeded", at(2).getTime());
    await insertPrebuildEvent(store.db, preset!.id, "claim_missed", at(3).getTime());
    assert.deepEqual(await countPrebuildEvents(store.db, new Date(0)), [
      { presetId: preset!.id, type: "claim_missed", count: 1 },
      { presetId: preset!.id, type: "claim_succeeded", count: 2 },
    ]);
    assert.deepEqual(await countPrebuildEvents(store.db, at(2)), [
      { presetId: preset!.id, type: "claim_missed", count: 1 },
      { presetId: preset!.id, type: "claim_succeeded", count: 1 },
    ]);
  });

  forEachDialect("a transaction that throws leaves nothing behind", async ({ store }) => {
    await assert.rejects(
      store.transaction(async (tx) => {
        await insertUser(tx, { username: "ghost", role: "member", now: T0 });
        throw new Error("abort");
      }),
      /abort/,
    );
    assert.equal(
      await store.db.selectFrom("users").select("id").where("username", "=", "ghost").executeTakeFirst(),
      undefined,
    );
  });

  forEachDialect(
    "only one replica at a time holds the reconciler leader lock",
    async ({ store, dialect, location }) => {
      if (dialect === "sqlite") {
        // Single process: the lock is always granted (exclusion is in-process).
        assert.equal(
          await store.transaction((tx) => tryAdvisoryXactLock(tx, "sqlite", "reconcilerLeader")),
          true,
        );
        return;
      }
      const replica = await openStore(location);
      try {
        let release!: () => void;
        const held = new Promise<void>((r) => {
          release = r;
        });
        let signalTaken!: (v: boolean) => void;
        const taken = new Promise<boolean>((r) => {
          signalTaken = r;
        });
        // GIVEN replica A holds the lock in an open transaction
        const a = store.transaction(async (tx) => {
          signalTaken(await tryAdvisoryXactLock(tx, dialect, "reconcilerLeader"));
          await held;
        });
        assert.equal(await taken, true);
        // THEN replica B does not get it (without waiting)
        assert.equal(
          await replica.transaction((tx) => tryAdvisoryXactLock(tx, dialect, "reconcilerLeader")),
          false,
        );
        // AND once A's transaction ends, B gets it
        release();
        await a;
        assert.equal(
          await replica.transaction((tx) => tryAdvisoryXactLock(tx, dialect, "reconcilerLeader")),
          true,
        );
      } finally {
        await replica.close();
      }
    },
  );

  forEachDialect("a read-only snapshot transaction cannot write (PostgreSQL)", async ({ store, dialect }) => {
    if (dialect === "sqlite") return; // SQLite ignores the option: one connection, nothing to protect against
    await assert.rejects(
      store.transaction((tx) => insertUser(tx, { username: "x", role: "member", now: T0 }), {
        isolation: "repeatable read",
        readOnly: true,
      }),
      /read-only/,
    );
  });
});
