// examples/templates/echo-demo, tarred as `templates push` would, through a real gRPC server: it must parse,
// declare the parameters and presets the demo relies on, and build every transition.
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Log, WorkspaceTransition } from "../../../src/gen/provisioner/provisioner_pb.js";
import { createEchoProvisioner } from "../../../src/provisioners/echo/index.js";
import {
  connectProvisioner,
  createTar,
  type ProvisionerClient,
  type ProvisionerServer,
  serve,
} from "../../../src/provisionersdk/index.js";
import { repoRoot } from "../../support/cli.js";

const demoDir = join(repoRoot, "examples", "templates", "echo-demo");

async function demoArchive(): Promise<Uint8Array> {
  const names = (await readdir(demoDir)).sort();
  return createTar(
    await Promise.all(names.map(async (path) => ({ path, data: await readFile(join(demoDir, path)) }))),
  );
}

// Simulated build time is recorded instead of waited for.
const delays: number[] = [];
let server: ProvisionerServer;
let client: ProvisionerClient;
let archive: Uint8Array;
before(async () => {
  archive = await demoArchive();
  const sleep = async (ms: number) => {
    delays.push(ms);
  };
  server = await serve(createEchoProvisioner({ sleep }), { listen: "127.0.0.1:0" });
  client = connectProvisioner(server.address);
});
after(async () => {
  client.close();
  await server.close({ deadlineMs: 1_000 });
});

async function session() {
  const logs: Log[] = [];
  const s = await client.openSession({ templateSourceArchive: archive }, { onLog: (l) => logs.push(l) });
  return { s, logs };
}

describe("echo-demo template", () => {
  test("GIVEN the demo WHEN imported (Parse, Plan START) THEN no variables, its README, two parameters and the dev preset with 2 prebuilds and a 1-day TTL", async () => {
    const { s } = await session();
    const parse = await s.parse();
    const plan = await s.plan({ metadata: { workspaceTransition: WorkspaceTransition.START } });
    await s.close();
    assert.equal(parse.error, "");
    assert.deepEqual(parse.templateVariables, []);
    assert.match(new TextDecoder().decode(parse.readme), /^# echo-demo/);
    assert.equal(plan.error, "");
    assert.deepEqual(
      plan.parameters.map((p) => [p.name, p.options.map((o) => o.value)]),
      [
        ["region", ["eu-west", "us-east", "ap-tokyo"]],
        ["size", ["small", "large"]],
      ],
    );
    const dev = plan.presets.find((p) => p.name === "dev");
    assert.equal(dev?.prebuild?.instances, 2);
    assert.equal(dev?.prebuild?.expirationPolicy?.ttl, 86400);
    const others = plan.presets.filter((p) => p !== dev);
    assert.ok(
      others.length >= 1 && others.every((p) => (p.prebuild?.instances ?? 0) === 0),
      "other presets build on demand",
    );
    const parameterNames = new Set(plan.parameters.map((p) => p.name));
    for (const preset of plan.presets) {
      for (const value of preset.parameters)
        assert.ok(parameterNames.has(value.name), `${preset.name}: ${value.name}`);
    }
  });

  const transitions = [
    { name: "start", transition: WorkspaceTransition.START, resources: 1 },
    { name: "stop", transition: WorkspaceTransition.STOP, resources: 0 },
    { name: "destroy", transition: WorkspaceTransition.DESTROY, resources: 0 },
  ];
  for (const c of transitions) {
    test(`GIVEN the demo WHEN a ${c.name} build runs (Plan, Apply) THEN it succeeds with logs and ${c.resources} agent-less resource(s)`, async () => {
      const { s, logs } = await session();
      const metadata = { workspaceTransition: c.transition };
      assert.equal((await s.plan({ metadata })).error, "");
      const apply = await s.apply({ metadata });
      await s.close();
      assert.equal(apply.error, "");
      assert.equal(apply.resources.length, c.resources);
      assert.deepEqual(
        apply.resources.flatMap((r) => r.agents),
        [],
        "no agent: a prebuild is eligible once built",
      );
      assert.ok(logs.length >= 2, "logs look like a build");
    });
  }

  test("GIVEN the demo WHEN a start build's apply runs THEN it simulates roughly a second of work", async () => {
    const { s } = await session();
    await s.plan({});
    delays.length = 0;
    await s.apply({});
    await s.close();
    const total = delays.reduce((a, b) => a + b, 0);
    assert.ok(total >= 500 && total <= 2_000, `simulated ${total} ms`);
  });
});
