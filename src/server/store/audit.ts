// The audit log's rows (table `audit_log`, migration 0007): appending one entry and reading a page of them,
// newest first, by keyset on (time, id) with optional filters. What gets recorded, and when, is the business of
// ../audit.ts; this module only stores and reads.
import type { Generated } from "kysely";
import type { AuditAction, AuditOutcome } from "../../contract/audit.js";
import { parseJsonColumn, toDate, toMillis } from "./rows.js";
import type { JsonText, Millis } from "./schema.js";
import type { Executor } from "./store.js";

export interface AuditLogTable {
  id: Generated<number>;
  time: Millis;
  /** No foreign key: an entry outlives its actor; `actor_name` is the username at the time. */
  actor_id: string | null;
  actor_name: string | null;
  action: AuditAction;
  target: string;
  outcome: AuditOutcome;
  detail: JsonText;
  remote_address: string | null;
}

// The table is typed here rather than in schema.ts: nothing but this module reads or writes it.
const auditDb = (db: Executor) => db.withTables<{ audit_log: AuditLogTable }>();

export interface NewAuditEntry {
  time: Date;
  actorId: string | null;
  actorName: string | null;
  action: AuditAction;
  target: string;
  outcome: AuditOutcome;
  detail: Record<string, unknown>;
  remoteAddress: string | null;
}

export interface AuditEntry extends NewAuditEntry {
  id: number;
}

export async function insertAuditEntry(db: Executor, entry: NewAuditEntry): Promise<void> {
  await auditDb(db)
    .insertInto("audit_log")
    .values({
      time: toMillis(entry.time),
      actor_id: entry.actorId,
      actor_name: entry.actorName,
      action: entry.action,
      target: entry.target,
      outcome: entry.outcome,
      detail: JSON.stringify(entry.detail),
      remote_address: entry.remoteAddress,
    })
    .execute();
}

/** Where a page starts: strictly older than this entry. */
export interface AuditPosition {
  time: number;
  id: number;
}

export interface AuditFilter {
  action?: AuditAction | undefined;
  /** A username, case-insensitive. */
  actor?: string | undefined;
  since?: Date | undefined;
  before?: AuditPosition | undefined;
  limit: number;
}

/** Up to `limit` entries, newest first (ties on time broken by id). */
export async function listAuditEntries(db: Executor, filter: AuditFilter): Promise<AuditEntry[]> {
  let query = auditDb(db).selectFrom("audit_log").selectAll();
  if (filter.action) query = query.where("action", "=", filter.action);
  if (filter.actor) {
    const name = filter.actor.toLowerCase();
    query = query.where((eb) => eb(eb.fn("lower", ["actor_name"]), "=", name));
  }
  if (filter.since) query = query.where("time", ">=", toMillis(filter.since));
  const before = filter.before;
  if (before) {
    query = query.where((eb) =>
      eb.or([eb("time", "<", before.time), eb.and([eb("time", "=", before.time), eb("id", "<", before.id)])]),
    );
  }
  const rows = await query.orderBy("time", "desc").orderBy("id", "desc").limit(filter.limit).execute();
  return rows.map((r) => ({
    id: Number(r.id),
    time: toDate(Number(r.time)),
    actorId: r.actor_id,
    actorName: r.actor_name,
    action: r.action,
    target: r.target,
    outcome: r.outcome,
    detail: parseJsonColumn<Record<string, unknown>>(r.detail, "audit_log.detail"),
    remoteAddress: r.remote_address,
  }));
}
