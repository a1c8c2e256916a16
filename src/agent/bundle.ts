// Builds the agent bundle the server hands to workspace hosts (GET /api/v1/agent/bundle.js): src/agent's
// standalone entry and everything it imports, as one self-contained CommonJS file that plain `node` runs
// (CommonJS because a downloaded `.js` file without a package.json next to it is loaded as CommonJS). Built on
// first use with esbuild and kept in memory; from a compiled install (dist/) the entry is the .js file.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

export class AgentBundleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AgentBundleError";
  }
}

let cached: Promise<string> | undefined;

export function agentEntryPath(): string {
  for (const name of ["standalone.ts", "standalone.js"]) {
    const path = fileURLToPath(new URL(`./${name}`, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new AgentBundleError("build agent bundle: src/agent/standalone.{ts,js} not found next to bundle.js");
}

/** The agent bundle's source text (built once per process; a failed build is retried on the next call). */
export function buildAgentBundle(): Promise<string> {
  cached ??= build().catch((err: unknown) => {
    cached = undefined;
    throw err;
  });
  return cached;
}

async function build(): Promise<string> {
  const esbuild = await import("esbuild").catch(() => {
    throw new AgentBundleError("build agent bundle: esbuild is not installed");
  });
  const result = await esbuild
    .build({
      entryPoints: [agentEntryPath()],
      bundle: true,
      platform: "node",
      target: "node20",
      format: "cjs",
      write: false,
      minify: true,
      legalComments: "none",
      banner: { js: "// prewarm agent bundle: run with `node prewarm-agent.js --help`" },
      logLevel: "silent",
    })
    .catch((err: unknown) => {
      throw new AgentBundleError(`build agent bundle: ${err instanceof Error ? err.message : String(err)}`);
    });
  const file = result.outputFiles[0];
  if (!file) throw new AgentBundleError("build agent bundle: esbuild produced no output");
  return file.text;
}
