// Provisioner Session round trips over loopback gRPC, against a floor measured in the same run.
//
//   node --import tsx bench/session-roundtrip.ts [--seconds S] [--concurrency C] [--work-dir DIR]
//
// Real run: the echo provisioner served by serve(), driven by the SDK client: Config (an echo template
// archive) → Parse → Plan → Apply → close, C sessions at a time. Echo is an in-memory provisioner: the SDK
// checks the archive and hands echo its files, with no directory. A stub provisioner (fixed Completes, same
// archive) is measured too: it takes the default path — a private session directory, the archive extracted
// into it, the directory removed — so it shows what the disk costs per session.
//
// Floor: the same HTTP/2 + connect-node gRPC stack and the same service path, served by a minimal raw handler
// that answers each request with the very Response messages the real run produced (same count and sizes),
// with no extraction, no directories and no Session rules; the client is a bare bidirectional stream.
// The ratio real/floor is what to watch; absolute rates depend on the machine — and, for the stub, on the
// file system under the session directories (a mkdir, one write per archive file and the removal per
// session): compare with --work-dir on a tmpfs such as /dev/shm.

import { rm } from "node:fs/promises";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { create, toBinary } from "@bufbuild/protobuf";
import { type ConnectRouter, createClient } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport } from "@connectrpc/connect-node";
import {
  ApplyCompleteSchema,
  type Log,
  ParseCompleteSchema,
  PlanCompleteSchema,
  Provisioner as ProvisionerService,
  type Request,
  RequestSchema,
  type Response,
  ResponseSchema,
} from "../src/gen/provisioner/provisioner_pb.js";
import {
  applyComplete,
  buildEchoArchive,
  echoLog,
  echoProvisioner,
  parseComplete,
  planComplete,
} from "../src/provisioners/echo/index.js";
import { AsyncQueue } from "../src/provisionersdk/async-queue.js";
import { ConnectionManager } from "../src/provisionersdk/connection.js";
import {
  connectProvisioner,
  type Provisioner,
  type ProvisionerClient,
  serve,
} from "../src/provisionersdk/index.js";
import { record } from "./results.js";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "10" },
    concurrency: { type: "string", default: "8" },
    "work-dir": { type: "string" },
  },
});
/** Session directories go under --work-dir (e.g. a tmpfs) or, by default, a fresh dir in os.tmpdir(). */
const workDirectory = (name: string) =>
  values["work-dir"]
    ? { workDirectory: join(values["work-dir"], `prewarm-bench-${name}-${process.pid}`) }
    : {};
const TOTAL_SECONDS = Number(values.seconds);
const CONCURRENCY = Number(values.concurrency);
// Measured in alternating rounds so drift (CPU frequency, other load) hits both sides alike.
const ROUNDS = 2;
const WARMUP_MS = Math.min(1000, (TOTAL_SECONDS * 1000) / 10);
const ROUND_MS = (TOTAL_SECONDS * 1000 - 2 * WARMUP_MS) / (3 * ROUNDS);

const archive = buildEchoArchive({
  readme: "# bench template\n",
  parse: parseComplete(),
  plan: [echoLog("planning"), ...planComplete()],
  apply: [echoLog("applying"), ...applyComplete()],
});
const config = { templateSourceArchive: archive, provisionerLogLevel: "" };
const planRequest = { metadata: { workspaceName: "bench", workspaceOwner: "bench" } };

// --- real: serve(echo) + SDK client -------------------------------------------------------------------------
const server = await serve(echoProvisioner, { listen: "127.0.0.1:0", ...workDirectory("echo") });
const client = connectProvisioner(server.address);

// A stub provisioner returning fixed Completes (no file reads of its own): isolates the SDK's share —
// session directory, extraction, Session rules, client — from echo's reads of its response files.
const stub: Provisioner = {
  parse: async () => create(ParseCompleteSchema, {}),
  plan: async () => create(PlanCompleteSchema, {}),
  apply: async () => create(ApplyCompleteSchema, {}),
};
const stubServer = await serve(stub, { listen: "127.0.0.1:0", ...workDirectory("stub") });
const stubClient = connectProvisioner(stubServer.address);

/** Responses of one real session, by request kind, recorded for the floor to replay. */
const recorded: Record<"parse" | "plan" | "apply", Response[]> = { parse: [], plan: [], apply: [] };

async function realSession(record = false, via: ProvisionerClient = client): Promise<void> {
  let current: "parse" | "plan" | "apply" = "parse";
  const onLog = record
    ? (log: Log) => recorded[current].push(create(ResponseSchema, { type: { case: "log", value: log } }))
    : undefined;
  const session = await via.openSession(config, onLog ? { onLog } : {});
  const parsed = await session.parse();
  current = "plan";
  const planned = await session.plan(planRequest);
  current = "apply";
  const applied = await session.apply(planRequest);
  await session.close();
  if (parsed.error || planned.error || applied.error) {
    throw new Error(`bench: echo failed: ${parsed.error || planned.error || applied.error}`);
  }
  if (record) {
    recorded.parse.push(create(ResponseSchema, { type: { case: "parse", value: parsed } }));
    recorded.plan.push(create(ResponseSchema, { type: { case: "plan", value: planned } }));
    recorded.apply.push(create(ResponseSchema, { type: { case: "apply", value: applied } }));
  }
}
await realSession(true);

// --- floor: raw handler on the same path, bare stream client -----------------------------------------------
async function* rawSession(requests: AsyncIterable<Request>): AsyncIterable<Response> {
  for await (const request of requests) {
    const kind = request.type.case;
    if (kind === "parse" || kind === "plan" || kind === "apply") yield* recorded[kind];
  }
}
const floorServer = http2.createServer(
  connectNodeAdapter({
    routes: (router: ConnectRouter) => router.service(ProvisionerService, { session: rawSession }),
    grpc: true,
    grpcWeb: false,
    connect: false,
  }),
);
await new Promise<void>((resolve) => floorServer.listen(0, "127.0.0.1", resolve));
const floorUrl = `http://127.0.0.1:${(floorServer.address() as AddressInfo).port}`;
const floorConnection = new ConnectionManager(floorUrl, {});
const floorClient = createClient(
  ProvisionerService,
  createGrpcTransport({ baseUrl: floorUrl, sessionManager: floorConnection }),
);
const floorRequests = [
  create(RequestSchema, { type: { case: "config", value: config } }),
  create(RequestSchema, { type: { case: "parse", value: {} } }),
  create(RequestSchema, { type: { case: "plan", value: planRequest } }),
  create(RequestSchema, { type: { case: "apply", value: planRequest } }),
];
const expectedPerRequest = [0, recorded.parse.length, recorded.plan.length, recorded.apply.length];

async function floorSession(): Promise<void> {
  const requests = new AsyncQueue<Request>();
  const responses = floorClient.session(requests)[Symbol.asyncIterator]();
  for (const [i, request] of floorRequests.entries()) {
    requests.push(request);
    for (let n = 0; n < (expectedPerRequest[i] ?? 0); n++) {
      const r = await responses.next();
      if (r.done) throw new Error("bench: floor stream ended early");
    }
  }
  requests.end();
  for (let r = await responses.next(); !r.done; r = await responses.next()) {
    // drain to the end of the stream, as the real client does on close()
  }
}

// --- measurement ------------------------------------------------------------------------------------------
interface Tally {
  sessions: number;
  seconds: number;
  /** CPU of this process (client and server both live here), microseconds. */
  cpuMicros: number;
}

async function measure(run: () => Promise<void>, ms: number): Promise<Tally> {
  let sessions = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  const deadline = start + ms;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < deadline) {
        await run();
        sessions++;
      }
    }),
  );
  const used = process.cpuUsage(cpu);
  return { sessions, seconds: (performance.now() - start) / 1000, cpuMicros: used.user + used.system };
}

const contenders = {
  floor: floorSession,
  echo: () => realSession(),
  stub: () => realSession(false, stubClient),
} as const;
for (const run of Object.values(contenders)) await measure(run, WARMUP_MS / 1.5);
const totals = Object.fromEntries(
  Object.keys(contenders).map((k) => [k, { sessions: 0, seconds: 0, cpuMicros: 0 }]),
) as Record<keyof typeof contenders, Tally>;
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, run] of Object.entries(contenders) as Array<
    [keyof typeof contenders, () => Promise<void>]
  >) {
    const r = await measure(run, ROUND_MS);
    totals[name].sessions += r.sessions;
    totals[name].seconds += r.seconds;
    totals[name].cpuMicros += r.cpuMicros;
  }
}

const bytes = (list: Response[]) => list.reduce((n, r) => n + toBinary(ResponseSchema, r).length, 0);
const responses = [...recorded.parse, ...recorded.plan, ...recorded.apply];
const perSecond = (t: Tally) => t.sessions / t.seconds;
const cpuPerSession = (t: Tally) => t.cpuMicros / t.sessions;
const line = (label: string, t: Tally) =>
  `  ${label.padEnd(46)} ${perSecond(t).toFixed(0).padStart(6)} sessions/s   ${cpuPerSession(t).toFixed(0).padStart(6)} µs CPU/session`;
console.log("Session round trips (Config → Parse → Plan → Apply → close) over loopback gRPC");
console.log(
  `  session directories under ${values["work-dir"] ?? tmpdir()}; archive ${archive.length} B;` +
    ` ${responses.length} responses per session (${bytes(responses)} B); concurrency ${CONCURRENCY}`,
);
console.log(line("echo provisioner via serve() + SDK client", totals.echo));
console.log(line("stub provisioner via serve() + SDK client", totals.stub));
console.log(line("floor: raw handler, bare stream, same stack", totals.floor));
const ratio = (a: number, b: number) => (a / b).toFixed(2);
record({
  measure: `echo Session round trips, concurrency ${CONCURRENCY}`,
  value: perSecond(totals.echo),
  unit: "sessions/s",
  floor: perSecond(totals.floor),
  ratio: perSecond(totals.echo) / perSecond(totals.floor),
  goal: "≥ 0.5",
});
console.log(
  `  ratio echo/floor: ${ratio(perSecond(totals.echo), perSecond(totals.floor))} (aim ≥ 0.50);` +
    ` stub/floor: ${ratio(perSecond(totals.stub), perSecond(totals.floor))};` +
    ` CPU floor/echo: ${ratio(cpuPerSession(totals.floor), cpuPerSession(totals.echo))}`,
);

client.close();
stubClient.close();
await stubServer.close();
for (const name of ["echo", "stub"]) {
  const dir = workDirectory(name).workDirectory;
  if (dir) await rm(dir, { recursive: true, force: true });
}
floorConnection.close();
await server.close();
await new Promise<void>((resolve) => floorServer.close(() => resolve()));
