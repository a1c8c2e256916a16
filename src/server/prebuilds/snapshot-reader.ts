// The reconciler's incremental snapshot (issue 17): the same snapshot as snapshot.ts's full read, at a cost
// that follows what CHANGED since the previous cycle rather than how many prebuilds exist.
//
// The snapshot is a set of per-template parts (everything it reads belongs to one template). This reader keeps
// each template's rows and assembled presets between cycles, and on each cycle:
// 1. reads the globals (paused, prebuild jobs in flight) and the change feed's watermark (migration 0011:
//    triggers append a template id to `prebuild_changes` on every write the snapshot could see);
// 2. reads the templates named in the feed since its previous watermark, and re-reads exactly those with the
//    snapshot's own statements scoped to them (snapshot.ts readSnapshotRows; none when nothing changed);
// 3. re-assembles those templates, and those whose time windows moved a row out (`validUntilMs`), then plans
//    over every template's presets — so the planner sees what a full read at the same instant would give.
//    test/server/prebuilds/snapshot-reader.test.ts checks that property against the full read.
// It falls back to a full read when it has nothing yet, when the settings changed, when too many templates
// changed for a scoped read to pay off, and every `fullEveryMs` (default 60 s: a safety net, and what bounds
// how stale a replica's parts may get between its turns as leader). After a full read it prunes feed rows that
// every reader has seen: older than its watermark and than PRUNE_AGE_MS. A reader whose previous read is older
// than fullEveryMs reads in full, so it never relies on a pruned row — provided no transaction stays open for
// longer than PRUNE_AGE_MS − fullEveryMs (14 minutes; prewarm's own transactions take milliseconds).
//
// One reader per Reconciler; cycles never overlap, so one read at a time. Views (status API, dashboard) keep
// the full read: they run concurrently with cycles and do not need to be cheap.
import { performance } from "node:perf_hooks";
import { sql } from "kysely";
import type { Dialect, Executor, Store } from "../store/store.js";
import {
  type AssembledTemplate,
  assembleTemplate,
  counting,
  orderedPresets,
  type ReconcileSnapshot,
  readGlobals,
  readSnapshotRows,
  rowsByTemplate,
  type SnapshotRows,
  type SnapshotSettings,
} from "./snapshot.js";

/** Feed rows older than this (and below the pruning reader's watermark) are deleted. */
export const PRUNE_AGE_MS = 15 * 60_000;
const MAX_FULL_EVERY_MS = 10 * 60_000;

export interface SnapshotReaderOptions {
  /** A full read at least this often (ms, monotonic; default 60 s, at most 10 min). */
  fullEveryMs?: number;
  /** A scoped read covers at most this share of the known templates (default 0.5); more changed: full read. */
  maxChangedShare?: number;
}

export interface ReaderSnapshot extends ReconcileSnapshot {
  mode: "full" | "incremental";
  /** Templates whose rows were read this time (all of them on a full read). */
  templatesRead: number;
}

interface Part {
  rows: SnapshotRows;
  assembled: AssembledTemplate;
  assembledAtMs: number;
}

/** The watermark to read the feed from next time (see migration 0011 for why each dialect's is exact). */
async function readWatermark(db: Executor, dialect: Dialect): Promise<number> {
  const { rows } =
    dialect === "sqlite"
      ? await sql<{ w: number }>`select coalesce(max(seq), 0) + 1 as w from prebuild_changes`.execute(db)
      : await sql<{ w: string }>`select pg_snapshot_xmin(pg_current_snapshot())::text::bigint as w`.execute(
          db,
        );
  return Number(rows[0]!.w);
}

async function selectChangedTemplates(db: Executor, since: number): Promise<string[]> {
  const { rows } = await sql<{ template_id: string }>`
    select distinct template_id from prebuild_changes where seq >= ${since}`.execute(db);
  return rows.map((r) => r.template_id);
}

async function pruneFeed(db: Executor, dialect: Dialect, below: number): Promise<void> {
  const dbNowMs =
    dialect === "sqlite"
      ? sql`cast(unixepoch('subsec') * 1000 as integer)`
      : sql`(extract(epoch from clock_timestamp()) * 1000)::bigint`;
  await sql`delete from prebuild_changes where seq < ${below} and created_at < ${dbNowMs} - ${PRUNE_AGE_MS}`.execute(
    db,
  );
}

export class SnapshotReader {
  readonly #store: Store;
  readonly #fullEveryMs: number;
  readonly #maxChangedShare: number;
  #parts = new Map<string, Part>();
  #watermark: number | null = null;
  #settingsKey = "";
  #lastFullAt = Number.NEGATIVE_INFINITY;

  constructor(store: Store, options: SnapshotReaderOptions = {}) {
    this.#store = store;
    this.#fullEveryMs = Math.min(options.fullEveryMs ?? 60_000, MAX_FULL_EVERY_MS);
    this.#maxChangedShare = options.maxChangedShare ?? 0.5;
  }

  /** Reads the snapshot at `now` (inside `tx` when given: the leader's lock transaction). */
  async read(now: Date, settings: SnapshotSettings, tx?: Executor): Promise<ReaderSnapshot> {
    const snapshot = tx
      ? await this.#read(tx, now, settings)
      : await this.#store.transaction((t) => this.#read(t, now, settings), {
          isolation: "repeatable read",
          readOnly: true,
        });
    // Outside the (read-only) snapshot transaction; after a full read every row below its watermark is seen.
    if (snapshot.mode === "full" && this.#watermark !== null)
      await pruneFeed(this.#store.db, this.#store.dialect, this.#watermark);
    return snapshot;
  }

  async #read(reader: Executor, now: Date, settings: SnapshotSettings): Promise<ReaderSnapshot> {
    const dialect = this.#store.dialect;
    const settingsKey = JSON.stringify(settings);
    const previous = this.#watermark;
    const due =
      previous === null ||
      settingsKey !== this.#settingsKey ||
      performance.now() - this.#lastFullAt >= this.#fullEveryMs;
    const { value, queryCount } = await counting(reader, async (db) => {
      const globals = await readGlobals(db);
      const watermark = await readWatermark(db, dialect);
      let scope: string[] | undefined;
      if (!due) {
        const changed = await selectChangedTemplates(db, previous!);
        if (changed.length <= Math.max(8, this.#maxChangedShare * this.#parts.size)) scope = changed;
      }
      const rows =
        scope?.length === 0 ? undefined : await readSnapshotRows(db, dialect, now, settings, scope);
      return { globals, watermark, scope, rows };
    });

    const nowMs = now.getTime();
    const full = value.scope === undefined;
    const parts = full ? new Map<string, Part>() : new Map(this.#parts);
    for (const id of value.scope ?? []) parts.delete(id);
    if (value.rows) {
      for (const [id, rows] of rowsByTemplate(value.rows))
        parts.set(id, { rows, assembled: assembleTemplate(id, rows, now, settings), assembledAtMs: nowMs });
    }
    // Windows only ever drop rows as time passes (never add them: new rows are writes, hence in the feed), so a
    // part assembled earlier is exact until its first row ages out — or if the clock went back.
    for (const [id, part] of parts) {
      if (part.assembledAtMs === nowMs) continue;
      if (nowMs < part.assembled.validUntilMs && nowMs > part.assembledAtMs) continue;
      parts.set(id, {
        ...part,
        assembled: assembleTemplate(id, part.rows, now, settings),
        assembledAtMs: nowMs,
      });
    }

    this.#parts = parts;
    this.#watermark = value.watermark;
    if (full) {
      this.#settingsKey = settingsKey;
      this.#lastFullAt = performance.now();
    }
    return {
      now,
      ...value.globals,
      presets: orderedPresets([...parts.values()].map((p) => p.assembled)),
      queryCount,
      mode: full ? "full" : "incremental",
      templatesRead: full ? parts.size : (value.scope?.length ?? 0),
    };
  }
}
