// Fixtures for the provisioner SDK tests: a scriptable fake provisioner, a server on loopback with a private
// work directory, and a raw gRPC stream for sending what our own client refuses to send.
//
// How the fake differs from real provisioners: it does no work of its own. Each handler runs the behaviour the
// test scripted (return at once, log, wait for a release or for cancellation, throw) and records what it saw
// (the session, the request, whether its signal was aborted). Real provisioners (echo, terraform) read the
// extracted template and run processes; the Session rules under test live in serve(), not in handlers.
import { EventEmitter, once } from "node:events";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  type ApplyComplete,
  ApplyCompleteSchema,
  type ApplyRequest,
  LogLevel,
  type ParseComplete,
  ParseCompleteSchema,
  type ParseRequest,
  type PlanComplete,
  PlanCompleteSchema,
  type PlanRequest,
  Provisioner as ProvisionerService,
  type Request,
  RequestSchema,
  type Response,
} from "../../src/gen/provisioner/provisioner_pb.js";
import { AsyncQueue } from "../../src/provisionersdk/async-queue.js";
import { ConnectionManager } from "../../src/provisionersdk/connection.js";
import {
  type Provisioner,
  type ProvisionerServer,
  type ServeOptions,
  type Session,
  serve,
} from "../../src/provisionersdk/index.js";

export type Operation = "parse" | "plan" | "apply";
type Complete = ParseComplete | PlanComplete | ApplyComplete;

export interface Call {
  operation: Operation;
  session: Session;
  request: ParseRequest | PlanRequest | ApplyRequest;
  signal: AbortSignal;
  /** Settles when the handler has returned (or thrown). */
  finished: Promise<void>;
}

/** What a handler does; `call` is the recorded call. Return a Complete init (error etc.). */
export type Behaviour = (call: Call) => Promise<{ error?: string; [k: string]: unknown }>;

/** Returns at once with the given fields. */
export const returns =
  (fields: { error?: string; [k: string]: unknown } = {}): Behaviour =>
  async () =>
    fields;

/** Logs "waiting", then waits until its signal aborts, then completes with error "canceled". */
export const waitsForCancel: Behaviour = async (call) => {
  call.session.log(LogLevel.INFO, "waiting");
  if (!call.signal.aborted) await once(call.signal, "abort");
  return { error: "canceled" };
};

/** Throws the given message. */
export const throws =
  (message: string): Behaviour =>
  async () => {
    throw new Error(message);
  };

const SCHEMAS = { parse: ParseCompleteSchema, plan: PlanCompleteSchema, apply: ApplyCompleteSchema } as const;

export class FakeProvisioner implements Provisioner {
  readonly calls: Call[] = [];
  readonly events = new EventEmitter();
  behaviour: Record<Operation, Behaviour> = { parse: returns(), plan: returns(), apply: returns() };

  /** Resolves with the next call that starts (register before triggering it). */
  nextCall(): Promise<Call> {
    return once(this.events, "call").then(([call]) => call as Call);
  }

  private async run(operation: Operation, session: Session, request: Call["request"], signal: AbortSignal) {
    let settle!: () => void;
    const finished = new Promise<void>((r) => {
      settle = r;
    });
    const call: Call = { operation, session, request, signal, finished };
    this.calls.push(call);
    this.events.emit("call", call);
    try {
      // biome-ignore lint/suspicious/noExplicitAny: the schema matches `operation`
      return create(SCHEMAS[operation] as any, await this.behaviour[operation](call)) as Complete;
    } finally {
      settle();
    }
  }

  parse(session: Session, request: ParseRequest, signal: AbortSignal): Promise<ParseComplete> {
    return this.run("parse", session, request, signal) as Promise<ParseComplete>;
  }
  plan(session: Session, request: PlanRequest, signal: AbortSignal): Promise<PlanComplete> {
    return this.run("plan", session, request, signal) as Promise<PlanComplete>;
  }
  apply(session: Session, request: ApplyRequest, signal: AbortSignal): Promise<ApplyComplete> {
    return this.run("apply", session, request, signal) as Promise<ApplyComplete>;
  }
}

export interface TestServer {
  server: ProvisionerServer;
  fake: FakeProvisioner;
  workDirectory: string;
  /** Names inside the work directory (session directories that still exist). */
  sessionDirs(): Promise<string[]>;
  stop(): Promise<void>;
}

/** A server for `fake` on 127.0.0.1 with its own work directory (removed by stop()). */
export async function startServer(
  fake = new FakeProvisioner(),
  options: Partial<ServeOptions> = {},
): Promise<TestServer> {
  const root = await mkdtemp(join(tmpdir(), "prewarm-sdk-test-"));
  const workDirectory = join(root, "work");
  const server = await serve(fake, { listen: "127.0.0.1:0", workDirectory, ...options });
  return {
    server,
    fake,
    workDirectory,
    sessionDirs: () => readdir(workDirectory),
    async stop() {
      await server.close({ deadlineMs: 5_000 });
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** A bare bidirectional Session stream, bypassing our client's checks. */
export interface RawSession {
  send(request: MessageInitShape<typeof RequestSchema>): void;
  /** Half-close. */
  end(): void;
  /** All responses until the stream ends; rejects with the ConnectError that ended it. */
  responses: AsyncIterator<Response>;
  /** Collects the remaining responses; resolves with them and the error (if any) that ended the stream. */
  drain(): Promise<{ responses: Response[]; error: unknown }>;
  close(): void;
}

export function rawSession(address: string): RawSession {
  const baseUrl = `http://${address}`;
  const sessionManager = new ConnectionManager(baseUrl, {});
  const client = createClient(ProvisionerService, createGrpcTransport({ baseUrl, sessionManager }));
  const requests = new AsyncQueue<Request>();
  const responses = client.session(requests)[Symbol.asyncIterator]();
  return {
    send: (r) => requests.push(create(RequestSchema, r)),
    end: () => requests.end(),
    responses,
    async drain() {
      const out: Response[] = [];
      try {
        for (let r = await responses.next(); !r.done; r = await responses.next()) out.push(r.value);
        return { responses: out, error: undefined };
      } catch (error) {
        return { responses: out, error };
      }
    },
    close: () => sessionManager.close(),
  };
}
