// Retention: the pure rules (which cutoff, which ages are refused), and the executor on both dialects — exactly
// which rows go, what is kept whatever its age (unfinished jobs, the latest build of a live workspace, the
// latest hard_limited / validation_failed event, claim history under 28 days), totals that do not drop, batches
// that stay bounded, a claim that proceeds during a large prune, and the loop's reporting.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Registry } from "prom-client";
import {
  CLAIM_HISTORY_FLOOR_MS,
  POOL_HISTORY_FLOOR_MS,
  planRetention,
  RETENTION_RULES,
  RetentionSettingError,
  resolveRetentionAges,
} from "../../../src/contract/retention.js";
import { AUTOSCALE_MODEL } from "../../../src/planning/autoscale.js";
import { enqueueJob } from "../../../src/server/jobs/queue.js";
import { claimPrebuild } from "../../../src/server/prebuilds/claim.js";
import { PrebuildMetrics } from "../../../src/server/prebuilds/metrics.js";
import { countPresetEvents } from "../../../src/server/prebuilds/queries.js";
import { startRetention } from "../../../src/server/retention/loop.js";
import { type PruneReport, prune } from "../../../src/server/retention/prune.js";
import { appendAgentLogs } from "../../../src/server/store/agent-reports.js";
import { insertAuditEntry, listAuditEntries } from "../../../src/server/store/audit.js";
import { insertJobLogs } from "../../../src/server/store/jobs.js";
import { tryAdvisoryXactLock } from "../../../src/server/store/locks.js";
import { insertPoolSamples, readPoolHistory } from "../../../src/server/store/pool-history.js";
import type { PrebuildEventType } from "../../../src/server/store/schema.js";
import type { Store } from "../../../src/server/store/store.js";
import { openStore } from "../../../src/server/store/store.js";
import { HISTORY_WINDOW_MS } from "../../../src/server/web/pages/pools.js";
import { dialectSkip, forEachDialect, openTestStore } from "../../support/db.js";
import { FakeClock } from "../../support/fake-clock.js";
import { HOUR, MINUTE, PoolFixture, T0 } from "../prebuilds/pool-fixtures.js";

const DAY = 24 * HOUR;
/** "Now" of every test: far enough after the fixtures' T0 for a year of history. */
const NOW = new Date(T0.getTime() + 400 * DAY);
const ago = (ms: number) => new Date(NOW.getTime() - ms);
const defaults = () => resolveRetentionAges();

describe("retention rules (pure)", () => {
  test("GIVEN the defaults WHEN planned THEN each table's cutoff is now minus its documented age", () => {
    const cutoffs = Object.fromEntries(
      planRetention(defaults(), NOW).map((t) => [t.rule.table, NOW.getTime() - t.beforeMs]),
    );
    assert.deepEqual(cutoffs, {
      provisioner_job_logs: 30 * DAY,
      workspace_agent_logs: 7 * DAY,
      pool_history: 6 * HOUR,
      prebuild_events: 90 * DAY,
      audit_log: 365 * DAY,
    });
  });

  test("GIVEN an age of 0 THEN that table is kept forever (no task)", () => {
    const tables = planRetention(
      resolveRetentionAges({ provisioner_job_logs: 0, prebuild_events: 0 }),
      NOW,
    ).map((t) => t.rule.table);
    assert.deepEqual(tables, ["workspace_agent_logs", "pool_history", "audit_log"]);
  });

  test("GIVEN ages below a floor THEN they are refused saying why; the floor itself and 0 are fine", () => {
    const table: Array<{ given: Record<string, number>; error?: RegExp }> = [
      {
        given: { prebuild_events: 27 * DAY },
        error: /--retention-prebuild-events must be 0 \(keep forever\) or at least 28d: demand-driven/,
      },
      { given: { prebuild_events: 28 * DAY } },
      { given: { prebuild_events: 0 } },
      { given: { pool_history: 2 * HOUR }, error: /--retention-pool-history .* at least 3h/ },
      { given: { pool_history: 3 * HOUR } },
      { given: { workspace_agent_logs: MINUTE } },
      { given: { provisioner_job_logs: -1 }, error: /must be a duration/ },
      { given: { no_such_table: DAY }, error: /no retention rule for table "no_such_table"/ },
    ];
    for (const row of table) {
      const run = () => resolveRetentionAges(row.given);
      if (row.error)
        assert.throws(run, (err) => err instanceof RetentionSettingError && row.error!.test(err.message));
      else assert.doesNotThrow(run, JSON.stringify(row.given));
    }
  });

  test("the floors cover what their readers read back", () => {
    // Demand-driven sizing reads 28 days of claims; the idle-cost figures 7 days.
    assert.ok(CLAIM_HISTORY_FLOOR_MS >= AUTOSCALE_MODEL.lookbackMs);
    assert.ok(CLAIM_HISTORY_FLOOR_MS >= 7 * DAY);
    assert.ok(POOL_HISTORY_FLOOR_MS >= HISTORY_WINDOW_MS);
    // Every default respects its own floor (resolveRetentionAges() above would have thrown).
    for (const rule of RETENTION_RULES) assert.match(rule.defaultAge, /^\d+[dhm]$/, rule.flag);
  });

  test("GIVEN the clock went backwards THEN cutoffs follow it: a run keeps no memory of a later now", () => {
    const earlier = new Date(NOW.getTime() - DAY);
    const ages = defaults();
    for (const task of planRetention(ages, earlier))
      assert.equal(task.beforeMs, earlier.getTime() - (ages[task.rule.table] ?? 0), task.rule.table);
  });
});

/** A finished template import job (no build): its logs are kept by nothing but their age. */
async function importJob(fx: PoolFixture, outcome: "succeeded" | "running"): Promise<string> {
  const job = await enqueueJob(fx.db, {
    type: "template_version_import",
    input: { templateVersionId: "v" },
    provisioner: "echo",
    fileId: fx.fileId,
    initiatorId: fx.userId,
    now: ago(100 * DAY),
  });
  await fx.setJob(job.id, outcome, ago(100 * DAY), ago(99 * DAY));
  return job.id;
}

async function jobLog(store: Store, jobId: string, at: Date, output: string): Promise<void> {
  await insertJobLogs(store.db, jobId, [
    { createdAt: at, source: "provisioner", level: "info", stage: "s", output },
  ]);
}

async function jobOfBuild(store: Store, buildId: string): Promise<string> {
  return (
    await store.db
      .selectFrom("workspace_builds")
      .select("job_id")
      .where("id", "=", buildId)
      .executeTakeFirstOrThrow()
  ).job_id;
}

async function agentOfJob(store: Store, jobId: string): Promise<string> {
  return (
    await store.db
      .selectFrom("workspace_agents as a")
      .innerJoin("workspace_resources as r", "r.id", "a.resource_id")
      .select("a.id")
      .where("r.job_id", "=", jobId)
      .executeTakeFirstOrThrow()
  ).id;
}

async function event(store: Store, presetId: string, type: PrebuildEventType, at: Date): Promise<void> {
  await store.db
    .insertInto("prebuild_events")
    .values({ preset_id: presetId, event_type: type, created_at: at.getTime() })
    .execute();
}

/** A preset "small" with `count` events of `type` 100 days old (1 ms apart), inserted in chunks. */
async function oldEvents(store: Store, count: number, type: PrebuildEventType): Promise<string> {
  const fx = await PoolFixture.create(store);
  const t = await fx.template("dev");
  const preset = await fx.preset(t.versionId, { name: "small" });
  const rows = Array.from({ length: count }, (_, i) => ({
    preset_id: preset,
    event_type: type,
    created_at: ago(100 * DAY).getTime() + i,
  }));
  for (let i = 0; i < rows.length; i += 500)
    await store.db
      .insertInto("prebuild_events")
      .values(rows.slice(i, i + 500))
      .execute();
  return preset;
}

/** The value of one series in Prometheus text (absent: undefined). */
async function sample(
  registry: Registry,
  name: string,
  labels: Record<string, string>,
): Promise<number | undefined> {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of (await registry.metrics()).split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    if (wanted.every((w) => line.includes(w))) return Number(line.split(" ").at(-1));
  }
  return undefined;
}

async function shownTotals(store: Store, presetId: string) {
  const registry = new Registry();
  new PrebuildMetrics(registry, { store, clock: new FakeClock(NOW) });
  const labels = { template_name: "dev", preset_name: "small" };
  return {
    hits: await sample(registry, "prewarm_prebuilt_workspace_claims_total", { ...labels, result: "hit" }),
    misses: await sample(registry, "prewarm_prebuilt_workspace_claims_total", { ...labels, result: "miss" }),
    replacements: await sample(registry, "prewarm_prebuilt_workspaces_resource_replacements_total", labels),
    presetReplacements: (await countPresetEvents(store.db, [presetId], "replacement")).get(presetId),
  };
}

describe("retention against a database", () => {
  forEachDialect(
    "GIVEN old and new history WHEN retention runs THEN exactly the old rows no rule keeps are gone, totals unchanged",
    async ({ store }) => {
      const fx = await PoolFixture.create(store);
      const t = await fx.template("dev");
      const preset = await fx.preset(t.versionId, { name: "small" });

      // GIVEN a live workspace with an old first build and an old latest build, each with logs and an agent
      const live = await fx.prebuild(preset, { createdAt: ago(60 * DAY), agents: ["ready"] });
      const liveFirstJob = await jobOfBuild(
        store,
        (
          await store.db
            .selectFrom("workspace_builds")
            .select("id")
            .where("workspace_id", "=", live)
            .executeTakeFirstOrThrow()
        ).id,
      );
      const liveLatestJob = await jobOfBuild(
        store,
        await fx.build(live, { at: ago(50 * DAY), agents: ["ready"] }),
      );
      await jobLog(store, liveFirstJob, ago(60 * DAY), "old line of a replaced build");
      await jobLog(store, liveFirstJob, ago(DAY), "recent line of a replaced build");
      await jobLog(store, liveLatestJob, ago(50 * DAY), "old line of the latest build");
      await appendAgentLogs(store.db, await agentOfJob(store, liveFirstJob), [
        { createdAt: ago(8 * DAY), level: "info", output: "old agent line, replaced build", source: "agent" },
        { createdAt: ago(HOUR), level: "info", output: "recent agent line, replaced build", source: "agent" },
      ]);
      await appendAgentLogs(store.db, await agentOfJob(store, liveLatestJob), [
        { createdAt: ago(30 * DAY), level: "info", output: "old agent line, latest build", source: "agent" },
      ]);
      // … a deleted workspace whose latest build is old …
      const gone = await fx.prebuild(preset, { createdAt: ago(40 * DAY) });
      await store.db.updateTable("workspaces").set({ deleted: 1 }).where("id", "=", gone).execute();
      const goneJob = (
        await store.db
          .selectFrom("workspace_builds")
          .select("job_id")
          .where("workspace_id", "=", gone)
          .executeTakeFirstOrThrow()
      ).job_id;
      await jobLog(store, goneJob, ago(40 * DAY), "old line of a deleted workspace");
      // … a finished and a still running import job, both with old lines …
      await jobLog(store, await importJob(fx, "succeeded"), ago(100 * DAY), "old line of a finished import");
      await jobLog(store, await importJob(fx, "running"), ago(100 * DAY), "old line of a running job");
      // … pool history from 7 hours and 1 hour ago …
      const counts = { desired: 1, running: 1, eligible: 1, starting: 0, expired: 0 };
      await insertPoolSamples(store.db, [
        { presetId: preset, sample: { at: ago(7 * HOUR), ...counts } },
        { presetId: preset, sample: { at: ago(HOUR), ...counts } },
      ]);
      // … and prebuild events: old and recent claims, two hard limits, one validation failure, replacements.
      await event(store, preset, "claim_succeeded", ago(100 * DAY));
      await event(store, preset, "claim_missed", ago(95 * DAY));
      await event(store, preset, "claim_succeeded", ago(20 * DAY));
      await event(store, preset, "hard_limited", ago(200 * DAY));
      await event(store, preset, "hard_limited", ago(150 * DAY));
      await event(store, preset, "validation_failed", ago(120 * DAY));
      await event(store, preset, "replacement", ago(95 * DAY));
      await event(store, preset, "replacement", ago(DAY));
      const before = await shownTotals(store, preset);
      assert.deepEqual(before, { hits: 2, misses: 1, replacements: 2, presetReplacements: 2 });

      // WHEN retention runs with the defaults
      const report = await prune(store, planRetention(defaults(), NOW));

      // THEN
      assert.deepEqual(report.deleted, {
        provisioner_job_logs: 3,
        workspace_agent_logs: 1,
        pool_history: 1,
        prebuild_events: 4,
      });
      assert.equal(report.cut, undefined);
      const jobLines = await store.db
        .selectFrom("provisioner_job_logs")
        .select("output")
        .orderBy("output")
        .execute();
      assert.deepEqual(
        jobLines.map((r) => r.output),
        ["old line of a running job", "old line of the latest build", "recent line of a replaced build"],
      );
      const agentLines = await store.db
        .selectFrom("workspace_agent_logs")
        .select("output")
        .orderBy("output")
        .execute();
      assert.deepEqual(
        agentLines.map((r) => r.output),
        ["old agent line, latest build", "recent agent line, replaced build"],
      );
      const history = (await readPoolHistory(store.db, [preset], new Date(0))).get(preset) ?? [];
      assert.deepEqual(
        history.map((r) => r.at.getTime()),
        [ago(HOUR).getTime()],
      );
      const events = await store.db
        .selectFrom("prebuild_events")
        .select(["event_type", "created_at"])
        .orderBy("created_at")
        .execute();
      assert.deepEqual(
        events.map((e) => [e.event_type, NOW.getTime() - Number(e.created_at)]),
        [
          ["hard_limited", 150 * DAY], // the latest hard limit stays whatever its age; the older one went
          ["validation_failed", 120 * DAY], // so does the latest validation failure
          ["claim_succeeded", 20 * DAY], // claim history under 28 days stays
          ["replacement", DAY],
        ],
      );
      // … and every total shown is what it was.
      assert.deepEqual(await shownTotals(store, preset), before);

      // WHEN it runs again THEN nothing more goes, and totals are not counted twice
      assert.deepEqual((await prune(store, planRetention(defaults(), NOW))).deleted, {});
      assert.deepEqual(await shownTotals(store, preset), before);
    },
  );

  forEachDialect(
    "GIVEN audit entries a year old and younger WHEN retention runs THEN only those past --retention-audit go",
    async ({ store }) => {
      const entry = (at: Date, target: string) =>
        insertAuditEntry(store.db, {
          time: at,
          actorId: null,
          actorName: "admin",
          action: "template.push",
          target,
          outcome: "success",
          detail: {},
          remoteAddress: null,
        });
      await entry(ago(366 * DAY), "template/old");
      await entry(ago(364 * DAY), "template/recent");
      const report = await prune(
        store,
        planRetention(defaults(), NOW).filter((t) => t.rule.table === "audit_log"),
      );
      assert.deepEqual(report.deleted, { audit_log: 1 });
      const left = await listAuditEntries(store.db, { limit: 10 });
      assert.deepEqual(
        left.map((e) => e.target),
        ["template/recent"],
      );
    },
  );

  forEachDialect(
    "GIVEN 2,500 old events WHEN runs are bounded to 2 batches of 1,000 THEN each run deletes at most 2,000, totals hold",
    async ({ store }) => {
      const preset = await oldEvents(store, 2_500, "replacement");
      // Only this table's task: every statement counts toward the bound, one that deletes nothing too.
      const tasks = planRetention(defaults(), NOW).filter((t) => t.rule.table === "prebuild_events");
      const total = async () => (await countPresetEvents(store.db, [preset], "replacement")).get(preset);
      const left = async () =>
        Number(
          (
            await store.db
              .selectFrom("prebuild_events")
              .select((eb) => eb.fn.countAll().as("n"))
              .executeTakeFirstOrThrow()
          ).n,
        );

      // WHEN the first run is bounded THEN it stops after two full batches, saying so
      const first = await prune(store, tasks, { batchSize: 1_000, maxBatches: 2 });
      assert.deepEqual(first, { deleted: { prebuild_events: 2_000 }, batches: 2, cut: "max batches" });
      assert.equal(await left(), 500);
      assert.equal(await total(), 2_500);
      // WHEN a batch is smaller still THEN a run deletes no more than it
      const second = await prune(store, tasks, { batchSize: 300, maxBatches: 1 });
      assert.deepEqual(second.deleted, { prebuild_events: 300 });
      // WHEN the next run comes THEN it finishes the rest
      const third = await prune(store, tasks, { batchSize: 1_000, maxBatches: 2 });
      assert.deepEqual(third.deleted, { prebuild_events: 200 });
      assert.equal(third.cut, undefined);
      assert.equal(await left(), 0);
      assert.equal(await total(), 2_500);
    },
  );

  forEachDialect(
    "GIVEN many old rows a rule keeps before ones that may go WHEN batches run THEN each judges its window only and the walk gets past them",
    async ({ store }) => {
      const fx = await PoolFixture.create(store);
      const t = await fx.template("dev");
      const preset = await fx.preset(t.versionId, { name: "small" });
      // GIVEN 1,500 old lines of a live workspace's latest build (kept), then 500 of a finished import (not)
      const live = await fx.prebuild(preset, { createdAt: ago(60 * DAY) });
      const latest = (
        await store.db
          .selectFrom("workspace_builds")
          .select("job_id")
          .where("workspace_id", "=", live)
          .executeTakeFirstOrThrow()
      ).job_id;
      const imported = await importJob(fx, "succeeded");
      const line = (i: number) => ({
        createdAt: new Date(ago(60 * DAY).getTime() + i),
        source: "provisioner" as const,
        level: "info" as const,
        stage: "s",
        output: `line ${i}`,
      });
      for (let i = 0; i < 1_500; i += 500)
        await insertJobLogs(
          store.db,
          latest,
          Array.from({ length: 500 }, (_, n) => line(i + n)),
        );
      await insertJobLogs(
        store.db,
        imported,
        Array.from({ length: 500 }, (_, n) => line(1_500 + n)),
      );
      const tasks = planRetention(defaults(), NOW).filter((x) => x.rule.table === "provisioner_job_logs");

      // WHEN a run has one batch of 1,000 THEN its window holds only kept rows: nothing goes
      assert.deepEqual(await prune(store, tasks, { batchSize: 1_000, maxBatches: 1 }), {
        deleted: {},
        batches: 1,
        cut: "max batches",
      });
      // WHEN a run has two THEN the second window reaches the 500 that may go
      const report = await prune(store, tasks, { batchSize: 1_000, maxBatches: 2 });
      assert.deepEqual(report, { deleted: { provisioner_job_logs: 500 }, batches: 2, cut: "max batches" });
      const left = await store.db
        .selectFrom("provisioner_job_logs")
        .select((eb) => eb.fn.countAll().as("n"))
        .executeTakeFirstOrThrow();
      assert.equal(Number(left.n), 1_500);
    },
  );
  forEachDialect(
    "GIVEN a large prune under way WHEN a claim comes THEN it completes before the prune ends",
    async ({ store }) => {
      const fx = await PoolFixture.create(store);
      const bob = await fx.user("bob");
      const t = await fx.template("dev");
      const preset = await fx.preset(t.versionId, { name: "small" });
      await fx.prebuild(preset, { createdAt: ago(DAY) });
      const job = await importJob(fx, "succeeded");
      const lines = Array.from({ length: 20_000 }, (_, i) => ({
        createdAt: new Date(ago(60 * DAY).getTime() + i),
        source: "provisioner" as const,
        level: "info" as const,
        stage: "s",
        output: `line ${i}`,
      }));
      for (let i = 0; i < lines.length; i += 1_000)
        await insertJobLogs(store.db, job, lines.slice(i, i + 1_000));

      // WHEN retention starts deleting 20 batches and a claim comes right after
      const order: string[] = [];
      const pruning = prune(store, planRetention(defaults(), NOW), { batchSize: 1_000 }).then((r) => {
        order.push("prune done");
        return r;
      });
      const claimed = await store.transaction((tx) =>
        claimPrebuild(tx, store.dialect, { presetIds: [preset], newOwnerId: bob, newName: "mine", now: NOW }),
      );
      order.push("claim done");
      const report = await pruning;

      // THEN the claim got its prebuild without waiting for the whole prune
      assert.notEqual(claimed, null);
      assert.deepEqual(order, ["claim done", "prune done"]);
      assert.equal(report.deleted.provisioner_job_logs, 20_000);
      assert.ok(report.batches >= 20);
    },
  );

  forEachDialect(
    "GIVEN the loop WHEN it runs at start and on its interval THEN it reports only runs that deleted something",
    async ({ store }) => {
      const fx = await PoolFixture.create(store);
      const t = await fx.template("dev");
      const preset = await fx.preset(t.versionId, { name: "small" });
      const clock = new FakeClock(NOW);
      const pruned: PruneReport[] = [];
      let successes = 0;
      // GIVEN one old pool history row
      await insertPoolSamples(store.db, [
        {
          presetId: preset,
          sample: { at: ago(7 * HOUR), desired: 1, running: 0, eligible: 0, starting: 0, expired: 0 },
        },
      ]);
      // WHEN the loop starts THEN its first run deletes it and reports that
      const loop = startRetention({
        store,
        clock,
        ages: defaults(),
        intervalMs: 10 * MINUTE,
        onPruned: (r) => pruned.push(r),
        onSuccess: () => successes++,
      });
      await clock.advance(MINUTE);
      while (successes < 1) await new Promise((r) => setImmediate(r));
      assert.deepEqual(
        pruned.map((r) => r.deleted),
        [{ pool_history: 1 }],
      );
      // WHEN the next run finds nothing THEN nothing is reported
      await clock.advance(10 * MINUTE);
      while (successes < 2) await new Promise((r) => setImmediate(r));
      assert.equal(pruned.length, 1);
      await loop.stop();
    },
  );

  forEachDialect(
    "GIVEN a run under way WHEN the loop stops THEN the run ends after its current batch",
    async ({ store }) => {
      await oldEvents(store, 3_000, "claim_missed");
      const pruned: PruneReport[] = [];
      // Only prebuild_events is pruned: the other tables' (empty) batches would come first otherwise.
      const ages = resolveRetentionAges({
        provisioner_job_logs: 0,
        workspace_agent_logs: 0,
        pool_history: 0,
      });
      const loop = startRetention({
        store,
        clock: new FakeClock(NOW),
        ages,
        batchSize: 1_000,
        onPruned: (r) => pruned.push(r),
      });
      await loop.stop();
      assert.deepEqual(pruned, [{ deleted: { prebuild_events: 1_000 }, batches: 1, cut: "stopping" }]);
    },
  );

  test("GIVEN another replica holds the retention lock WHEN this one runs THEN it deletes nothing and ends at once [postgres]", {
    skip: dialectSkip("postgres"),
  }, async () => {
    const ctx = await openTestStore("postgres");
    const other = await openStore(ctx.location);
    try {
      const fx = await PoolFixture.create(ctx.store);
      const t = await fx.template("dev");
      const preset = await fx.preset(t.versionId, { name: "small" });
      await insertPoolSamples(ctx.store.db, [
        {
          presetId: preset,
          sample: { at: ago(7 * HOUR), desired: 1, running: 0, eligible: 0, starting: 0, expired: 0 },
        },
      ]);
      // GIVEN the other replica is in a retention batch (holding the lock until released)
      let release = () => {};
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      let locked = () => {};
      const lockTaken = new Promise<void>((resolve) => {
        locked = resolve;
      });
      const holder = other.transaction(async (tx) => {
        assert.equal(await tryAdvisoryXactLock(tx, "postgres", "retention"), true);
        locked();
        await held;
      });
      await lockTaken;
      // WHEN this replica runs THEN it skips, deleting nothing
      const skipped = await prune(ctx.store, planRetention(defaults(), NOW));
      assert.deepEqual(skipped, { deleted: {}, batches: 0, cut: "another replica is pruning" });
      // WHEN the other one is done THEN this one prunes
      release();
      await holder;
      assert.deepEqual((await prune(ctx.store, planRetention(defaults(), NOW))).deleted, { pool_history: 1 });
    } finally {
      await other.close();
      await ctx.cleanup();
    }
  });
});
