// Claims (§5 rule 9), called by workspace creation inside its own write transaction:
//
//   presets = [the --preset one]  or  the presets whose resolved values equal the request's (preset-match.ts)
//   const claimed = await claimPrebuild(tx, store.dialect, { presetIds, newOwnerId, newName, now });
//   if (claimed) → enqueue a start build with stage CLAIM (and the running agents' tokens) in the same transaction
//   else         → create a fresh workspace (a miss)
//
// claimPrebuild tries the presets in the caller's preference order and takes the OLDEST eligible, non-expired
// prebuild of the first preset that has one, on the template's active version (queries.ts: `claimOldestPrebuild`
// for the statements and the race analysis). It records one hit (for the preset claimed from) or one miss (for
// the most preferred preset) as a prebuild event in the same transaction, so the metrics count what committed.
// If the caller's transaction rolls back, the claim and its event roll back with it. With `allowOutdated` (a
// surge rollout, issue 13), a preset whose active version has none may give one of the same preset name on an
// older version instead (`claimOldestOutdatedPrebuild`); the result then names that version and preset, and
// the workspace is outdated, as if it had been created just before the rollout.
import type { Dialect, Executor } from "../store/store.js";
import { type Workspace, workspaceFromRow } from "../store/workspaces.js";
import {
  type ClaimLease,
  claimOldestOutdatedPrebuild,
  claimOldestPrebuild,
  insertPrebuildEvent,
  lockUnclaimedPrebuildRow,
} from "./queries.js";

export interface ClaimRequest {
  /** Candidate presets, most preferred first (at least one). */
  presetIds: readonly string[];
  newOwnerId: string;
  newName: string;
  now: Date;
  /** Surge rollout: fall back to an older version's prebuild of the same preset name (default false). */
  allowOutdated?: boolean;
  /** The lease the claimed workspace gets (absent: none), set by the claim's own statement. */
  lease?: ClaimLease | null;
}

export interface ClaimedPrebuild {
  /** The workspace as the claim left it (new owner, name and lease): no need to read it back. */
  workspace: Workspace;
  workspaceId: string;
  templateId: string;
  presetId: string;
  /** When the prebuild was created (its age at claim time is now − this). */
  prebuildCreatedAt: Date;
  /** Set when an older version's prebuild was taken (surge rollout): its version and preset. */
  outdated?: { templateVersionId: string; presetId: string };
}

export class ClaimError extends Error {
  override name = "ClaimError";
}

/**
 * Claims the oldest eligible prebuild of the first of `presetIds` that has one, for `newOwnerId` under
 * `newName`, or returns null (a miss). Call inside the caller's write transaction (PostgreSQL: READ COMMITTED,
 * the default). Two concurrent claims never get the same prebuild and never wait on each other.
 */
export async function claimPrebuild(
  tx: Executor,
  dialect: Dialect,
  request: ClaimRequest,
): Promise<ClaimedPrebuild | null> {
  const nowMs = request.now.getTime();
  const preferred = request.presetIds[0];
  if (preferred === undefined) return null;
  for (const presetId of request.presetIds) {
    let row: Awaited<ReturnType<typeof claimOldestPrebuild>>;
    let outdated: ClaimedPrebuild["outdated"];
    try {
      row = await claimOldestPrebuild(tx, dialect, { ...request, presetId });
      if (!row && request.allowOutdated) {
        const old = await claimOldestOutdatedPrebuild(tx, dialect, { ...request, presetId });
        if (old) outdated = { templateVersionId: old.template_version_id, presetId: old.preset_id };
        row = old;
      }
    } catch (err) {
      throw new ClaimError(`claim prebuild for preset ${presetId}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (!row) continue;
    return {
      workspace: workspaceFromRow(row),
      workspaceId: row.id,
      templateId: row.template_id,
      presetId,
      prebuildCreatedAt: new Date(Number(row.created_at)),
      ...(outdated ? { outdated } : {}),
    };
  }
  await insertPrebuildEvent(tx, preferred, "claim_missed", nowMs);
  return null;
}

export interface UnclaimedPrebuild {
  workspaceId: string;
  templateId: string;
  createdAt: Date;
}

/**
 * §5 rule 8, for the executor's delete: inside the delete's write transaction, re-checks that the workspace is
 * still an unclaimed live prebuild and locks it against a concurrent claim. Null: it was claimed (or deleted)
 * meanwhile — do not delete it. Enqueue the delete build in the SAME transaction: a claim that runs after this
 * commits sees the delete build as the latest build and skips the workspace.
 */
export async function lockUnclaimedPrebuild(
  tx: Executor,
  dialect: Dialect,
  workspaceId: string,
): Promise<UnclaimedPrebuild | null> {
  const row = await lockUnclaimedPrebuildRow(tx, dialect, workspaceId);
  return row
    ? { workspaceId: row.id, templateId: row.template_id, createdAt: new Date(Number(row.created_at)) }
    : null;
}
