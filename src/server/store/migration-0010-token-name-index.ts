// Migration 0010: an index on `api_tokens.name`. Every job that ends revokes its build session token by name
// (store/users.ts revokeBuildSessionToken) — most jobs have none — so without it each job end scanned the
// whole token table.
import type { Kysely, Migration } from "kysely";
import type { Dialect } from "./dialect.js";

export function tokenNameIndexMigration(_dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.createIndex("api_tokens_name_idx").on("api_tokens").column("name").execute();
    },
  };
}
