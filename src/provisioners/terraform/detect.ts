// Whether a usable terraform is installed: for the server, which starts its in-process terraform daemon only
// when one is.
import { runCommand } from "./runner.js";
import { checkVersion, parseVersionOutput } from "./version.js";

export interface TerraformDetection {
  /** The version found, when terraform runs and is new enough. */
  version?: string;
  /** Why terraform cannot be used, otherwise. */
  reason?: string;
}

/** Runs `<binary> version -json` (PATH from `env`); never throws. */
export async function detectTerraform(
  binary = "terraform",
  env: NodeJS.ProcessEnv = process.env,
): Promise<TerraformDetection> {
  try {
    const { stdout } = await runCommand({
      binary,
      args: ["version", "-json"],
      cwd: process.cwd(),
      env: env.PATH === undefined ? {} : { PATH: env.PATH },
      captureStdout: true,
      exitTimeoutMs: 10_000,
    });
    return { version: checkVersion(parseVersionOutput(stdout.toString("utf8"))) };
  } catch (err) {
    return { reason: `terraform version: ${err instanceof Error ? err.message : String(err)}` };
  }
}
