// `workspaces.claimable_preset_id` (migration 0012: kept by triggers, read by every claim) against the rule
// computed from scratch in TypeScript, on both dialects: a seeded random walk of the writes that decide it —
// prebuilds created in every job state, builds appended (start, stop, delete), jobs ending, agents added late
// and changing state, claims, transfers back to the prebuilds user, soft deletes. After every step every
// workspace's column must equal the rule. A control run without one trigger shows the comparison catches a
// missed write.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { sql } from "kysely";
import { claimPrebuild } from "../../../src/server/prebuilds/claim.js";
import { PREBUILDS_USER_ID } from "../../../src/server/prebuilds/system-user.js";
import { jobStatus } from "../../../src/server/store/job-status.js";
import type { AgentLifecycleState, Transition } from "../../../src/server/store/schema.js";
import type { Store } from "../../../src/server/store/store.js";
import { softDeleteWorkspace } from "../../../src/server/store/workspaces.js";
import { until } from "../../support/changes.js";
import { dialectSkip, forEachDialect, openTestStore } from "../../support/db.js";
import { seededRandom } from "../../support/prng.js";
import { at, HOUR, type JobOutcome, MINUTE, PoolFixture } from "./pool-fixtures.js";

const STATES: AgentLifecycleState[] = [
  "created",
  "starting",
  "ready",
  "ready",
  "start_error",
  "shutting_down",
];
const OUTCOMES: JobOutcome[] = ["pending", "running", "succeeded", "succeeded", "failed", "canceled"];
const TRANSITIONS: Transition[] = ["start", "start", "stop", "delete"];

/** The rule, independently of the SQL: workspace id → the preset a claim may take it for, or null. */
async function expectedClaimable(store: Store): Promise<Map<string, string | null>> {
  const db = store.db;
  const [workspaces, builds, jobs, resources, agents] = await Promise.all([
    db.selectFrom("workspaces").select(["id", "owner_id", "deleted"]).execute(),
    db.selectFrom("workspace_builds").selectAll().execute(),
    db.selectFrom("provisioner_jobs").selectAll().execute(),
    db.selectFrom("workspace_resources").select(["id", "job_id"]).execute(),
    db.selectFrom("workspace_agents").select(["resource_id", "lifecycle_state"]).execute(),
  ]);
  const jobById = new Map(jobs.map((j) => [j.id, j]));
  const result = new Map<string, string | null>();
  for (const w of workspaces) {
    const latest = builds
      .filter((b) => b.workspace_id === w.id)
      .sort((a, b) => Number(b.build_number) - Number(a.build_number))[0];
    const job = latest ? jobById.get(latest.job_id) : undefined;
    const status = job
      ? jobStatus({
          startedAt: job.started_at,
          completedAt: job.completed_at,
          canceledAt: job.canceled_at,
          error: job.error,
        })
      : undefined;
    const resourceIds = new Set(resources.filter((r) => r.job_id === job?.id).map((r) => r.id));
    const agentsReady = agents
      .filter((a) => resourceIds.has(a.resource_id))
      .every((a) => a.lifecycle_state === "ready");
    const claimable =
      w.owner_id === PREBUILDS_USER_ID &&
      Number(w.deleted) === 0 &&
      latest?.transition === "start" &&
      latest.preset_id !== null &&
      status === "succeeded" &&
      agentsReady;
    result.set(w.id, claimable ? latest.preset_id : null);
  }
  return result;
}

async function actualClaimable(store: Store): Promise<Map<string, string | null>> {
  const rows = await store.db.selectFrom("workspaces").select(["id", "claimable_preset_id"]).execute();
  return new Map(rows.map((r) => [r.id, r.claimable_preset_id]));
}

/** Runs the walk; returns the first step whose column disagreed with the rule (null: none did). */
async function walk(store: Store, seeds: readonly number[], steps: number): Promise<string | null> {
  const f = await PoolFixture.create(store);
  const users = [await f.user("bob"), await f.user("carol")];
  for (const seed of seeds) {
    const found = await walkOne(store, f, users, seed, steps);
    if (found) return found;
  }
  return null;
}

async function walkOne(
  store: Store,
  f: PoolFixture,
  users: string[],
  seed: number,
  steps: number,
): Promise<string | null> {
  const rand = seededRandom(seed);
  const pick = <T>(list: readonly T[]): T | undefined => list[Math.floor(rand() * list.length)];
  const t = await f.template(`dev-${seed}`);
  const presets = [
    await f.preset(t.versionId, { name: "small", desiredInstances: 3 }),
    await f.preset(t.versionId, { name: "large", desiredInstances: 3 }),
  ];
  const workspaces: string[] = [];
  let clock = 0;
  let claims = 0;
  const randomAgents = () => Array.from({ length: Math.floor(rand() * 3) }, () => pick(STATES)!);
  const latestJob = async (workspaceId: string) => (await f.latestBuild(workspaceId)).job_id;

  for (let step = 0; step < steps; step++) {
    clock += MINUTE;
    const now = at(clock);
    const w = pick(workspaces);
    const r = rand();
    let action: string;
    if (r < 0.25 || !w) {
      const outcome = pick(OUTCOMES)!;
      const id = await f.prebuild(pick(presets)!, { createdAt: now, outcome, agents: randomAgents() });
      workspaces.push(id);
      action = `new prebuild (${outcome})`;
    } else if (r < 0.35) {
      const transition = pick(TRANSITIONS)!;
      const outcome = pick(OUTCOMES)!;
      await f.build(w, {
        transition,
        outcome,
        at: now,
        presetId: transition === "start" ? pick([...presets, null]) : null,
        agents: transition === "start" ? randomAgents() : [],
      });
      action = `${transition} build (${outcome}) of ${w}`;
    } else if (r < 0.5) {
      const outcome = pick(["succeeded", "failed", "canceled", "running"] as const)!;
      await f.setJob(await latestJob(w), outcome, now, now);
      action = `latest job of ${w} → ${outcome}`;
    } else if (r < 0.65) {
      const agent = pick(
        await store.db
          .selectFrom("workspace_agents as a")
          .innerJoin("workspace_resources as r", "r.id", "a.resource_id")
          .select("a.id")
          .where("r.job_id", "=", await latestJob(w))
          .execute(),
      );
      const state = pick(STATES)!;
      if (agent) {
        await store.db
          .updateTable("workspace_agents")
          .set({ lifecycle_state: state })
          .where("id", "=", agent.id)
          .execute();
        action = `agent of ${w} → ${state}`;
      } else {
        await f.agent(await latestJob(w), `late-${step}`, state, now);
        action = `late agent of ${w} (${state})`;
      }
    } else if (r < 0.8) {
      const got = await store.transaction((tx) =>
        claimPrebuild(tx, store.dialect, {
          presetIds: [pick(presets)!],
          newOwnerId: pick(users)!,
          newName: `claimed-${seed}-${step}`,
          now,
        }),
      );
      if (got) claims++;
      action = `claim → ${got?.workspaceId ?? "miss"}`;
    } else if (r < 0.9) {
      await store.db
        .updateTable("workspaces")
        .set({ owner_id: PREBUILDS_USER_ID, name: `returned-${seed}-${step}` })
        .where("id", "=", w)
        .where("deleted", "=", 0)
        .execute();
      action = `${w} transferred to the prebuilds user`;
    } else {
      await softDeleteWorkspace(store.db, w, now);
      action = `${w} soft-deleted`;
    }
    const expected = await expectedClaimable(store);
    const actual = await actualClaimable(store);
    for (const [id, preset] of expected) {
      if (actual.get(id) !== preset)
        return `seed ${seed} step ${step} (${action}): ${id} has ${actual.get(id)}, the rule says ${preset}`;
    }
  }
  assert.ok(claims > 5, `the walk claimed (${claims} claims)`);
  return null;
}

describe("the claim index (workspaces.claimable_preset_id)", () => {
  forEachDialect(
    "follows the rule through a random walk of builds, jobs, agents, claims, transfers and deletes",
    async ({ store }) => {
      assert.equal(await walk(store, [1, 2, 3], 120), null);
    },
    { timeout: 120_000 },
  );

  forEachDialect(
    "control: without the agent-lifecycle trigger the walk finds the stale column",
    async ({ store }) => {
      const drop =
        store.dialect === "sqlite"
          ? "DROP TRIGGER claimable_agent_lifecycle"
          : "DROP TRIGGER claimable_agent_lifecycle ON workspace_agents";
      await sql.raw(drop).execute(store.db);
      const found = await walk(store, [1, 2, 3], 120);
      assert.match(found ?? "none", /agent of .* →/, "a lifecycle change left the column stale");
    },
    { timeout: 60_000 },
  );

  forEachDialect(
    "a claim takes what the column names, oldest first, and never an expired one",
    async ({ store }) => {
      const f = await PoolFixture.create(store);
      const bob = await f.user("bob");
      const t = await f.template("dev");
      const p = await f.preset(t.versionId, { name: "small", ttlSeconds: 3600 });
      const old = await f.prebuild(p, { createdAt: at(0), agents: ["ready"] });
      const fresh = await f.prebuild(p, { createdAt: at(2 * HOUR), agents: ["ready"] });
      const now = at(2 * HOUR + MINUTE);
      const columns = await actualClaimable(store);
      assert.equal(
        columns.get(old),
        p,
        "an expired prebuild stays in the index: expiry is the claim's check",
      );
      const got = await store.transaction((tx) =>
        claimPrebuild(tx, store.dialect, { presetIds: [p], newOwnerId: bob, newName: "mine", now }),
      );
      assert.equal(got?.workspaceId, fresh);
      assert.equal((await actualClaimable(store)).get(fresh), null, "a claimed workspace leaves the index");
    },
  );

  // PostgreSQL only: SQLite has one writer, so two writes of one workspace never overlap there.
  test("two agents of one prebuild becoming ready in concurrent transactions make it claimable [postgres]", {
    skip: dialectSkip("postgres"),
  }, async () => {
    const { store, cleanup } = await openTestStore("postgres");
    try {
      const f = await PoolFixture.create(store);
      const t = await f.template("dev");
      const p = await f.preset(t.versionId, { name: "small" });
      const ws = await f.prebuild(p, { agents: ["starting", "starting"] });
      const agents = await store.db
        .selectFrom("workspace_agents as a")
        .innerJoin("workspace_resources as r", "r.id", "a.resource_id")
        .innerJoin("workspace_builds as b", "b.job_id", "r.job_id")
        .select("a.id")
        .where("b.workspace_id", "=", ws)
        .execute();
      assert.equal(agents.length, 2);
      const ready = (tx: typeof store.db, id: string) =>
        tx.updateTable("workspace_agents").set({ lifecycle_state: "ready" }).where("id", "=", id).execute();

      // Transaction A makes the first agent ready and stays open; B makes the second ready meanwhile.
      let release!: () => void;
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      let updatedA!: () => void;
      const aUpdated = new Promise<void>((resolve) => {
        updatedA = resolve;
      });
      const a = store.transaction(async (tx) => {
        await ready(tx, agents[0]!.id);
        updatedA();
        await held;
      });
      await aUpdated;
      let bDone = false;
      const b = store.transaction(async (tx) => {
        await ready(tx, agents[1]!.id);
        bDone = true;
      });
      // B either finished its write or waits for A's lock on the workspace: only then may A commit.
      await until("B to write or to wait for A's lock", async () => {
        if (bDone) return true;
        const { rows } = await sql<{ n: number }>`
            select count(*)::int as n from pg_stat_activity
            where datname = current_database() and wait_event_type = 'Lock'`.execute(store.db);
        return Number(rows[0]?.n) > 0 ? true : undefined;
      });
      release();
      await Promise.all([a, b]);

      assert.equal((await actualClaimable(store)).get(ws), p, "both agents are ready: claimable");
    } finally {
      await cleanup();
    }
  });
});
