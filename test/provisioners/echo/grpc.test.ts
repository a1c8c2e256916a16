// Echo rules through a real gRPC server and the SDK client: what a provisioner daemon sees.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type Log, LogLevel, WorkspaceTransition } from "../../../src/gen/provisioner/provisioner_pb.js";
import {
  applyWithAgent,
  buildEchoArchive,
  type EchoResponses,
  echoLog,
  echoProvisioner,
  planComplete,
} from "../../../src/provisioners/echo/index.js";
import {
  connectProvisioner,
  type ProvisionerClient,
  type ProvisionerServer,
  serve,
} from "../../../src/provisionersdk/index.js";

let server: ProvisionerServer;
let client: ProvisionerClient;
before(async () => {
  server = await serve(echoProvisioner, { listen: "127.0.0.1:0" });
  client = connectProvisioner(server.address);
});
after(async () => {
  client.close();
  await server.close({ deadlineMs: 1_000 });
});

/** Opens a session on an archive built from `responses`; logs collect into `logs`, `nextLog` waits for one. */
async function openEcho(responses: EchoResponses) {
  const logs: Log[] = [];
  let waiting: ((log: Log) => void) | undefined;
  const session = await client.openSession(
    { templateSourceArchive: buildEchoArchive(responses) },
    {
      onLog: (log) => {
        logs.push(log);
        waiting?.(log);
        waiting = undefined;
      },
    },
  );
  const nextLog = () =>
    new Promise<Log>((resolve) => {
      waiting = resolve;
    });
  return { session, logs, nextLog };
}

describe("echo over gRPC", () => {
  test("GIVEN an archive with a README, logs and an agent WHEN Parse → Plan → Apply THEN the daemon sees it all", async () => {
    const { session, logs } = await openEcho({
      readme: "# demo readme",
      apply: [echoLog("creating", LogLevel.INFO), ...applyWithAgent("agent-token")],
    });
    const parse = await session.parse();
    const plan = await session.plan({ metadata: { workspaceTransition: WorkspaceTransition.START } });
    const apply = await session.apply({ metadata: { workspaceTransition: WorkspaceTransition.START } });
    await session.close();
    assert.equal(new TextDecoder().decode(parse.readme), "# demo readme");
    assert.equal(plan.error, "");
    assert.equal(apply.resources[0]?.agents[0]?.auth.value, "agent-token");
    assert.deepEqual(
      logs.map((l) => l.output),
      ["creating", "creating"],
      "the derived plan repeats the apply log, then apply logs it",
    );
  });

  test('GIVEN Plan files without a Complete WHEN Cancel arrives while Plan waits THEN Plan completes with "canceled" and the session goes on', async () => {
    const { session, nextLog } = await openEcho({
      plan: [echoLog("waiting for cancel")],
      parse: [{ type: { case: "parse", value: {} } }],
    });
    const sawLog = nextLog();
    const plan = session.plan({});
    assert.equal((await sawLog).output, "waiting for cancel");
    session.cancel();
    assert.equal((await plan).error, "canceled");
    assert.equal((await session.parse()).error, "", "the session still serves requests");
    await session.close();
  });

  test('GIVEN Apply files without a Complete WHEN Cancel arrives THEN Apply completes with "canceled"', async () => {
    const { session, nextLog } = await openEcho({ plan: planComplete(), apply: [echoLog("applying")] });
    assert.equal((await session.plan({})).error, "");
    const sawLog = nextLog();
    const apply = session.apply({});
    await sawLog;
    session.cancel();
    assert.equal((await apply).error, "canceled");
    await session.close();
  });

  test('GIVEN an archive without response files WHEN each request runs THEN each Complete says "no state"', async () => {
    const { session } = await openEcho({ parse: [], plan: [], apply: [] });
    assert.match((await session.parse()).error, /^no state/);
    assert.match((await session.plan({})).error, /^no state/);
    await session.close();
  });

  test("GIVEN stop-only apply responses WHEN planning a STOP build THEN the plan derived from them answers", async () => {
    const { session } = await openEcho({
      applyByTransition: {
        stop: [echoLog("stopping"), { type: { case: "apply", value: { error: "stop failed" } } }],
      },
    });
    const stop = { metadata: { workspaceTransition: WorkspaceTransition.STOP } };
    assert.equal((await session.plan(stop)).error, "stop failed");
    await session.close();
  });
});
