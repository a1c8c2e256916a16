// End to end with the real terraform binary: the terraform-local example pushed to a real `prewarm server`,
// a workspace created, stopped, started and deleted through the CLI, checked on disk.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { repoRoot, runCli, startCli, stopChild } from "../support/cli.js";
import { commandWorks, skipUnless } from "../support/requirements.js";

const hasTerraform = commandWorks("terraform", ["version"]);

describe("terraform-local through the server and the CLI", {
  skip: skipUnless(hasTerraform, "terraform not on PATH"),
}, () => {
  const tmp = mkdtempSync(join(tmpdir(), "prewarm-e2e-tf-"));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  test("GIVEN terraform-local WHEN a workspace is created, stopped, started and deleted THEN its directory follows", async () => {
    const cliConfig = join(tmp, "terraformrc");
    writeFileSync(cliConfig, "");
    const baseDir = join(tmp, "workspaces");
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
        "1",
        "--provisioner-types",
        "terraform",
      ],
      /listening on (http:\/\/\S+)/,
      { timeoutMs: 60_000, env: { TF_CLI_CONFIG_FILE: cliConfig } },
    );
    try {
      const env = {
        PREWARM_URL: match[1]!,
        PREWARM_TOKEN: readFileSync(join(dataDir, "admin-token"), "utf8").trim(),
        NO_COLOR: "1",
      };
      const run = async (args: string[]) => {
        const r = await runCli(args, { env, timeoutMs: 180_000 });
        assert.equal(r.code, 0, `prewarm ${args.join(" ")}: ${r.stderr}`);
        return r;
      };
      await run([
        "templates",
        "push",
        "tflocal",
        "-d",
        join(repoRoot, "examples/templates/terraform-local"),
        "--provisioner",
        "terraform",
        "--var",
        `base_dir=${baseDir}`,
      ]);
      const created = JSON.parse(
        (await run(["create", "box", "--template", "tflocal", "-o", "json"])).stdout,
      ) as {
        id: string;
      };
      const workspaceFile = join(baseDir, created.id, "WORKSPACE");
      assert.ok(existsSync(workspaceFile), "start created the workspace directory");
      assert.match(readFileSync(workspaceFile, "utf8"), /workspace: box/);

      await run(["stop", "box"]);
      assert.equal(existsSync(join(baseDir, created.id)), false, "stop removed the directory");

      await run(["start", "box"]);
      assert.ok(existsSync(workspaceFile), "start created it again");

      await run(["delete", "box"]);
      assert.deepEqual(readdirSync(baseDir), [], "delete left nothing behind");
    } finally {
      await stopChild(child);
    }
  });
});
