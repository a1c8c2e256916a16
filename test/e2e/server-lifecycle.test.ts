// End to end through real processes: a `prewarm server` child process, the `prewarm` CLI as child processes,
// real gRPC to the provisioners and real HTTP everywhere. SQLite (the default) here; the PostgreSQL variant
// of the server is covered in the API tests.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import {
  ApplyCompleteSchema,
  ParseCompleteSchema,
  PlanCompleteSchema,
  WorkspaceTransition,
} from "../../src/gen/provisioner/provisioner_pb.js";
import { echoDelay, echoLog, echoTemplateFiles, planComplete } from "../../src/provisioners/echo/archive.js";
import { serve } from "../../src/provisionersdk/serve.js";
import type { Provisioner } from "../../src/provisionersdk/types.js";
import { repoRoot, runCli, startCli, stopChild } from "../support/cli.js";

const tmp = mkdtempSync(join(tmpdir(), "prewarm-e2e-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface ServerProcess {
  child: ChildProcess;
  url: string;
  token: string;
  env: NodeJS.ProcessEnv;
}

async function startServerProcess(dataDir: string, extra: string[] = []): Promise<ServerProcess> {
  const { child, match } = await startCli(
    [
      "server",
      "--dev",
      "--data-dir",
      dataDir,
      "--listen",
      "127.0.0.1:0",
      "--reconcile-interval",
      "1m",
      ...extra,
    ],
    /listening on (http:\/\/\S+)/,
    { timeoutMs: 60_000 },
  );
  const url = match[1]!;
  const token = readFileSync(join(dataDir, "admin-token"), "utf8").trim();
  return { child, url, token, env: { PREWARM_URL: url, PREWARM_TOKEN: token, NO_COLOR: "1" } };
}

function writeTemplate(name: string, files: Array<{ path: string; data: Uint8Array | string }>): string {
  const dir = join(tmp, "templates", name);
  for (const f of files) {
    mkdirSync(dirname(join(dir, f.path)), { recursive: true });
    writeFileSync(join(dir, f.path), f.data);
  }
  return dir;
}

async function cli(server: ServerProcess, args: string[]) {
  const result = await runCli(args, { env: server.env, timeoutMs: 90_000 });
  return result;
}

async function cliJson<T>(server: ServerProcess, args: string[]): Promise<T> {
  const result = await cli(server, [...args, "-o", "json"]);
  assert.equal(result.code, 0, `prewarm ${args.join(" ")} failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

type WorkspaceJson = {
  id: string;
  name: string;
  claimedPrebuild: boolean;
  latestBuild: { number: number; transition: string; status: string; jobId: string };
};

describe("a workspace's life through the CLI, with provisioner state carried from build to build", () => {
  // GIVEN a provisioner that returns state N+1 for state N and remembers what it was given
  const received: string[] = [];
  const stateful: Provisioner = {
    parse: async () => create(ParseCompleteSchema, {}),
    plan: async () => create(PlanCompleteSchema, { plan: new TextEncoder().encode("{}") }),
    apply: async (session, request) => {
      const previous = Buffer.from(session.config.state).toString();
      received.push(`${WorkspaceTransition[request.metadata?.workspaceTransition ?? 0]}:${previous}`);
      session.log(2, `applying with state "${previous}"`);
      const next = String(previous === "" ? 1 : Number(previous) + 1);
      return create(ApplyCompleteSchema, {
        state: Buffer.from(next),
        resources: [{ name: "box", type: "null_resource" }],
      });
    },
  };
  let server: ServerProcess;
  let provisioner: Awaited<ReturnType<typeof serve>>;

  before(async () => {
    provisioner = await serve(stateful, { listen: `unix:${join(tmp, "stateful.sock")}` });
    server = await startServerProcess(join(tmp, "data-state"), [
      "--daemons",
      "1",
      "--provisioner-types",
      "echo",
      "--provisioner",
      `echo=${provisioner.address}`,
    ]);
  });
  after(async () => {
    if (server) await stopChild(server.child);
    await provisioner?.close({ deadlineMs: 1_000 });
  });

  test("GIVEN a pushed template WHEN a workspace is created, stopped, started and deleted THEN each build gets the previous build's state", async () => {
    const dir = join(repoRoot, "examples/templates/echo-demo");
    const push = await cli(server, [
      "templates",
      "push",
      "stateful",
      "-d",
      dir,
      "--provisioner",
      "echo",
      "--activate",
    ]);
    assert.equal(push.code, 0, push.stderr);

    const created = await cliJson<WorkspaceJson>(server, ["create", "ws1", "--template", "stateful"]);
    assert.equal(created.claimedPrebuild, false);
    for (const transition of ["stop", "start", "delete"]) {
      const result = await cli(server, [transition, "ws1"]);
      assert.equal(result.code, 0, `${transition}: ${result.stderr}`);
    }
    assert.deepEqual(received, ["START:", "STOP:1", "START:2", "DESTROY:3"]);

    const list = await cliJson<WorkspaceJson[]>(server, ["list"]);
    assert.equal(list.length, 0, "the deleted workspace is gone from the list");
  });
});

describe("builds through the echo provisioner: logs over SSE, cancel, bad input", () => {
  let server: ServerProcess;
  before(async () => {
    server = await startServerProcess(join(tmp, "data-echo"), [
      "--daemons",
      "2",
      "--provisioner-types",
      "echo",
    ]);
  });
  after(async () => {
    if (server) await stopChild(server.child);
  });

  test("GIVEN a template that logs while it builds WHEN its logs are followed THEN every line arrives and the stream ends with the build", async () => {
    const dir = writeTemplate(
      "chatty",
      echoTemplateFiles({
        apply: [
          echoLog("line one"),
          echoDelay(300, echoLog("line two")),
          { type: { case: "apply", value: {} } },
        ],
      }).map((f) => ({ path: f.path, data: f.data })),
    );
    assert.equal(
      (await cli(server, ["templates", "push", "chatty", "-d", dir, "--provisioner", "echo"])).code,
      0,
    );
    const created = await cli(server, ["create", "talk", "--template", "chatty", "--no-wait"]);
    assert.equal(created.code, 0, created.stderr);
    const logs = await cli(server, ["logs", "talk", "--follow"]);
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stdout, /line one[\s\S]*line two/);
    const ws = await cliJson<WorkspaceJson>(server, ["show", "talk"]);
    assert.equal(ws.latestBuild.status, "succeeded");
  });

  test("GIVEN a build whose apply never finishes WHEN it is cancelled THEN the build ends canceled", async () => {
    const dir = writeTemplate(
      "stuck",
      echoTemplateFiles({ plan: planComplete(), apply: [echoLog("working forever")] }).map((f) => ({
        path: f.path,
        data: f.data,
      })),
    );
    assert.equal(
      (await cli(server, ["templates", "push", "stuck", "-d", dir, "--provisioner", "echo"])).code,
      0,
    );
    assert.equal((await cli(server, ["create", "slow", "--template", "stuck", "--no-wait"])).code, 0);
    // Wait until it really runs, so the cancel goes through the daemon and the Session.
    for (let i = 0; i < 200; i++) {
      const ws = await cliJson<WorkspaceJson>(server, ["show", "slow"]);
      if (ws.latestBuild.status === "running") break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const cancel = await cli(server, ["cancel", "slow"]);
    assert.equal(cancel.code, 0, cancel.stderr);
    let status = "";
    for (let i = 0; i < 200 && status !== "canceled"; i++) {
      status = (await cliJson<WorkspaceJson>(server, ["show", "slow"])).latestBuild.status;
      if (status !== "canceled") await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, "canceled");
  });

  test("GIVEN bad input THEN one-line errors with a non-zero exit", async () => {
    const missing = await cli(server, ["create", "x", "--template", "no-such-template"]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /template "no-such-template" not found/);
    const dup = await cli(server, ["create", "talk", "--template", "chatty"]);
    assert.notEqual(dup.code, 0);
    assert.match(dup.stderr, /already have a workspace named "talk"/);
    const badToken = await runCli(["list"], { env: { ...server.env, PREWARM_TOKEN: "nope-nope" } });
    assert.notEqual(badToken.code, 0);
    assert.match(badToken.stderr, /invalid or expired token/);
  });
});
