// Prebuilds end to end through the real server (store, daemon API, in-process daemons, gRPC provisioner, the
// reconciler), on SQLite and PostgreSQL: a pool fills, a claim hands over the oldest eligible prebuild with its
// agents' tokens and the pool refills, TTL expiry, invalidation, and a new active version. The harness is in
// integration-harness.ts; backoff, hard limits, pause and schedules are in integration-control.test.ts.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { sql } from "kysely";
import { invalidatePresets, setPaused } from "../../../src/server/prebuilds/operations.js";
import { PREBUILDS_USER_ID } from "../../../src/server/prebuilds/system-user.js";
import { getJob } from "../../../src/server/store/jobs.js";
import { channels } from "../../../src/server/store/pubsub.js";
import { createApiToken, type User } from "../../../src/server/store/users.js";
import { getWorkspace } from "../../../src/server/store/workspaces.js";
import { activateVersion } from "../../../src/server/templates/service.js";
import { createWorkspace, startBuild } from "../../../src/server/workspaces/service.js";
import { DIALECTS, dialectSkip } from "../../support/db.js";
import {
  createMember,
  eventually,
  HOUR,
  isDeleted,
  MINUTE,
  markPrebuildAgentsReady,
  poolStatus,
  presetNamed,
  pushTemplate,
  reconcilerDeleteBuilds,
  runningPrebuilds,
  SECOND,
  STAGE,
  START,
  TRANSITION,
  waitForJob,
  waitForPool,
  waitForReconcilerDeletes,
  withWorld,
} from "./integration-harness.js";

const SCENARIO_TIMEOUT = 45_000;

for (const dialect of DIALECTS) {
  describe(`prebuild pools through the real server [${dialect}]`, { skip: dialectSkip(dialect) }, () => {
    test("a pool fills to its desired size and stays there", { timeout: SCENARIO_TIMEOUT }, () =>
      withWorld(dialect, {}, async (world) => {
        // GIVEN a template whose preset asks for 3 prebuilds (no agents: eligible once built)
        const pushed = await pushTemplate(world, "fill", { presets: [{ name: "small", instances: 3 }] });
        const preset = presetNamed(pushed, "small");

        // WHEN its first version becomes active (the import activates it and triggers a cycle)
        const pool = await waitForPool(world, preset.id, { running: 3 });

        // THEN three prebuilds run, owned by the prebuilds user, each built with stage CREATE on that version
        assert.deepEqual(
          {
            desired: pool.prebuilds.desired,
            running: pool.prebuilds.running,
            eligible: pool.prebuilds.eligible,
          },
          { desired: 3, running: 3, eligible: 3 },
        );
        const prebuilds = await runningPrebuilds(world, preset.id);
        assert.equal(prebuilds.length, 3);
        for (const prebuild of prebuilds) {
          const workspace = await getWorkspace(world.store.db, prebuild.id);
          assert.equal(workspace?.ownerId, PREBUILDS_USER_ID);
          assert.match(workspace?.name ?? "", /^prebuild-[0-9a-f]+$/);
          assert.equal(prebuild.versionId, pushed.version.id);
          const applies = world.provisioner.of(prebuild.id).filter((r) => r.kind === "apply");
          assert.deepEqual(
            applies.map((r) => [r.transition, r.stage]),
            [[TRANSITION.START, STAGE.CREATE]],
          );
        }

        // AND a further cycle changes nothing
        const report = await world.server.reconciler.runCycle();
        assert.equal(report.outcome, "ran");
        assert.deepEqual([report.created, report.deleted], [0, 0]);
        assert.deepEqual(
          (await runningPrebuilds(world, preset.id)).map((p) => p.id),
          prebuilds.map((p) => p.id),
        );
      }),
    );

    test(
      "a claim hands over the oldest eligible prebuild with its agents' tokens, and the pool refills",
      { timeout: SCENARIO_TIMEOUT },
      () =>
        withWorld(dialect, {}, async (world) => {
          const createWithPreset = (user: User, name: string) =>
            createWorkspace(world.server.ctx, user, { name, template: "agents", preset: "dev" });
          // GIVEN a pool of 2 prebuilds with an agent each, whose agents have not reported ready yet
          const pushed = await pushTemplate(world, "agents", {
            presets: [{ name: "dev", instances: 2 }],
            agent: true,
          });
          const preset = presetNamed(pushed, "dev");
          await waitForPool(world, preset.id, { running: 2, eligible: 0 });
          const [alice, bob, carol] = [
            await createMember(world, "alice"),
            await createMember(world, "bob"),
            await createMember(world, "carol"),
          ];

          // WHEN a user creates a workspace with the preset before any agent is ready
          const early = await createWithPreset(alice, "early");
          // THEN nothing is claimed (§5 rule 3: eligibility needs every agent ready): a normal build
          assert.equal(early.claimedPrebuild, false);
          assert.equal(early.build.prebuildStage, "none");

          // GIVEN the agents report ready (no agent process here: the harness writes the state with the same
          // store function the agent API's lifecycle route calls, setAgentLifecycle)
          assert.equal(await markPrebuildAgentsReady(world), 2);
          await waitForPool(world, preset.id, { running: 2, eligible: 2 });
          const originals = await runningPrebuilds(world, preset.id);
          // Each prebuild got its own agent token from its CREATE build.
          const createTokens = new Map(
            originals.map((p) => {
              const apply = world.provisioner.of(p.id).find((r) => r.kind === "apply");
              assert.equal(apply?.stage, STAGE.CREATE);
              assert.equal(apply?.issuedTokens.length, 1);
              return [p.id, apply?.issuedTokens ?? []];
            }),
          );
          assert.equal(new Set([...createTokens.values()].flat()).size, 2, "distinct tokens per prebuild");

          // WHEN bob creates a workspace with the preset, a minute later
          await world.clock.advance(MINUTE);
          const claimed = await createWithPreset(bob, "bobs-box");

          // THEN he gets the oldest eligible prebuild (ties by id), renamed and his
          assert.equal(claimed.claimedPrebuild, true);
          assert.equal(claimed.workspace.id, originals[0]?.id);
          assert.equal(claimed.workspace.ownerId, bob.id);
          assert.equal(claimed.workspace.name, "bobs-box");
          assert.equal(claimed.build.prebuildStage, "claim");
          assert.equal(claimed.build.transition, "start");

          // AND its CLAIM build's provisioner requests carried the agent's existing token
          assert.equal(await waitForJob(world, claimed.job.id), "succeeded");
          const claimRequests = world.provisioner
            .of(claimed.workspace.id)
            .filter((r) => r.stage === STAGE.CLAIM);
          assert.deepEqual(
            claimRequests.map((r) => [r.kind, r.workspaceName, r.runningAgentTokens]),
            [
              ["plan", "bobs-box", createTokens.get(claimed.workspace.id)],
              ["apply", "bobs-box", createTokens.get(claimed.workspace.id)],
            ],
          );

          // AND the pool refills (the claim triggers a cycle) with a younger prebuild
          await waitForPool(world, preset.id, { running: 2, eligible: 1 });
          await markPrebuildAgentsReady(world);
          await waitForPool(world, preset.id, { running: 2, eligible: 2 });
          const refilled = await runningPrebuilds(world, preset.id);
          const fresh = refilled.find((p) => p.id !== originals[1]?.id);
          assert.equal(fresh?.createdAt, START.getTime() + MINUTE);

          // WHEN carol claims next THEN she gets the older survivor, not the fresh one
          const second = await createWithPreset(carol, "carols");
          assert.equal(second.claimedPrebuild, true);
          assert.equal(second.workspace.id, originals[1]?.id);
        }),
    );

    test(
      "over HTTP, a claim answers claimedPrebuild and /metrics counts the hit",
      { timeout: SCENARIO_TIMEOUT },
      () =>
        withWorld(dialect, {}, async (world) => {
          // GIVEN a pool of 1 and a member with an API token
          const pushed = await pushTemplate(world, "http", { presets: [{ name: "p", instances: 1 }] });
          const preset = presetNamed(pushed, "p");
          await waitForPool(world, preset.id, { running: 1 });
          const [prebuild] = await runningPrebuilds(world, preset.id);
          const dana = await createMember(world, "dana");
          const { token } = await createApiToken(world.store.db, {
            userId: dana.id,
            name: "test",
            now: world.clock.now(),
          });

          // WHEN she creates a workspace with the preset through the API
          const response = await fetch(`${world.server.url}/api/v1/workspaces`, {
            method: "POST",
            headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
            body: JSON.stringify({ name: "mine", template: "http", preset: "p" }),
            signal: AbortSignal.timeout(10_000),
          });

          // THEN the answer says the prebuild was claimed, and it is hers
          assert.equal(response.status, 201);
          const body = (await response.json()) as Record<string, unknown>;
          assert.deepEqual(
            { id: body.id, owner: body.owner, preset: body.preset, claimedPrebuild: body.claimedPrebuild },
            { id: prebuild?.id, owner: "dana", preset: "p", claimedPrebuild: true },
          );
          // AND once the claim build is done (its duration is what the histogram observes), the metrics count
          // one hit, one claimed prebuild, one claim duration and one claim-to-ready
          const ready = await fetch(
            `${world.server.url}/api/v1/workspaces/${body.id}?wait=ready&timeout=30s`,
            {
              headers: { authorization: `Bearer ${token}` },
              signal: AbortSignal.timeout(40_000),
            },
          );
          const usable = (await ready.json()) as { latestBuild: { status: string; usableAt: string | null } };
          assert.equal(usable.latestBuild.status, "succeeded");
          assert.notEqual(usable.latestBuild.usableAt, null);
          const metrics = await (
            await fetch(`${world.server.url}/metrics`, { signal: AbortSignal.timeout(10_000) })
          ).text();
          const labels = 'template_name="http",preset_name="p"';
          for (const line of [
            `prewarm_prebuilt_workspace_claims_total{${labels},result="hit"} 1`,
            `prewarm_prebuilt_workspaces_claimed_total{${labels}} 1`,
            `prewarm_prebuilt_workspace_claim_duration_seconds_count{${labels}} 1`,
            `prewarm_prebuilt_workspace_claim_to_ready_seconds_count{${labels}} 1`,
          ]) {
            assert.ok(metrics.split("\n").includes(line), `/metrics lacks: ${line}`);
          }
        }),
    );

    test(
      "a pending prebuild job of a version that is no longer active is canceled without running",
      { timeout: SCENARIO_TIMEOUT },
      () =>
        withWorld(dialect, { daemons: 1 }, async (world) => {
          const { reconciler } = world.server;
          // GIVEN v1 (active) and v2 of a template, each with a preset of 1, while the reconciler is paused
          await setPaused(world.store, true, { actor: world.admin, now: world.clock.now() });
          const v1 = await pushTemplate(world, "pending", {
            presets: [{ name: "p", instances: 1 }],
            marker: "1",
          });
          const v2 = await pushTemplate(world, "pending", {
            presets: [{ name: "p", instances: 1 }],
            marker: "2",
          });
          const [p1, p2] = [presetNamed(v1, "p"), presetNamed(v2, "p")];
          // AND the only daemon busy with a user's build that does not finish yet
          let finish: () => void = () => {};
          world.provisioner.holdApplies = new Promise<void>((resolve) => {
            finish = resolve;
          });
          const user = await createMember(world, "erin");
          const busy = await createWorkspace(world.server.ctx, user, { name: "busy", template: "pending" });
          await eventually("the user's build to be running", async () =>
            (await getJob(world.store.db, busy.job.id))?.status === "running" ? true : undefined,
          );
          // AND v1's prebuild job queued behind it
          await setPaused(world.store, false, { actor: world.admin, now: world.clock.now() });
          await reconciler.runCycle();
          const queued = await eventually("a pending prebuild job of v1", async () => {
            const [row] = await sql<{ workspace_id: string; job_id: string }>`
              select b.workspace_id, b.job_id from workspace_builds b join provisioner_jobs j on j.id = b.job_id
              where b.preset_id = ${p1.id} and j.started_at is null and j.completed_at is null`
              .execute(world.store.db)
              .then((r) => r.rows);
            return row;
          });

          // WHEN v2 becomes active
          await activateVersion(world.server.ctx, world.admin, "pending", "v2");
          await reconciler.runCycle();

          // THEN v1's pending job is canceled and its workspace removed, without a provisioner ever seeing it
          const job = await getJob(world.store.db, queued.job_id);
          assert.equal(job?.status, "canceled");
          assert.equal(await isDeleted(world, queued.workspace_id), true);
          assert.equal(await reconcilerDeleteBuilds(world, queued.workspace_id), 0);
          // AND once the daemon is free, v2's pool is built
          finish();
          assert.equal(await waitForJob(world, busy.job.id), "succeeded");
          await waitForPool(world, p2.id, { running: 1 });
          assert.deepEqual(world.provisioner.of(queued.workspace_id), []);
        }),
    );

    test("a prebuild someone stopped is deleted and replaced", { timeout: SCENARIO_TIMEOUT }, () =>
      withWorld(dialect, {}, async (world) => {
        // GIVEN a pool of 2
        const pushed = await pushTemplate(world, "stopped", { presets: [{ name: "p", instances: 2 }] });
        const preset = presetNamed(pushed, "p");
        await waitForPool(world, preset.id, { running: 2 });
        const [victim, keeper] = await runningPrebuilds(world, preset.id);
        assert.ok(victim && keeper);

        // WHEN an admin stops one of them
        const reasons: string[] = [];
        const subscription = world.store.pubsub.subscribe(channels.reconcile, (reason) =>
          reasons.push(reason),
        );
        await subscription.ready;
        const stop = await startBuild(world.server.ctx, world.admin, victim.id, "stop");
        assert.equal(await waitForJob(world, stop.job.id), "succeeded");

        // THEN the end of that person's build asks every replica for a cycle (it is not a prebuild job: without
        // the request the pool waited for a periodic cycle, 10 min in this harness) …
        await eventually("a reconcile request after the admin's stop", async () =>
          reasons.includes("prebuild changed by a person") ? true : undefined,
        );
        subscription();
        // … and the reconciler deletes it (a stopped prebuild is garbage) and the pool refills to 2
        await waitForReconcilerDeletes(world, [victim.id]);
        await waitForPool(world, preset.id, { running: 2 });
        const now = (await runningPrebuilds(world, preset.id)).map((p) => p.id);
        assert.ok(now.includes(keeper.id));
        assert.ok(!now.includes(victim.id));
      }),
    );

    test("prebuilds older than the TTL are replaced", { timeout: SCENARIO_TIMEOUT }, () =>
      withWorld(dialect, {}, async (world) => {
        // GIVEN a pool of 2 with a one-hour TTL, built at START
        const pushed = await pushTemplate(world, "ttl", {
          presets: [{ name: "hourly", instances: 2, ttlSeconds: 3600 }],
        });
        const preset = presetNamed(pushed, "hourly");
        await waitForPool(world, preset.id, { running: 2 });
        const originals = (await runningPrebuilds(world, preset.id)).map((p) => p.id);

        // WHEN exactly the TTL has passed THEN nothing is expired and a cycle keeps them
        world.clock.set(new Date(START.getTime() + HOUR));
        assert.equal((await poolStatus(world, preset.id))?.prebuilds.expired, 0);
        await world.server.reconciler.runCycle();
        assert.deepEqual(
          (await runningPrebuilds(world, preset.id)).map((p) => p.id),
          originals,
        );

        // WHEN one more millisecond passes and a cycle runs
        await world.clock.advance(1);
        assert.equal((await poolStatus(world, preset.id))?.prebuilds.expired, 2);
        await world.server.reconciler.runCycle();

        // THEN both are deleted by the reconciler and two new ones take their place
        const pool = await waitForPool(world, preset.id, { running: 2 });
        assert.equal(pool.prebuilds.expired, 0);
        await waitForReconcilerDeletes(world, originals);
        const replacements = await runningPrebuilds(world, preset.id);
        for (const p of replacements) {
          assert.ok(!originals.includes(p.id));
          assert.equal(p.createdAt, START.getTime() + HOUR + 1);
        }
      }),
    );

    test("an invalidation replaces the whole pool", { timeout: SCENARIO_TIMEOUT }, () =>
      withWorld(dialect, {}, async (world) => {
        // GIVEN a pool of 3 (no TTL)
        const pushed = await pushTemplate(world, "inval", { presets: [{ name: "p", instances: 3 }] });
        const preset = presetNamed(pushed, "p");
        await waitForPool(world, preset.id, { running: 3 });
        const originals = (await runningPrebuilds(world, preset.id)).map((p) => p.id);

        // WHEN an operator invalidates the template a second later (this asks for a cycle by itself)
        await world.clock.advance(SECOND);
        const touched = await invalidatePresets(world.store, pushed.template, {
          actor: world.admin,
          now: world.clock.now(),
        });
        assert.deepEqual(
          touched.map((t) => t.presetName),
          ["p"],
        );

        // THEN every original is deleted and 3 new ones are built
        await waitForReconcilerDeletes(world, originals);
        await waitForPool(world, preset.id, { running: 3 });
        const now = (await runningPrebuilds(world, preset.id)).map((p) => p.id);
        assert.equal(now.filter((id) => originals.includes(id)).length, 0);
      }),
    );

    test(
      "activating a new version deletes the old version's prebuilds and builds the new ones",
      { timeout: SCENARIO_TIMEOUT },
      () =>
        withWorld(dialect, {}, async (world) => {
          // GIVEN v1 with a pool of 2, and v2 imported but not active, whose preset wants 1
          const v1 = await pushTemplate(world, "versions", {
            presets: [{ name: "p", instances: 2 }],
            marker: "1",
          });
          const p1 = presetNamed(v1, "p");
          await waitForPool(world, p1.id, { running: 2 });
          const originals = (await runningPrebuilds(world, p1.id)).map((p) => p.id);
          const v2 = await pushTemplate(world, "versions", {
            presets: [{ name: "p", instances: 1 }],
            marker: "2",
          });
          const p2 = presetNamed(v2, "p");
          await world.server.reconciler.runCycle();
          assert.equal(
            (await runningPrebuilds(world, p2.id)).length,
            0,
            "an inactive version gets no prebuilds",
          );
          assert.deepEqual(
            (await runningPrebuilds(world, p1.id)).map((p) => p.id),
            originals,
          );

          // WHEN v2 is activated
          await activateVersion(world.server.ctx, world.admin, "versions", "v2");

          // THEN the v1 prebuilds are deleted as outdated and v2's pool is built on v2
          await waitForReconcilerDeletes(world, originals);
          await waitForPool(world, p2.id, { running: 1 });
          const fresh = await runningPrebuilds(world, p2.id);
          assert.deepEqual(
            fresh.map((p) => p.versionId),
            [v2.version.id],
          );
          assert.equal((await runningPrebuilds(world, p1.id)).length, 0);
        }),
    );
  });
}
