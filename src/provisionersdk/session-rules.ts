// The Session state machine's decisions (ARCHITECTURE §3), as a pure function: given where a session is and
// the kind of request that just arrived, what to do. session.ts performs the decisions.
//
//   awaiting-config --Config--> idle --Parse|Plan|Apply--> running --Complete--> idle
//   running --Cancel--> running (handler signalled; its Complete is still sent)
//   anything else out of order --> the stream ends with a gRPC error
import { Code } from "@connectrpc/connect";

export type SessionPhase = "awaiting-config" | "idle" | "running";
export type Operation = "parse" | "plan" | "apply";
export type RequestKind = "config" | Operation | "cancel" | "unset";

export interface SessionFacts {
  phase: SessionPhase;
  /** A Plan in this session completed without error. */
  planned: boolean;
  /** The running operation (phase "running"). */
  running?: Operation;
  /** The running operation was already cancelled. */
  cancelled?: boolean;
}

export type Decision =
  | { kind: "configure" }
  | { kind: "run"; operation: Operation }
  | { kind: "cancel-running" }
  | { kind: "ignore"; reason: string }
  | { kind: "violation"; code: Code; message: string };

function violation(code: Code, message: string): Decision {
  return { kind: "violation", code, message };
}

export function decide(facts: SessionFacts, request: RequestKind): Decision {
  if (request === "unset") return violation(Code.InvalidArgument, "request has no type set");
  switch (facts.phase) {
    case "awaiting-config":
      if (request === "config") return { kind: "configure" };
      return violation(Code.InvalidArgument, `first request must be Config, got ${request}`);
    case "idle":
      if (request === "config")
        return violation(Code.FailedPrecondition, "Config may only be sent once per session");
      if (request === "cancel") return { kind: "ignore", reason: "cancel while no request is running" };
      if (request === "apply" && !facts.planned) {
        return violation(Code.FailedPrecondition, "cannot apply before successful plan");
      }
      return { kind: "run", operation: request };
    case "running":
      if (request === "cancel") {
        return facts.cancelled
          ? { kind: "ignore", reason: "request already cancelled" }
          : { kind: "cancel-running" };
      }
      return violation(
        Code.FailedPrecondition,
        `got ${request} request while ${facts.running ?? "a request"} is still running (one request at a time)`,
      );
  }
}
