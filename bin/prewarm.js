#!/usr/bin/env node
// The `prewarm` executable. Runs the compiled CLI from dist/ when `npm run build` has produced it;
// otherwise runs the TypeScript sources through tsx, so a fresh checkout works without a build step.
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";

const compiled = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));
if (existsSync(compiled) && process.env.PREWARM_FROM_SOURCE !== "1") {
  await import(pathToFileURL(compiled).href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import(new URL("../src/cli/main.ts", import.meta.url).href);
}
