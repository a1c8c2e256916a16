// Which response files the echo provisioner replays for a request. Pure: it decides from a directory
// listing, so the rules (numbered files, transition-specific before generic, `.protobuf` before `.json`,
// stop at the first missing number) are testable without a file system.
import {
  type Metadata,
  PrebuiltWorkspaceBuildStage,
  WorkspaceTransition,
} from "../../gen/provisioner/provisioner_pb.js";

/** The request kinds echo answers; also the `Response.type` case of their Complete. */
export type EchoOperation = "parse" | "plan" | "apply";

/** File formats, in order of preference for one base name. */
export const echoExtensions = ["protobuf", "json"] as const;

/**
 * The transition part of a file name: `unspecified` for Parse; otherwise the lower-cased enum name of the
 * request's `metadata.workspace_transition` (`start` when metadata is absent, the number for values newer
 * than our enum, as Coder's `strings.ToLower(t.String())` would give). Our extension: the start build that
 * claims a prebuild (stage CLAIM) is `claim`, whose files fall back to `start`'s — so a template can make the
 * hand-over quick, as it is with real infrastructure that already exists.
 */
export function echoTransitionName(operation: EchoOperation, metadata: Metadata | undefined): string {
  if (operation === "parse") return "unspecified";
  const transition = metadata?.workspaceTransition ?? WorkspaceTransition.START;
  if (
    transition === WorkspaceTransition.START &&
    metadata?.prebuiltWorkspaceBuildStage === PrebuiltWorkspaceBuildStage.CLAIM
  ) {
    return "claim";
  }
  return (WorkspaceTransition[transition] ?? String(transition)).toLowerCase();
}

/** A transition whose files fall back to another transition's before the generic ones. */
const FALLBACK_TRANSITION: Readonly<Record<string, string>> = { claim: "start" };

/** Candidate file names for response `index`, best first. */
export function echoCandidateNames(index: number, transition: string, operation: EchoOperation): string[] {
  const fallback = FALLBACK_TRANSITION[transition];
  const bases = [
    `${index}.${transition}.${operation}`,
    ...(fallback ? [`${index}.${fallback}.${operation}`] : []),
    `${index}.${operation}`,
  ];
  return bases.flatMap((base) => echoExtensions.map((ext) => `${base}.${ext}`));
}

/**
 * The response files to replay, one per index from 0 upwards, stopping at the first index for which no
 * candidate exists. Empty means there is no file 0 ("no state").
 */
export function selectEchoFiles(
  present: ReadonlySet<string>,
  transition: string,
  operation: EchoOperation,
): string[] {
  const selected: string[] = [];
  for (let index = 0; ; index++) {
    const name = echoCandidateNames(index, transition, operation).find((n) => present.has(n));
    if (name === undefined) return selected;
    selected.push(name);
  }
}
