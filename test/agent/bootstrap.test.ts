// The bootstrap script as the `coder` provider hands it to a workspace host (CODER_AGENT_SCRIPT_<os>_<arch>
// with ${ACCESS_URL} and ${AUTH_TYPE} substituted), run for real with `sh` against the fake agent API
// serving the real agent bundle.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, test } from "node:test";
import {
  agentScriptEnv,
  bootstrapTargets,
  placeholders,
  renderInitScript,
} from "../../src/agent/bootstrap.js";
import { buildAgentBundle } from "../../src/agent/bundle.js";
import { stopChild } from "../support/cli.js";
import { commandWorks, skipUnless } from "../support/requirements.js";
import { baseManifest, FakeAgentServer, fakeToken, script } from "./fake-agent-server.js";

const root = mkdtempSync(join(tmpdir(), "prewarm-bootstrap-test-"));
after(() => rmSync(root, { recursive: true, force: true }));

const hostOs = process.platform === "darwin" ? "darwin" : "linux";
const hostArch = process.arch === "arm64" ? "arm64" : "amd64";
/** Unreachable on purpose: the test proves the provider's substitution, not this fallback, is used. */
const fallbackUrl = "http://127.0.0.1:9";

/** A clean environment: only what a workspace host would have, plus what the test gives. */
function hostEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: `${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`, HOME: root, ...extra };
}

function runSh(text: string, env: NodeJS.ProcessEnv) {
  const child = spawn("/bin/sh", ["-c", text], { env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d) => {
    output += d;
  });
  child.stderr.on("data", (d) => {
    output += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, output: () => output, exited };
}

describe("agent bootstrap script", () => {
  test("GIVEN agentScriptEnv THEN it has one script per supported platform, with the architecture filled in and the provider's placeholders kept", () => {
    const env = agentScriptEnv(fallbackUrl);
    assert.deepEqual(
      Object.keys(env).sort(),
      bootstrapTargets.map((t) => `CODER_AGENT_SCRIPT_${t.os}_${t.arch}`).sort(),
    );
    for (const { os, arch } of bootstrapTargets) {
      const text = env[`CODER_AGENT_SCRIPT_${os}_${arch}`]!;
      assert.ok(text.includes(`(${os}/${arch})`));
      assert.ok(!text.includes(placeholders.arch));
      assert.ok(text.includes(placeholders.accessUrl) && text.includes(placeholders.authType));
    }
  });

  const renders = [
    { url: "http://10.0.0.5:7080", expected: 'PREWARM_BOOTSTRAP_URL="http://10.0.0.5:7080/"' },
    {
      url: "https://prewarm.example.com/some/path?x=1",
      expected: 'PREWARM_BOOTSTRAP_URL="https://prewarm.example.com/"',
    },
  ];
  for (const { url, expected } of renders) {
    test(`GIVEN access URL ${url} WHEN rendered like the coder provider THEN the script uses its origin plus "/"`, () => {
      const text = renderInitScript(agentScriptEnv(fallbackUrl).CODER_AGENT_SCRIPT_linux_amd64!, url);
      assert.ok(
        text.includes(expected),
        text.split("\n").find((l) => l.startsWith("PREWARM_BOOTSTRAP_URL=")),
      );
      assert.ok(text.includes('PREWARM_BOOTSTRAP_AUTH="token"'));
    });
  }

  test("GIVEN a rendered init script and CODER_AGENT_TOKEN WHEN sh runs it THEN it downloads the bundle and the agent becomes ready, and stops on SIGTERM", {
    skip: skipUnless(commandWorks("curl") || commandWorks("wget"), "neither curl nor wget is on PATH"),
  }, async () => {
    const work = join(root, "work");
    const hostTmp = join(root, "host-tmp");
    mkdirSync(hostTmp, { recursive: true });
    const fake = await FakeAgentServer.start({
      ...baseManifest(work),
      scripts: [
        script({ displayName: "Hello", script: 'echo "hello $PREWARM_WORKSPACE_OWNER_NAME" > hello' }),
      ],
    });
    fake.bundle = await buildAgentBundle();
    const initScript = renderInitScript(
      agentScriptEnv(fallbackUrl)[`CODER_AGENT_SCRIPT_${hostOs}_${hostArch}`]!,
      fake.url,
    );
    const run = runSh(
      initScript,
      hostEnv({ CODER_AGENT_TOKEN: fakeToken, TMPDIR: hostTmp, PREWARM_AGENT_LOG_DIR: join(root, "logs") }),
    );
    try {
      await fake
        .waitFor("ready", () => fake.states().includes("ready"), 30_000)
        .catch((err: Error) => {
          throw new Error(`${err.message}\nbootstrap output:\n${run.output()}`);
        });
      assert.equal(readFileSync(join(work, "hello"), "utf8"), "hello prebuilds\n");
      const downloaded = readdirSync(hostTmp).filter((n) => n.startsWith("prewarm-agent."));
      assert.equal(downloaded.length, 1);
      assert.ok(existsSync(join(hostTmp, downloaded[0]!, "prewarm-agent.js")));

      // `exec node …`: the shell's pid is the agent's, so the host's SIGTERM reaches the agent.
      const exit = await stopChild(run.child);
      assert.equal(exit.code, 0, run.output());
      assert.deepEqual(fake.states(), ["starting", "ready", "shutting_down", "off"]);
    } finally {
      await stopChild(run.child, "SIGKILL");
      await fake.close();
    }
  });

  const refusals = [
    {
      name: "Node.js is not on PATH",
      env: { PATH: join(root, "empty-bin"), CODER_AGENT_TOKEN: fakeToken },
      auth: "token",
      message: /Node\.js 20 or newer is required to run the prewarm agent, and "node" is not on PATH/,
    },
    {
      name: "no agent token is set",
      env: hostEnv({}),
      auth: "token",
      message: /no agent token: set CODER_AGENT_TOKEN/,
    },
    {
      name: "the agent uses instance identity auth",
      env: hostEnv({ CODER_AGENT_TOKEN: fakeToken }),
      auth: "google-instance-identity",
      message: /agent auth "google-instance-identity" is not supported/,
    },
  ];
  for (const { name, env, auth, message } of refusals) {
    test(`GIVEN ${name} WHEN the init script runs THEN it exits 1 saying so`, async () => {
      mkdirSync(join(root, "empty-bin"), { recursive: true });
      const text = renderInitScript(
        agentScriptEnv(fallbackUrl).CODER_AGENT_SCRIPT_linux_amd64!,
        fallbackUrl,
        auth,
      );
      const run = runSh(text, env);
      const code = await run.exited;
      assert.equal(code, 1);
      assert.match(run.output(), message);
    });
  }
});
