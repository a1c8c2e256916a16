// runJob, the daemon's runner of one job: a real echo provisioner over gRPC, a fake daemon client standing in
// for the server, and the shared FakeClock driving heartbeats and retry backoff (nothing here sleeps).
//
// How FakeDaemonServer differs from the real daemon API (src/server/daemon-api/service.ts): it holds one job
// in memory instead of the database, checks no pre-shared key, answers at once (in the same process), returns
// no variable values for a parse result unless told to, and serves no AcquireJob (the job is handed to runJob
// directly). What it does like the real one: it refuses calls from another daemon and every call after the job
// was completed or failed, with the same codes and messages (NotFound / FailedPrecondition, LOST_JOB_CODES),
// and a test can make it answer any call with any answer (cancel, lost, transient).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  type AcquiredJob,
  AcquiredJobSchema,
  type CompleteJobRequest,
  CompleteJobRequestSchema,
  CompleteJobResponseSchema,
  type FailJobRequest,
  FailJobRequestSchema,
  FailJobResponseSchema,
  LogSource,
  type UpdateJobRequest,
  UpdateJobRequestSchema,
  UpdateJobResponseSchema,
} from "../../src/gen/prewarm/daemon/v1/daemon_pb.js";
import { LogLevel, WorkspaceTransition } from "../../src/gen/provisioner/provisioner_pb.js";
import type { DaemonClient } from "../../src/provisionerd/api.js";
import { type JobOutcome, type RunJobOptions, runJob } from "../../src/provisionerd/runner.js";
import {
  buildEchoArchive,
  type EchoResponses,
  type EchoStepInit,
  echoLog,
  echoProvisioner,
} from "../../src/provisioners/echo/index.js";
import {
  connectProvisioner,
  type ProvisionerClient,
  type ProvisionerServer,
  serve,
} from "../../src/provisionersdk/index.js";
import { FakeClock } from "../support/fake-clock.js";

const DAEMON_ID = "daemon-1";
const JOB_ID = "job-1";
const HEARTBEAT_MS = 1_000;
const T0 = "2026-01-05T10:00:00.000Z";
const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined) => new TextDecoder().decode(b);

// ---- the fake server -------------------------------------------------------------------------------------

type Call =
  | { method: "updateJob"; request: UpdateJobRequest }
  | { method: "completeJob"; request: CompleteJobRequest }
  | { method: "failJob"; request: FailJobRequest };

type UpdateAnswer = MessageInitShape<typeof UpdateJobResponseSchema>;

/** What kind of UpdateJob a request is, as the runner sends them. */
function updateKind(request: UpdateJobRequest): "heartbeat" | "logs" | "parse result" {
  if (request.parseResult) return "parse result";
  return request.logs.length > 0 ? "logs" : "heartbeat";
}

const lostAnswers = {
  notFound: () => new ConnectError("no such job", Code.NotFound),
  finished: () => new ConnectError("already completed", Code.FailedPrecondition),
  notYours: () => new ConnectError("not running on this daemon", Code.FailedPrecondition),
};
const transient = () => new ConnectError("server restarting", Code.Unavailable);

class FakeDaemonServer {
  /** Every call received, answered or not, in order. */
  readonly calls: Call[] = [];
  /** Overrides per method; `attempt` counts this method's calls from 1. Throw a ConnectError to refuse. */
  answerUpdate: (request: UpdateJobRequest, attempt: number) => UpdateAnswer = () => ({});
  answerComplete: (request: CompleteJobRequest, attempt: number) => void = () => {};
  answerFail: (request: FailJobRequest, attempt: number) => void = () => {};
  #finished = false;
  #waiters: { match: (calls: Call[]) => boolean; resolve: () => void }[] = [];

  readonly client: DaemonClient = {
    acquireJob: async () => {
      throw new ConnectError("the fake hands its job to runJob directly", Code.Unimplemented);
    },
    updateJob: async (init) => {
      const request = create(UpdateJobRequestSchema, init);
      this.#record({ method: "updateJob", request });
      this.#checkHolder(request);
      return create(UpdateJobResponseSchema, this.answerUpdate(request, this.count("updateJob")));
    },
    completeJob: async (init) => {
      const request = create(CompleteJobRequestSchema, init);
      this.#record({ method: "completeJob", request });
      this.#checkHolder(request);
      this.answerComplete(request, this.count("completeJob"));
      this.#finished = true;
      return create(CompleteJobResponseSchema);
    },
    failJob: async (init) => {
      const request = create(FailJobRequestSchema, init);
      this.#record({ method: "failJob", request });
      this.#checkHolder(request);
      this.answerFail(request, this.count("failJob"));
      this.#finished = true;
      return create(FailJobResponseSchema);
    },
  };

  count(method: Call["method"]): number {
    return this.calls.filter((c) => c.method === method).length;
  }
  updates(): UpdateJobRequest[] {
    return this.calls.flatMap((c) => (c.method === "updateJob" ? [c.request] : []));
  }
  /** Every log line received, in order (including batches the fake then refused). */
  logOutputs(): string[] {
    return this.updates().flatMap((u) => u.logs.map((l) => l.output));
  }
  /** Resolves once the calls received so far satisfy `match` (now or later). */
  until(match: (calls: Call[]) => boolean): Promise<void> {
    if (match(this.calls)) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }
  untilLog(output: string): Promise<void> {
    return this.until(() => this.logOutputs().includes(output));
  }

  /** The real server's checks: the job exists, runs on this daemon, and has not finished. */
  #checkHolder(request: { jobId: string; daemonId: string }): void {
    if (request.jobId !== JOB_ID) throw lostAnswers.notFound();
    if (this.#finished) throw lostAnswers.finished();
    if (request.daemonId !== DAEMON_ID) throw lostAnswers.notYours();
  }
  #record(call: Call): void {
    this.calls.push(call);
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.match(this.calls)) return true;
      w.resolve();
      return false;
    });
  }
}

// ---- the provisioner -------------------------------------------------------------------------------------

let served: ProvisionerServer;
let echo: ProvisionerClient;
before(async () => {
  served = await serve(echoProvisioner, { listen: "127.0.0.1:0" });
  echo = connectProvisioner(served.address);
});
after(async () => {
  echo.close();
  await served.close({ deadlineMs: 1_000 });
});

/** The echo client, counting Cancel requests sent on its sessions. */
function cancelCounting(client: ProvisionerClient) {
  const counter = { cancels: 0 };
  const provisioner: ProvisionerClient = {
    openSession: async (config, handlers) => {
      const session = await client.openSession(config, handlers);
      const cancel = session.cancel.bind(session);
      session.cancel = () => {
        counter.cancels++;
        cancel();
      };
      return session;
    },
    close: () => client.close(),
  };
  return { provisioner, counter };
}

// ---- fixtures --------------------------------------------------------------------------------------------

/** Apply logs this line and then waits for Cancel (echo without an ApplyComplete). */
const APPLYING_FOREVER = "applying forever";
const applyUntilCanceled: EchoResponses = {
  plan: [{ type: { case: "plan", value: {} } }],
  apply: [echoLog(APPLYING_FOREVER)],
};
const applyOk: EchoStepInit[] = [
  echoLog("creating dev"),
  {
    type: {
      case: "apply",
      value: { state: bytes("state-after-apply"), resources: [{ name: "dev", type: "echo_instance" }] },
    },
  },
];

function workspaceBuild(responses: EchoResponses): AcquiredJob {
  return create(AcquiredJobSchema, {
    jobId: JOB_ID,
    provisioner: "echo",
    templateSourceArchive: buildEchoArchive(responses),
    type: {
      case: "workspaceBuild",
      value: {
        workspaceName: "dev",
        state: bytes("state-before"),
        metadata: { workspaceTransition: WorkspaceTransition.START, workspaceName: "dev" },
      },
    },
  });
}

function templateImport(responses: EchoResponses): AcquiredJob {
  return create(AcquiredJobSchema, {
    jobId: JOB_ID,
    provisioner: "echo",
    templateSourceArchive: buildEchoArchive(responses),
    type: { case: "templateImport", value: { metadata: {} } },
  });
}

/** Starts runJob against a fresh fake server and FakeClock; `logMaxLines: 1` makes every line its own batch. */
function start(job: AcquiredJob, options: Partial<RunJobOptions> = {}) {
  const server = new FakeDaemonServer();
  const clock = new FakeClock(T0);
  const { provisioner, counter } = cancelCounting(echo);
  const lost: string[] = [];
  const run: Promise<JobOutcome> = runJob({
    job,
    daemonId: DAEMON_ID,
    api: server.client,
    provisioner,
    heartbeatMs: HEARTBEAT_MS,
    clock,
    onLost: (reason) => lost.push(reason),
    ...options,
  });
  return { server, clock, counter, lost, run };
}

// ---- tests -----------------------------------------------------------------------------------------------

// A broken runner hangs rather than fails (a lost job it keeps applying never ends): the timeout turns that into a failure.
describe("runJob", { timeout: 30_000 }, () => {
  test("GIVEN a workspace build that applies THEN its logs, then CompleteJob with the state and resources, are sent; no timer is left", async () => {
    const { server, clock, run } = start(workspaceBuild({ apply: applyOk }));

    assert.equal(await run, "completed");

    assert.deepEqual(
      server.calls.map((c) => c.method),
      ["updateJob", "updateJob", "completeJob"],
      "logs after plan, after apply with cleaning up's, then the outcome (no heartbeat: the clock never moved)",
    );
    assert.deepEqual(
      server.updates()[1]?.logs.map((l) => l.stage),
      ["Starting workspace", "Starting workspace", "Cleaning Up"],
      "the apply's lines, then the cleaning-up stage, in order",
    );
    const complete = server.calls.at(-1)?.request as CompleteJobRequest;
    assert.equal(complete.type.case, "workspaceBuild");
    if (complete.type.case === "workspaceBuild") {
      assert.equal(text(complete.type.value.state), "state-after-apply");
      assert.deepEqual(
        complete.type.value.resources.map((r) => r.name),
        ["dev"],
      );
    }
    const applyLog = server.updates()[1]?.logs.find((l) => l.output === "creating dev");
    assert.equal(applyLog?.source, LogSource.PROVISIONER);
    assert.equal(applyLog?.stage, "Starting workspace");
    assert.equal(applyLog?.createdAtMs, BigInt(Date.parse(T0)), "stamped by the injected clock");
    assert.equal(server.count("failJob"), 0);
    assert.equal(clock.pendingTimers, 0, "heartbeat and log timers are cleared");
  });

  test("GIVEN a server that takes an outcome's logs WHEN a build applies THEN the apply's lines and cleaning-up's go with CompleteJob, not in an UpdateJob of their own", async () => {
    const { server, clock, run } = start(workspaceBuild({ apply: applyOk }), { outcomeTakesLogs: true });

    assert.equal(await run, "completed");

    assert.deepEqual(
      server.calls.map((c) => c.method),
      ["updateJob", "completeJob"],
      "the plan's lines before the apply, then the outcome with the rest",
    );
    const complete = server.calls.at(-1)?.request as CompleteJobRequest;
    assert.deepEqual(
      complete.logs.map((l) => [l.stage, l.output]),
      [
        ["Starting workspace", ""],
        ["Starting workspace", "creating dev"],
        ["Cleaning Up", ""],
      ],
    );
    assert.equal(complete.type.case, "workspaceBuild");
    assert.equal(clock.pendingTimers, 0);
  });

  test("GIVEN a server that takes an outcome's logs WHEN the apply fails THEN FailJob carries the error's line with the last ones", async () => {
    const { server, run } = start(
      workspaceBuild({
        plan: [{ type: { case: "plan", value: {} } }],
        apply: [echoLog("creating dev"), { type: { case: "apply", value: { error: "quota exceeded" } } }],
      }),
      { outcomeTakesLogs: true },
    );

    assert.equal(await run, "failed");

    assert.deepEqual(
      server.calls.map((c) => c.method),
      ["updateJob", "failJob"],
    );
    const fail = server.calls.at(-1)?.request as FailJobRequest;
    assert.deepEqual(
      fail.logs.map((l) => l.output),
      ["", "creating dev", "quota exceeded"],
    );
    assert.equal(fail.logs.at(-1)?.level, LogLevel.ERROR);
  });

  test("GIVEN a server that takes an outcome's logs AND batches still being sent WHEN the build completes THEN every line arrives once, in order, before the outcome", async () => {
    const { server, run } = start(workspaceBuild({ apply: applyOk }), {
      outcomeTakesLogs: true,
      logMaxLines: 1,
    });

    assert.equal(await run, "completed");

    assert.equal(server.calls.at(-1)?.method, "completeJob");
    const complete = server.calls.at(-1)?.request as CompleteJobRequest;
    const sent = [...server.updates().flatMap((u) => u.logs), ...complete.logs];
    assert.deepEqual(
      sent.map((l) => `${l.stage}: ${l.output}`),
      [
        "Setting up: ",
        "Planning infrastructure: ",
        "Planning infrastructure: creating dev", // echo's plan replays the apply's lines
        "Starting workspace: ",
        "Starting workspace: creating dev",
        "Cleaning Up: ",
      ],
    );
  });

  test("GIVEN a template import THEN the parse result is sent, its variable values are planned with, and the import completes", async () => {
    const job = templateImport({ apply: applyOk, readme: "# hello" });
    const server = new FakeDaemonServer();
    server.answerUpdate = (request) =>
      request.parseResult ? { variableValues: [{ name: "region", value: "eu" }] } : {};
    const { provisioner } = cancelCounting(echo);
    const clock = new FakeClock(T0);

    const outcome = await runJob({ job, daemonId: DAEMON_ID, api: server.client, provisioner, clock });

    assert.equal(outcome, "completed");
    const parse = server.updates().find((u) => u.parseResult);
    assert.equal(text(parse?.parseResult?.readme), "# hello");
    const complete = server.calls.at(-1);
    assert.equal(complete?.method, "completeJob");
    assert.equal((complete.request as CompleteJobRequest).type.case, "templateImport");
    assert.equal(clock.pendingTimers, 0);
  });

  test("GIVEN the provisioner fails the apply THEN FailJob carries its error and the state it returned; no CompleteJob", async () => {
    const { server, run } = start(
      workspaceBuild({
        plan: [{ type: { case: "plan", value: {} } }],
        apply: [
          { type: { case: "apply", value: { error: "quota exceeded", state: bytes("partial-state") } } },
        ],
      }),
    );

    assert.equal(await run, "failed");

    assert.equal(server.count("completeJob"), 0);
    const [fail] = server.calls.flatMap((c) => (c.method === "failJob" ? [c.request] : []));
    assert.equal(fail?.error, "quota exceeded");
    assert.equal(text(fail?.workspaceBuild?.state), "partial-state");
    const errorLine = server
      .updates()
      .flatMap((u) => u.logs)
      .find((l) => l.level === LogLevel.ERROR);
    assert.equal(errorLine?.output, "quota exceeded", "the error is also a log line, sent before FailJob");
  });

  test("GIVEN an apply running WHEN a heartbeat is answered canceled THEN Cancel goes to the Session and the job is failed as canceled", async () => {
    const { server, clock, counter, run } = start(workspaceBuild(applyUntilCanceled), { logMaxLines: 1 });
    server.answerUpdate = (request) => ({ canceled: updateKind(request) === "heartbeat" });

    // GIVEN the apply is running (its log line reached the server)
    await server.untilLog(APPLYING_FOREVER);
    // WHEN a heartbeat period passes without an update
    await clock.advance(HEARTBEAT_MS);

    // THEN
    assert.equal(await run, "failed");
    assert.equal(counter.cancels, 1);
    assert.ok(server.updates().some((u) => updateKind(u) === "heartbeat"));
    const fail = server.calls.at(-1);
    assert.equal(fail?.method, "failJob");
    assert.equal((fail.request as FailJobRequest).error, "canceled");
  });

  // Where the server says the job is no longer ours, and how. In every case the runner cancels the Session,
  // stops sending anything about the job, and reports no outcome (the server would refuse it).
  const lostCases: {
    name: string;
    job: () => AcquiredJob;
    answer: keyof typeof lostAnswers;
    /** Which call gets the lost answer. */
    on: "heartbeat" | "logs" | "parse result" | "completeJob";
    /** What the test does to get there, after starting the run. */
    drive?: (world: ReturnType<typeof start>) => Promise<void>;
    /** Whether a provisioner request was still running (so Cancel matters). */
    applying: boolean;
  }[] = [
    {
      name: 'a heartbeat during apply is answered "not yours"',
      job: () => workspaceBuild(applyUntilCanceled),
      answer: "notYours",
      on: "heartbeat",
      drive: async ({ server, clock }) => {
        await server.untilLog(APPLYING_FOREVER);
        await clock.advance(HEARTBEAT_MS);
      },
      applying: true,
    },
    {
      name: 'a heartbeat during apply is answered "no such job"',
      job: () => workspaceBuild(applyUntilCanceled),
      answer: "notFound",
      on: "heartbeat",
      drive: async ({ server, clock }) => {
        await server.untilLog(APPLYING_FOREVER);
        await clock.advance(HEARTBEAT_MS);
      },
      applying: true,
    },
    {
      name: 'a log batch during apply is answered "already finished" (e.g. the reaper failed the job)',
      job: () => workspaceBuild(applyUntilCanceled),
      answer: "finished",
      on: "logs",
      applying: true,
    },
    {
      name: 'the parse result of an import is answered "no such job"',
      job: () => templateImport({ apply: applyOk }),
      answer: "notFound",
      on: "parse result",
      applying: false,
    },
    {
      name: 'CompleteJob is answered "already finished"',
      job: () => workspaceBuild({ apply: applyOk }),
      answer: "finished",
      on: "completeJob",
      applying: false,
    },
  ];

  for (const c of lostCases) {
    test(`GIVEN ${c.name} THEN the Session is canceled, nothing more is sent and the run ends "lost"`, async () => {
      const world = start(c.job(), { logMaxLines: 1 });
      const { server, clock, counter, lost, run } = world;
      let lostAt = -1;
      const refuse = () => {
        lostAt = server.calls.length - 1;
        throw lostAnswers[c.answer]();
      };
      server.answerUpdate = (request) => {
        const kind = updateKind(request);
        const refused =
          c.on === "logs" ? request.logs.some((l) => l.output === APPLYING_FOREVER) : kind === c.on;
        if (refused) refuse();
        return {};
      };
      server.answerComplete = () => {
        if (c.on === "completeJob") refuse();
      };

      await c.drive?.(world);
      const outcome = await run;

      // THEN the run is lost, and was told why
      assert.equal(outcome, "lost");
      assert.deepEqual(lost, [lostAnswers[c.answer]().rawMessage]);
      // AND the Session got Cancel (for a running apply, the run could only end through it)
      assert.equal(counter.cancels, 1);
      if (c.applying) assert.ok(server.logOutputs().includes(APPLYING_FOREVER));
      // AND nothing was sent after the lost answer: no outcome, no log, no heartbeat — even as time goes on
      assert.ok(lostAt >= 0, "the lost answer was given");
      await clock.advance(10 * HEARTBEAT_MS);
      assert.equal(server.calls.length - 1, lostAt, JSON.stringify(server.calls.slice(lostAt + 1)));
      assert.equal(server.count("failJob"), 0);
      if (c.on !== "completeJob") assert.equal(server.count("completeJob"), 0);
      assert.equal(clock.pendingTimers, 0);
    });
  }

  test("GIVEN transient errors on a log batch and on CompleteJob THEN each is retried with backoff until it goes through, once", async () => {
    const { server, clock, run } = start(workspaceBuild({ apply: applyOk }));
    server.answerUpdate = (_request, attempt) => {
      if (attempt === 1) throw transient();
      return {};
    };
    server.answerComplete = (_request, attempt) => {
      if (attempt <= 2) throw transient();
    };

    // WHEN the first log batch is refused, the retry waits 25 ms
    await server.until(() => server.count("updateJob") === 1);
    await clock.advance(25);
    await server.until(() => server.count("completeJob") === 1);
    // AND CompleteJob is refused twice: 25 ms, then 50 ms
    await clock.advance(25);
    await server.until(() => server.count("completeJob") === 2);
    await clock.advance(50);

    // THEN
    assert.equal(await run, "completed");
    assert.equal(server.count("completeJob"), 3);
    const [first, retried] = server.updates();
    assert.deepEqual(
      retried?.logs.map((l) => l.output),
      first?.logs.map((l) => l.output),
      "the retry carries the same batch",
    );
    assert.equal(server.count("failJob"), 0);
  });
});
