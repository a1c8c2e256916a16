// Acceptance: a client generated independently from the seed's provisioner.proto (protoc-gen-es run at test
// time on test/fixtures/seed/provisioner.proto, not our src/gen) drives a real `prewarm provisioner serve
// --type echo` child process through Config → Parse → Plan → Apply over gRPC.
import assert from "node:assert/strict";
import { cp, readdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createTar } from "../../src/provisionersdk/archive.js";
import { repoRoot, startCli, stopChild } from "../support/cli.js";
import { buf, seedProto, tempDir, writeGenTemplate } from "./buf.js";

// Types only (erased at run time): the shapes the seed's generated module exports. Every value used below
// comes from the module generated from the seed file.
type SeedModule = typeof import("../../src/gen/provisioner/provisioner_pb.js");
type SeedRequest = MessageInitShape<SeedModule["RequestSchema"]>;

const tmp = tempDir("prewarm-seed-client-");
let seed: SeedModule;
let serverProcess: Awaited<ReturnType<typeof startCli>> | undefined;
let address: string;

before(async () => {
  const dir = (await tmp).path;
  // Generate plain JavaScript from the seed file alone, with the local buf + protoc-gen-es (offline).
  await cp(seedProto, join(dir, "provisioner.proto"));
  await writeGenTemplate(join(dir, "buf.gen.yaml"), "gen", "js");
  await buf(["generate", ".", "--template", "buf.gen.yaml"], dir);
  // Let the generated ESM resolve @bufbuild/protobuf from the repository's node_modules.
  await writeFile(join(dir, "package.json"), '{ "type": "module" }\n');
  await symlink(join(repoRoot, "node_modules"), join(dir, "node_modules"), "dir");
  seed = await import(pathToFileURL(join(dir, "gen", "provisioner_pb.js")).href);

  serverProcess = await startCli(
    ["provisioner", "serve", "--type", "echo", "--listen", "127.0.0.1:0"],
    /listening on (\S+)/,
  );
  address = serverProcess.match[1]!;
});

after(async () => {
  if (serverProcess) await stopChild(serverProcess.child, "SIGTERM");
  await (await tmp).dispose();
});

/**
 * Runs one Session: sends `requests` in order, each after the previous request's Complete (Config has
 * none), then half-closes. Returns the logs and the Completes, in order.
 */
async function runSession(requests: SeedRequest[]) {
  const client = createClient(seed.Provisioner, createGrpcTransport({ baseUrl: `http://${address}` }));
  let completed: () => void = () => undefined;
  async function* send() {
    for (const request of requests) {
      yield create(seed.RequestSchema, request);
      if (request.type?.case === "config") continue;
      await new Promise<void>((resolve) => {
        completed = resolve;
      });
    }
  }
  const logs: string[] = [];
  const completes: Array<ReturnType<typeof create<SeedModule["ResponseSchema"]>>["type"]> = [];
  for await (const response of client.session(send(), { timeoutMs: 60_000 })) {
    if (response.type.case === "log") logs.push(response.type.value.output);
    else {
      completes.push(response.type);
      completed();
    }
  }
  return { logs, completes };
}

async function demoArchive(): Promise<Uint8Array> {
  const dir = join(repoRoot, "examples", "templates", "echo-demo");
  const names = (await readdir(dir)).sort();
  return createTar(
    await Promise.all(names.map(async (path) => ({ path, data: await readFile(join(dir, path)) }))),
  );
}

describe("a client generated from the seed's proto", () => {
  test("GIVEN the generated module THEN it is the seed's own (none of prewarm's additions)", () => {
    assert.equal(typeof seed.RequestSchema, "object");
    assert.equal((seed as Record<string, unknown>).ParameterFormType, undefined);
    assert.equal((seed as Record<string, unknown>).SchedulingSchema, undefined);
  });

  test("GIVEN the echo-demo template WHEN Config → Parse → Plan → Apply THEN it reads README, presets, resources (our additions ignored)", async () => {
    const archive = await demoArchive();
    const { logs, completes } = await runSession([
      { type: { case: "config", value: { templateSourceArchive: archive } } },
      { type: { case: "parse", value: {} } },
      {
        type: { case: "plan", value: { metadata: { workspaceTransition: seed.WorkspaceTransition.START } } },
      },
      {
        type: { case: "apply", value: { metadata: { workspaceTransition: seed.WorkspaceTransition.START } } },
      },
    ]);
    assert.deepEqual(
      completes.map((c) => c.case),
      ["parse", "plan", "apply"],
    );
    const [parse, plan, apply] = completes;
    assert.ok(parse?.case === "parse" && plan?.case === "plan" && apply?.case === "apply");
    assert.match(new TextDecoder().decode(parse.value.readme), /^# echo-demo/);
    assert.equal(plan.value.error, "");
    const dev = plan.value.presets.find((p) => p.name === "dev");
    assert.equal(dev?.prebuild?.instances, 2);
    assert.equal(dev?.prebuild?.expirationPolicy?.ttl, 86400);
    assert.equal(apply.value.error, "");
    assert.deepEqual(
      apply.value.resources.map((r) => r.name),
      ["dev"],
    );
    assert.ok(logs.length >= 4, "build logs streamed");
  });

  test("GIVEN response files encoded by the seed's code WHEN Plan and Apply run THEN echo replays them byte-compatibly", async () => {
    const response = (init: MessageInitShape<SeedModule["ResponseSchema"]>) =>
      toBinary(seed.ResponseSchema, create(seed.ResponseSchema, init));
    const agent = { name: "main", auth: { case: "token" as const, value: "seed-token" } };
    const archive = createTar([
      {
        path: "0.plan.protobuf",
        data: response({
          type: { case: "log", value: { level: seed.LogLevel.WARN, output: "from the seed" } },
        }),
      },
      {
        path: "1.plan.protobuf",
        data: response({ type: { case: "plan", value: { resources: [{ name: "vm", agents: [agent] }] } } }),
      },
      {
        path: "0.apply.protobuf",
        data: response({ type: { case: "apply", value: { resources: [{ name: "vm", agents: [agent] }] } } }),
      },
    ]);
    const { logs, completes } = await runSession([
      { type: { case: "config", value: { templateSourceArchive: archive } } },
      { type: { case: "plan", value: {} } },
      { type: { case: "apply", value: {} } },
    ]);
    assert.deepEqual(logs, ["from the seed"]);
    const apply = completes[1];
    assert.ok(apply?.case === "apply");
    assert.deepEqual(apply.value.resources[0]?.agents[0]?.auth, { case: "token", value: "seed-token" });
  });

  test("GIVEN a request other than Config first WHEN sent THEN the stream ends with a gRPC error", async () => {
    await assert.rejects(runSession([{ type: { case: "parse", value: {} } }]), (err: Error) => {
      assert.match(err.message, /config/i);
      return true;
    });
  });
});
