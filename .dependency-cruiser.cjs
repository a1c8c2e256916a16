// Import rules for src/ (checked by test/architecture/imports.test.ts through `depcruise`):
// - no circle anywhere, type-only imports included (tsPreCompilationDeps);
// - the agent never imports the server (it runs on workspace hosts, from a small bundle);
// - the CLI loads the server only lazily, with import(), from the commands that run one;
// - what every CLI invocation loads (main, the option registrations, output) imports only itself, commander,
//   picocolors and a few small modules, so `prewarm --version` stays within 2x of `node -e 0`;
// - the server imports the agent only for the bundle it serves to workspace hosts.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "Import circles make load order matter and modules impossible to understand alone.",
      from: {},
      to: { circular: true },
    },
    {
      name: "agent-not-to-server",
      severity: "error",
      comment: "src/agent runs on the workspace host; it shares only src/contract with the server.",
      from: { path: "^src/agent/" },
      to: { path: "^src/server/" },
    },
    {
      name: "cli-not-to-server-statically",
      severity: "error",
      comment:
        "Only `server` and `demo` load the server, lazily with import(), so other commands start fast; its types come through `typeof import()`, which loads nothing.",
      from: { path: "^src/cli/" },
      to: { path: "^src/server/", dependencyTypesNot: ["dynamic-import", "type-import"] },
    },
    {
      name: "cli-start-stays-light",
      severity: "error",
      comment:
        "Every invocation loads these modules; a command's implementation (the client, the contract and TypeBox, the provisioners, connect) loads with import() when it runs. The set is closed: its members import only each other, so the rule holds transitively.",
      from: {
        path: "^src/cli/(main|options|output|yaml|errors|settings|register/[^/]+|commands/(shared|server|provisioner|provisioner-start))[.]ts$",
      },
      to: {
        pathNot:
          "^(src/cli/(options|output|yaml|errors|settings|register/[^/]+|commands/(shared|server|provisioner|provisioner-start))|src/contract/workspace-state|src/contract/upload-limits|src/contract/retention|src/version|src/util/duration|src/provisioners/registry|src/provisionersdk/address)[.]ts$|^node_modules/(commander|picocolors)/|^(node:)?[a-z_]+$",
        dependencyTypesNot: ["dynamic-import", "type-import", "type-only"],
      },
    },
    {
      name: "server-to-agent-only-for-the-bundle",
      severity: "error",
      comment:
        "The server serves the agent's bundle and its bootstrap script to workspace hosts; nothing else of the agent belongs in it.",
      from: { path: "^src/server/" },
      to: { path: "^src/agent/", pathNot: "^src/agent/(bundle|bootstrap)\\.ts$" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    moduleSystems: ["es6"],
  },
};
