#!/usr/bin/env node
// The `prewarm` executable. Runs the compiled CLI from dist/ (`npm run build`, which `npm ci` runs through
// `prepare`), unless a source is newer than the build — then, and without a build, it runs the TypeScript
// sources through tsx, so an edit is never hidden behind a stale build. PREWARM_FROM_SOURCE=1 forces the
// sources. An installed package's files all carry the same mtime, so its build is never taken for stale.
import { readdirSync, statSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const compiled = `${root}dist/cli/main.js`;

/** The newest mtime (ms) of any file under `dir`; about a millisecond for src/'s couple of hundred files. */
function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    const mtime = entry.isDirectory() ? newest(path) : statSync(path).mtimeMs;
    if (mtime > latest) latest = mtime;
  }
  return latest;
}

function buildIsCurrent() {
  if (process.env.PREWARM_FROM_SOURCE === "1") return false;
  let built;
  try {
    built = statSync(`${root}dist/.build-stamp`).mtimeMs;
    statSync(compiled);
  } catch {
    return false;
  }
  try {
    return newest(`${root}src`) <= built;
  } catch {
    return true; // no sources next to the build: nothing it could be stale against
  }
}

if (buildIsCurrent()) {
  await import(pathToFileURL(compiled).href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import(pathToFileURL(`${root}src/cli/main.ts`).href);
}
