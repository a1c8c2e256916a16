// Workspace leases: a lifetime a create asks for (or the template's default), counting from the moment the
// workspace is usable (workspaces/usable.ts starts the countdown), after which a sweep stops or deletes it
// through the ordinary job queue. CI jobs and AI agents ask for "this workspace for 2 hours, then gone" on the
// create call itself; `extend` adds time, capped at the template's maximum from now. The rules are pure here;
// the sweep and the writes are in service.ts and lease-sweep.ts.

import { invalid } from "../domain-errors.js";
import type { LeaseExpiry } from "../store/schema.js";
import type { Template } from "../store/templates.js";
import type { WorkspaceLease } from "../store/workspaces.js";

export interface LeaseRequest {
  seconds: number;
  onExpiry?: LeaseExpiry;
}

/** The lease a new workspace gets: the one asked for, else the template's default; refused beyond the maximum. */
export function leaseForCreate(
  template: Pick<Template, "defaultLeaseSeconds" | "maxLeaseSeconds">,
  asked: LeaseRequest | undefined,
): { seconds: number; onExpiry: LeaseExpiry } | null {
  const seconds = asked?.seconds ?? template.defaultLeaseSeconds;
  if (seconds === null || seconds === undefined) return null;
  if (!Number.isSafeInteger(seconds) || seconds <= 0) {
    throw invalid(`lease.seconds must be a positive whole number of seconds, got ${seconds}`, {
      field: "lease.seconds",
    });
  }
  if (template.maxLeaseSeconds !== null && seconds > template.maxLeaseSeconds) {
    throw invalid(
      `a lease of ${seconds} s is longer than this template allows (${template.maxLeaseSeconds} s)`,
      { field: "lease.seconds" },
    );
  }
  return { seconds, onExpiry: asked?.onExpiry ?? "delete" };
}

/**
 * The lease after `extend` by `seconds` at `now`: the deadline moves by `seconds`, but never past the template's
 * maximum counted from now; a lease not started yet (the workspace is not usable yet) gets a longer lifetime.
 */
export function extendedLease(
  lease: WorkspaceLease,
  seconds: number,
  now: Date,
  maxLeaseSeconds: number | null,
): WorkspaceLease {
  if (!Number.isSafeInteger(seconds) || seconds <= 0) {
    throw invalid(`extend by a positive whole number of seconds, got ${seconds}`, { field: "seconds" });
  }
  if (!lease.deadline) {
    const total = lease.seconds + seconds;
    return { ...lease, seconds: maxLeaseSeconds === null ? total : Math.min(total, maxLeaseSeconds) };
  }
  let deadline = lease.deadline.getTime() + seconds * 1000;
  if (maxLeaseSeconds !== null) deadline = Math.min(deadline, now.getTime() + maxLeaseSeconds * 1000);
  return { ...lease, deadline: new Date(Math.max(deadline, lease.deadline.getTime())) };
}
