// Echo rules, handler level: the provisioner called with a fake Session over a real temp directory.
// test/provisioners/echo/grpc.test.ts drives the same rules through a real gRPC server.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import {
  ApplyRequestSchema,
  LogLevel,
  ParseRequestSchema,
  PlanRequestSchema,
  WorkspaceTransition,
} from "../../../src/gen/provisioner/provisioner_pb.js";
import { createEchoProvisioner, echoProvisioner } from "../../../src/provisioners/echo/index.js";
import {
  addDirectory,
  applyDone,
  binary,
  controlledSleep,
  fakeSession,
  isPending,
  json,
  type LogEntry,
  log,
  parseDone,
  planDone,
  sessionFiles,
} from "./fixtures.js";

const never = new AbortController().signal;
const parseRequest = create(ParseRequestSchema, {});
const planRequest = (transition?: WorkspaceTransition) =>
  create(
    PlanRequestSchema,
    transition === undefined ? {} : { metadata: { workspaceTransition: transition } },
  );
const applyRequest = (transition?: WorkspaceTransition) =>
  create(
    ApplyRequestSchema,
    transition === undefined ? {} : { metadata: { workspaceTransition: transition } },
  );

describe("echo replay", () => {
  test("GIVEN logs then a Complete WHEN planning THEN logs stream in order and the Complete is returned", async () => {
    const files = sessionFiles({
      "0.plan.protobuf": binary(log("first", LogLevel.DEBUG)),
      "1.plan.json": json(log("second", LogLevel.WARN)),
      "2.plan.protobuf": binary(planDone("plan said no")),
      "3.plan.protobuf": binary(log("after the complete")),
    });
    const session = fakeSession(files);
    const complete = await echoProvisioner.plan(session, planRequest(), never);
    assert.equal(complete.error, "plan said no");
    assert.deepEqual(session.logs, [
      { level: LogLevel.DEBUG, output: "first" },
      { level: LogLevel.WARN, output: "second" },
    ]);
  });

  test("GIVEN a broken file after the first Complete WHEN applying THEN it is never read", async () => {
    const files = sessionFiles({
      "0.apply.protobuf": binary(applyDone()),
      "1.apply.protobuf": "\xff\xff garbage",
    });
    const complete = await echoProvisioner.apply(fakeSession(files), applyRequest(), never);
    assert.equal(complete.error, "");
  });

  test("GIVEN a Complete of another kind WHEN parsing THEN it is skipped", async () => {
    const files = sessionFiles({
      "0.parse.protobuf": binary(planDone()),
      "1.parse.protobuf": binary(parseDone("p")),
    });
    const complete = await echoProvisioner.parse(fakeSession(files), parseRequest, never);
    assert.equal(complete.error, "p");
  });

  const transitions: Array<{ name: string; transition?: WorkspaceTransition; want: string }> = [
    { name: "metadata absent → start files", want: "start" },
    { name: "START", transition: WorkspaceTransition.START, want: "start" },
    { name: "STOP", transition: WorkspaceTransition.STOP, want: "stop" },
    { name: "DESTROY", transition: WorkspaceTransition.DESTROY, want: "destroy" },
  ];
  for (const c of transitions) {
    test(`GIVEN per-transition files WHEN plan and apply with ${c.name} THEN that transition's files answer`, async () => {
      const responses: Record<string, Uint8Array> = {};
      for (const t of ["start", "stop", "destroy"]) {
        responses[`0.${t}.plan.protobuf`] = binary(planDone(`plan ${t}`));
        responses[`0.${t}.apply.protobuf`] = binary(applyDone(`apply ${t}`));
      }
      const files = sessionFiles(responses);
      const plan = await echoProvisioner.plan(fakeSession(files), planRequest(c.transition), never);
      const apply = await echoProvisioner.apply(fakeSession(files), applyRequest(c.transition), never);
      assert.equal(plan.error, `plan ${c.want}`);
      assert.equal(apply.error, `apply ${c.want}`);
    });
  }

  test("GIVEN parse files with and without `unspecified` WHEN parsing THEN the unspecified one wins", async () => {
    const files = sessionFiles({
      "0.parse.protobuf": binary(parseDone("generic")),
      "0.unspecified.parse.protobuf": binary(parseDone("unspecified")),
    });
    const complete = await echoProvisioner.parse(fakeSession(files), parseRequest, never);
    assert.equal(complete.error, "unspecified");
  });

  test("GIVEN both .protobuf and .json for one name WHEN applying THEN .protobuf wins", async () => {
    const files = sessionFiles({
      "0.apply.protobuf": binary(applyDone("from protobuf")),
      "0.apply.json": json(applyDone("from json")),
    });
    const complete = await echoProvisioner.apply(fakeSession(files), applyRequest(), never);
    assert.equal(complete.error, "from protobuf");
  });

  test("GIVEN a JSON Complete with nested messages WHEN planning THEN it decodes to the same message", async () => {
    const value = {
      parameters: [{ name: "region", options: [{ name: "EU", value: "eu" }] }],
      presets: [{ name: "dev", prebuild: { instances: 2, expirationPolicy: { ttl: 86400 } } }],
    };
    const files = sessionFiles({ "0.plan.json": json({ type: { case: "plan", value } }) });
    const complete = await echoProvisioner.plan(fakeSession(files), planRequest(), never);
    assert.equal(complete.parameters[0]?.options[0]?.value, "eu");
    assert.equal(complete.presets[0]?.prebuild?.expirationPolicy?.ttl, 86400);
  });
});

describe("echo failures", () => {
  const operations = [
    {
      op: "parse",
      run: (files: Map<string, Uint8Array>) => echoProvisioner.parse(fakeSession(files), parseRequest, never),
    },
    {
      op: "plan",
      run: (files: Map<string, Uint8Array>) => echoProvisioner.plan(fakeSession(files), planRequest(), never),
    },
    {
      op: "apply",
      run: (files: Map<string, Uint8Array>) =>
        echoProvisioner.apply(fakeSession(files), applyRequest(), never),
    },
  ];
  for (const { op, run } of operations) {
    test(`GIVEN no file 0 WHEN ${op} THEN the Complete's error starts with "no state"`, async () => {
      const files = sessionFiles({
        "1.parse.protobuf": binary(parseDone()),
        "1.plan.protobuf": binary(planDone()),
      });
      const complete = await run(files);
      assert.match(complete.error, /^no state: /);
    });
  }

  test('GIVEN parse files without a ParseComplete WHEN parsing THEN error "complete response missing"', async () => {
    const files = sessionFiles({ "0.parse.protobuf": binary(log("only a log")) });
    const session = fakeSession(files);
    const complete = await echoProvisioner.parse(session, parseRequest, never);
    assert.equal(complete.error, "complete response missing");
    assert.equal(session.logs.length, 1);
  });

  const broken: Array<{ name: string; files: Record<string, string>; directory?: string; want: RegExp }> = [
    {
      name: "undecodable .protobuf",
      files: { "0.plan.protobuf": "\xff\xff\xff" },
      want: /^unmarshal "0.plan.protobuf": /,
    },
    { name: ".json that is not JSON", files: { "0.plan.json": "{nope" }, want: /^unmarshal "0.plan.json": / },
    {
      name: ".json that is an array",
      files: { "0.plan.json": "[]" },
      want: /^unmarshal "0.plan.json": expected a JSON object/,
    },
    {
      name: ".json with an unknown field",
      files: { "0.plan.json": '{"bogus":1}' },
      want: /^unmarshal "0.plan.json": /,
    },
    {
      name: "negative delayMs",
      files: { "0.plan.json": '{"delayMs":-1}' },
      want: /delayMs must be an integer/,
    },
    {
      name: "delayMs as a string",
      files: { "0.plan.json": '{"delayMs":"1s"}' },
      want: /delayMs must be an integer/,
    },
    {
      name: "a directory where a file should be (only files are responses)",
      files: {},
      directory: "0.plan.protobuf",
      want: /^no state: no response file 0 for plan/,
    },
  ];
  for (const c of broken) {
    test(`GIVEN ${c.name} WHEN planning THEN the Complete names the file and the problem`, async () => {
      const files = sessionFiles(c.files);
      if (c.directory) addDirectory(files, c.directory);
      const session = fakeSession(files);
      const complete = await echoProvisioner.plan(session, planRequest(), never);
      assert.match(complete.error, c.want);
      assert.deepEqual(session.logs, []);
    });
  }
});

describe("echo waiting and delays", () => {
  for (const op of ["plan", "apply"] as const) {
    test(`GIVEN ${op} files without a Complete WHEN ${op} runs THEN it waits until aborted, then "canceled"`, async () => {
      const files = sessionFiles({ [`0.${op}.protobuf`]: binary(log("working")) });
      let logged: (entry: LogEntry) => void = () => undefined;
      const sawLog = new Promise<LogEntry>((r) => {
        logged = r;
      });
      const controller = new AbortController();
      const session = fakeSession(files, logged);
      const result =
        op === "plan"
          ? echoProvisioner.plan(session, planRequest(), controller.signal)
          : echoProvisioner.apply(session, applyRequest(), controller.signal);
      assert.equal((await sawLog).output, "working");
      assert.equal(await isPending(result), true, "waits for cancel");
      controller.abort();
      assert.equal((await result).error, "canceled");
    });
  }

  test("GIVEN a delay step WHEN it elapses THEN the following log and Complete are replayed", async () => {
    const files = sessionFiles({
      "0.apply.json": json(log("before")),
      "1.apply.json": json(log("after"), { delayMs: 1500 }),
      "2.apply.protobuf": binary(applyDone()),
    });
    const clock = controlledSleep();
    const session = fakeSession(files);
    const result = createEchoProvisioner({ sleep: clock.sleep }).apply(session, applyRequest(), never);
    await clock.waitForSleep();
    assert.deepEqual(clock.requested, [1500]);
    assert.deepEqual(
      session.logs.map((l) => l.output),
      ["before"],
      "the delayed entry waits",
    );
    clock.elapse();
    assert.equal((await result).error, "");
    assert.deepEqual(
      session.logs.map((l) => l.output),
      ["before", "after"],
    );
  });

  test('GIVEN a delay step WHEN cancelled during the delay THEN "canceled" and nothing after it', async () => {
    const files = sessionFiles({
      "0.plan.json": '{"delayMs": 60000}',
      "1.plan.protobuf": binary(planDone()),
    });
    const clock = controlledSleep();
    const controller = new AbortController();
    const session = fakeSession(files);
    const result = createEchoProvisioner({ sleep: clock.sleep }).plan(
      session,
      planRequest(),
      controller.signal,
    );
    await clock.waitForSleep();
    controller.abort();
    assert.equal((await result).error, "canceled");
    assert.deepEqual(session.logs, []);
  });

  test("GIVEN the default sleep WHEN a short delay is replayed THEN the request completes", async () => {
    const files = sessionFiles({ "0.parse.json": json(parseDone(), { delayMs: 1 }) });
    const complete = await echoProvisioner.parse(fakeSession(files), parseRequest, never);
    assert.equal(complete.error, "");
  });
});
