// Tagged daemons through real processes, as Coder users run them: a `prewarm server` with no daemons of its
// own and two external `prewarm provisioner start` daemons — one untagged for people, one `--tag
// is_prebuild=true` for prebuilds — and a template with Coder's recipe "dedicated daemons for prebuild jobs"
// (a coder_workspace_tags block counted on the owner being the prebuilds user). Echo replays the tags Parse
// reports, so no terraform is needed: the tag evaluation and the acquisition are the server's either way.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, test } from "node:test";
import type { JobT, WorkspaceT } from "../../src/contract/api.js";
import { echoTemplateFiles } from "../../src/provisioners/echo/archive.js";
import { runCli, startCli, startEchoDaemon, stopChild } from "../support/cli.js";
import { freePort } from "../support/net.js";

const tmp = mkdtempSync(join(tmpdir(), "prewarm-tagged-"));
const children: ChildProcess[] = [];
after(async () => {
  for (const child of children) await stopChild(child, "SIGKILL");
  rmSync(tmp, { recursive: true, force: true });
});

const PSK = "test-psk-0123456789";
/** The recipe's counted block as the terraform provisioner's parse folds it (parse.ts). */
const RECIPE = '(data.coder_workspace_owner.me.name == "prebuilds" ? 1 : 0) > 0 ? ("true") : null';

async function startDaemon(url: string, name: string, extra: string[] = []) {
  const child = await startEchoDaemon(url, PSK, name, extra);
  children.push(child);
  return child;
}

describe("dedicated daemons for prebuild jobs", { timeout: 180_000 }, () => {
  test("GIVEN an untagged daemon and an is_prebuild=true daemon WHEN a pool fills and a person claims THEN each job runs on its own daemon", async () => {
    // GIVEN a server without daemons of its own, reconciling every second
    const dataDir = join(tmp, "data");
    const port = await freePort();
    const started = await startCli(
      [
        "server",
        "--dev",
        "--data-dir",
        dataDir,
        "--listen",
        `127.0.0.1:${port}`,
        "--daemons",
        "0",
        "--provisioner-psk",
        PSK,
        "--provisioner-types",
        "echo",
        "--reconcile-interval",
        "1s",
      ],
      /listening on (http:\/\/\S+)/,
      { timeoutMs: 60_000 },
    );
    children.push(started.child);
    const url = started.match[1]!;
    const token = readFileSync(join(dataDir, "admin-token"), "utf8").trim();
    const env = { PREWARM_URL: url, PREWARM_TOKEN: token, NO_COLOR: "1" };
    const get = async <T>(path: string): Promise<T> => {
      const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
      assert.ok(res.ok, `${path}: ${res.status}`);
      return (await res.json()) as T;
    };

    // AND a daemon for people and one for prebuilds (a bad tag is refused before it connects)
    const refused = await runCli(
      ["provisioner", "start", "--url", url, "--psk", PSK, "--type", "echo", "--tag", "scope=user"],
      { env },
    );
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /--tag: tag scope=user needs user-scoped daemons/);
    await startDaemon(url, "people");
    await startDaemon(url, "pool", ["--tag", "is_prebuild=true"]);

    // AND a template with the recipe and a preset keeping one prebuild
    const dir = join(tmp, "templates", "pooled");
    const files = echoTemplateFiles({
      parse: [{ type: { case: "parse", value: { workspaceTags: { is_prebuild: RECIPE } } } }],
      plan: [
        {
          type: {
            case: "plan",
            value: {
              plan: new TextEncoder().encode("{}"),
              presets: [{ name: "dev", prebuild: { instances: 1 } }],
            },
          },
        },
      ],
    });
    for (const f of files) {
      mkdirSync(dirname(join(dir, f.path)), { recursive: true });
      writeFileSync(join(dir, f.path), f.data);
    }

    // WHEN it is pushed (the import is untagged: the people daemon takes it)
    const push = await runCli(["templates", "push", "pooled", "-d", dir, "--provisioner", "echo"], { env });
    assert.equal(push.code, 0, push.stderr);

    // THEN the pool's prebuild is built by the prebuild daemon, its job tagged is_prebuild=true
    const deadline = Date.now() + 60_000;
    let prebuild: WorkspaceT | undefined;
    while (Date.now() < deadline) {
      const list = await get<WorkspaceT[]>("/api/v1/workspaces?all=true&prebuilds=true");
      prebuild = list.find((w) => w.owner === "prebuilds" && w.latestBuild.status === "succeeded");
      if (prebuild) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(prebuild, "the pool never filled");
    const prebuildJob = await get<JobT>(`/api/v1/jobs/${prebuild.latestBuild.jobId}`);
    assert.equal(prebuildJob.workerName, "pool");
    assert.deepEqual(prebuildJob.tags, { is_prebuild: "true", owner: "", scope: "organization" });

    // WHEN a person creates a workspace with the preset (a claim: a build run as that person)
    const claim = await runCli(["create", "mine", "--template", "pooled", "--preset", "dev"], { env });
    assert.equal(claim.code, 0, claim.stderr);
    const mine = await get<WorkspaceT>("/api/v1/users/me/workspaces/mine");
    assert.equal(mine.claimedPrebuild, true);

    // THEN the claim is untagged and ran on the people daemon, as did the import
    const claimJob = await get<JobT>(`/api/v1/jobs/${mine.latestBuild.jobId}`);
    assert.equal(claimJob.status, "succeeded");
    assert.equal(claimJob.workerName, "people");
    assert.deepEqual(claimJob.tags, { owner: "", scope: "organization" });
    await stopChild(started.child);
  });
});
