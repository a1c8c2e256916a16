#!/usr/bin/env node
// `npm run build` (and `prepare`, so `npm ci` on a fresh clone builds too): compiles src/**/*.ts to
// dist/**/*.js file by file with esbuild (imports kept as written, but see `vendored`) — the layout tsc's
// rootDir/outDir gives, so paths relative to a module (package.json, examples/, the agent's standalone
// entry) resolve the same from dist/ as from src/. No type checking here (`npm run typecheck` does that);
// esbuild takes a second where tsc takes tens. Without esbuild (an install that omits devDependencies) it
// builds nothing and says so. dist/.build-stamp records when the sources were compiled: bin/prewarm.js runs
// the sources instead of a build older than any of them, so a stale build never runs.
import { mkdirSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const src = join(root, "src");
// `--outdir DIR` builds elsewhere (test/build.test.ts checks a build without touching the real dist/).
const outdirFlag = process.argv.indexOf("--outdir");
const dist = outdirFlag > 0 ? resolve(process.argv[outdirFlag + 1]) : join(root, "dist");

function sources(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sources(path));
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

// esbuild is a devDependency: an install without them (`npm ci --omit=dev`) has no build and runs the sources.
let build;
try {
  ({ build } = await import("esbuild"));
} catch {
  console.log("build: esbuild is not installed, skipping (bin/prewarm.js runs the sources)");
  process.exit(0);
}

// Packages bundled into one file each under dist/vendor/ and imported from there by the compiled modules:
// TypeBox's ESM build is 266 files, and loading them costs most of a CLI command's start (about 85 ms against
// 5 ms for the one file, on the machine this was written on). Schemas stay interchangeable with the copy
// @fastify/type-provider-typebox loads from node_modules: TypeBox marks them with global symbols.
const vendored = { "@sinclair/typebox": "vendor/typebox.js" };

/** Every import stays as written (file-by-file output), except a vendored package's, which points at its file. */
const importsAsWritten = {
  name: "imports-as-written",
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind === "entry-point") return undefined;
      const target = vendored[args.path];
      if (target === undefined) return { path: args.path, external: true };
      const from = dirname(join(dist, relative(src, args.importer)));
      const path = relative(from, join(dist, target));
      return { path: path.startsWith(".") ? path : `./${path}`, external: true };
    });
  },
};

const started = Date.now();
const entryPoints = sources(src);
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
const common = { format: "esm", platform: "node", target: "node20", sourcemap: true, logLevel: "warning" };
await build({
  ...common,
  entryPoints,
  outdir: dist,
  outbase: src,
  bundle: true,
  plugins: [importsAsWritten],
});
for (const [pkg, target] of Object.entries(vendored)) {
  await build({
    ...common,
    entryPoints: [fileURLToPath(import.meta.resolve(pkg))],
    outfile: join(dist, target),
    bundle: true,
  });
}
// The stamp's mtime is the build's start, so a source saved during the build counts as newer.
const stamp = join(dist, ".build-stamp");
writeFileSync(stamp, `${new Date(started).toISOString()}\n`);
utimesSync(stamp, new Date(started), new Date(started));
console.log(
  `build: ${entryPoints.length} modules from ${relative(root, src)}/ to ${relative(root, dist)}/ in ${Date.now() - started} ms`,
);
