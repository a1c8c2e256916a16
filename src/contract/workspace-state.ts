// A workspace's state in words, derived from its latest build: the one wording the CLI's STATUS column and the
// dashboard's workspace badges share (issue 15), so `prewarm list` and the web page never disagree.

export type Transition = "start" | "stop" | "delete";

export type WorkspaceState =
  | "starting"
  | "stopping"
  | "deleting"
  | "running"
  | "stopped"
  | "deleted"
  | "canceling"
  | "canceled"
  | "failed";

const inProgress = { start: "starting", stop: "stopping", delete: "deleting" } as const;
const done = { start: "running", stop: "stopped", delete: "deleted" } as const;

/** running / stopped / deleted, starting / stopping / deleting while the build is pending or runs, canceling, canceled, failed. */
export function workspaceState(build: { transition: Transition; status: string }): WorkspaceState {
  switch (build.status) {
    case "pending":
    case "running":
      return inProgress[build.transition];
    case "succeeded":
      return done[build.transition];
    case "canceling":
    case "canceled":
      return build.status;
    default:
      return "failed";
  }
}
