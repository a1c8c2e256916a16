// The echo archive builder: archives are extracted with the SDK's real extractor and replayed by the echo
// provisioner, so each test checks what a daemon would see.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import {
  ApplyRequestSchema,
  LogLevel,
  ParseRequestSchema,
  PlanRequestSchema,
  ResourceSchema,
  WorkspaceTransition,
} from "../../../src/gen/provisioner/provisioner_pb.js";
import {
  applyFailed,
  applyWithAgent,
  buildEchoArchive,
  createEchoProvisioner,
  type EchoResponses,
  echoDelay,
  echoLog,
  echoProvisioner,
  echoTemplateFiles,
  withResources,
} from "../../../src/provisioners/echo/index.js";
import { DEFAULT_ARCHIVE_LIMITS, planExtraction } from "../../../src/provisionersdk/archive.js";
import { controlledSleep, fakeSession } from "./fixtures.js";

/** Builds the archive and reads it as an in-memory Session does; returns its files. */
async function extracted(responses?: EchoResponses): Promise<Map<string, Uint8Array>> {
  const plan = planExtraction(buildEchoArchive(responses), DEFAULT_ARCHIVE_LIMITS);
  return new Map(plan.files.map((f) => [f.path, f.data]));
}

const never = new AbortController().signal;
const metadata = (workspaceTransition: WorkspaceTransition) => ({ metadata: { workspaceTransition } });
const decoder = new TextDecoder();

describe("echo archive builder", () => {
  test("GIVEN no responses WHEN parse, plan and apply run THEN all succeed and the plan is {}", async () => {
    const dir = await extracted();
    const session = fakeSession(dir);
    assert.equal((await echoProvisioner.parse(session, create(ParseRequestSchema), never)).error, "");
    const plan = await echoProvisioner.plan(session, create(PlanRequestSchema), never);
    assert.equal(plan.error, "");
    assert.equal(decoder.decode(plan.plan), "{}");
    assert.equal((await echoProvisioner.apply(session, create(ApplyRequestSchema), never)).error, "");
  });

  test("GIVEN only apply responses WHEN planning THEN the plan mirrors them (logs, resources)", async () => {
    const dir = await extracted({
      apply: [echoLog("building", LogLevel.DEBUG), ...applyWithAgent("tok")],
    });
    const session = fakeSession(dir);
    const plan = await echoProvisioner.plan(session, create(PlanRequestSchema), never);
    assert.deepEqual(session.logs, [{ level: LogLevel.DEBUG, output: "building" }]);
    assert.equal(plan.resources[0]?.name, "example");
    assert.equal(decoder.decode(plan.plan), "{}");
  });

  test("GIVEN withResources(...) WHEN plan and apply run THEN both report the resources", async () => {
    const dir = await extracted(
      withResources([create(ResourceSchema, { name: "vm", type: "echo_instance" })]),
    );
    const session = fakeSession(dir);
    const plan = await echoProvisioner.plan(session, create(PlanRequestSchema), never);
    const apply = await echoProvisioner.apply(session, create(ApplyRequestSchema), never);
    assert.deepEqual([plan.resources[0]?.name, apply.resources[0]?.name], ["vm", "vm"]);
  });

  test("GIVEN a failing apply and no plan WHEN planning THEN the derived plan fails the same way", async () => {
    const dir = await extracted({ apply: applyFailed() });
    const plan = await echoProvisioner.plan(fakeSession(dir), create(PlanRequestSchema), never);
    assert.equal(plan.error, "failed!");
    assert.equal(plan.plan.length, 0);
  });

  test("GIVEN applyWithAgent(token) WHEN applying THEN one resource has one agent with that token", async () => {
    const dir = await extracted({ apply: applyWithAgent("secret-token") });
    const apply = await echoProvisioner.apply(fakeSession(dir), create(ApplyRequestSchema), never);
    const agents = apply.resources.flatMap((r) => r.agents);
    assert.equal(agents.length, 1);
    assert.deepEqual(agents[0]?.auth, { case: "token", value: "secret-token" });
  });

  test("GIVEN a stop-only apply list WHEN plan and apply run per transition THEN stop uses it, start the default", async () => {
    const dir = await extracted({ applyByTransition: { stop: applyFailed() } });
    const session = fakeSession(dir);
    const stop = metadata(WorkspaceTransition.STOP);
    const start = metadata(WorkspaceTransition.START);
    assert.equal(
      (await echoProvisioner.apply(session, create(ApplyRequestSchema, stop), never)).error,
      "failed!",
    );
    assert.equal(
      (await echoProvisioner.plan(session, create(PlanRequestSchema, stop), never)).error,
      "failed!",
    );
    assert.equal((await echoProvisioner.apply(session, create(ApplyRequestSchema, start), never)).error, "");
  });

  test("GIVEN an empty parse list WHEN parsing THEN no state", async () => {
    const dir = await extracted({ parse: [] });
    const parse = await echoProvisioner.parse(fakeSession(dir), create(ParseRequestSchema), never);
    assert.match(parse.error, /^no state/);
  });

  test("GIVEN a delay step WHEN applying THEN echo waits for it before the next response", async () => {
    const dir = await extracted({ apply: [echoDelay(750, echoLog("slow step")), ...applyFailed()] });
    const clock = controlledSleep();
    const session = fakeSession(dir);
    const result = createEchoProvisioner({ sleep: clock.sleep }).apply(
      session,
      create(ApplyRequestSchema),
      never,
    );
    await clock.waitForSleep();
    assert.deepEqual(clock.requested, [750]);
    assert.equal(session.logs.length, 0, "the delayed log waits");
    clock.elapse();
    assert.equal((await result).error, "failed!");
    assert.deepEqual(
      session.logs.map((l) => l.output),
      ["slow step"],
    );
  });

  test("GIVEN extra files and a readme THEN they are in the archive next to the responses", () => {
    const files = echoTemplateFiles({ extraFiles: { "main.tf": "# nothing" }, readme: "# hello" });
    const byPath = new Map(files.map((f) => [f.path, decoder.decode(f.data)]));
    assert.equal(byPath.get("main.tf"), "# nothing");
    assert.equal(byPath.get("README.md"), "# hello");
  });

  test("GIVEN responses THEN files use Coder's names (binary), delays the .json form", () => {
    const files = echoTemplateFiles({
      apply: [echoDelay(5), ...applyFailed()],
      planByTransition: { destroy: applyFailed().map(() => ({ type: { case: "plan", value: {} } })) },
    });
    assert.deepEqual(
      files.map((f) => f.path),
      [
        "0.parse.protobuf",
        "0.apply.json",
        "1.apply.protobuf",
        "0.plan.json",
        "1.plan.protobuf",
        "0.destroy.plan.protobuf",
      ],
    );
  });
});
