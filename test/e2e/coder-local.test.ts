// End to end with real terraform and the coder provider (the offline test build of it): the coder-local
// example pushed to a real `prewarm server`; its prebuild pool fills with workspaces whose agents really
// boot through `coder_agent.main.init_script`; a claim hands one over (terraform runs as the new owner, the
// same agent process re-initialises for them); stop, start; a new version rolls the pool over and upgrades
// the claimed workspace in place (same agent process, ready again: item 7 of issue 14); a recycle
// replaces the pool; at the end no agent process is left. Light on purpose (2 cores shared): one server,
// two in-process daemons, the fewest builds that cover each step, and waits on state, never sleeps.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { installCoderProvider } from "../provisioners/terraform/coder-provider-fixtures.js";
import { repoRoot, runCli, startCli, stopChild } from "../support/cli.js";
import { commandWorks, skipUnless } from "../support/requirements.js";

const hasTerraform = commandWorks("terraform", ["version"]);
const template = "coder-local";

interface AgentView {
  id: string;
  lifecycleState: string;
  status: string;
}
interface WorkspaceView {
  id: string;
  name: string;
  owner: string;
  templateVersion: string;
  claimedPrebuild: boolean;
  latestBuild: {
    number: number;
    transition: string;
    status: string;
    prebuildStage: string;
    usableAt: string | null;
    templateVersion: string;
    resourceReplacements: { resource: string }[];
  };
  resources: { name: string; type: string; agents: AgentView[] }[];
}
interface PresetView {
  name: string;
  templateVersion: string;
  active: boolean;
  prebuilds: { desired: number; running: number; eligible: number; starting: number };
  claimRehearsal: { status: string; replacements: { resource: string }[] } | null;
}

/** Polls `read` until `done` holds (the server's state, not a timer, ends the wait); fails after `ms`. */
async function waitFor<T>(what: string, read: () => Promise<T>, done: (v: T) => boolean, ms = 120_000) {
  const deadline = Date.now() + ms;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await read();
    if (done(last)) return last;
    await delay(200);
  }
  assert.fail(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("coder-local: a Coder template's warm pool with real terraform", {
  skip: skipUnless(hasTerraform, "terraform not on PATH"),
  timeout: 300_000,
}, () => {
  const tmp = mkdtempSync(join(tmpdir(), "prewarm-e2e-coder-"));
  const baseDir = join(tmp, "workspaces");
  const seenPids = new Set<number>();
  after(() => {
    // Never leave an agent behind, even when an assertion failed half-way.
    if (existsSync(baseDir)) for (const id of readdirSync(baseDir)) agentPid(id);
    for (const pid of seenPids) if (alive(pid)) process.kill(pid, "SIGKILL");
    rmSync(tmp, { recursive: true, force: true });
  });

  /** The agent pid file of a workspace (written by the template), remembered for the final check. */
  const agentPid = (workspaceId: string): number | undefined => {
    const file = join(baseDir, workspaceId, "agent.pid");
    if (!existsSync(file)) return undefined;
    const pid = Number(readFileSync(file, "utf8").trim());
    if (pid > 0) seenPids.add(pid);
    return pid > 0 ? pid : undefined;
  };
  const readIn = (workspaceId: string, name: string) =>
    readFileSync(join(baseDir, workspaceId, name), "utf8").trim();

  test("push → warm pool → claim → stop/start → upgrade in place → roll-over → recycle → nothing left", async () => {
    const cliConfig = await installCoderProvider(join(tmp, "coder-provider"));
    const dataDir = join(tmp, "data");
    const { child, match } = await startCli(
      [
        "server",
        "--dev",
        "--data-dir",
        dataDir,
        "--listen",
        "127.0.0.1:0",
        "--daemons",
        "2",
        "--provisioner-types",
        "terraform",
        "--reconcile-interval",
        "1s",
        "--replace-ahead",
        "0",
        "--log-level",
        "warn",
      ],
      /listening on (http:\/\/\S+)/,
      // The recipe: TF_CLI_CONFIG_FILE in the server's environment reaches terraform.
      { timeoutMs: 60_000, env: { TF_CLI_CONFIG_FILE: cliConfig } },
    );
    try {
      const url = match[1]!;
      const token = readFileSync(join(dataDir, "admin-token"), "utf8").trim();
      const env = { PREWARM_URL: url, PREWARM_TOKEN: token, NO_COLOR: "1" };
      const run = async (args: string[]) => {
        const r = await runCli(args, { env, timeoutMs: 180_000 });
        assert.equal(r.code, 0, `prewarm ${args.join(" ")}: ${r.stderr}`);
        return r;
      };
      const api = async <T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> => {
        const res = await fetch(`${url}/api/v1${path}`, {
          method: init.method ?? "GET",
          headers: {
            authorization: `Bearer ${token}`,
            ...(init.body ? { "content-type": "application/json" } : {}),
          },
          ...(init.body ? { body: JSON.stringify(init.body) } : {}),
        });
        const text = await res.text();
        assert.ok(res.ok, `${init.method ?? "GET"} ${path}: ${res.status} ${text}`);
        return (text ? JSON.parse(text) : undefined) as T;
      };
      const presets = () => api<PresetView[]>(`/templates/${template}/presets`);
      const warm = async (version?: string) =>
        (await presets()).find(
          (p) => p.name === "warm" && (version ? p.templateVersion === version : p.active),
        );
      const prebuilds = () =>
        api<WorkspaceView[]>(`/workspaces?all=true&prebuilds=true&template=${template}`).then((list) =>
          list.filter((w) => w.owner === "prebuilds"),
        );
      const workspace = (id: string) => api<WorkspaceView>(`/workspaces/${id}`);
      const agentOf = (w: WorkspaceView) => w.resources.flatMap((r) => r.agents)[0];
      const readyPrebuilds = (list: WorkspaceView[], version: string) =>
        list.filter(
          (w) =>
            w.latestBuild.transition === "start" &&
            w.latestBuild.status === "succeeded" &&
            w.templateVersion === version &&
            agentOf(w)?.lifecycleState === "ready",
        );
      const push = async (vars: string[]) => {
        const args = ["templates", "push", template, "-d", join(repoRoot, "examples/templates", template)];
        for (const v of [`base_dir=${baseDir}`, ...vars]) args.push("--var", v);
        const out = (await run([...args, "--activate", "-o", "json"])).stdout;
        return (JSON.parse(out) as { name: string }).name;
      };

      // 1. Push: presets come from the plan; the warm pool fills with prebuilds whose agents boot.
      const pushedAt = performance.now();
      const v1 = await push([]);
      const imported = await presets();
      assert.deepEqual(imported.map((p) => p.name).sort(), ["large", "warm"]);
      const full = await waitFor(
        "a full warm pool of 2 with ready agents",
        async () => {
          // Eligible only once the agent is ready: read the counts first, then the agents (which only gain).
          const counts = (await warm(v1))?.prebuilds;
          const list = await prebuilds();
          const ready = readyPrebuilds(list, v1).length;
          assert.ok((counts?.eligible ?? 0) <= ready, `eligible ${counts?.eligible} > ready agents ${ready}`);
          return { counts, list };
        },
        ({ counts, list }) => counts?.eligible === 2 && readyPrebuilds(list, v1).length === 2,
      );
      const pushToFullMs = Math.round(performance.now() - pushedAt);
      for (const w of full.list) {
        const pid = agentPid(w.id);
        assert.ok(pid && alive(pid), `prebuild ${w.name} has a running agent process`);
        assert.equal(readIn(w.id, "OWNER"), "prebuilds", "the prebuild's agent runs for the prebuilds user");
      }

      // 2. Claim: terraform runs as the new owner, and the running agent re-initialises for them.
      const claimOut = (await run(["create", "mine", "--template", template, "--preset", "warm"])).stdout;
      assert.match(claimOut, /claimed a prebuilt workspace of preset "warm"/);
      const claimToReady = /usable (\S+) after the request/.exec(claimOut)?.[1];
      const mineId = (await api<WorkspaceView>(`/users/me/workspaces/mine`)).id;
      assert.ok(
        full.list.some((w) => w.id === mineId),
        "the claimed workspace is one of the pool's",
      );
      let mine = await workspace(mineId);
      assert.equal(mine.owner, "admin");
      assert.equal(mine.latestBuild.prebuildStage, "claim");
      assert.deepEqual(mine.latestBuild.resourceReplacements, [], "a claim of coder-local replaces nothing");
      assert.equal(agentOf(mine)?.lifecycleState, "ready");
      const claimedPid = agentPid(mineId);
      assert.ok(claimedPid && alive(claimedPid));
      // What terraform saw (via coder_agent.env) and what the agent runs for, written by its startup script.
      assert.equal(readIn(mineId, "TERRAFORM"), `owner=admin is_prebuild=false version=${v1}`);
      assert.equal(readIn(mineId, "OWNER"), "admin");
      const starts = readIn(mineId, "STARTS").split("\n");
      assert.deepEqual(
        starts,
        [`owner=prebuilds agent_pid=${claimedPid}`, `owner=admin agent_pid=${claimedPid}`],
        "one agent process: started for the prebuild, re-initialised for the owner",
      );

      // 3. Stop and start: the agent stops with the machine; a start boots a new one.
      await run(["stop", "mine"]);
      assert.equal(alive(claimedPid), false, "stop ended the agent process");
      assert.equal(agentPid(mineId), undefined, "and removed its pid file");
      await run(["start", "mine"]);
      mine = await api<WorkspaceView>(`/workspaces/${mineId}?wait=ready&timeout=60s`);
      assert.equal(agentOf(mine)?.lifecycleState, "ready");
      const startedPid = agentPid(mineId);
      assert.ok(startedPid && startedPid !== claimedPid && alive(startedPid));

      // 4. A new version: the pool rolls over to it, and upgrading the running workspace keeps its agent.
      //    v2 also carries the deliberate mistake (replace_on_claim): its claim rehearsal shows it.
      const oldPool = (await prebuilds()).map((w) => w.id);
      const v2 = await push(["replace_on_claim=true"]);
      await run(["start", "mine"]);
      mine = await api<WorkspaceView>(`/workspaces/${mineId}?wait=ready&timeout=60s`);
      assert.equal(mine.templateVersion, v2);
      assert.equal(agentOf(mine)?.lifecycleState, "ready", "the upgraded workspace's agent is ready again");
      assert.equal(agentPid(mineId), startedPid, "the same agent process");
      assert.ok(alive(startedPid));
      assert.equal(readIn(mineId, "TERRAFORM"), `owner=admin is_prebuild=false version=${v2}`);
      assert.deepEqual(readIn(mineId, "STARTS").split("\n").slice(-2), [
        `owner=admin agent_pid=${startedPid}`,
        `owner=admin agent_pid=${startedPid}`,
      ]);
      const rolled = await waitFor(
        "the pool rolled over to the new version",
        prebuilds,
        (list) => readyPrebuilds(list, v2).length === 2 && list.length === 2,
      );
      assert.ok(rolled.every((w) => !oldPool.includes(w.id)));
      const rehearsal = await waitFor(
        "the new version's claim rehearsal",
        () => warm(v2),
        (p) => p?.claimRehearsal?.status === "replacements",
      );
      assert.deepEqual(
        rehearsal?.claimRehearsal?.replacements.map((r) => r.resource),
        ["terraform_data.owner_badge[0]"],
      );

      // 5. Recycle: every prebuild of the active version is replaced.
      await run(["prebuilds", "invalidate", template]);
      const recycled = await waitFor(
        "the pool replaced after invalidate",
        prebuilds,
        (list) =>
          list.length === 2 &&
          readyPrebuilds(list, v2).length === 2 &&
          !list.some((w) => rolled.some((r) => r.id === w.id)),
      );
      for (const w of recycled) assert.ok(alive(agentPid(w.id) ?? -1));

      // 6. Tear down: pool paused and emptied, the workspace deleted; no agent process is left.
      await run(["prebuilds", "pause"]);
      for (const w of recycled) await run(["delete", `prebuilds/${w.name}`]);
      await run(["delete", "mine"]);
      for (const pid of seenPids) assert.equal(alive(pid), false, `agent process ${pid} is gone`);
      assert.deepEqual(readdirSync(baseDir), [], "every workspace directory was removed");

      process.stdout.write(
        `# coder-local: push to a full pool of 2: ${pushToFullMs} ms; claim to ready: ${claimToReady}\n`,
      );
    } finally {
      await stopChild(child);
    }
  });
});
