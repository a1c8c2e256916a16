// Schema migrations, in code: one ordered list shared by both dialects, each migration in its own file
// (migration-NNNN-*.ts, which import nothing from this list), with the few type differences ("flavours") in
// migration-helpers.ts. Applied at start by `openStore` (on PostgreSQL under a session advisory lock, see
// store.ts). Never edit a released migration: append a new one.
import { type Kysely, type Migration, type MigrationProvider, Migrator } from "kysely";
import type { Dialect } from "./dialect.js";
import { initialMigration } from "./migration-0001-initial.js";
import { poolHistoryMigration } from "./migration-0003-pool-history.js";
import { agentLogsMetadataMigration } from "./migration-0004-agent-logs-metadata.js";
import { claimsMigration } from "./migration-0005-claims.js";
import { presetSettingsMigration } from "./migration-0006-preset-settings.js";
import { auditLogMigration } from "./migration-0007-audit-log.js";
import { retentionMigration } from "./migration-0008-retention.js";
import { untaggedScopeMigration } from "./migration-0009-untagged-scope.js";
import { tokenNameIndexMigration } from "./migration-0010-token-name-index.js";
import { prebuildChangesMigration } from "./migration-0011-prebuild-changes.js";
import { claimablePrebuildsMigration } from "./migration-0012-claimable-prebuilds.js";

/** All migrations in order. Names sort lexically; Kysely applies them in that order. */
export function migrations(dialect: Dialect): Record<string, Migration> {
  return {
    "0001_initial": initialMigration(dialect),
    "0003_pool_history": poolHistoryMigration(dialect),
    "0004_agent_logs_metadata": agentLogsMetadataMigration(dialect),
    "0005_claims": claimsMigration(dialect),
    "0006_preset_settings": presetSettingsMigration(dialect),
    "0007_audit_log": auditLogMigration(dialect),
    "0008_retention": retentionMigration(dialect),
    "0009_untagged_scope": untaggedScopeMigration(dialect),
    "0010_token_name_index": tokenNameIndexMigration(dialect),
    "0011_prebuild_changes": prebuildChangesMigration(dialect),
    "0012_claimable_prebuilds": claimablePrebuildsMigration(dialect),
  };
}

export class MigrationError extends Error {
  override name = "MigrationError";
}

function migrator(db: Kysely<unknown>, dialect: Dialect): Migrator {
  const provider: MigrationProvider = { getMigrations: async () => migrations(dialect) };
  return new Migrator({
    db,
    provider,
    migrationTableName: "schema_migrations",
    migrationLockTableName: "schema_migrations_lock",
  });
}

/** Names of the migrations this build knows that the database has not applied (readiness, /readyz). */
export async function pendingMigrations(db: Kysely<unknown>, dialect: Dialect): Promise<string[]> {
  const known = await migrator(db, dialect).getMigrations();
  return known.filter((m) => m.executedAt === undefined).map((m) => m.name);
}

/** Applies every pending migration. The caller provides cross-process exclusion (see store.ts). */
export async function migrateToLatest(db: Kysely<unknown>, dialect: Dialect): Promise<string[]> {
  const { error, results } = await migrator(db, dialect).migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === "Error")?.migrationName ?? "?";
    throw new MigrationError(
      `migrate database: migration ${failed} failed: ${(error as Error).message ?? error}`,
      {
        cause: error,
      },
    );
  }
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}
