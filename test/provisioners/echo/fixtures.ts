// Named fixtures for echo tests: a session's archive files, a fake Session that records logs, and a sleep the
// test controls with events.
import { create, type MessageInitShape, toBinary, toJson } from "@bufbuild/protobuf";
import { ConfigSchema, LogLevel, ResponseSchema } from "../../../src/gen/provisioner/provisioner_pb.js";
import type { InMemorySession } from "../../../src/provisionersdk/types.js";

export type ResponseInit = MessageInitShape<typeof ResponseSchema>;

export const log = (output: string, level: LogLevel = LogLevel.INFO): ResponseInit => ({
  type: { case: "log", value: { level, output } },
});
export const parseDone = (error = ""): ResponseInit => ({ type: { case: "parse", value: { error } } });
export const planDone = (error = ""): ResponseInit => ({ type: { case: "plan", value: { error } } });
export const applyDone = (error = ""): ResponseInit => ({ type: { case: "apply", value: { error } } });

export function binary(response: ResponseInit): Uint8Array {
  return toBinary(ResponseSchema, create(ResponseSchema, response));
}

/** The proto3 JSON form, with `extra` keys (e.g. delayMs) in front. */
export function json(response: ResponseInit, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    ...extra,
    ...(toJson(ResponseSchema, create(ResponseSchema, response)) as object),
  });
}

/** The files of a session's archive; `files` maps top-level names to contents. */
export function sessionFiles(files: Record<string, Uint8Array | string>): Map<string, Uint8Array> {
  const encoder = new TextEncoder();
  return new Map(
    Object.entries(files).map(([name, data]) => [
      name,
      typeof data === "string" ? encoder.encode(data) : data,
    ]),
  );
}

/** Adds a directory `name` to the archive's files (as an archive holds one: a prefix of other paths). */
export const addDirectory = (files: Map<string, Uint8Array>, name: string) =>
  files.set(`${name}/inside.txt`, new Uint8Array());

export interface LogEntry {
  level: LogLevel;
  output: string;
}

export interface FakeSession extends InMemorySession {
  logs: LogEntry[];
}

/** A Session that records logs (and tells `onLog`). Unlike the real one it does not filter by level. */
export function fakeSession(
  files: ReadonlyMap<string, Uint8Array>,
  onLog?: (entry: LogEntry) => void,
): FakeSession {
  const logs: LogEntry[] = [];
  return {
    id: "test",
    files,
    config: create(ConfigSchema, {}),
    logs,
    log: (level, output) => {
      logs.push({ level, output });
      onLog?.({ level, output });
    },
  };
}

/** A sleep that settles only when the test says so (or the signal aborts); records requested delays. */
export function controlledSleep() {
  const requested: number[] = [];
  let started: () => void = () => undefined;
  let finish: () => void = () => undefined;
  let startedPromise = new Promise<void>((r) => {
    started = r;
  });
  const sleep = (ms: number, signal: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      requested.push(ms);
      finish = resolve;
      signal.addEventListener("abort", () => reject(signal.reason), { once: true });
      started();
    });
  return {
    sleep,
    requested,
    /** Resolves once a sleep has begun (then re-arms for the next one). */
    async waitForSleep() {
      await startedPromise;
      startedPromise = new Promise<void>((r) => {
        started = r;
      });
    },
    /** Ends the current sleep as if the time had passed. */
    elapse: () => finish(),
  };
}

/** Whether `promise` is still pending once queued I/O callbacks and microtasks have run. */
export async function isPending(promise: Promise<unknown>): Promise<boolean> {
  const pending = Symbol("pending");
  const winner = await Promise.race([promise, new Promise((r) => setImmediate(() => r(pending)))]);
  return winner === pending;
}
