// The Session rules of ARCHITECTURE §3, exercised through a real gRPC connection on loopback.
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { LogLevel } from "../../src/gen/provisioner/provisioner_pb.js";
import {
  connectProvisioner,
  createTar,
  type ProvisionerClient,
  ProvisionerProtocolError,
  SessionUsageError,
} from "../../src/provisionersdk/index.js";
import {
  FakeProvisioner,
  rawSession,
  returns,
  startServer,
  type TestServer,
  throws,
  waitsForCancel,
} from "./fixtures.js";

const TIMEOUT = { timeout: 20_000 };

const templateWithReadme = createTar([
  { path: "README.md", data: "# Demo template\n" },
  { path: "main.tf", data: 'resource "null" "x" {}\n' },
  { path: "modules/net/vars.tf", data: "variable a {}\n" },
]);

async function assertProtocolError(
  promise: Promise<unknown>,
  code: Code,
  messagePart: string | RegExp,
): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof ProvisionerProtocolError, `expected ProvisionerProtocolError, got ${err}`);
    assert.equal(Code[err.code], Code[code]);
    if (typeof messagePart === "string") assert.ok(err.message.includes(messagePart), err.message);
    else assert.match(err.message, messagePart);
    return true;
  });
}

function assertConnectError(err: unknown, code: Code, messagePart: string): void {
  assert.ok(err instanceof ConnectError, `expected a ConnectError, got ${String(err)}`);
  assert.equal(Code[err.code], Code[code]);
  assert.ok(err.rawMessage.includes(messagePart), err.rawMessage);
}

describe("Session over gRPC", TIMEOUT, () => {
  let t: TestServer;
  let fake: FakeProvisioner;
  let client: ProvisionerClient;

  before(async () => {
    fake = new FakeProvisioner();
    t = await startServer(fake);
    client = connectProvisioner(t.server.address);
  });
  after(async () => {
    client.close();
    await t.stop();
  });
  const reset = () => {
    fake.behaviour = { parse: returns(), plan: returns(), apply: returns() };
  };

  test("GIVEN a template archive WHEN Parse, Plan, Apply run THEN handlers see the files and Completes arrive", async () => {
    reset();
    fake.behaviour.parse = async (call) => ({
      templateVariables: [{ name: (await readdir(call.session.workDirectory)).sort().join(",") }],
    });
    fake.behaviour.apply = returns({ state: new Uint8Array([7, 7]) });
    const session = await client.openSession({
      templateSourceArchive: templateWithReadme,
      state: new Uint8Array([1]),
    });

    const parsed = await session.parse();
    const planned = await session.plan({ metadata: { workspaceName: "dev" } });
    const applied = await session.apply({});
    await session.close();

    assert.equal(parsed.templateVariables[0]?.name, "README.md,main.tf,modules");
    assert.equal(new TextDecoder().decode(parsed.readme), "# Demo template\n");
    assert.equal(planned.error, "");
    assert.deepEqual([...applied.state], [7, 7]);
    const seen = fake.calls.at(-2);
    assert.ok(seen);
    assert.equal((seen.request as { metadata?: { workspaceName: string } }).metadata?.workspaceName, "dev");
    assert.deepEqual([...(seen?.session.config.state ?? [])], [1], "handlers see the previous state");
    assert.equal(
      seen?.session.config.templateSourceArchive.length,
      0,
      "the archive is dropped once extracted",
    );
  });

  test("GIVEN a session WHEN it ends THEN its private directory (0700) is removed", async () => {
    reset();
    let mode = 0;
    fake.behaviour.parse = async (call) => {
      mode = (await stat(call.session.workDirectory)).mode & 0o777;
      return {};
    };
    const session = await client.openSession({ templateSourceArchive: templateWithReadme });
    await session.parse();
    const dir = fake.calls.at(-1)?.session.workDirectory ?? "";
    await session.close();

    assert.equal(mode, 0o700);
    await assert.rejects(stat(dir), { code: "ENOENT" });
    assert.deepEqual(await t.sessionDirs(), []);
  });

  for (const files of [5, 300]) {
    test(`GIVEN a handler that wrote ${files} files and a symlink out of the session THEN the directory is removed and the link's target is not`, async () => {
      reset();
      const outside = await mkdtemp(join(tmpdir(), "prewarm-outside-"));
      await writeFile(join(outside, "keep.txt"), "keep");
      try {
        fake.behaviour.plan = async (call) => {
          const dir = call.session.workDirectory;
          await mkdir(join(dir, "work/nested"), { recursive: true });
          for (let i = 0; i < files; i++) await writeFile(join(dir, `work/nested/f${i}`), "x");
          await symlink(outside, join(dir, "work/link-out"));
          return {};
        };
        const session = await client.openSession({ templateSourceArchive: templateWithReadme });
        await session.plan({});
        const dir = fake.calls.at(-1)?.session.workDirectory ?? "";
        await session.close();
        await assert.rejects(stat(dir), { code: "ENOENT" });
        assert.equal(await readFile(join(outside, "keep.txt"), "utf8"), "keep");
      } finally {
        await rm(outside, { recursive: true, force: true });
      }
    });
  }

  test("GIVEN a Parse handler that returns an error THEN README.md is still returned", async () => {
    reset();
    fake.behaviour.parse = returns({ error: "bad template" });
    const session = await client.openSession({ templateSourceArchive: templateWithReadme });
    const parsed = await session.parse();
    await session.close();
    assert.equal(parsed.error, "bad template");
    assert.equal(new TextDecoder().decode(parsed.readme), "# Demo template\n");
  });

  test("GIVEN no README.md in the archive THEN ParseComplete.readme is empty", async () => {
    reset();
    const session = await client.openSession({
      templateSourceArchive: createTar([{ path: "main.tf", data: "" }]),
    });
    const parsed = await session.parse();
    await session.close();
    assert.equal(parsed.readme.length, 0);
  });

  test("GIVEN an empty archive THEN the session works in an empty directory", async () => {
    reset();
    fake.behaviour.parse = async (call) => ({ error: (await readdir(call.session.workDirectory)).join(",") });
    const session = await client.openSession({});
    const parsed = await session.parse();
    await session.close();
    assert.equal(parsed.error, "");
  });

  const applyOrdering = [
    { name: "no Plan at all", plans: [] as string[], allowed: false },
    { name: "only a failed Plan", plans: ["plan failed"], allowed: false },
    { name: "a successful Plan", plans: [""], allowed: true },
    {
      name: "a successful Plan, then a failed one (as Coder: planned stays set)",
      plans: ["", "x"],
      allowed: true,
    },
  ];
  for (const c of applyOrdering) {
    test(`GIVEN ${c.name} WHEN Apply is sent THEN it is ${c.allowed ? "run" : "a protocol error"}`, async () => {
      reset();
      const errors = [...c.plans];
      fake.behaviour.plan = async () => ({ error: errors.shift() ?? "" });
      const session = await client.openSession({});
      for (const _ of c.plans) await session.plan({});
      if (c.allowed) {
        assert.equal((await session.apply({})).error, "");
        await session.close();
      } else {
        await assertProtocolError(
          session.apply({}),
          Code.FailedPrecondition,
          "cannot apply before successful plan",
        );
        await session.close();
      }
    });
  }

  test("GIVEN a first request that is not Config THEN the stream ends with InvalidArgument", async () => {
    const raw = rawSession(t.server.address);
    raw.send({ type: { case: "parse", value: {} } });
    const { responses, error } = await raw.drain();
    raw.close();
    assert.equal(responses.length, 0);
    assertConnectError(error, Code.InvalidArgument, "first request must be Config");
  });

  test("GIVEN a configured session WHEN a second Config arrives THEN FailedPrecondition", async () => {
    reset();
    const raw = rawSession(t.server.address);
    raw.send({ type: { case: "config", value: {} } });
    raw.send({ type: { case: "config", value: {} } });
    const { error } = await raw.drain();
    raw.close();
    assertConnectError(error, Code.FailedPrecondition, "Config may only be sent once");
    assert.deepEqual(await t.sessionDirs(), []);
  });

  test("GIVEN a request without a type THEN InvalidArgument", async () => {
    const raw = rawSession(t.server.address);
    raw.send({ type: { case: "config", value: {} } });
    raw.send({});
    const { error } = await raw.drain();
    raw.close();
    assertConnectError(error, Code.InvalidArgument, "request has no type set");
  });

  test("GIVEN a running Plan WHEN another request arrives THEN the handler is aborted, awaited, and the stream fails", async () => {
    reset();
    fake.behaviour.plan = waitsForCancel;
    const raw = rawSession(t.server.address);
    const started = fake.nextCall();
    raw.send({ type: { case: "config", value: { templateSourceArchive: templateWithReadme } } });
    raw.send({ type: { case: "plan", value: {} } });
    const call = await started;
    raw.send({ type: { case: "parse", value: {} } });
    const { responses, error } = await raw.drain();
    raw.close();

    assertConnectError(error, Code.FailedPrecondition, "got parse request while plan is still running");
    assert.ok(call.signal.aborted, "the running handler was aborted");
    assert.deepEqual(
      responses.map((r) => r.type.case),
      ["log"],
      "no Complete for the aborted request",
    );
    assert.deepEqual(await t.sessionDirs(), []);
  });

  test("GIVEN a running request WHEN the client calls again THEN it is refused client-side", async () => {
    reset();
    fake.behaviour.plan = waitsForCancel;
    const session = await client.openSession({});
    const started = fake.nextCall();
    const plan = session.plan({});
    await started;
    await assert.rejects(session.parse(), SessionUsageError);
    session.cancel();
    assert.equal((await plan).error, "canceled");
    await session.close();
  });

  test("GIVEN a Plan that waits WHEN Cancel arrives THEN the handler's signal aborts and its Complete is still sent", async () => {
    reset();
    fake.behaviour.plan = waitsForCancel;
    const logs: string[] = [];
    const session = await client.openSession({}, { onLog: (l) => logs.push(l.output) });
    const started = fake.nextCall();
    const plan = session.plan({});
    const call = await started;
    assert.equal(call.signal.aborted, false);
    session.cancel();
    const complete = await plan;

    assert.equal(complete.error, "canceled");
    assert.ok(call.signal.aborted);
    assert.deepEqual(logs, ["waiting"], "logs arrive before the Complete");
    // The session is usable afterwards.
    fake.behaviour.plan = returns();
    assert.equal((await session.plan({})).error, "");
    await session.close();
  });

  test("GIVEN an idle session WHEN Cancel arrives THEN it is ignored", async () => {
    reset();
    const session = await client.openSession({});
    session.cancel();
    await session.parse();
    session.cancel();
    session.cancel();
    const parsed = await session.parse();
    await session.close();
    assert.equal(parsed.error, "");
    assert.equal(
      fake.calls.slice(-2).every((c) => !c.signal.aborted),
      true,
    );
  });

  test("GIVEN a running Apply WHEN the client tears the stream down THEN the handler is aborted and the directory removed", async () => {
    reset();
    fake.behaviour.apply = waitsForCancel;
    const session = await client.openSession({ templateSourceArchive: templateWithReadme });
    await session.plan({});
    const started = fake.nextCall();
    const apply = session.apply({});
    const call = await started;
    const dir = call.session.workDirectory;
    assert.ok((await stat(dir)).isDirectory());

    session.abort();
    await assertProtocolError(apply, Code.Canceled, "aborted by the client");
    await call.finished;
    await t.server.whenIdle();

    assert.ok(call.signal.aborted);
    await assert.rejects(stat(dir), { code: "ENOENT" });
    assert.deepEqual(await t.sessionDirs(), []);
  });

  test("GIVEN a caller's AbortSignal WHEN it aborts mid-request THEN the session is torn down and cleaned up", async () => {
    reset();
    fake.behaviour.parse = waitsForCancel;
    const caller = new AbortController();
    const session = await client.openSession({}, { signal: caller.signal });
    const started = fake.nextCall();
    const parse = session.parse();
    const call = await started;
    caller.abort();
    await assertProtocolError(parse, Code.Canceled, "aborted by the client");
    await call.finished;
    await t.server.whenIdle();
    assert.ok(call.signal.aborted);
    assert.deepEqual(await t.sessionDirs(), []);
  });

  test("GIVEN nothing listening at the address THEN the first call fails with Unavailable", async () => {
    const nowhere = connectProvisioner("127.0.0.1:1");
    try {
      const session = await nowhere.openSession({});
      await assertProtocolError(session.parse(), Code.Unavailable, "ECONNREFUSED");
    } finally {
      nowhere.close();
    }
  });

  test("GIVEN a running request WHEN the whole connection drops THEN the handler is aborted and cleaned up", async () => {
    reset();
    fake.behaviour.parse = waitsForCancel;
    const other = connectProvisioner(t.server.address);
    const session = await other.openSession({ templateSourceArchive: templateWithReadme });
    const started = fake.nextCall();
    const parse = session.parse();
    const call = await started;
    other.close();
    await assert.rejects(parse, ProvisionerProtocolError);
    await t.server.whenIdle();
    assert.ok(call.signal.aborted);
    assert.deepEqual(await t.sessionDirs(), []);
  });

  test("GIVEN a running request WHEN the client half-closes THEN the Complete is still delivered and the stream ends OK", async () => {
    reset();
    let release!: () => void;
    const released = new Promise<void>((r) => {
      release = r;
    });
    fake.behaviour.parse = async () => {
      await released;
      return { error: "" };
    };
    const raw = rawSession(t.server.address);
    const started = fake.nextCall();
    raw.send({ type: { case: "config", value: {} } });
    raw.send({ type: { case: "parse", value: {} } });
    const call = await started;
    raw.end();
    release();
    const { responses, error } = await raw.drain();
    raw.close();
    assert.equal(error, undefined);
    assert.deepEqual(
      responses.map((r) => r.type.case),
      ["parse"],
    );
    assert.equal(call.signal.aborted, false);
  });

  test("GIVEN a handler that throws THEN the stream ends with Internal carrying the message", async () => {
    reset();
    fake.behaviour.plan = throws("disk on fire");
    const session = await client.openSession({});
    await assertProtocolError(session.plan({}), Code.Internal, "plan handler failed: disk on fire");
    // Later calls get the same error; close() does not report it twice.
    await assertProtocolError(session.parse(), Code.Internal, "disk on fire");
    await session.close();
    assert.deepEqual(await t.sessionDirs(), []);
  });

  test("GIVEN a rejected archive THEN the stream ends with InvalidArgument naming the entry", async () => {
    const session = await client.openSession({
      templateSourceArchive: createTar([
        { path: "ok.tf", data: "" },
        { path: "evil", type: "symlink", linkpath: "/etc/passwd" },
      ]),
    });
    await assertProtocolError(
      session.parse(),
      Code.InvalidArgument,
      /extract archive: entry "evil": symbolic links/,
    );
    await session.close();
    assert.deepEqual(await t.sessionDirs(), []);
  });

  test("GIVEN an archive error and no call THEN close() reports it", async () => {
    const session = await client.openSession({
      templateSourceArchive: new TextEncoder().encode("not a tar"),
    });
    await assertProtocolError(session.close(), Code.InvalidArgument, "not a tar archive");
  });

  test("GIVEN a closed session WHEN a call is made THEN it is refused", async () => {
    reset();
    const session = await client.openSession({});
    await session.close();
    await assert.rejects(session.parse(), SessionUsageError);
  });
});

describe("log level filtering", TIMEOUT, () => {
  let t: TestServer;
  let client: ProvisionerClient;
  before(async () => {
    t = await startServer();
    t.fake.behaviour.parse = async (call) => {
      for (const level of [LogLevel.TRACE, LogLevel.DEBUG, LogLevel.INFO, LogLevel.WARN, LogLevel.ERROR]) {
        call.session.log(level, LogLevel[level]);
      }
      return {};
    };
    client = connectProvisioner(t.server.address);
  });
  after(async () => {
    client.close();
    await t.stop();
  });

  const cases = [
    { level: "", expected: ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"] },
    { level: "trace", expected: ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"] },
    { level: "Info", expected: ["INFO", "WARN", "ERROR"] },
    { level: "warn", expected: ["WARN", "ERROR"] },
    { level: "ERROR", expected: ["ERROR"] },
  ];
  for (const c of cases) {
    test(`GIVEN provisioner_log_level "${c.level}" THEN logs ${c.expected.join(",")} arrive`, async () => {
      const logs: string[] = [];
      const session = await client.openSession(
        { provisionerLogLevel: c.level },
        { onLog: (l) => logs.push(LogLevel[l.level]) },
      );
      await session.parse();
      await session.close();
      assert.deepEqual(logs, c.expected);
    });
  }

  test("GIVEN an unknown log level THEN the stream ends with InvalidArgument saying so", async () => {
    const session = await client.openSession({ provisionerLogLevel: "verbose" });
    await assertProtocolError(
      session.parse(),
      Code.InvalidArgument,
      'unknown provisioner_log_level "verbose"',
    );
    await session.close();
  });
});

describe("limits configured on serve()", TIMEOUT, () => {
  test("GIVEN maxEntries 2 WHEN an archive has 3 entries THEN the third is named", async () => {
    const t = await startServer(new FakeProvisioner(), { limits: { maxEntries: 2 } });
    const client = connectProvisioner(t.server.address);
    try {
      const session = await client.openSession({
        templateSourceArchive: createTar([
          { path: "a", data: "" },
          { path: "b", data: "" },
          { path: "c", data: "" },
        ]),
      });
      await assertProtocolError(
        session.parse(),
        Code.InvalidArgument,
        /entry "c": archive has more than 2 entries/,
      );
      await session.close();
    } finally {
      client.close();
      await t.stop();
    }
  });
});

describe("many sessions", TIMEOUT, () => {
  test("GIVEN one server WHEN 50 sessions run Parse at once THEN all are running together and all complete", async () => {
    const count = 50;
    const t = await startServer();
    const client = connectProvisioner(t.server.address);
    let running = 0;
    const allRunning = once(t.fake.events, "all-running");
    let peak = 0;
    t.fake.behaviour.parse = async (call) => {
      running++;
      peak = Math.max(peak, running);
      if (running === count) t.fake.events.emit("all-running");
      await allRunning; // a barrier: only passes when every session's handler is in flight
      running--;
      return { error: (await readFile(join(call.session.workDirectory, "id.txt"), "utf8")).trim() };
    };
    try {
      const results = await Promise.all(
        Array.from({ length: count }, async (_, i) => {
          const session = await client.openSession({
            templateSourceArchive: createTar([{ path: "id.txt", data: `session ${i}` }]),
          });
          const parsed = await session.parse();
          await session.close();
          return parsed.error;
        }),
      );
      assert.equal(peak, count);
      assert.deepEqual(
        results,
        Array.from({ length: count }, (_, i) => `session ${i}`),
        "each session saw its own archive",
      );
      assert.deepEqual(await t.sessionDirs(), []);
    } finally {
      client.close();
      await t.stop();
    }
  });
});
