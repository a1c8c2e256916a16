// What replaying decoded echo entries means for one request. Pure: turns entries into the steps to run
// (delays and logs) and the Complete to return, so the runner only performs I/O.
import { create } from "@bufbuild/protobuf";
import {
  type ApplyComplete,
  ApplyCompleteSchema,
  type LogLevel,
  type ParseComplete,
  ParseCompleteSchema,
  type PlanComplete,
  PlanCompleteSchema,
  type Response,
} from "../../gen/provisioner/provisioner_pb.js";
import type { EchoEntry } from "./decode.js";
import type { EchoOperation } from "./naming.js";

export interface CompleteByOperation {
  parse: ParseComplete;
  plan: PlanComplete;
  apply: ApplyComplete;
}

export type EchoStep = { kind: "delay"; ms: number } | { kind: "log"; level: LogLevel; output: string };

export interface EchoScript<Op extends EchoOperation> {
  steps: EchoStep[];
  /** The first Complete of the request's kind; undefined when the files hold none. */
  complete: CompleteByOperation[Op] | undefined;
}

/** The Complete of kind `operation` carried by `response`, if any. */
export function completeOf<Op extends EchoOperation>(
  response: Response,
  operation: Op,
): CompleteByOperation[Op] | undefined {
  const { type } = response;
  return type.case === operation ? (type.value as CompleteByOperation[Op]) : undefined;
}

/**
 * Steps up to the first Complete of the request's kind. Responses of other kinds (a plan Complete in an
 * apply file, an empty Response) are skipped, as in Coder's echo; their `delayMs` still applies.
 */
export function buildEchoScript<Op extends EchoOperation>(
  entries: readonly EchoEntry[],
  operation: Op,
): EchoScript<Op> {
  const steps: EchoStep[] = [];
  for (const entry of entries) {
    if (entry.delayMs > 0) steps.push({ kind: "delay", ms: entry.delayMs });
    const { type } = entry.response;
    if (type.case === "log") steps.push({ kind: "log", level: type.value.level, output: type.value.output });
    const complete = completeOf(entry.response, operation);
    if (complete) return { steps, complete };
  }
  return { steps, complete: undefined };
}

/** A Complete of kind `operation` that carries only `error`. */
export function failedComplete<Op extends EchoOperation>(
  operation: Op,
  error: string,
): CompleteByOperation[Op] {
  const byOperation: { [K in EchoOperation]: () => CompleteByOperation[K] } = {
    parse: () => create(ParseCompleteSchema, { error }),
    plan: () => create(PlanCompleteSchema, { error }),
    apply: () => create(ApplyCompleteSchema, { error }),
  };
  return byOperation[operation]() as CompleteByOperation[Op];
}
