// Acceptance: the bootstrap script the server hands the terraform provisioner (CODER_AGENT_SCRIPT_<os>_<arch>,
// rendered the way the `coder` provider renders `init_script`) run with `sh` on this host against a real
// server: it downloads the agent bundle from the server, and the agent reports ready for a real prebuild.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, test } from "node:test";
import { agentScriptEnv, renderInitScript } from "../../src/agent/bootstrap.js";
import { withAgentBootstrap } from "../../src/server/server.js";
import { eventually } from "../server/api/support.js";
import { stopChild } from "../support/cli.js";
import { commandWorks, skipUnless } from "../support/requirements.js";
import {
  agentBecomes,
  eligibleOf,
  pushAgentTemplate,
  runningPrebuilds,
  suiteWorld,
  tokenOf,
} from "./server-harness.js";

const hostOs = process.platform === "darwin" ? "darwin" : "linux";
const hostArch = process.arch === "arm64" ? "arm64" : "amd64";
const scriptName = `CODER_AGENT_SCRIPT_${hostOs}_${hostArch}`;

describe("the agent bootstrap against a real server", { timeout: 120_000 }, () => {
  const suite = suiteWorld();

  test("GIVEN provisioner options THEN the terraform provisioner gets the bootstrap scripts for the access URL, and an operator's own entry wins", () => {
    const url = "http://prewarm.example:7080";
    const options = withAgentBootstrap(
      { terraform: { exitTimeoutMs: 5_000, agentScriptEnv: { CODER_AGENT_SCRIPT_darwin_arm64: "custom" } } },
      url,
    );
    const env = options.terraform?.agentScriptEnv ?? {};
    assert.equal(env.CODER_AGENT_SCRIPT_linux_amd64, agentScriptEnv(url).CODER_AGENT_SCRIPT_linux_amd64);
    assert.equal(env.CODER_AGENT_SCRIPT_darwin_arm64, "custom");
    assert.equal(options.terraform?.exitTimeoutMs, 5_000);
  });

  test("GIVEN the server WHEN the bootstrap route is fetched THEN it serves the platform's script with this server's URL, and 404 for an unknown platform", async () => {
    const world = suite.current;
    const res = await fetch(`${world.server.url}/api/v1/agent/bootstrap/${hostOs}/${hostArch}`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /shellscript/);
    const script = await res.text();
    assert.equal(script, renderInitScript(agentScriptEnv(world.server.url)[scriptName]!, world.server.url));
    assert.ok(script.includes(world.server.url), "the script points at this server");
    assert.ok(script.includes("api/v1/agent/bundle.js"), "the script downloads the agent bundle");
    const unknown = await fetch(`${world.server.url}/api/v1/agent/bootstrap/plan9/mips`);
    assert.equal(unknown.status, 404);
    assert.match(((await unknown.json()) as { message: string }).message, /available: linux\/amd64/);
  });

  test("GIVEN a prebuild's agent token WHEN sh runs the rendered init script THEN the agent from the server's bundle reports ready and the prebuild becomes eligible", {
    skip: skipUnless(commandWorks("curl") || commandWorks("wget"), "neither curl nor wget is on PATH"),
  }, async () => {
    const world = suite.current;
    await pushAgentTemplate(world, "booted", {
      instances: 1,
      scripts: [
        {
          displayName: "Hello",
          runOnStart: true,
          script: 'echo "hello $CODER_WORKSPACE_OWNER_NAME" > "$HOME/hello"',
        },
      ],
    });
    const [prebuild] = await runningPrebuilds(world, "booted", 1);
    assert.ok(prebuild);
    const home = join(world.root, "host");
    mkdirSync(join(home, "tmp"), { recursive: true });
    const initScript = renderInitScript(agentScriptEnv(world.server.url)[scriptName]!, world.server.url);
    const child = spawn("/bin/sh", ["-c", initScript], {
      env: {
        PATH: `${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`,
        HOME: home,
        TMPDIR: join(home, "tmp"),
        CODER_AGENT_TOKEN: await tokenOf(world, prebuild.id),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => {
      output += d;
    });
    child.stderr.on("data", (d) => {
      output += d;
    });
    world.agents.push(child);
    try {
      await agentBecomes(world, prebuild.id, { lifecycleState: "ready", status: "connected" }, 60_000);
    } catch (err) {
      throw new Error(`${(err as Error).message}\nbootstrap output:\n${output}`);
    }
    assert.equal(readFileSync(join(home, "hello"), "utf8"), "hello prebuilds\n");
    await eventually("the prebuild to be eligible", async () =>
      (await eligibleOf(world, "booted")) === 1 ? true : undefined,
    );
    const exit = await stopChild(child, "SIGTERM", 20_000);
    assert.equal(exit.code, 0, output);
    await agentBecomes(world, prebuild.id, { lifecycleState: "off" });
  });
});
