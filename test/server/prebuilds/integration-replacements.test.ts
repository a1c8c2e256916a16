// A template whose claim re-creates a resource, through the real server on SQLite and PostgreSQL: the claim
// rehearsal finds it BEFORE anyone claims (presets JSON), and the real claim is recorded everywhere a user or
// an operator looks — warning lines in the build log, `latestBuild.resourceReplacements`, the preset's count,
// the replacements counter, a `replacement` prebuild event. A clean template rehearses `clean` and records
// nothing. The rehearsal is plan-only: no apply ran for it.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { countPresetEvents } from "../../../src/server/prebuilds/queries.js";
import { listJobLogs } from "../../../src/server/store/jobs.js";
import { createApiToken } from "../../../src/server/store/users.js";
import { DIALECTS, dialectSkip } from "../../support/db.js";
import { WebClient } from "../../web/support.js";
import {
  createMember,
  presetNamed,
  pushTemplate,
  runningPrebuilds,
  STAGE,
  waitForPool,
  waitForRehearsal,
  withWorld,
} from "./integration-harness.js";

const SCENARIO_TIMEOUT = 60_000;
const VOLUME = { resource: "docker_volume.home", paths: ["name"] };

for (const dialect of DIALECTS) {
  describe(`replacements on claim [${dialect}]`, { skip: dialectSkip(dialect) }, () => {
    test(
      "the rehearsal warns before the first claim; the claim's replacement is logged, counted and shown",
      { timeout: SCENARIO_TIMEOUT },
      () =>
        withWorld(dialect, {}, async (world) => {
          // GIVEN an active template whose claim plan replaces the home volume, and a clean one
          const replacing = await pushTemplate(
            world,
            "replacing",
            { presets: [{ name: "p", instances: 1 }], claimReplaces: [VOLUME] },
            { activate: true },
          );
          const clean = await pushTemplate(world, "clean", { presets: [{ name: "c", instances: 1 }] }, {});
          const preset = presetNamed(replacing, "p");
          await waitForPool(world, preset.id, { running: 1 });
          const [prebuild] = await runningPrebuilds(world, preset.id);
          const dana = await createMember(world, "dana");
          const { token } = await createApiToken(world.store.db, {
            userId: dana.id,
            name: "t",
            now: world.clock.now(),
          });
          const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
            const response = await fetch(`${world.server.url}/api/v1${path}`, {
              method,
              headers: {
                authorization: `Bearer ${token}`,
                ...(body ? { "content-type": "application/json" } : {}),
              },
              body: body ? JSON.stringify(body) : undefined,
              signal: AbortSignal.timeout(40_000),
            });
            assert.ok(
              response.status < 300,
              `${method} ${path}: ${response.status} ${await response.clone().text()}`,
            );
            return (await response.json()) as T;
          };

          // WHEN the rehearsal has run (nobody has claimed yet)
          const rehearsal = await waitForRehearsal(world, preset.id);
          await waitForRehearsal(world, presetNamed(clean, "c").id);

          // THEN it found the replacement, the presets JSON says so, and the clean template is clean
          assert.equal(rehearsal.status, "replacements");
          type PresetJson = {
            name: string;
            claimRehearsal: { status: string; replacements: unknown[] } | null;
          };
          const [shown] = await api<PresetJson[]>("GET", "/templates/replacing/presets");
          assert.deepEqual(shown?.claimRehearsal?.status, "replacements");
          assert.deepEqual(shown?.claimRehearsal?.replacements, [VOLUME]);
          const [cleanShown] = await api<PresetJson[]>("GET", "/templates/clean/presets");
          assert.equal(cleanShown?.claimRehearsal?.status, "clean");
          // AND the dashboard's pools page warns on that pool, with the advice, and not on the clean one
          const web = new WebClient(world.server.url);
          assert.equal((await web.signIn({ token })).status, 303);
          const pools = (await web.request("GET", "/")).text;
          const warnings = pools.match(/data-testid="claim-warning"[\s\S]*?<\/p>/g) ?? [];
          assert.equal(warnings.length, 1, pools.slice(0, 500));
          assert.match(warnings[0]!, /docker_volume\.home/);
          assert.match(warnings[0]!, /ignore_changes/);
          // AND it only planned: the prebuild got one CREATE plan+apply, and one CLAIM plan without an apply
          const requests = world.provisioner.of(prebuild!.id).map((r) => `${r.kind}:${STAGE[r.stage]}`);
          assert.deepEqual(requests, ["plan:CREATE", "apply:CREATE", "plan:CLAIM"]);

          // WHEN dana claims it
          type WorkspaceJson = {
            id: string;
            claimedPrebuild: boolean;
            latestBuild: { jobId: string; resourceReplacements: unknown[] };
          };
          const created = await api<WorkspaceJson>("POST", "/workspaces", {
            name: "mine",
            template: "replacing",
            preset: "p",
          });
          assert.equal(created.claimedPrebuild, true);
          const ready = await api<WorkspaceJson>("GET", `/workspaces/${created.id}?wait=ready&timeout=30s`);

          // THEN the build records what was replaced, and its log warns naming the resource and its paths
          assert.deepEqual(ready.latestBuild.resourceReplacements, [VOLUME]);
          const logWarnings = (await listJobLogs(world.store.db, ready.latestBuild.jobId)).filter(
            (l) => l.level === "warn" && l.output.includes("docker_volume.home"),
          );
          assert.equal(logWarnings.length, 1);
          assert.match(logWarnings[0]!.output, /changed: name/);
          assert.match(logWarnings[0]!.output, /ignore_changes/);
          // AND the dashboard's workspace page marks the build
          const page = (await web.request("GET", `/workspaces/${created.id}`)).text;
          assert.match(page, /data-testid="replaced"[\s\S]*docker_volume\.home/);
          // AND the preset counts one, an event is recorded, and the counter has Coder's name with our prefix
          const [after] = await api<(PresetJson & { claimReplacements: number })[]>(
            "GET",
            "/templates/replacing/presets",
          );
          assert.equal(after?.claimReplacements, 1);
          assert.equal(
            (await countPresetEvents(world.store.db, [preset.id], "replacement")).get(preset.id),
            1,
          );
          const metrics = await (await fetch(`${world.server.url}/metrics`)).text();
          assert.ok(
            metrics
              .split("\n")
              .includes(
                'prewarm_prebuilt_workspaces_resource_replacements_total{template_name="replacing",preset_name="p"} 1',
              ),
            "replacement counter",
          );
        }),
    );
  });
}
