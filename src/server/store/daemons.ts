// Provisioner daemons that connected to this server: name, types, tags, version, last seen. A daemon that
// reconnects under the same name updates its row (in-process daemons and restarted external ones).
import { randomUUID } from "node:crypto";
import type { Selectable } from "kysely";
import { parseJsonColumn, toDate, toMillis } from "./rows.js";
import type { ProvisionerDaemonsTable } from "./schema.js";
import type { Executor } from "./store.js";

export interface ProvisionerDaemon {
  id: string;
  name: string;
  provisioners: string[];
  tags: Record<string, string>;
  version: string;
  createdAt: Date;
  lastSeenAt: Date;
}

function daemonFromRow(row: Selectable<ProvisionerDaemonsTable>): ProvisionerDaemon {
  return {
    id: row.id,
    name: row.name,
    provisioners: parseJsonColumn<string[]>(row.provisioners, "provisioner_daemons.provisioners"),
    tags: parseJsonColumn<Record<string, string>>(row.tags, "provisioner_daemons.tags"),
    version: row.version,
    createdAt: toDate(row.created_at),
    lastSeenAt: toDate(row.last_seen_at),
  };
}

/** Daemon names by id, in one query (unknown ids are absent). */
export async function getDaemonNames(db: Executor, ids: readonly string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .selectFrom("provisioner_daemons")
    .select(["id", "name"])
    .where("id", "in", [...ids])
    .execute();
  return new Map(rows.map((r) => [r.id, r.name]));
}

/** Registers a daemon by name (insert or update); returns its row with a stable id. */
export async function upsertDaemon(
  db: Executor,
  input: {
    name: string;
    provisioners: readonly string[];
    tags: Readonly<Record<string, string>>;
    version: string;
    now: Date;
  },
): Promise<ProvisionerDaemon> {
  const at = toMillis(input.now);
  const provisioners = JSON.stringify([...input.provisioners]);
  const tags = JSON.stringify(input.tags);
  const row = await db
    .insertInto("provisioner_daemons")
    .values({
      id: randomUUID(),
      name: input.name,
      provisioners,
      tags,
      version: input.version,
      created_at: at,
      last_seen_at: at,
    })
    .onConflict((oc) =>
      oc.column("name").doUpdateSet({ provisioners, tags, version: input.version, last_seen_at: at }),
    )
    .returningAll()
    .executeTakeFirstOrThrow();
  return daemonFromRow(row);
}

/**
 * Daemons that can take jobs now: seen within `window` ms (every acquire long-poll, at most 30 s apart, refreshes
 * last_seen_at) or running a job (a daemon busy with a long build does not poll).
 */
export async function listActiveDaemons(
  db: Executor,
  now: Date,
  windowMs: number,
): Promise<ProvisionerDaemon[]> {
  const since = toMillis(now) - windowMs;
  const rows = await db
    .selectFrom("provisioner_daemons")
    .selectAll()
    .where((eb) =>
      eb.or([
        eb("last_seen_at", ">=", since),
        eb(
          "id",
          "in",
          eb
            .selectFrom("provisioner_jobs")
            .select("worker_id")
            .where("completed_at", "is", null)
            .where("started_at", "is not", null)
            .where("worker_id", "is not", null),
        ),
      ]),
    )
    .orderBy("name")
    .execute();
  return rows.map(daemonFromRow);
}
