import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type JobStatus, jobStatus, jobStatusSql } from "../../../src/server/store/job-status.js";
import { forEachDialect } from "../../support/db.js";
import { queueFixture } from "./fixtures.js";

// Every combination that matters, with the status Coder's rules give it.
const CASES: {
  name: string;
  started: boolean;
  completed: boolean;
  canceled: boolean;
  error: string | null;
  status: JobStatus;
}[] = [
  { name: "new", started: false, completed: false, canceled: false, error: null, status: "pending" },
  { name: "acquired", started: true, completed: false, canceled: false, error: null, status: "running" },
  {
    name: "running, cancel requested",
    started: true,
    completed: false,
    canceled: true,
    error: null,
    status: "canceling",
  },
  { name: "done", started: true, completed: true, canceled: false, error: null, status: "succeeded" },
  {
    name: "done with empty error text",
    started: true,
    completed: true,
    canceled: false,
    error: "",
    status: "succeeded",
  },
  { name: "failed", started: true, completed: true, canceled: false, error: "boom", status: "failed" },
  {
    name: "cancelled while running, then completed",
    started: true,
    completed: true,
    canceled: true,
    error: null,
    status: "canceled",
  },
  {
    name: "cancelled while running, then ended with the provisioner's error (differs from Coder)",
    started: true,
    completed: true,
    canceled: true,
    error: "canceled",
    status: "canceled",
  },
  {
    name: "cancelled while pending",
    started: false,
    completed: true,
    canceled: true,
    error: null,
    status: "canceled",
  },
  {
    name: "error recorded, not yet completed",
    started: true,
    completed: false,
    canceled: false,
    error: "boom",
    status: "failed",
  },
];

describe("job status derivation", () => {
  for (const c of CASES) {
    test(`${c.name} → ${c.status}`, () => {
      const stamp = (set: boolean) => (set ? new Date(0) : null);
      const status = jobStatus({
        startedAt: stamp(c.started),
        completedAt: stamp(c.completed),
        canceledAt: stamp(c.canceled),
        error: c.error,
      });
      assert.equal(status, c.status);
    });
  }

  forEachDialect("the SQL expression derives the same status as jobStatus()", async ({ store }) => {
    const f = await queueFixture(store);
    const expected = new Map<string, JobStatus>();
    for (const c of CASES) {
      const job = await f.enqueue();
      await store.db
        .updateTable("provisioner_jobs")
        .set({
          started_at: c.started ? 1 : null,
          completed_at: c.completed ? 2 : null,
          canceled_at: c.canceled ? 3 : null,
          error: c.error,
        })
        .where("id", "=", job.id)
        .execute();
      expected.set(job.id, c.status);
    }
    const rows = await store.db
      .selectFrom("provisioner_jobs as j")
      .select(["j.id", jobStatusSql("j").as("status")])
      .execute();
    assert.deepEqual(new Map(rows.map((r) => [r.id, r.status])), expected);
  });
});
