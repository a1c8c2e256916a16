// What running agents report, written to the store: lifecycle with its `changedAt`, heartbeats (connection
// time), log lines (bounded per agent) and metadata values (latest per key). Every report also counts as a
// sign of life, so `last_connected_at` moves with each one.

import { toMillis } from "./rows.js";
import type { AgentLifecycleState, LogLevel } from "./schema.js";
import type { Executor } from "./store.js";

/** Log lines kept per agent; older ones are pruned as new ones arrive. */
export const AGENT_LOG_LINES_KEPT = 10_000;

export async function markAgentConnected(db: Executor, agentId: string, now: Date): Promise<void> {
  const at = toMillis(now);
  await db
    .updateTable("workspace_agents")
    .set((eb) => ({
      last_connected_at: at,
      first_connected_at: eb.fn.coalesce("first_connected_at", eb.val(at)),
    }))
    .where("id", "=", agentId)
    .execute();
}

/** Sets the lifecycle state and the time it began (the caller decided the report is acceptable). */
export async function setAgentLifecycle(
  db: Executor,
  agentId: string,
  report: { state: AgentLifecycleState; changedAt: Date },
  now: Date,
): Promise<void> {
  const at = toMillis(now);
  await db
    .updateTable("workspace_agents")
    .set((eb) => ({
      lifecycle_state: report.state,
      lifecycle_changed_at: toMillis(report.changedAt),
      updated_at: at,
      last_connected_at: at,
      first_connected_at: eb.fn.coalesce("first_connected_at", eb.val(at)),
      ready_at: report.state === "ready" ? eb.fn.coalesce("ready_at", eb.val(at)) : eb.ref("ready_at"),
    }))
    .where("id", "=", agentId)
    .execute();
}

export interface AgentLogLine {
  createdAt: Date;
  level: LogLevel;
  output: string;
  source: string;
}

/** Appends log lines and prunes the agent's oldest lines beyond `keep`. */
export async function appendAgentLogs(
  db: Executor,
  agentId: string,
  lines: readonly AgentLogLine[],
  keep = AGENT_LOG_LINES_KEPT,
): Promise<void> {
  if (lines.length === 0) return;
  await db
    .insertInto("workspace_agent_logs")
    .values(
      lines.map((l) => ({
        agent_id: agentId,
        created_at: toMillis(l.createdAt),
        level: l.level,
        output: l.output,
        source: l.source,
      })),
    )
    .execute();
  const cutoff = await db
    .selectFrom("workspace_agent_logs")
    .select("id")
    .where("agent_id", "=", agentId)
    .orderBy("id", "desc")
    .offset(keep)
    .limit(1)
    .executeTakeFirst();
  if (cutoff) {
    await db
      .deleteFrom("workspace_agent_logs")
      .where("agent_id", "=", agentId)
      .where("id", "<=", cutoff.id)
      .execute();
  }
}

export interface AgentMetadataValue {
  key: string;
  value: string;
  error: string;
  collectedAt: Date;
}

/**
 * Stores the latest value per key. A key the template did not define is kept too (display name = key): the
 * agent knows what it collects. An older value never replaces a newer one.
 */
export async function upsertAgentMetadata(
  db: Executor,
  agentId: string,
  values: readonly AgentMetadataValue[],
): Promise<void> {
  for (const v of values) {
    const at = toMillis(v.collectedAt);
    const updated = await db
      .updateTable("workspace_agent_metadata")
      .set({ value: v.value, error: v.error, collected_at: at })
      .where("agent_id", "=", agentId)
      .where("key", "=", v.key)
      .where((eb) => eb.or([eb("collected_at", "is", null), eb("collected_at", "<=", at)]))
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) > 0) continue;
    const exists = await db
      .selectFrom("workspace_agent_metadata")
      .select("key")
      .where("agent_id", "=", agentId)
      .where("key", "=", v.key)
      .executeTakeFirst();
    if (exists) continue; // a newer value is already stored
    await db
      .insertInto("workspace_agent_metadata")
      .values({
        agent_id: agentId,
        key: v.key,
        display_name: v.key,
        script: "",
        interval_seconds: 0,
        timeout_seconds: 0,
        display_order: 1_000_000,
        value: v.value,
        error: v.error,
        collected_at: at,
      })
      .execute();
  }
}
