// Workspace commands as a real child process against the fake API: create (claims, parameters, waiting),
// list, start/stop, logs --follow over SSE.
import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { before, describe, test } from "node:test";
import { routes } from "../../src/contract/api.js";
import { runCli } from "../support/cli.js";
import { fakeApiSuite } from "./support/env.js";
import { sseEvent } from "./support/fake-api.js";
import { build, job, log, workspace } from "./support/fixtures.js";

const endEvent = (status: "succeeded" | "failed", error: string | null = null) => ({
  raw: (res: ServerResponse) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.end(sseEvent("end", job({ status, error })));
  },
});

describe("create (real CLI)", () => {
  const suite = fakeApiSuite();

  const badParameters: [string[], RegExp][] = [
    [["--parameter", "size"], /^prewarm: invalid --parameter "size": expected NAME=VALUE\n$/],
    [["--parameter", "=small"], /^prewarm: invalid --parameter "=small": expected NAME=VALUE\n$/],
    [["--parameter", "a=1", "--parameter", "a=2"], /^prewarm: --parameter "a" given more than once\n$/],
  ];
  for (const [args, want] of badParameters) {
    test(`GIVEN ${args.slice(1).join(" ")} THEN exit 2 and no request`, async () => {
      const before = suite.fake.requests.length;
      const res = await runCli(["create", "dev", "-t", "echo-demo", ...args], { env: suite.ctx.env });
      assert.equal(res.code, 2);
      assert.match(res.stderr, want);
      assert.equal(suite.fake.requests.length, before);
    });
  }

  test("GIVEN a preset with a ready prebuild WHEN create THEN it says a prebuild was claimed and how long until usable", async () => {
    const claimed = workspace({
      preset: "small",
      claimedPrebuild: true,
      claimedAt: "2026-01-05T10:00:01.000Z",
    });
    suite.fake.on(routes.createWorkspace, {
      status: 201,
      body: {
        ...claimed,
        latestBuild: build({ status: "pending", reason: "claim", prebuildStage: "claim", completedAt: null }),
      },
    });
    suite.fake.on(routes.getJobLogs, endEvent("succeeded"));
    suite.fake.on(routes.getWorkspace, { status: 200, body: claimed });
    const res = await runCli(
      [
        "create",
        "dev",
        "-t",
        "echo-demo",
        "-p",
        "small",
        "--parameter",
        "size=small",
        "--parameter",
        "note=a=b",
      ],
      { env: suite.ctx.env },
    );
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(JSON.parse(suite.fake.calls(routes.createWorkspace).at(-1)!.body.toString()), {
      name: "dev",
      template: "echo-demo",
      preset: "small",
      parameters: { size: "small", note: "a=b" },
    });
    assert.match(
      res.stdout,
      /^Workspace "dev" is ready: claimed a prebuilt workspace of preset "small"; usable [\d.]+m?s after the request\.$/m,
    );
    assert.match(res.stdout, /^Prebuild: +claimed /m);
  });

  test("GIVEN --lease 2h --on-expiry stop --idempotency-key THEN the body has the lease and the header the key", async () => {
    const leased = workspace({
      lease: { seconds: 7200, onExpiry: "stop", deadline: "2026-01-05T12:00:01.000Z" },
    });
    suite.fake.on(routes.createWorkspace, {
      status: 201,
      body: { ...leased, latestBuild: build({ status: "pending" }) },
    });
    suite.fake.on(routes.getJobLogs, endEvent("succeeded"));
    suite.fake.on(routes.getWorkspace, { status: 200, body: leased });
    const res = await runCli(
      [
        "create",
        "dev",
        "-t",
        "echo-demo",
        "--lease",
        "2h",
        "--on-expiry",
        "stop",
        "--idempotency-key",
        "ci-42",
      ],
      { env: suite.ctx.env },
    );
    assert.equal(res.code, 0, res.stderr);
    const call = suite.fake.calls(routes.createWorkspace).at(-1)!;
    assert.deepEqual(JSON.parse(call.body.toString()).lease, { seconds: 7200, onExpiry: "stop" });
    assert.equal(call.headers["idempotency-key"], "ci-42");
    // the CLI waits with ?wait=ready for the "usable after" line
    assert.equal(suite.fake.calls(routes.getWorkspace).at(-1)?.query.get("wait"), "ready");
    assert.match(res.stdout, /^Lease: +stop .*\(2026-01-05T12:00:01.000Z\)$/m);
  });

  for (const [args, want] of [
    [["--lease", "90"], /--lease/],
    [["--on-expiry", "stop"], /^prewarm: --on-expiry needs --lease\n$/],
    [["--lease", "1h", "--on-expiry", "explode"], /--on-expiry/],
  ] as const) {
    test(`GIVEN ${args.join(" ")} THEN exit 2 naming the flag, no request`, async () => {
      const before = suite.fake.requests.length;
      const res = await runCli(["create", "dev", "-t", "echo-demo", ...args], { env: suite.ctx.env });
      assert.equal(res.code, 2, res.stderr);
      assert.match(res.stderr, want);
      assert.equal(suite.fake.requests.length, before);
    });
  }

  test("GIVEN no prebuild WHEN create -o json THEN stdout is the final workspace JSON with claimedPrebuild false", async () => {
    const plain = workspace();
    suite.fake.on(routes.createWorkspace, {
      status: 201,
      body: { ...plain, latestBuild: build({ status: "pending" }) },
    });
    suite.fake.on(routes.getJobLogs, endEvent("succeeded"));
    suite.fake.on(routes.getWorkspace, { status: 200, body: plain });
    const res = await runCli(["create", "dev", "-t", "echo-demo", "-o", "json"], { env: suite.ctx.env });
    assert.equal(res.code, 0, res.stderr);
    const ws = JSON.parse(res.stdout);
    assert.deepEqual(ws, plain);
    assert.equal(ws.claimedPrebuild, false);
    assert.deepEqual(
      Object.keys(ws.latestBuild).filter((k) => ["number", "transition", "status"].includes(k)),
      ["number", "transition", "status"],
    );
  });

  test("GIVEN the build fails THEN exit 1 with the build's error", async () => {
    suite.fake.on(routes.createWorkspace, {
      status: 201,
      body: workspace({ latestBuild: build({ status: "pending" }) }),
    });
    suite.fake.on(routes.getJobLogs, endEvent("failed", "apply: exit status 1"));
    const res = await runCli(["create", "dev", "-t", "echo-demo"], { env: suite.ctx.env });
    assert.equal(res.code, 1);
    assert.match(res.stderr, /prewarm: start build #1 of workspace "dev" failed: apply: exit status 1\n$/);
  });

  test("GIVEN --no-wait THEN no log stream is opened", async () => {
    suite.fake.on(routes.createWorkspace, {
      status: 201,
      body: workspace({ latestBuild: build({ status: "pending" }) }),
    });
    const streams = suite.fake.calls(routes.getJobLogs).length;
    const res = await runCli(["create", "dev", "-t", "echo-demo", "--no-wait"], { env: suite.ctx.env });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(suite.fake.calls(routes.getJobLogs).length, streams);
    assert.match(res.stdout, /no prebuild claimed; build #1 pending/);
  });

  test("the fake saw only contract-shaped traffic", () => assert.deepEqual(suite.fake.violations, []));
});

describe("list, stop, logs (real CLI)", () => {
  const suite = fakeApiSuite();
  before(() => {
    suite.fake.on(routes.getWorkspaceByName, (req) => ({
      status: 200,
      body: workspace({ name: req.params.name }),
    }));
  });

  test("list --all: the query asks for all; json is the contract array; the table has an OWNER column", async () => {
    const rows = [
      workspace(),
      workspace({ id: "ws-2", name: "ci", owner: "bob", latestBuild: build({ transition: "stop" }) }),
    ];
    suite.fake.on(routes.listWorkspaces, { status: 200, body: rows });
    const json = await runCli(["list", "--all", "-o", "json"], { env: suite.ctx.env });
    assert.deepEqual(JSON.parse(json.stdout), rows);
    assert.equal(suite.fake.calls(routes.listWorkspaces).at(-1)?.query.get("all"), "true");
    const table = await runCli(["list", "--all"], { env: suite.ctx.env });
    const lines = table.stdout.trimEnd().split("\n");
    assert.match(lines[0]!, /^OWNER +NAME +TEMPLATE +VERSION +PRESET +STATUS +PREBUILD +LAST BUILD$/);
    assert.match(lines[1]!, /^alice +dev +echo-demo +v1 +- +running +- /);
    assert.match(lines[2]!, /^bob +ci +echo-demo +v1 +- +stopped +- /);
  });

  test("show NAME: fields, the latest build, resources and agents; -o json is the workspace", async () => {
    const res = await runCli(["show", "dev"], { env: suite.ctx.env });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^Workspace: +alice\/dev$/m);
    assert.match(res.stdout, /^Status: +running$/m);
    assert.match(res.stdout, /^Latest build: +#1 start succeeded \(initiator, /m);
    assert.match(res.stdout, /^null_resource\.box +main$/m);
    assert.match(res.stdout, /^main +ready +connected +- +-$/m);
    const json = await runCli(["show", "dev", "-o", "json"], { env: suite.ctx.env });
    assert.deepEqual(JSON.parse(json.stdout), workspace());
  });

  test("extend NAME 1h: posts the seconds and prints the new deadline; show prints lease and replacements", async () => {
    const extended = workspace({
      lease: { seconds: 3600, onExpiry: "delete", deadline: "2026-01-05T13:00:00.000Z" },
    });
    suite.fake.on(routes.extendLease, { status: 200, body: extended });
    const res = await runCli(["extend", "dev", "1h"], { env: suite.ctx.env });
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(JSON.parse(suite.fake.calls(routes.extendLease).at(-1)!.body.toString()), {
      seconds: 3600,
    });
    assert.match(res.stdout, /lease runs until 2026-01-05T13:00:00.000Z \(then delete\)/);
    const bad = await runCli(["extend", "dev", "soon"], { env: suite.ctx.env });
    assert.equal(bad.code, 2);

    suite.fake.on(routes.getWorkspaceByName, {
      status: 200,
      body: workspace({
        lease: extended.lease,
        latestBuild: build({ resourceReplacements: [{ resource: "docker_volume.home", paths: ["name"] }] }),
      }),
    });
    const show = await runCli(["show", "dev"], { env: suite.ctx.env });
    assert.match(show.stdout, /^Lease: +delete .*\(2026-01-05T13:00:00.000Z\)$/m);
    assert.match(show.stdout, /^Replaced: .*docker_volume\.home \(name\)/m);
    suite.fake.on(routes.getWorkspaceByName, (req) => ({
      status: 200,
      body: workspace({ name: req.params.name }),
    }));
  });

  test("stop OWNER/NAME: looks the workspace up by owner and name, posts a stop build, waits", async () => {
    suite.fake.on(routes.createBuild, {
      status: 201,
      body: build({ id: "build-2", number: 2, transition: "stop", status: "pending", jobId: "job-2" }),
    });
    suite.fake.on(routes.getJobLogs, endEvent("succeeded"));
    const res = await runCli(["stop", "bob/dev"], { env: suite.ctx.env });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(
      suite.fake.calls(routes.getWorkspaceByName).at(-1)?.path,
      "/api/v1/users/bob/workspaces/dev",
    );
    assert.deepEqual(JSON.parse(suite.fake.calls(routes.createBuild).at(-1)!.body.toString()), {
      transition: "stop",
    });
    assert.equal(suite.fake.calls(routes.getJobLogs).at(-1)?.params.id, "job-2");
    assert.equal(res.stdout, 'Workspace "dev" stopped (build #2).\n');
  });

  test("cancel NAME: cancels the latest build's job and shows its new status", async () => {
    suite.fake.on(routes.cancelJob, { status: 202, body: job({ status: "canceling", completedAt: null }) });
    const res = await runCli(["cancel", "dev"], { env: suite.ctx.env });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(suite.fake.calls(routes.cancelJob).at(-1)?.path, "/api/v1/jobs/job-1/cancel");
    assert.equal(res.stdout, 'Build #1 (start) of workspace "dev": canceling.\n');
  });

  test("logs --follow: streams logs split across chunks, resumes after a dropped connection, stops at end", async () => {
    let connections = 0;
    suite.fake.on(routes.getJobLogs, (req) => ({
      raw: (res) => {
        connections++;
        res.writeHead(200, { "content-type": "text/event-stream" });
        if (connections === 1) {
          assert.equal(req.query.get("follow"), "true");
          // The first stream sends two logs (the second split mid-event) and drops before `end`.
          const text = `: ping\n\n${sseEvent("log", log(1, "first"), 1)}${sseEvent("log", log(2, "second"), 2)}`;
          res.write(text.slice(0, text.length - 10));
          setTimeout(() => res.end(text.slice(text.length - 10)), 20);
          return;
        }
        // The reconnect resumes after the last id seen.
        const after = Number(req.query.get("after"));
        const rest = [log(3, "third")].filter((l) => l.id > after);
        res.end(rest.map((l) => sseEvent("log", l, l.id)).join("") + sseEvent("end", job()));
      },
    }));
    const res = await runCli(["logs", "dev", "--follow"], { env: suite.ctx.env });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, "[Planning] first\n[Planning] second\n[Planning] third\n");
    const second = suite.fake.calls(routes.getJobLogs).at(-1)!;
    assert.equal(second.query.get("after"), "2");
    assert.equal(second.headers["last-event-id"], "2");
    assert.equal(second.headers.accept, "text/event-stream");
  });

  test("logs --follow: a stream that keeps closing without events gives up with one line", async () => {
    suite.fake.on(routes.getJobLogs, {
      raw: (res) => {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.end(": ping\n\n");
      },
    });
    const before = suite.fake.calls(routes.getJobLogs).length;
    const res = await runCli(["logs", "dev", "--follow"], { env: suite.ctx.env });
    assert.equal(res.code, 1);
    assert.equal(
      res.stderr,
      "prewarm: follow logs of job job-1: the log stream closed 5 times before the job ended\n",
    );
    assert.equal(suite.fake.calls(routes.getJobLogs).length - before, 5);
  });

  test("logs --build N -o json: the stored logs of that build as the contract array", async () => {
    suite.fake.on(routes.getBuildByNumber, {
      status: 200,
      body: { ...build({ number: 3, jobId: "job-3" }), timings: [] },
    });
    suite.fake.on(routes.getJobLogs, { status: 200, body: [log(1, "a"), log(2, "b")] });
    const res = await runCli(["logs", "dev", "--build", "3", "-o", "json"], { env: suite.ctx.env });
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(JSON.parse(res.stdout), [log(1, "a"), log(2, "b")]);
    assert.deepEqual(suite.fake.calls(routes.getBuildByNumber).at(-1)?.params, { id: "ws-1", number: "3" });
    assert.equal(suite.fake.calls(routes.getJobLogs).at(-1)?.params.id, "job-3");
  });

  test("the fake saw only contract-shaped traffic", () => assert.deepEqual(suite.fake.violations, []));
});
