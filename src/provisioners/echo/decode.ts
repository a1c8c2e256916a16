// Decoding one echo response file: a binary `Response` (`.protobuf`, Coder's format) or its proto3 JSON
// form (`.json`, our extension for hand-written templates) with an optional top-level `delayMs`.
import { fromBinary, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { type Response, ResponseSchema } from "../../gen/provisioner/provisioner_pb.js";

/** One replay step: wait `delayMs` (0: none), then act on `response` (which may be empty). */
export interface EchoEntry {
  readonly name: string;
  readonly delayMs: number;
  readonly response: Response;
}

/** A response file that cannot be used; the message names the file. */
export class EchoFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EchoFileError";
  }
}

/** Largest accepted `delayMs`: one hour (a typo should not hang a build for days). */
export const maxEchoDelayMs = 3_600_000;

export function decodeEchoFile(name: string, bytes: Uint8Array): EchoEntry {
  if (name.endsWith(".json")) return decodeJson(name, bytes);
  try {
    return { name, delayMs: 0, response: fromBinary(ResponseSchema, bytes) };
  } catch (err) {
    throw new EchoFileError(`unmarshal ${JSON.stringify(name)}: ${errorMessage(err)}`);
  }
}

function decodeJson(name: string, bytes: Uint8Array): EchoEntry {
  const fail = (why: string) => new EchoFileError(`unmarshal ${JSON.stringify(name)}: ${why}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (err) {
    throw fail(errorMessage(err));
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw fail("expected a JSON object (the proto3 JSON form of a Response)");
  }
  const { delayMs = 0, ...rest } = parsed as Record<string, unknown>;
  if (typeof delayMs !== "number" || !Number.isInteger(delayMs) || delayMs < 0 || delayMs > maxEchoDelayMs) {
    throw fail(`delayMs must be an integer number of milliseconds from 0 to ${maxEchoDelayMs}`);
  }
  try {
    return { name, delayMs, response: fromJson(ResponseSchema, rest as JsonValue) };
  } catch (err) {
    throw fail(errorMessage(err));
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
