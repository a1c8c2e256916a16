// Leases, idempotent creates and `?wait=ready` through the real server (HTTP API, in-process daemons) on
// SQLite and PostgreSQL: a lease counts from usable, the sweep deletes or stops at the deadline through the
// job queue (reason lease_expired), `extend` moves the deadline but never past the template's maximum from
// now, a template's default applies when the create names none and a longer one is refused; a retried create
// with the same Idempotency-Key answers the same workspace (also when the retries race) and never claims
// twice; the reconciler's delete of a prebuild tells the provisioner it is a prebuild (stage CREATE).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { invalidatePresets } from "../../../src/server/prebuilds/operations.js";
import { createApiToken } from "../../../src/server/store/users.js";
import { DIALECTS, dialectSkip } from "../../support/db.js";
import type { PrebuildWorld } from "../prebuilds/integration-harness.js";
import {
  createMember,
  HOUR,
  MINUTE,
  presetNamed,
  pushTemplate,
  runningPrebuilds,
  STAGE,
  TRANSITION,
  waitForJob,
  waitForPool,
  waitForReconcilerDeletes,
  withWorld,
} from "../prebuilds/integration-harness.js";

const SCENARIO_TIMEOUT = 60_000;

interface WorkspaceJson {
  id: string;
  name: string;
  claimedPrebuild: boolean;
  lease: { deadline: string | null; onExpiry: string; seconds: number } | null;
  latestBuild: { jobId: string; transition: string; reason: string; status: string; usableAt: string | null };
}

/** A member's HTTP client: answers status and parsed body. */
async function memberApi(world: PrebuildWorld, username: string) {
  const user = await createMember(world, username);
  const { token } = await createApiToken(world.store.db, {
    userId: user.id,
    name: "t",
    now: world.clock.now(),
  });
  return async <T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: T }> => {
    const response = await fetch(`${world.server.url}/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body ? { "content-type": "application/json" } : {}),
        ...headers,
      },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(40_000),
    });
    return { status: response.status, body: (await response.json()) as T };
  };
}

async function ownerPatch(world: PrebuildWorld, template: string, body: unknown): Promise<number> {
  const { token } = await createApiToken(world.store.db, {
    userId: world.admin.id,
    name: `patch-${Math.random()}`,
    now: world.clock.now(),
  });
  const response = await fetch(`${world.server.url}/api/v1/templates/${template}`, {
    method: "PATCH",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  await response.arrayBuffer();
  return response.status;
}

for (const dialect of DIALECTS) {
  describe(`leases and scriptable creates [${dialect}]`, { skip: dialectSkip(dialect) }, () => {
    test(
      "a lease counts from usable; the sweep deletes or stops at the deadline; extend is capped",
      { timeout: SCENARIO_TIMEOUT },
      () =>
        withWorld(dialect, {}, async (world) => {
          // GIVEN a template with a pool of one, a default lease of 1 h and a maximum of 3 h
          const pushed = await pushTemplate(world, "ci", { presets: [{ name: "p", instances: 1 }] });
          await waitForPool(world, presetNamed(pushed, "p").id, { running: 1 });
          assert.equal(
            await ownerPatch(world, "ci", { defaultLeaseSeconds: 3600, maxLeaseSeconds: 3 * 3600 }),
            200,
          );
          const api = await memberApi(world, "cici");

          // WHEN a CI job claims with a 2 h lease and waits until the workspace is usable
          const claimed = await api<WorkspaceJson>("POST", "/workspaces", {
            name: "job-1",
            template: "ci",
            preset: "p",
            lease: { seconds: 2 * 3600 },
          });
          assert.equal(claimed.status, 201);
          assert.equal(claimed.body.claimedPrebuild, true);
          const ready = await api<WorkspaceJson>(
            "GET",
            `/workspaces/${claimed.body.id}?wait=ready&timeout=30s`,
          );

          // THEN the deadline is usable + 2 h, on expiry delete (the default)
          const usableAt = Date.parse(ready.body.latestBuild.usableAt!);
          assert.deepEqual(ready.body.lease, {
            seconds: 7200,
            onExpiry: "delete",
            deadline: new Date(usableAt + 2 * HOUR).toISOString(),
          });
          // AND a create without a lease gets the template's default; one beyond the maximum is refused
          const plain = await api<WorkspaceJson>("POST", "/workspaces", {
            name: "job-2",
            template: "ci",
            lease: { seconds: 600, onExpiry: "stop" },
          });
          assert.equal(plain.status, 201);
          const byDefault = await api<WorkspaceJson>("POST", "/workspaces", {
            name: "job-3",
            template: "ci",
          });
          assert.equal(byDefault.status, 201, JSON.stringify(byDefault.body));
          assert.equal(byDefault.body.lease?.seconds, 3600, JSON.stringify(byDefault.body));
          const tooLong = await api<{ field?: string }>("POST", "/workspaces", {
            name: "job-4",
            template: "ci",
            lease: { seconds: 4 * 3600 },
          });
          assert.equal(tooLong.status, 400);
          assert.equal(tooLong.body.field, "lease.seconds");

          // WHEN she extends job-1 by 2 h THEN the deadline moves to usable + 3 h at most (the maximum from now)
          const extended = await api<WorkspaceJson>("POST", `/workspaces/${claimed.body.id}/lease/extend`, {
            seconds: 2 * 3600,
          });
          assert.equal(extended.status, 200);
          assert.equal(
            extended.body.lease?.deadline,
            new Date(world.clock.now().getTime() + 3 * HOUR).toISOString(),
          );
          // AND a workspace without a lease cannot be extended
          await api<WorkspaceJson>("GET", `/workspaces/${plain.body.id}?wait=ready&timeout=30s`);

          // WHEN the clock passes job-2's 10 minutes, and the sweep runs
          await world.clock.advance(11 * MINUTE);
          assert.equal(await world.server.leases.sweep(), 1);

          // THEN job-2 gets a stop build, reason lease_expired, and its lease is gone; job-1 is untouched
          const stopped = await api<WorkspaceJson>("GET", `/workspaces/${plain.body.id}`);
          assert.deepEqual(
            [stopped.body.latestBuild.transition, stopped.body.latestBuild.reason],
            ["stop", "lease_expired"],
          );
          assert.equal(stopped.body.lease, null);
          assert.equal(await waitForJob(world, stopped.body.latestBuild.jobId), "succeeded");
          assert.equal(await world.server.leases.sweep(), 0);

          // WHEN the clock passes job-1's extended deadline THEN it is deleted
          await world.clock.advance(3 * HOUR);
          assert.ok((await world.server.leases.sweep()) >= 1);
          const deleted = await api<WorkspaceJson>("GET", `/workspaces/${claimed.body.id}`);
          assert.deepEqual(
            [deleted.body.latestBuild.transition, deleted.body.latestBuild.reason],
            ["delete", "lease_expired"],
          );
          assert.equal(await waitForJob(world, deleted.body.latestBuild.jobId), "succeeded");
          assert.equal((await api("GET", `/workspaces/${claimed.body.id}`)).status, 404);
          // AND a stopped workspace's lease cannot be extended any more
          const noLease = await api<{ message: string }>(
            "POST",
            `/workspaces/${plain.body.id}/lease/extend`,
            {
              seconds: 60,
            },
          );
          assert.equal(noLease.status, 409);
        }),
    );

    test(
      "a retried create with the same Idempotency-Key answers the same workspace and claims once",
      { timeout: SCENARIO_TIMEOUT },
      () =>
        withWorld(dialect, {}, async (world) => {
          // GIVEN a pool of two
          const pushed = await pushTemplate(world, "idem", { presets: [{ name: "p", instances: 2 }] });
          const preset = presetNamed(pushed, "p");
          await waitForPool(world, preset.id, { running: 2 });
          const api = await memberApi(world, "ivy");
          const create = (key: string, name: string) =>
            api<WorkspaceJson>(
              "POST",
              "/workspaces",
              { name, template: "idem", preset: "p" },
              { "idempotency-key": key },
            );

          // WHEN the same create is sent twice in a row THEN 201, then 200 with the same workspace
          const first = await create("k-1", "one");
          const again = await create("k-1", "one");
          assert.deepEqual([first.status, again.status], [201, 200]);
          assert.equal(again.body.id, first.body.id);
          assert.equal(again.body.latestBuild.jobId, first.body.latestBuild.jobId);

          // WHEN two creates with one new key race THEN both answer the same workspace, and one claim happened
          const [a, b] = await Promise.all([create("k-2", "two"), create("k-2", "two")]);
          assert.equal(a.body.id, b.body.id, `${JSON.stringify(a.body)} / ${JSON.stringify(b.body)}`);
          assert.deepEqual([a.status, b.status].sort(), [200, 201]);
          const mine = await api<WorkspaceJson[]>("GET", "/workspaces");
          assert.deepEqual(mine.body.map((w) => w.name).sort(), ["one", "two"]);
          // Two keys, two claims: counted by the claim events (the pool itself may already be refilling).
          assert.deepEqual(
            mine.body.map((w) => w.claimedPrebuild),
            [true, true],
          );
          const claims = await world.store.db
            .selectFrom("prebuild_events")
            .select((eb) => eb.fn.countAll<number>().as("n"))
            .where("preset_id", "=", preset.id)
            .where("event_type", "=", "claim_succeeded")
            .executeTakeFirstOrThrow();
          assert.equal(Number(claims.n), 2);
        }),
    );

    test(
      "the reconciler's delete of a prebuild is marked as one to the provisioner",
      { timeout: SCENARIO_TIMEOUT },
      () =>
        withWorld(dialect, {}, async (world) => {
          // GIVEN a pool of one WHEN an owner invalidates it (the reconciler deletes and replaces the prebuild)
          const pushed = await pushTemplate(world, "marked", { presets: [{ name: "p", instances: 1 }] });
          const preset = presetNamed(pushed, "p");
          await waitForPool(world, preset.id, { running: 1 });
          const [prebuild] = await runningPrebuilds(world, preset.id);
          await world.clock.advance(MINUTE);
          await invalidatePresets(world.store, pushed.template, {
            actor: world.admin,
            now: world.clock.now(),
          });
          await world.server.reconciler.runCycle();
          await waitForReconcilerDeletes(world, [prebuild!.id]);

          // THEN the destroy plan and apply carried stage CREATE (a template sees is_prebuild at destroy)
          const destroy = world.provisioner
            .of(prebuild!.id)
            .filter((r) => r.transition === TRANSITION.DESTROY)
            .map((r) => `${r.kind}:${STAGE[r.stage]}`);
          assert.deepEqual(destroy, ["plan:CREATE", "apply:CREATE"]);
        }),
    );
  });
}
