// `prewarm audit list`: the audit log's entries, newest first, as a table (TIME ACTOR ACTION TARGET OUTCOME)
// or, with -o json|yaml, the API's entries array. Follows the API's cursor until --limit entries are read.
// Registered by ../register/audit.ts.
import { AUDIT_LIMIT_MAX, type AuditEntryT, routes } from "../../contract/api.js";
import { type ApiOptions, commandContext } from "../client.js";
import { CliError } from "../errors.js";
import { colorsFor, printData, renderTable } from "../output.js";

export interface AuditListOptions extends ApiOptions {
  action?: string;
  actor?: string;
  since?: string;
  limit?: string;
}

const DEFAULT_LIMIT = 100;

function parseLimit(text: string | undefined): number {
  if (text === undefined) return DEFAULT_LIMIT;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new CliError(`invalid --limit "${text}" (a whole number ≥ 1)`, 2);
  return n;
}

export async function listAudit(options: AuditListOptions): Promise<void> {
  const limit = parseLimit(options.limit);
  const { client, format } = await commandContext(options);
  const entries: AuditEntryT[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.call(routes.listAudit, {
      query: {
        ...(options.action ? { action: options.action } : {}),
        ...(options.actor ? { actor: options.actor } : {}),
        ...(options.since ? { since: options.since } : {}),
        limit: Math.min(AUDIT_LIMIT_MAX, limit - entries.length),
        ...(cursor ? { cursor } : {}),
      },
    });
    entries.push(...page.entries);
    cursor = page.nextCursor ?? undefined;
  } while (cursor && entries.length < limit);
  if (format !== "table") return printData(format, entries);
  process.stdout.write(auditTable(entries));
}

/** Seconds are enough for reading; -o json keeps the milliseconds. */
const shortTime = (iso: string) => iso.replace(/\.\d{3}Z$/, "Z");

function auditTable(entries: AuditEntryT[]): string {
  const colors = colorsFor();
  return renderTable(
    [
      { header: "time", value: (e: AuditEntryT) => shortTime(e.time) },
      { header: "actor", value: (e) => e.actor ?? "-" },
      { header: "action", value: (e) => e.action },
      { header: "target", value: (e) => e.target },
      { header: "outcome", value: (e) => (e.outcome === "failure" ? colors.red(e.outcome) : e.outcome) },
    ],
    entries,
    colors,
  );
}
