// The audit log's service (issue 16, item 8): how an action site records an entry, and how a page of entries is
// asked for and answered (the API's GET /audit and the dashboard's /audit page share it).
//
// Recording: an action site calls `audit(tx, now, record)` with the transaction handle of the action itself,
// so the entry commits or rolls back with it; a refused action (a failed login, a 403) is recorded in a small
// write of its own. Details are facts about the action, never a secret (no password, no token secret).
// Prebuilds the reconciler creates and deletes are the system's own work and are not audited.
import {
  AUDIT_ACTIONS,
  AUDIT_LIMIT_MAX,
  type AuditAction,
  type AuditEntryT,
  type AuditOutcome,
  isAuditAction,
} from "../contract/audit.js";
import { parseDuration } from "../util/duration.js";
import { invalid } from "./domain-errors.js";
import { type AuditEntry, type AuditPosition, insertAuditEntry, listAuditEntries } from "./store/audit.js";
import type { Executor } from "./store/store.js";

/** Who acted: a user (id and the username at the time) and, over HTTP, the client address. */
export interface AuditActor {
  id: string;
  username: string;
  address?: string | undefined;
}

/** What a service function needs to record its action: who, and the time the action runs at. */
export interface AuditStamp {
  actor: AuditActor;
  now: Date;
}

export interface AuditRecord {
  /** Null: nobody known (a failed login for a username that does not exist). */
  actor: AuditActor | null;
  action: AuditAction;
  /** `kind/name`: see the target helpers below. */
  target: string;
  /** Default success. */
  outcome?: AuditOutcome;
  detail?: Record<string, unknown>;
  /** The client address when there is no actor to carry it. */
  address?: string | undefined;
}

/** Appends one entry through `db`: pass the action's transaction so both commit or neither. */
export async function audit(db: Executor, now: Date, record: AuditRecord): Promise<void> {
  await insertAuditEntry(db, {
    time: now,
    actorId: record.actor?.id ?? null,
    actorName: record.actor?.username ?? null,
    action: record.action,
    target: record.target,
    outcome: record.outcome ?? "success",
    detail: record.detail ?? {},
    remoteAddress: record.actor?.address ?? record.address ?? null,
  });
}

// ---- targets: one spelling per kind of thing -----------------------------------------------------------
export const target = {
  user: (username: string) => `user/${username}`,
  token: (id: string) => `token/${id}`,
  template: (name: string) => `template/${name}`,
  preset: (template: string, preset: string) => `preset/${template}/${preset}`,
  workspace: (owner: string, name: string) => `workspace/${owner}/${name}`,
  prebuilds: () => "prebuilds",
};

// ---- reading -------------------------------------------------------------------------------------------

export interface AuditQueryInput {
  action?: string | undefined;
  actor?: string | undefined;
  since?: string | undefined;
  limit: number;
  cursor?: string | undefined;
}

export function presentAuditEntry(entry: AuditEntry): AuditEntryT {
  return {
    time: entry.time.toISOString(),
    actor: entry.actorName,
    action: entry.action,
    target: entry.target,
    outcome: entry.outcome,
    detail: entry.detail,
  };
}

/** One page, newest first, and the cursor of the next (older) one. Bad input is an "invalid" DomainError. */
export async function readAuditPage(
  db: Executor,
  now: Date,
  query: AuditQueryInput,
): Promise<{ entries: AuditEntry[]; nextCursor: string | null }> {
  const action = query.action || undefined;
  if (action !== undefined && !isAuditAction(action)) {
    throw invalid(`unknown audit action "${action}" (known: ${AUDIT_ACTIONS.join(", ")})`, {
      field: "action",
    });
  }
  // The schema says 1..1000, but a query string's "1e999" is coerced to Infinity and slips through Ajv.
  if (!Number.isSafeInteger(query.limit) || query.limit < 1 || query.limit > AUDIT_LIMIT_MAX) {
    throw invalid(`limit: a whole number from 1 to ${AUDIT_LIMIT_MAX}`, { field: "limit" });
  }
  const since = query.since ? parseSince(query.since, now) : undefined;
  const before = query.cursor ? decodeCursor(query.cursor) : undefined;
  // One more than asked tells whether another page follows.
  const rows = await listAuditEntries(db, {
    action,
    actor: query.actor || undefined,
    since,
    before,
    limit: query.limit + 1,
  });
  const entries = rows.slice(0, query.limit);
  const last = entries.at(-1);
  const nextCursor =
    rows.length > query.limit && last ? encodeCursor({ time: last.time.getTime(), id: last.id }) : null;
  return { entries, nextCursor };
}

/** `since`: an ISO-8601 timestamp, or a duration back from now ("24h", "7d", "1h30m"). */
export function parseSince(text: string, now: Date): Date {
  const trimmed = text.trim();
  if (/^\d{4}-\d{2}-\d{2}/.test(trimmed)) {
    const at = new Date(trimmed);
    if (!Number.isNaN(at.getTime())) return at;
    throw invalid(`since: "${text}" is not a valid timestamp`, { field: "since" });
  }
  try {
    return new Date(now.getTime() - parseDuration(trimmed));
  } catch {
    throw invalid(`since: "${text}" is neither an ISO-8601 timestamp nor a duration such as 24h or 7d`, {
      field: "since",
    });
  }
}

// The cursor is opaque to clients: base64url of "time.id" of the last entry of the page.
function encodeCursor(position: AuditPosition): string {
  return Buffer.from(`${position.time}.${position.id}`).toString("base64url");
}

function decodeCursor(cursor: string): AuditPosition {
  const match = /^(\d{1,16})\.(\d{1,16})$/.exec(Buffer.from(cursor, "base64url").toString("utf8"));
  if (!match)
    throw invalid("cursor: not a cursor this server gave out (pass nextCursor as it is)", {
      field: "cursor",
    });
  return { time: Number(match[1]), id: Number(match[2]) };
}
