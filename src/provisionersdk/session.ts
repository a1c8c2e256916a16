// Runs one `Session` stream: performs the decisions of session-rules.ts, calls the provisioner's handlers, and
// owns the session directory (created 0700, always removed before the stream ends) — or, for an in-memory
// provisioner, hands the handlers the archive's files (checked the same way) without touching the disk.
//
// The run is independent of the response generator: it reacts to three sources at once — the next request,
// the running handler, and the two stop signals (client gone, server hard stop) — and writes responses into
// `output`. It never throws; a gRPC error is delivered by failing `output` after the cleanup.
import { randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  ApplyCompleteSchema,
  type Config,
  ConfigSchema,
  type LogLevel,
  ParseCompleteSchema,
  PlanCompleteSchema,
  type Request,
  type Response,
  ResponseSchema,
} from "../gen/provisioner/provisioner_pb.js";
import { ArchiveError, type ArchiveLimits, planExtraction, writeExtraction } from "./archive.js";
import type { AsyncQueue } from "./async-queue.js";
import { LogLevelError, parseLogLevel } from "./log-level.js";
import { removeTree } from "./remove-tree.js";
import { decide, type Operation, type RequestKind, type SessionFacts } from "./session-rules.js";
import type { AnyProvisioner, InMemorySession, Session } from "./types.js";

export type ServeLogLevel = "debug" | "info" | "warn" | "error";
export type ServeLogger = (level: ServeLogLevel, msg: string, fields?: Record<string, unknown>) => void;

export interface SessionRun {
  provisioner: AnyProvisioner;
  workDirectory: string;
  limits: ArchiveLimits;
  logger: ServeLogger;
  requests: AsyncIterable<Request>;
  /** Aborts when the client cancels the stream or the connection drops. */
  clientSignal: AbortSignal;
  /** Aborts when the server stops waiting for sessions during shutdown. */
  stopSignal: AbortSignal;
  output: AsyncQueue<Response>;
}

type Event =
  | { kind: "request"; request: Request }
  | { kind: "eof" }
  | { kind: "read-error"; error: unknown }
  | { kind: "client-gone" }
  | { kind: "stop" }
  | { kind: "done"; complete: Response["type"] }
  | { kind: "failed"; error: unknown };

/** Ends the stream with a gRPC error once the session has cleaned up. */
class StreamEnd extends Error {
  constructor(readonly error: ConnectError | undefined) {
    super(error?.message ?? "stream ended");
  }
}

/** An event that fires when `signal` aborts; `dispose` removes the listener (signals outlive sessions). */
function signalEvent(signal: AbortSignal, event: Event): { fired: Promise<Event>; dispose(): void } {
  if (signal.aborted) return { fired: Promise.resolve(event), dispose: () => {} };
  let listener!: () => void;
  const fired = new Promise<Event>((resolve) => {
    listener = () => resolve(event);
    signal.addEventListener("abort", listener, { once: true });
  });
  return { fired, dispose: () => signal.removeEventListener("abort", listener) };
}

function requestKind(request: Request): RequestKind {
  return request.type.case ?? "unset";
}

const COMPLETE_SCHEMAS = {
  parse: ParseCompleteSchema,
  plan: PlanCompleteSchema,
  apply: ApplyCompleteSchema,
} as const;

export async function runSession(run: SessionRun): Promise<void> {
  const id = randomUUID();
  const log = (level: ServeLogLevel, msg: string, fields: Record<string, unknown> = {}) =>
    run.logger(level, msg, { session: id, ...fields });
  const it = run.requests[Symbol.asyncIterator]();
  const read = (): Promise<Event> =>
    it.next().then(
      (r): Event => (r.done ? { kind: "eof" } : { kind: "request", request: r.value }),
      (error): Event => ({ kind: "read-error", error }),
    );
  const goneEvent = signalEvent(run.clientSignal, { kind: "client-gone" });
  const stopEvent = signalEvent(run.stopSignal, { kind: "stop" });
  const gone = goneEvent.fired;
  const stop = stopEvent.fired;
  const facts: SessionFacts = { phase: "awaiting-config", planned: false };
  let dir: string | undefined;
  let files: ReadonlyMap<string, Uint8Array> | undefined;
  let end: ConnectError | undefined;

  const fail = (code: Code, message: string): never => {
    throw new StreamEnd(new ConnectError(message, code));
  };
  const shuttingDown = () => fail(Code.Unavailable, "provisioner is shutting down");
  const quiet = (): never => {
    throw new StreamEnd(undefined);
  };
  /** A read error that is not the client leaving (e.g. an undecodable message) is reported back. */
  const readFailed = (error: unknown): never => {
    if (run.clientSignal.aborted) return quiet();
    const ce = ConnectError.from(error);
    return fail(
      ce.code === Code.Unknown ? Code.InvalidArgument : ce.code,
      `receive request: ${ce.rawMessage}`,
    );
  };

  try {
    // --- Config ------------------------------------------------------------------------------------------
    const first = await Promise.race([read(), gone, stop]);
    if (first.kind === "stop") shuttingDown();
    if (first.kind === "read-error") readFailed(first.error);
    if (first.kind !== "request") quiet();
    const firstRequest = (first as { request: Request }).request;
    const decision = decide(facts, requestKind(firstRequest));
    if (decision.kind === "violation") fail(decision.code, decision.message);
    const received = firstRequest.type.value as Config;
    let threshold: LogLevel;
    try {
      threshold = parseLogLevel(received.provisionerLogLevel);
    } catch (err) {
      if (err instanceof LogLevelError) fail(Code.InvalidArgument, err.message);
      throw err;
    }
    let readme: Uint8Array | undefined;
    try {
      const plan = planExtraction(received.templateSourceArchive, run.limits);
      readme = plan.files.find((f) => f.path === "README.md")?.data.slice(); // a copy: frees the archive
      if (run.provisioner.archive === "in-memory") {
        files = new Map(plan.files.map((f) => [f.path, f.data]));
      } else {
        // 0700 (a umask can only take bits away): other users cannot read the template or its secrets.
        dir = join(run.workDirectory, `session-${id}`);
        mkdirSync(dir, { mode: 0o700 }); // one cheap call; sync saves a thread-pool round trip per session
        await writeExtraction(plan, dir);
      }
    } catch (err) {
      if (err instanceof ArchiveError) {
        log("warn", "template archive rejected", { error: err.message });
        fail(Code.InvalidArgument, `extract archive: ${err.message}`);
      }
      throw err;
    }
    // Handlers see the Config without the archive; dropping it here also lets a big archive be collected
    // (in memory, the files still reference it: they are the archive).
    received.templateSourceArchive = new Uint8Array(0);
    const config = create(ConfigSchema, received);
    facts.phase = "idle";
    log("debug", "session configured", { dir });

    // --- Requests ----------------------------------------------------------------------------------------
    let pendingRead = read();
    let eof = false;
    const where = files !== undefined ? { files } : { workDirectory: dir as string };
    for (;;) {
      const ev = await Promise.race([pendingRead, gone, stop]);
      if (ev.kind === "eof") break; // client half-closed while idle: a clean end
      if (ev.kind === "client-gone") quiet();
      if (ev.kind === "stop") shuttingDown();
      if (ev.kind === "read-error") readFailed(ev.error);
      if (ev.kind !== "request") continue;
      pendingRead = read();
      const d = decide(facts, requestKind(ev.request));
      if (d.kind === "violation") fail(d.code, d.message);
      if (d.kind === "ignore") {
        log("debug", `ignoring request: ${d.reason}`);
        continue;
      }
      if (d.kind !== "run") continue;

      // Run one operation; keep reading so Cancel (or a protocol violation) is seen while it runs.
      const operation: Operation = d.operation;
      const controller = new AbortController();
      let active = true;
      const session: Session | InMemorySession = {
        id,
        ...where,
        config,
        log: (level, output) => {
          if (!active || level < threshold) return;
          run.output.push(create(ResponseSchema, { type: { case: "log", value: { level, output } } }));
        },
      };
      const value = ev.request.type.value;
      const done: Promise<Event> = Promise.resolve()
        .then(() =>
          // `session` has the shape `run.provisioner.archive` asked for, and `value` is `operation`'s request.
          (
            run.provisioner[operation] as (
              s: Session | InMemorySession,
              // biome-ignore lint/suspicious/noExplicitAny: the request type follows `operation`
              r: any,
              sig: AbortSignal,
            ) => Promise<unknown>
          )(session, value, controller.signal),
        )
        .then(
          (result): Event => {
            if (result === null || typeof result !== "object") {
              return {
                kind: "failed",
                error: new Error(`${operation} handler returned no ${operation} Complete`),
              };
            }
            // biome-ignore lint/suspicious/noExplicitAny: the schema is selected by `operation`
            const complete = create(COMPLETE_SCHEMAS[operation] as any, result as any);
            return { kind: "done", complete: { case: operation, value: complete } as Response["type"] };
          },
          (error): Event => ({ kind: "failed", error }),
        );
      facts.phase = "running";
      facts.running = operation;
      facts.cancelled = false;
      log("debug", `${operation} started`);

      const finishAfterAbort = async (reason: string): Promise<Event> => {
        controller.abort(new Error(reason));
        return done;
      };
      let outcome: Event | undefined;
      while (outcome === undefined) {
        const next = await Promise.race(eof ? [done, gone, stop] : [done, pendingRead, gone, stop]);
        switch (next.kind) {
          case "done":
          case "failed":
            outcome = next;
            break;
          case "eof":
            eof = true; // half-close: the client still wants this Complete; the stream ends after it
            break;
          case "request": {
            pendingRead = read();
            const rd = decide(facts, requestKind(next.request));
            if (rd.kind === "cancel-running") {
              facts.cancelled = true;
              log("debug", `${operation} cancelled by client`);
              controller.abort(new Error("canceled"));
            } else if (rd.kind === "violation") {
              await finishAfterAbort(rd.message);
              active = false;
              fail(rd.code, rd.message);
            } else if (rd.kind === "ignore") {
              log("debug", `ignoring request: ${rd.reason}`);
            }
            break;
          }
          case "read-error":
            await finishAfterAbort("receive failed");
            active = false;
            readFailed(next.error);
            break;
          case "client-gone":
            log("info", `client went away during ${operation}; handler aborted`);
            await finishAfterAbort("client went away");
            active = false;
            quiet();
            break;
          case "stop":
            outcome = await finishAfterAbort("provisioner is shutting down");
            if (outcome.kind === "done") run.output.push(create(ResponseSchema, { type: outcome.complete }));
            active = false;
            shuttingDown();
        }
      }
      active = false;
      facts.phase = "idle";
      facts.running = undefined;
      if (outcome.kind === "failed") {
        if (run.clientSignal.aborted) quiet();
        const message = outcome.error instanceof Error ? outcome.error.message : String(outcome.error);
        log("error", `${operation} handler threw`, { error: message });
        fail(Code.Internal, `${operation} handler failed: ${message}`);
      }
      if (outcome.kind !== "done") continue;
      const complete = outcome.complete;
      // The archive's README.md, whatever the handler returned (also with an error), as Coder does.
      if (complete.case === "parse" && readme !== undefined) complete.value.readme = readme;
      if (complete.case === "plan" && complete.value.error === "") facts.planned = true;
      log("debug", `${operation} complete`, {
        error: (complete.value as { error: string }).error || undefined,
      });
      run.output.push(create(ResponseSchema, { type: complete }));
      if (eof) break;
    }
  } catch (err) {
    if (err instanceof StreamEnd) end = err.error;
    else {
      const message = err instanceof Error ? err.message : String(err);
      log("error", "session failed", { error: message });
      end = new ConnectError(`session: ${message}`, Code.Internal);
    }
  } finally {
    goneEvent.dispose();
    stopEvent.dispose();
    if (dir !== undefined) {
      try {
        await removeTree(dir);
      } catch (err) {
        log("error", "could not remove session directory", { dir, error: (err as Error).message });
      }
    }
    log("debug", "session ended", end ? { code: Code[end.code], error: end.rawMessage } : {});
    if (end !== undefined) run.output.fail(end);
    else run.output.end();
  }
}
