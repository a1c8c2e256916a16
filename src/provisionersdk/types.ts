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

/** What a handler sees of its Session. */
export interface Session {
  /** Random id of this Session (also part of the work directory's name). */
  readonly id: string;
  /** Private directory the template archive was extracted into; removed when the Session ends. */
  readonly workDirectory: string;
  /** The Session's Config; `templateSourceArchive` is emptied once extracted. `state` is the previous state. */
  readonly config: Config;
  /** Streams a `Log` response to the client (dropped when below `Config.provisioner_log_level`). */
  log(level: LogLevel, output: string): void;
}

/**
 * A provisioner's handlers. Domain failures (a bad template, a failing command, cancellation) are returned
 * in the Complete's `error` field; a thrown error ends the stream with a gRPC error (use sparingly).
 * `signal` aborts when the client sends Cancel or closes the stream; the handler must still return.
 */
export interface Provisioner {
  parse(session: Session, request: ParseRequest, signal: AbortSignal): Promise<ParseComplete>;
  plan(session: Session, request: PlanRequest, signal: AbortSignal): Promise<PlanComplete>;
  apply(session: Session, request: ApplyRequest, signal: AbortSignal): Promise<ApplyComplete>;
}
