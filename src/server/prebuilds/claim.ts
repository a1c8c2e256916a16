// Claims (§5 rule 9), called by workspace creation inside its own write transaction:
//
//   const preset = presetId ?? (await findMatchingPreset(tx, versionId, parameters))?.id;
//   const claimed = preset ? await claimPrebuild(tx, store.dialect, { presetId: preset, newOwnerId, newName, now }) : null;
//   if (claimed) → enqueue a start build with stage CLAIM (and the running agents' tokens) in the same transaction
//   else         → create a fresh workspace (a miss)
//
// claimPrebuild takes the OLDEST eligible, non-expired prebuild of the preset on the template's active version
// (queries.ts: `claimOldestPrebuild` for the statements and the race analysis) and records a hit or a miss as a
// prebuild event in the same transaction, so the metrics count what committed. If the caller's transaction
// rolls back, the claim and its event roll back with it.
import type { Dialect, Executor } from "../store/store.js";
import {
  claimOldestPrebuild,
  insertPrebuildEvent,
  lockUnclaimedPrebuildRow,
  selectVersionPresetParameters,
} from "./queries.js";

export interface ClaimRequest {
  presetId: string;
  newOwnerId: string;
  newName: string;
  now: Date;
}

export interface ClaimedPrebuild {
  workspaceId: string;
  templateId: string;
  presetId: string;
  /** When the prebuild was created (its age at claim time is now − this). */
  prebuildCreatedAt: Date;
}

export class ClaimError extends Error {
  override name = "ClaimError";
}

/**
 * Claims the oldest eligible prebuild of `presetId` for `newOwnerId` under `newName`, or returns null (a miss).
 * Call inside the caller's write transaction (PostgreSQL: READ COMMITTED, the default). Two concurrent claims
 * never get the same prebuild and never wait on each other.
 */
export async function claimPrebuild(
  tx: Executor,
  dialect: Dialect,
  request: ClaimRequest,
): Promise<ClaimedPrebuild | null> {
  const nowMs = request.now.getTime();
  let row: Awaited<ReturnType<typeof claimOldestPrebuild>>;
  try {
    row = await claimOldestPrebuild(tx, dialect, request);
  } catch (err) {
    throw new ClaimError(`claim prebuild for preset ${request.presetId}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  await insertPrebuildEvent(tx, request.presetId, row ? "claim_succeeded" : "claim_missed", nowMs);
  if (!row) return null;
  return {
    workspaceId: row.id,
    templateId: row.template_id,
    presetId: request.presetId,
    prebuildCreatedAt: new Date(Number(row.created_at)),
  };
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

export interface MatchedPreset {
  id: string;
  name: string;
  /** How many parameter values the preset fixes (all equal to the request's). */
  matchedParameters: number;
}

/**
 * The most specific preset of the version whose parameter values all equal the request's: every parameter the
 * preset sets must be present in `parameters` with the same value; among those, the one setting the most
 * parameters wins. A preset with no parameters matches any request (as in Coder), so it is the fallback when
 * nothing more specific matches. Ties (same number of parameters): the version's default preset first, then
 * the preset name in code-point order — deterministic, and documented in docs/prebuilds-operations.md.
 */
export async function findMatchingPreset(
  db: Executor,
  versionId: string,
  parameters: Readonly<Record<string, string>>,
): Promise<MatchedPreset | null> {
  const rows = await selectVersionPresetParameters(db, versionId);
  const presets = new Map<
    string,
    { id: string; name: string; isDefault: boolean; count: number; matches: boolean }
  >();
  for (const r of rows) {
    let preset = presets.get(r.id);
    if (!preset) {
      preset = { id: r.id, name: r.name, isDefault: Number(r.is_default) === 1, count: 0, matches: true };
      presets.set(r.id, preset);
    }
    if (r.param_name === null) continue;
    preset.count++;
    if (!Object.hasOwn(parameters, r.param_name) || parameters[r.param_name] !== r.param_value)
      preset.matches = false;
  }
  const candidates = [...presets.values()].filter((p) => p.matches);
  candidates.sort(
    (a, b) =>
      b.count - a.count ||
      Number(b.isDefault) - Number(a.isDefault) ||
      (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
  const best = candidates[0];
  return best ? { id: best.id, name: best.name, matchedParameters: best.count } : null;
}
