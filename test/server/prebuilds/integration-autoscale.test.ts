// Demand-driven pools end to end through the real server (issue 13), on SQLite and PostgreSQL: an owner
// autoscales a preset with `--min 1 --max 6` over the HTTP API, a burst of claims arrives, and the desired count
// (what `presets list` and the plan report, what the reconciler builds) rises above 1 and stays within bounds
// as time passes. The harness (integration-harness.ts) runs the server on a FakeClock; builds take no fake
// time, so the model's refill time is its floor of a minute.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { PlanT, PresetT } from "../../../src/contract/api.js";
import { createApiToken } from "../../../src/server/store/users.js";
import { DIALECTS, dialectSkip } from "../../support/db.js";
import {
  createMember,
  eventually,
  HOUR,
  MINUTE,
  type PrebuildWorld,
  presetNamed,
  pushTemplate,
  waitForPool,
  withWorld,
} from "./integration-harness.js";

async function api<T>(world: PrebuildWorld, token: string, method: string, path: string, body?: unknown) {
  const response = await fetch(`${world.server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  });
  return { status: response.status, body: (await response.json()) as T };
}

async function tokenOf(world: PrebuildWorld, userId: string): Promise<string> {
  return (await createApiToken(world.store.db, { userId, name: "it", now: world.clock.now() })).token;
}

for (const dialect of DIALECTS) {
  describe(`autoscaled pools through the real server [${dialect}]`, { skip: dialectSkip(dialect) }, () => {
    test(
      "a burst of claims raises desired above min, within max, and it comes back down",
      { timeout: 90_000 },
      () =>
        withWorld(dialect, {}, async (world) => {
          // GIVEN a preset declaring 1 instance, its pool full
          const pushed = await pushTemplate(world, "burst", { presets: [{ name: "dev", instances: 1 }] });
          const preset = presetNamed(pushed, "dev");
          await waitForPool(world, preset.id, { running: 1 });
          const admin = await tokenOf(world, world.admin.id);
          const member = await createMember(world, "zoe");
          const zoe = await tokenOf(world, member.id);
          const devOf = async () =>
            (await api<PresetT[]>(world, admin, "GET", "/api/v1/templates/burst/presets")).body.find(
              (p) => p.name === "dev",
            );

          // WHEN a member tries to autoscale it THEN only owners may
          const denied = await api(world, zoe, "PUT", "/api/v1/templates/burst/presets/dev/autoscale", {
            min: 1,
            max: 6,
            targetHitRate: 0.95,
          });
          assert.equal(denied.status, 403);
          // AND bounds the wrong way round are refused, naming the field
          const wrong = await api<{ field?: string }>(
            world,
            admin,
            "PUT",
            "/api/v1/templates/burst/presets/dev/autoscale",
            {
              min: 7,
              max: 6,
              targetHitRate: 0.95,
            },
          );
          assert.deepEqual([wrong.status, wrong.body.field], [400, "max"]);

          // WHEN the owner autoscales it with min 1, max 6
          const set = await api<PresetT>(
            world,
            admin,
            "PUT",
            "/api/v1/templates/burst/presets/dev/autoscale",
            {
              min: 1,
              max: 6,
              targetHitRate: 0.95,
            },
          );
          assert.equal(set.status, 200);
          assert.deepEqual(set.body.autoscale, { min: 1, max: 6, targetHitRate: 0.95, timezone: "UTC" });
          // THEN without any claim history it asks for the minimum
          assert.equal(set.body.prebuilds.desired, 1);
          assert.match(set.body.desiredReason ?? "", /→ 0 for 95%; raised to min 1$/);

          // WHEN a burst of 8 claims arrives within a minute
          for (let i = 0; i < 8; i++) {
            const created = await api(world, zoe, "POST", "/api/v1/workspaces", {
              name: `burst-${i}`,
              template: "burst",
              preset: "dev",
            });
            assert.equal(created.status, 201, JSON.stringify(created.body));
            await world.clock.advance(5_000);
          }

          // THEN the next cycle desires more than 1 and at most 6, and builds toward it
          await world.server.reconciler.runCycle();
          const raised = await devOf();
          assert.ok(raised, "the preset is listed");
          assert.ok(
            raised.prebuilds.desired > 1 && raised.prebuilds.desired <= 6,
            `desired ${raised.prebuilds.desired}`,
          );
          assert.match(raised.desiredReason ?? "", /^burst of 8 claims in 5m/);
          const filled = await waitForPool(world, preset.id, { running: raised.prebuilds.desired });
          assert.equal(filled.prebuilds.desired, raised.prebuilds.desired);
          const plan = await api<PlanT>(world, admin, "GET", "/api/v1/prebuilds/plan");
          assert.match(plan.body.presets.find((p) => p.id === preset.id)?.desiredReason ?? "", /burst/);

          // AND as time passes it stays within [1, 6], and comes back to the minimum once the burst is past
          for (const step of [10 * MINUTE, 30 * MINUTE, 2 * HOUR]) {
            await world.clock.advance(step);
            await world.server.reconciler.runCycle();
            const later = await devOf();
            const desired = later?.prebuilds.desired ?? -1;
            assert.ok(desired >= 1 && desired <= 6, `desired ${desired} after ${step / MINUTE} more minutes`);
          }
          await eventually("desired back at the minimum", async () =>
            (await devOf())?.prebuilds.desired === 1 ? true : undefined,
          );

          // AND the preset's idle cost counts the claimed prebuilds and the hours the pool sat idle (its template
          // declares no daily_cost, so the cost itself is 0)
          const cost = (await devOf())?.cost;
          assert.ok(cost, "the preset lists its cost");
          assert.ok(cost.claims24h >= 1 && cost.claims24h <= 8, `claims24h ${cost.claims24h}`);
          assert.equal(cost.claims7d, cost.claims24h);
          assert.ok(cost.idleHours24h > 1, `idleHours24h ${cost.idleHours24h}`);
          assert.deepEqual([cost.dailyCostPerPrebuild, cost.idleCost24h, cost.costPerClaim24h], [0, 0, 0]);

          // AND turning it off gives instances back the say
          const off = await api<PresetT>(
            world,
            admin,
            "DELETE",
            "/api/v1/templates/burst/presets/dev/autoscale",
          );
          assert.deepEqual(
            [off.status, off.body.autoscale, off.body.desiredReason],
            [200, null, "instances 1"],
          );
        }),
    );
  });
}
