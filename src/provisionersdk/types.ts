// The typed provisioner interface. A provisioner (echo, terraform, or anyone's) implements three handlers;
// `serve()` runs them inside the Session state machine of ARCHITECTURE §3, and the SDK client drives them.
import type {
  ApplyComplete,
  ApplyRequest,
  Config,
  LogLevel,
  ParseComplete,
  ParseRequest,
  PlanComplete,
  PlanRequest,
} from "../gen/provisioner/provisioner_pb.js";

interface SessionBase {
  /** Random id of this Session. */
  readonly id: string;
  /** The Session's Config; `templateSourceArchive` is emptied once read. `state` is the previous state. */
  readonly config: Config;
  /** Streams a `Log` response to the client (dropped when below `Config.provisioner_log_level`). */
  log(level: LogLevel, output: string): void;
}

/** What a handler sees of its Session: the template archive extracted into a private directory. */
export interface Session extends SessionBase {
  /** Private directory (0700) the template archive was extracted into; removed when the Session ends. */
  readonly workDirectory: string;
}

/** What the handler of an in-memory provisioner sees: the archive's files, never written to disk. */
export interface InMemorySession extends SessionBase {
  /** Every regular file of the archive by its path ("a/b.txt"), after the same checks as an extraction. */
  readonly files: ReadonlyMap<string, Uint8Array>;
}

/**
 * A provisioner's handlers. Domain failures (a bad template, a failing command, cancellation) are returned
 * in the Complete's `error` field; a thrown error ends the stream with a gRPC error (use sparingly).
 * `signal` aborts when the client sends Cancel or closes the stream; the handler must still return.
 */
export interface Provisioner {
  readonly archive?: "extract";
  parse(session: Session, request: ParseRequest, signal: AbortSignal): Promise<ParseComplete>;
  plan(session: Session, request: PlanRequest, signal: AbortSignal): Promise<PlanComplete>;
  apply(session: Session, request: ApplyRequest, signal: AbortSignal): Promise<ApplyComplete>;
}

/**
 * A provisioner that only reads its template archive (echo): its Sessions get the files in memory, so a
 * Session costs no directory, no file writes and no removal — the disk is off its critical path.
 */
export interface InMemoryProvisioner {
  readonly archive: "in-memory";
  parse(session: InMemorySession, request: ParseRequest, signal: AbortSignal): Promise<ParseComplete>;
  plan(session: InMemorySession, request: PlanRequest, signal: AbortSignal): Promise<PlanComplete>;
  apply(session: InMemorySession, request: ApplyRequest, signal: AbortSignal): Promise<ApplyComplete>;
}

/** Either kind; `serve()` takes both. */
export type AnyProvisioner = Provisioner | InMemoryProvisioner;
