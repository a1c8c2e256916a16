// Migration 0009: tags follow Coder's MutateTags (jobs/tags.ts), so "untagged" is stored as
// `{"owner":"","scope":"organization"}`, no longer `{}`. Rewrites the `{}` of jobs and daemons written before
// (nothing else could be stored: version tags were refused, daemons re-register on their next poll).
import { type Kysely, type Migration, sql } from "kysely";
import type { Dialect } from "./dialect.js";

const UNTAGGED = '{"owner":"","scope":"organization"}';

export function untaggedScopeMigration(_dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await sql`update provisioner_jobs set tags = ${UNTAGGED} where tags = '{}'`.execute(db);
      await sql`update provisioner_daemons set tags = ${UNTAGGED} where tags = '{}'`.execute(db);
    },
  };
}
