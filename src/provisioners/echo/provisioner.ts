// The echo provisioner: replays responses packed into the template archive (Coder-compatible, plus the
// `.json` form and `delayMs`; see docs/echo-provisioner.md). It never runs anything, which makes it the
// provisioner of tests, demos and benchmarks. It only reads its archive, so it is an in-memory provisioner:
// its Sessions never touch the disk (no directory, no file writes, no removal per build).
import { setTimeout as sleepTimer } from "node:timers/promises";
import type { Metadata } from "../../gen/provisioner/provisioner_pb.js";
import type { InMemoryProvisioner, InMemorySession } from "../../provisionersdk/types.js";
import { decodeEchoFile, type EchoEntry, EchoFileError } from "./decode.js";
import { type EchoOperation, echoCandidateNames, echoTransitionName, selectEchoFiles } from "./naming.js";
import { buildEchoScript, type CompleteByOperation, completeOf, failedComplete } from "./replay.js";

export interface EchoProvisionerOptions {
  /**
   * Waits `ms` for a `delayMs` step; settles early when `signal` aborts. Injectable so tests control time
   * with events instead of sleeping. Default: a real timer.
   */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** Error text of a request cancelled while echo was waiting (Coder's echo says the same). */
export const echoCanceledError = "canceled";
/** Error text of a Parse whose files hold no ParseComplete. */
export const echoCompleteMissingError = "complete response missing";

export function createEchoProvisioner(options: EchoProvisionerOptions = {}): InMemoryProvisioner {
  const sleep = options.sleep ?? ((ms, signal) => sleepTimer(ms, undefined, { signal }));
  const run = async <Op extends EchoOperation>(
    session: InMemorySession,
    operation: Op,
    metadata: Metadata | undefined,
    signal: AbortSignal,
  ): Promise<CompleteByOperation[Op]> => {
    const transition = echoTransitionName(operation, metadata);
    let entries: EchoEntry[];
    try {
      entries = loadEntries(session.files, transition, operation);
    } catch (err) {
      if (err instanceof EchoFileError) return failedComplete(operation, err.message);
      throw err;
    }
    const script = buildEchoScript(entries, operation);
    for (const step of script.steps) {
      if (step.kind === "log") {
        session.log(step.level, step.output);
        continue;
      }
      // A rejection here is the abort itself; the check below turns it into the Complete.
      await sleep(step.ms, signal).catch(() => undefined);
      if (signal.aborted) return failedComplete(operation, echoCanceledError);
    }
    if (script.complete) return script.complete;
    if (operation === "parse") return failedComplete(operation, echoCompleteMissingError);
    // No Complete for Plan/Apply: wait for Cancel (tests use this to exercise cancellation).
    await abortedPromise(signal);
    return failedComplete(operation, echoCanceledError);
  };
  return {
    archive: "in-memory",
    parse: (session, _request, signal) => run(session, "parse", undefined, signal),
    plan: (session, request, signal) => run(session, "plan", request.metadata, signal),
    apply: (session, request, signal) => run(session, "apply", request.metadata, signal),
  };
}

/** The echo provisioner with a real clock. */
export const echoProvisioner: InMemoryProvisioner = createEchoProvisioner();

/**
 * Decodes the selected top-level files in order, stopping after the first Complete of the request's kind
 * (later files are never decoded, so a broken file after it does not matter). Throws EchoFileError.
 */
function loadEntries(files: ReadonlyMap<string, Uint8Array>, transition: string, operation: EchoOperation) {
  const present = new Set([...files.keys()].filter((path) => !path.includes("/")));
  const names = selectEchoFiles(present, transition, operation);
  if (names.length === 0) {
    const looked = echoCandidateNames(0, transition, operation).join(", ");
    throw new EchoFileError(`no state: no response file 0 for ${operation} (looked for ${looked})`);
  }
  const entries: EchoEntry[] = [];
  for (const name of names) {
    const entry = decodeEchoFile(name, files.get(name)!);
    entries.push(entry);
    if (completeOf(entry.response, operation)) break;
  }
  return entries;
}

function abortedPromise(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
}
