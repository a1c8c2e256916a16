// Uploaded files (template archives), content-addressed by sha256 and deduplicated: uploading the same bytes
// twice yields the same file id, also when two uploads race (INSERT … ON CONFLICT DO NOTHING, then read).
import { createHash, randomUUID } from "node:crypto";
import type { Selectable } from "kysely";
import { toDate, toMillis } from "./rows.js";
import type { FilesTable } from "./schema.js";
import type { Executor } from "./store.js";

export interface FileMeta {
  id: string;
  hash: string;
  mimetype: string;
  size: number;
  createdBy: string | null;
  createdAt: Date;
}

export interface StoredFile extends FileMeta {
  data: Buffer;
}

export const sha256Hex = (data: Uint8Array): string => createHash("sha256").update(data).digest("hex");

/** Stores `data` unless identical bytes are stored already; returns the file's metadata either way. */
export async function insertFile(
  db: Executor,
  input: { data: Uint8Array; mimetype?: string; createdBy: string | null; now: Date },
): Promise<FileMeta & { created: boolean }> {
  const hash = sha256Hex(input.data);
  const inserted = await db
    .insertInto("files")
    .values({
      id: randomUUID(),
      hash,
      mimetype: input.mimetype ?? "application/x-tar",
      data: Buffer.from(input.data),
      size: input.data.byteLength,
      created_by: input.createdBy,
      created_at: toMillis(input.now),
    })
    .onConflict((oc) => oc.column("hash").doNothing())
    .returning("id")
    .executeTakeFirst();
  const meta = await getFileMeta(db, { hash });
  if (!meta) throw new Error(`store file ${hash}: row vanished after insert`);
  return { ...meta, created: inserted !== undefined };
}

function metaFromRow(row: Omit<Selectable<FilesTable>, "data">): FileMeta {
  return {
    id: row.id,
    hash: row.hash,
    mimetype: row.mimetype,
    size: row.size,
    createdBy: row.created_by,
    createdAt: toDate(row.created_at),
  };
}

const META_COLUMNS = ["id", "hash", "mimetype", "size", "created_by", "created_at"] as const;

export async function getFileMeta(
  db: Executor,
  by: { id: string } | { hash: string },
): Promise<FileMeta | undefined> {
  const query = db.selectFrom("files").select(META_COLUMNS);
  const row = await ("id" in by
    ? query.where("id", "=", by.id)
    : query.where("hash", "=", by.hash)
  ).executeTakeFirst();
  return row ? metaFromRow(row) : undefined;
}

/**
 * Bytes of the uploads `userId` stored (the upload quota's measure). A file counts for whoever stored it
 * first: uploading bytes someone already stored stores nothing and costs nothing.
 */
export async function storedBytesOf(db: Executor, userId: string): Promise<number> {
  const row = await db
    .selectFrom("files")
    .select((eb) => eb.fn.sum<number | string | null>("size").as("total"))
    .where("created_by", "=", userId)
    .executeTakeFirst();
  return Number(row?.total ?? 0);
}

export async function getFile(db: Executor, id: string): Promise<StoredFile | undefined> {
  const row = await db.selectFrom("files").selectAll().where("id", "=", id).executeTakeFirst();
  return row ? { ...metaFromRow(row), data: Buffer.from(row.data) } : undefined;
}
