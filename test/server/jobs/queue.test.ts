import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  acquireJob,
  cancelJob,
  completeJob,
  failJob,
  heartbeatJob,
  JobStateError,
} from "../../../src/server/jobs/queue.js";
import {
  buildJobTags,
  InvalidTagsError,
  mutateTags,
  tagsMatch,
  UNTAGGED,
  validateTags,
} from "../../../src/server/jobs/tags.js";
import { getJob, insertJobLogs, listJobLogs, type ProvisionerJob } from "../../../src/server/store/jobs.js";
import { openStore } from "../../../src/server/store/store.js";
import { forEachDialect } from "../../support/db.js";
import { at, echoDaemon, queueFixture, T0 } from "./fixtures.js";

const rejectsWith = (kind: string) => (err: unknown) => err instanceof JobStateError && err.kind === kind;

// Coder's tag rules (provisionersdk.MutateTags, provisioner_tagset_contains), on mutated sets: an untagged
// job only on an untagged daemon; any other job on a daemon whose tags contain the job's.
const ORG = { owner: "", scope: "organization" };
const USER_A = { owner: "aaaa", scope: "user" };
const TAG_CASES: {
  name: string;
  job: Record<string, string>;
  daemon: Record<string, string>;
  takes: boolean;
}[] = [
  { name: "untagged job, untagged daemon", job: ORG, daemon: ORG, takes: true },
  { name: "untagged job, tagged daemon", job: ORG, daemon: { ...ORG, gpu: "true" }, takes: false },
  { name: "tagged job, untagged daemon", job: { ...ORG, gpu: "true" }, daemon: ORG, takes: false },
  { name: "equal tags", job: { ...ORG, gpu: "true" }, daemon: { ...ORG, gpu: "true" }, takes: true },
  {
    name: "job tags a strict subset",
    job: { ...ORG, gpu: "true" },
    daemon: { ...ORG, gpu: "true", region: "eu" },
    takes: true,
  },
  {
    name: "same key, other value",
    job: { ...ORG, gpu: "true" },
    daemon: { ...ORG, gpu: "false" },
    takes: false,
  },
  {
    name: "job has a key the daemon lacks",
    job: { ...ORG, gpu: "true", region: "eu" },
    daemon: { ...ORG, gpu: "true" },
    takes: false,
  },
  { name: "user-scoped job, same user's daemon", job: USER_A, daemon: USER_A, takes: true },
  {
    name: "user-scoped job, tagged daemon of that user",
    job: USER_A,
    daemon: { ...USER_A, gpu: "1" },
    takes: true,
  },
  {
    name: "user-scoped job, another user's daemon",
    job: USER_A,
    daemon: { ...USER_A, owner: "bbbb" },
    takes: false,
  },
  { name: "user-scoped job, organization daemon", job: USER_A, daemon: ORG, takes: false },
  {
    name: "tagged organization job, user-scoped daemon",
    job: { ...ORG, gpu: "1" },
    daemon: { ...USER_A, gpu: "1" },
    takes: false,
  },
  { name: "untagged job, user-scoped daemon", job: ORG, daemon: USER_A, takes: false },
  { name: "empty value vs missing key", job: { ...ORG, zone: "" }, daemon: ORG, takes: false },
  {
    name: "keys with quotes and dots",
    job: { ...ORG, 'a."b': "x.y" },
    daemon: { ...ORG, 'a."b': "x.y", c: "d" },
    takes: true,
  },
];

describe("tag matching (pure)", () => {
  for (const c of TAG_CASES) {
    test(c.name, () => assert.equal(tagsMatch(c.job, c.daemon), c.takes));
  }
});

// Coder's MutateTags, case by case.
describe("mutateTags (pure)", () => {
  const cases: [string, Record<string, string> | undefined, Record<string, string>][] = [
    ["no tags", undefined, ORG],
    ["empty", {}, ORG],
    ["tags without scope get the organization scope", { gpu: "1" }, { ...ORG, gpu: "1" }],
    ["an explicit organization scope drops a given owner", { scope: "organization", owner: "x" }, ORG],
    ["scope=user makes the user the owner", { scope: "user" }, { owner: "u1", scope: "user" }],
    ["scope=user overrides a given owner", { scope: "user", owner: "x" }, { owner: "u1", scope: "user" }],
    ["an unknown scope becomes organization", { scope: "team" }, ORG],
  ];
  for (const [name, given, expected] of cases) {
    test(name, () => assert.deepEqual(mutateTags("u1", given), expected));
  }
});

describe("buildJobTags (pure): version tags for the owner, then the evaluated workspace tags", () => {
  test("GIVEN version tags and workspace tags WHEN combined THEN workspace tags win and scope stays", () => {
    assert.deepEqual(buildJobTags({ ...ORG, region: "eu" }, "owner-1", { region: "us", pool: "prebuilds" }), {
      ...ORG,
      pool: "prebuilds",
      region: "us",
    });
  });
  test("GIVEN nothing WHEN combined THEN the build is untagged", () => {
    assert.deepEqual(buildJobTags(ORG, "owner-1", {}), UNTAGGED);
  });
});

describe("validateTags (pure)", () => {
  const bad: [string, Record<string, unknown>, RegExp][] = [
    ["an empty key", { "": "x" }, /empty tag key/],
    ["a key with a space", { "a b": "x" }, /printable characters without spaces/],
    ["a key with =", { "a=b": "x" }, /without spaces or "="/],
    ["a long key", { ["k".repeat(129)]: "x" }, /longer than 128/],
    ["a long value", { k: "v".repeat(257) }, /value is longer than 256/],
    ["a control character", { k: "a\nb" }, /control character/],
    ["a number value", { k: 1 }, /must be a string/],
    ["scope=user", { scope: "user" }, /scope=user needs user-scoped daemons/],
    ["another scope", { scope: "team" }, /must be "organization"/],
  ];
  for (const [name, tags, message] of bad) {
    test(`GIVEN ${name} THEN InvalidTagsError`, () =>
      assert.throws(
        () => validateTags(tags),
        (err: unknown) => err instanceof InvalidTagsError && message.test(err.message),
      ));
  }
  test("GIVEN good tags THEN they come back sorted", () => {
    assert.deepEqual(Object.keys(validateTags({ z: "", "a.b/c": "é", scope: "organization" })), [
      "a.b/c",
      "scope",
      "z",
    ]);
  });
});

describe("job queue", () => {
  forEachDialect(
    "acquire takes human jobs before prebuild jobs, then the oldest first",
    async ({ store }) => {
      // GIVEN prebuild and human jobs enqueued interleaved in time
      const f = await queueFixture(store);
      const oldPrebuild = await f.enqueue({ createdAt: at(0), prebuild: true });
      const human1 = await f.enqueue({ createdAt: at(1_000) });
      const newPrebuild = await f.enqueue({ createdAt: at(2_000), prebuild: true });
      const human2 = await f.enqueue({ createdAt: at(3_000) });

      // WHEN one daemon acquires until the queue is empty
      const order: string[] = [];
      for (
        let job = await acquireJob(store, echoDaemon("d1", at(10_000)));
        job;
        job = await acquireJob(store, echoDaemon("d1", at(10_000)))
      ) {
        order.push(job.id);
        assert.equal(job.status, "running");
        assert.equal(job.workerId, "d1");
        assert.deepEqual(job.startedAt, at(10_000));
      }

      // THEN humans came first (oldest first), then prebuilds (oldest first)
      assert.deepEqual(order, [human1.id, human2.id, oldPrebuild.id, newPrebuild.id]);
    },
  );

  forEachDialect("acquire only takes jobs of the daemon's provisioner types", async ({ store }) => {
    const f = await queueFixture(store);
    const terraformJob = await f.enqueue({ provisioner: "terraform" });
    assert.equal(await acquireJob(store, echoDaemon("echo-only")), null);
    assert.equal(await acquireJob(store, { ...echoDaemon("none"), provisionerTypes: [] }), null);
    const taken = await acquireJob(store, { ...echoDaemon("both"), provisionerTypes: ["echo", "terraform"] });
    assert.equal(taken?.id, terraformJob.id);
  });

  forEachDialect("acquire applies the tag rule", async ({ store }) => {
    const f = await queueFixture(store);
    for (const c of TAG_CASES) {
      // GIVEN one pending job with the case's tags
      const job = await f.enqueue({ tags: c.job });
      // WHEN a daemon with the case's tags acquires
      const taken = await acquireJob(store, { ...echoDaemon("d"), tags: c.daemon });
      // THEN it takes the job exactly when the rule says so
      assert.equal(taken?.id ?? null, c.takes ? job.id : null, c.name);
      if (!taken) await cancelJob(store, job.id, T0); // keep the queue empty for the next case
    }
  });

  forEachDialect(
    "8 concurrent workers never receive the same job twice",
    async ({ store, dialect, location }) => {
      // GIVEN 60 pending jobs and, on PostgreSQL, a second replica's store on the same database
      const f = await queueFixture(store);
      const jobs = await Promise.all(
        Array.from({ length: 60 }, (_, i) => f.enqueue({ createdAt: at(i), prebuild: i % 3 === 0 })),
      );
      const replica = dialect === "postgres" ? await openStore(location) : store;
      try {
        // WHEN 8 workers (split across both stores) acquire until the queue is empty
        const taken = new Map<string, string>();
        const duplicates: string[] = [];
        const worker = async (n: number) => {
          const s = n % 2 === 0 ? store : replica;
          for (;;) {
            const job = await acquireJob(s, echoDaemon(`w${n}`, at(100_000)));
            if (!job) return;
            if (taken.has(job.id)) duplicates.push(job.id);
            taken.set(job.id, job.workerId!);
          }
        };
        await Promise.all(Array.from({ length: 8 }, (_, n) => worker(n)));

        // THEN every job was handed out exactly once, and the database agrees on who has it
        assert.deepEqual(duplicates, []);
        assert.equal(taken.size, jobs.length);
        for (const job of jobs) {
          const stored = await getJob(store.db, job.id);
          assert.equal(stored?.workerId, taken.get(job.id));
        }
      } finally {
        if (replica !== store) await replica.close();
      }
    },
    { timeout: 60_000 },
  );

  forEachDialect("a running job's daemon learns of a cancel from its next heartbeat", async ({ store }) => {
    // GIVEN a job running on d1
    const f = await queueFixture(store);
    const job = await f.enqueue();
    await acquireJob(store, echoDaemon("d1"));
    assert.deepEqual(await heartbeatJob(store.db, job.id, "d1", at(1_000)), { canceled: false });
    assert.deepEqual((await getJob(store.db, job.id))?.updatedAt, at(1_000), "heartbeat bumps updated_at");

    // WHEN a user cancels it
    const result = await cancelJob(store, job.id, at(2_000));

    // THEN it is canceling (not finished), the next heartbeat says so, and a second cancel changes nothing
    assert.equal(result.outcome, "canceling");
    assert.equal(result.job.status, "canceling");
    assert.deepEqual(await heartbeatJob(store.db, job.id, "d1", at(3_000)), { canceled: true });
    assert.equal((await cancelJob(store, job.id, at(4_000))).job.canceledAt?.getTime(), at(2_000).getTime());

    // WHEN the daemon reports the outcome: the provisioner stopped and the job completes
    const done = await completeJob(store, job.id, "d1", at(5_000));
    // THEN it is canceled, and further heartbeats, completes and cancels are rejected
    assert.equal(done.status, "canceled");
    await assert.rejects(heartbeatJob(store.db, job.id, "d1", at(6_000)), rejectsWith("completed"));
    await assert.rejects(completeJob(store, job.id, "d1", at(6_000)), rejectsWith("completed"));
    await assert.rejects(cancelJob(store, job.id, at(6_000)), rejectsWith("completed"));
  });

  forEachDialect(
    "a cancel racing an acquire leaves every job in exactly one consistent state",
    async ({ store }) => {
      // GIVEN 20 pending jobs
      const f = await queueFixture(store);
      const jobs = await Promise.all(Array.from({ length: 20 }, (_, i) => f.enqueue({ createdAt: at(i) })));
      // WHEN a user cancels each while a daemon acquires, concurrently
      const acquired = new Set<string>();
      const acquiring = (async () => {
        for (
          let job = await acquireJob(store, echoDaemon("d1"));
          job;
          job = await acquireJob(store, echoDaemon("d1"))
        ) {
          acquired.add(job.id);
        }
      })();
      const outcomes = await Promise.all(jobs.map((j) => cancelJob(store, j.id, at(1_000))));
      await acquiring;
      // THEN a job the daemon got is "canceling" (it will hear at its heartbeat); any other is "canceled"
      for (const [i, job] of jobs.entries()) {
        const stored = await getJob(store.db, job.id);
        const expected = acquired.has(job.id) ? "canceling" : "canceled";
        assert.equal(stored?.status, expected, `job ${i}`);
        assert.equal(outcomes[i]?.outcome, expected, `job ${i} outcome`);
      }
    },
  );

  forEachDialect("a pending job is cancelled at once and is never acquired", async ({ store }) => {
    const f = await queueFixture(store);
    const job = await f.enqueue();
    const result = await cancelJob(store, job.id, at(1_000));
    assert.equal(result.outcome, "canceled");
    assert.equal(result.job.status, "canceled");
    assert.deepEqual(result.job.completedAt, at(1_000));
    assert.equal(await acquireJob(store, echoDaemon("d1")), null);
  });

  forEachDialect(
    "heartbeat, complete and fail are refused for jobs not running on the caller",
    async ({ store }) => {
      const f = await queueFixture(store);
      const pending = await f.enqueue({ createdAt: at(0) });
      await assert.rejects(heartbeatJob(store.db, pending.id, "d1", T0), rejectsWith("not_running"));
      await assert.rejects(completeJob(store, pending.id, "d1", T0), rejectsWith("not_running"));
      await acquireJob(store, echoDaemon("d1"));
      await assert.rejects(heartbeatJob(store.db, pending.id, "d2", T0), rejectsWith("not_owner"));
      await assert.rejects(failJob(store, pending.id, "d2", T0, { error: "x" }), rejectsWith("not_owner"));
      await assert.rejects(completeJob(store, pending.id, "d2", T0), rejectsWith("not_owner"));
      await assert.rejects(completeJob(store, "no-such-job", "d1", T0), rejectsWith("not_found"));
      assert.equal(
        (await getJob(store.db, pending.id))?.status,
        "running",
        "a refused completion changes nothing",
      );
      await assert.rejects(heartbeatJob(store.db, "no-such-job", "d1", T0), rejectsWith("not_found"));
    },
  );

  forEachDialect(
    "a throwing writeResults leaves nothing written and the job still running",
    async ({ store }) => {
      // GIVEN a running job
      const f = await queueFixture(store);
      const job = await f.enqueue();
      await acquireJob(store, echoDaemon("d1"));

      // WHEN completion writes results and then fails
      const boom = new Error("disk full while writing resources");
      await assert.rejects(
        completeJob(store, job.id, "d1", at(1_000), async (tx) => {
          await insertJobLogs(tx, job.id, [
            { createdAt: at(1_000), source: "provisioner", level: "info", stage: "s", output: "partial" },
          ]);
          await tx.insertInto("site_config").values({ key: "written-by-results", value: "1" }).execute();
          throw boom;
        }),
        (err) => err === boom,
      );

      // THEN none of it is stored and the job is still running on d1
      assert.deepEqual(await listJobLogs(store.db, job.id), []);
      assert.equal(await store.db.selectFrom("site_config").selectAll().executeTakeFirst(), undefined);
      const after = await getJob(store.db, job.id);
      assert.equal(after?.status, "running");

      // WHEN it completes with results that succeed THEN results and completion are both stored
      const done = await completeJob(store, job.id, "d1", at(2_000), async (tx) => {
        await tx.insertInto("site_config").values({ key: "written-by-results", value: "1" }).execute();
      });
      assert.equal(done.status, "succeeded");
      assert.deepEqual(done.completedAt, at(2_000));
      assert.ok(await store.db.selectFrom("site_config").selectAll().executeTakeFirst());
    },
  );

  forEachDialect(
    "failing a job stores the error and the partial results in one transaction",
    async ({ store }) => {
      const f = await queueFixture(store);
      const job = await f.enqueue();
      await acquireJob(store, echoDaemon("d1"));

      // WHEN writing the partial results throws THEN nothing changes
      await assert.rejects(
        failJob(store, job.id, "d1", at(1_000), {
          error: "apply failed",
          writePartial: async (tx) => {
            await tx.insertInto("site_config").values({ key: "partial", value: "state" }).execute();
            throw new Error("cannot write partial state");
          },
        }),
        /cannot write partial state/,
      );
      assert.equal((await getJob(store.db, job.id))?.status, "running");
      assert.equal(await store.db.selectFrom("site_config").selectAll().executeTakeFirst(), undefined);

      // WHEN it fails with partial results that can be written THEN error, code and partial results are stored
      const failed: ProvisionerJob = await failJob(store, job.id, "d1", at(2_000), {
        error: "apply failed: exit 1",
        errorCode: "MISSING_TEMPLATE_PARAMETER",
        writePartial: async (tx) => {
          await tx.insertInto("site_config").values({ key: "partial", value: "state" }).execute();
        },
      });
      assert.equal(failed.status, "failed");
      assert.equal(failed.error, "apply failed: exit 1");
      assert.equal(failed.errorCode, "MISSING_TEMPLATE_PARAMETER");
      assert.equal(
        (await store.db.selectFrom("site_config").select("value").executeTakeFirst())?.value,
        "state",
      );
    },
  );

  forEachDialect("the server may fail a pending job (no daemon)", async ({ store }) => {
    const f = await queueFixture(store);
    const job = await f.enqueue();
    const failed = await failJob(store, job.id, null, at(1_000), {
      error: "request job was invalidated: version gone",
    });
    assert.equal(failed.status, "failed");
    assert.equal(await acquireJob(store, echoDaemon("d1")), null);
  });
});
