// Migration 0001: the initial schema (users and tokens, files, templates and versions with their parameters,
// variables and presets, workspaces and builds, provisioner jobs and daemons, resources and agents, prebuild
// events, site config) and the built-in `prebuilds` system user. Never edit a released migration.
import { type Kysely, type Migration, sql } from "kysely";
import { PREBUILDS_USER_ID, PREBUILDS_USERNAME } from "../prebuilds/system-user.js";
import type { Dialect } from "./dialect.js";
import { columnTypes, flag, oneOf, serialId } from "./migration-helpers.js";

export function initialMigration(dialect: Dialect): Migration {
  const ty = columnTypes(dialect);
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("users")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("username", "text", (c) => c.notNull())
        .addColumn("email", "text", (c) => c.notNull())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("role", "text", (c) => c.notNull())
        .addColumn("login_type", "text", (c) => c.notNull())
        .addColumn("password_hash", "text")
        .addColumn("is_system", "integer", (c) => c.notNull())
        .addColumn("created_at", ty.bigint, (c) => c.notNull())
        .addColumn("updated_at", ty.bigint, (c) => c.notNull())
        .addCheckConstraint("users_role_check", oneOf("role", ["owner", "member"]))
        .addCheckConstraint("users_login_type_check", oneOf("login_type", ["password", "token", "none"]))
        .addCheckConstraint("users_is_system_check", flag("is_system"))
        .execute();
      await db.schema
        .createIndex("users_username_key")
        .on("users")
        .unique()
        .expression(sql`lower(username)`)
        .execute();

      await db.schema
        .createTable("api_tokens")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("user_id", "text", (c) => c.notNull().references("users.id").onDelete("cascade"))
        .addColumn("hashed_secret", ty.bytes, (c) => c.notNull())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("created_at", ty.bigint, (c) => c.notNull())
        .addColumn("expires_at", ty.bigint)
        .addColumn("last_used_at", ty.bigint)
        .addUniqueConstraint("api_tokens_user_name_key", ["user_id", "name"])
        .execute();

      await db.schema
        .createTable("files")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("hash", "text", (c) => c.notNull())
        .addColumn("mimetype", "text", (c) => c.notNull())
        .addColumn("data", ty.bytes, (c) => c.notNull())
        .addColumn("size", ty.bigint, (c) => c.notNull())
        .addColumn("created_by", "text", (c) => c.references("users.id").onDelete("set null"))
        .addColumn("created_at", ty.bigint, (c) => c.notNull())
        .addUniqueConstraint("files_hash_key", ["hash"])
        .execute();

      await db.schema
        .createTable("templates")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("display_name", "text", (c) => c.notNull())
        .addColumn("description", "text", (c) => c.notNull())
        .addColumn("icon", "text", (c) => c.notNull())
        .addColumn("active_version_id", "text")
        .addColumn("deprecated", "text", (c) => c.notNull())
        .addColumn("deleted", "integer", (c) => c.notNull())
        .addColumn("created_by", "text", (c) => c.notNull().references("users.id"))
        .addColumn("created_at", ty.bigint, (c) => c.notNull())
        .addColumn("updated_at", ty.bigint, (c) => c.notNull())
        .addCheckConstraint("templates_deleted_check", flag("deleted"))
        .execute();
      await db.schema
        .createIndex("templates_name_live_key")
        .on("templates")
        .unique()
        .column("name")
        .where(sql.raw<boolean>("deleted = 0"))
        .execute();

      await db.schema
        .createTable("provisioner_jobs")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("type", "text", (c) => c.notNull())
        .addColumn("provisioner", "text", (c) => c.notNull())
        .addColumn("file_id", "text", (c) => c.notNull().references("files.id"))
        .addColumn("input", "text", (c) => c.notNull())
        .addColumn("tags", "text", (c) => c.notNull())
        .addColumn("initiator_id", "text", (c) => c.notNull().references("users.id"))
        .addColumn("is_prebuild", "integer", (c) => c.notNull())
        .addColumn("worker_id", "text")
        .addColumn("created_at", ty.bigint, (c) => c.notNull())
        .addColumn("updated_at", ty.bigint, (c) => c.notNull())
        .addColumn("started_at", ty.bigint)
        .addColumn("completed_at", ty.bigint)
        .addColumn("canceled_at", ty.bigint)
        .addColumn("error", "text")
        .addColumn("error_code", "text")
        .addCheckConstraint(
          "provisioner_jobs_type_check",
          oneOf("type", ["template_version_import", "workspace_build"]),
        )
        .addCheckConstraint("provisioner_jobs_is_prebuild_check", flag("is_prebuild"))
        .execute();
      // The queue: pending jobs in acquisition order.
      await db.schema
        .createIndex("provisioner_jobs_pending_idx")
        .on("provisioner_jobs")
        .columns(["is_prebuild", "created_at"])
        .where(sql.raw<boolean>("started_at is null and completed_at is null"))
        .execute();
      // The reaper and "in flight" counts: unfinished jobs.
      await db.schema
        .createIndex("provisioner_jobs_unfinished_idx")
        .on("provisioner_jobs")
        .column("updated_at")
        .where(sql.raw<boolean>("completed_at is null"))
        .execute();

      await db.schema
        .createTable("template_versions")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("template_id", "text", (c) => c.references("templates.id"))
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("message", "text", (c) => c.notNull())
        .addColumn("file_id", "text", (c) => c.notNull().references("files.id"))
        .addColumn("provisioner", "text", (c) => c.notNull())
        .addColumn("job_id", "text", (c) => c.notNull().references("provisioner_jobs.id"))
        .addColumn("readme", "text", (c) => c.notNull())
        .addColumn("created_by", "text", (c) => c.notNull().references("users.id"))
        .addColumn("created_at", ty.bigint, (c) => c.notNull())
        .addColumn("updated_at", ty.bigint, (c) => c.notNull())
        .addUniqueConstraint("template_versions_template_name_key", ["template_id", "name"])
        .execute();
      await db.schema
        .createIndex("template_versions_job_idx")
        .on("template_versions")
        .column("job_id")
        .execute();

      await db.schema
        .createTable("template_version_variables")
        .addColumn("template_version_id", "text", (c) =>
          c.notNull().references("template_versions.id").onDelete("cascade"),
        )
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("description", "text", (c) => c.notNull())
        .addColumn("type", "text", (c) => c.notNull())
        .addColumn("default_value", "text", (c) => c.notNull())
        .addColumn("value", "text", (c) => c.notNull())
        .addColumn("required", "integer", (c) => c.notNull())
        .addColumn("sensitive", "integer", (c) => c.notNull())
        .addPrimaryKeyConstraint("template_version_variables_pkey", ["template_version_id", "name"])
        .execute();

      await db.schema
        .createTable("template_version_parameters")
        .addColumn("template_version_id", "text", (c) =>
          c.notNull().references("template_versions.id").onDelete("cascade"),
        )
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("display_name", "text", (c) => c.notNull())
        .addColumn("description", "text", (c) => c.notNull())
        .addColumn("type", "text", (c) => c.notNull())
        .addColumn("form_type", "text", (c) => c.notNull())
        .addColumn("mutable", "integer", (c) => c.notNull())
        .addColumn("default_value", "text", (c) => c.notNull())
        .addColumn("icon", "text", (c) => c.notNull())
        .addColumn("options", "text", (c) => c.notNull())
        .addColumn("validation_regex", "text", (c) => c.notNull())
        .addColumn("validation_error", "text", (c) => c.notNull())
        .addColumn("validation_min", "integer")
        .addColumn("validation_max", "integer")
        .addColumn("validation_monotonic", "text", (c) => c.notNull())
        .addColumn("required", "integer", (c) => c.notNull())
        .addColumn("display_order", "integer", (c) => c.notNull())
        .addColumn("ephemeral", "integer", (c) => c.notNull())
        .addPrimaryKeyConstraint("template_version_parameters_pkey", ["template_version_id", "name"])
        .execute();

      await db.schema
        .createTable("template_version_workspace_tags")
        .addColumn("template_version_id", "text", (c) =>
          c.notNull().references("template_versions.id").onDelete("cascade"),
        )
        .addColumn("key", "text", (c) => c.notNull())
        .addColumn("value", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("template_version_workspace_tags_pkey", ["template_version_id", "key"])
        .execute();

      await db.schema
        .createTable("presets")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("template_version_id", "text", (c) =>
          c.notNull().references("template_versions.id").onDelete("cascade"),
        )
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("is_default", "integer", (c) => c.notNull())
        .addColumn("description", "text", (c) => c.notNull())
        .addColumn("icon", "text", (c) => c.notNull())
        .addColumn("desired_instances", "integer")
        .addColumn("ttl_seconds", "integer", (c) => c.notNull())
        .addColumn("scheduling_timezone", "text", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("last_invalidated_at", ty.bigint)
        .addColumn("created_at", ty.bigint, (c) => c.notNull())
        .addUniqueConstraint("presets_version_name_key", ["template_version_id", "name"])
        .addCheckConstraint(
          "presets_status_check",
          oneOf("status", ["healthy", "hard_limited", "validation_failed"]),
        )
        .addCheckConstraint("presets_is_default_check", flag("is_default"))
        .addCheckConstraint("presets_ttl_check", sql.raw("ttl_seconds >= 0"))
        .addCheckConstraint(
          "presets_desired_check",
          sql.raw("desired_instances is null or desired_instances >= 0"),
        )
        .execute();
      await db.schema
        .createIndex("presets_one_default_key")
        .on("presets")
        .unique()
        .column("template_version_id")
        .where(sql.raw<boolean>("is_default = 1"))
        .execute();

      await db.schema
        .createTable("preset_parameters")
        .addColumn("preset_id", "text", (c) => c.notNull().references("presets.id").onDelete("cascade"))
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("value", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("preset_parameters_pkey", ["preset_id", "name"])
        .execute();

      await db.schema
        .createTable("preset_schedules")
        .addColumn("preset_id", "text", (c) => c.notNull().references("presets.id").onDelete("cascade"))
        .addColumn("ordinal", "integer", (c) => c.notNull())
        .addColumn("cron", "text", (c) => c.notNull())
        .addColumn("instances", "integer", (c) => c.notNull())
        .addPrimaryKeyConstraint("preset_schedules_pkey", ["preset_id", "ordinal"])
        .execute();

      await db.schema
        .createTable("workspaces")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("owner_id", "text", (c) => c.notNull().references("users.id"))
        .addColumn("template_id", "text", (c) => c.notNull().references("templates.id"))
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("created_at", ty.bigint, (c) => c.notNull())
        .addColumn("updated_at", ty.bigint, (c) => c.notNull())
        .addColumn("deleted", "integer", (c) => c.notNull())
        .addCheckConstraint("workspaces_deleted_check", flag("deleted"))
        .execute();
      await db.schema
        .createIndex("workspaces_owner_name_live_key")
        .on("workspaces")
        .unique()
        .columns(["owner_id", "name"])
        .where(sql.raw<boolean>("deleted = 0"))
        .execute();
      await db.schema.createIndex("workspaces_template_idx").on("workspaces").column("template_id").execute();

      await db.schema
        .createTable("workspace_builds")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("workspace_id", "text", (c) => c.notNull().references("workspaces.id"))
        .addColumn("build_number", "integer", (c) => c.notNull())
        .addColumn("transition", "text", (c) => c.notNull())
        .addColumn("template_version_id", "text", (c) => c.notNull().references("template_versions.id"))
        .addColumn("preset_id", "text", (c) => c.references("presets.id").onDelete("set null"))
        .addColumn("initiator_id", "text", (c) => c.notNull().references("users.id"))
        .addColumn("reason", "text", (c) => c.notNull())
        .addColumn("prebuild_stage", "text", (c) => c.notNull())
        .addColumn("provisioner_state", ty.bytes)
        .addColumn("job_id", "text", (c) => c.notNull().references("provisioner_jobs.id"))
        .addColumn("created_at", ty.bigint, (c) => c.notNull())
        .addColumn("updated_at", ty.bigint, (c) => c.notNull())
        .addUniqueConstraint("workspace_builds_number_key", ["workspace_id", "build_number"])
        .addUniqueConstraint("workspace_builds_job_key", ["job_id"])
        .addCheckConstraint(
          "workspace_builds_transition_check",
          oneOf("transition", ["start", "stop", "delete"]),
        )
        .addCheckConstraint(
          "workspace_builds_prebuild_stage_check",
          oneOf("prebuild_stage", ["none", "create", "claim"]),
        )
        .execute();
      await db.schema
        .createIndex("workspace_builds_preset_idx")
        .on("workspace_builds")
        .column("preset_id")
        .execute();

      await db.schema
        .createTable("workspace_build_parameters")
        .addColumn("workspace_build_id", "text", (c) =>
          c.notNull().references("workspace_builds.id").onDelete("cascade"),
        )
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("value", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("workspace_build_parameters_pkey", ["workspace_build_id", "name"])
        .execute();

      await serialId(db.schema.createTable("provisioner_job_logs"), dialect)
        .addColumn("job_id", "text", (c) => c.notNull().references("provisioner_jobs.id").onDelete("cascade"))
        .addColumn("created_at", ty.bigint, (c) => c.notNull())
        .addColumn("source", "text", (c) => c.notNull())
        .addColumn("level", "text", (c) => c.notNull())
        .addColumn("stage", "text", (c) => c.notNull())
        .addColumn("output", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("provisioner_job_logs_job_idx")
        .on("provisioner_job_logs")
        .columns(["job_id", "id"])
        .execute();

      await serialId(db.schema.createTable("provisioner_job_timings"), dialect)
        .addColumn("job_id", "text", (c) => c.notNull().references("provisioner_jobs.id").onDelete("cascade"))
        .addColumn("started_at", ty.bigint, (c) => c.notNull())
        .addColumn("ended_at", ty.bigint, (c) => c.notNull())
        .addColumn("stage", "text", (c) => c.notNull())
        .addColumn("source", "text", (c) => c.notNull())
        .addColumn("action", "text", (c) => c.notNull())
        .addColumn("resource", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("provisioner_job_timings_job_idx")
        .on("provisioner_job_timings")
        .column("job_id")
        .execute();

      await db.schema
        .createTable("workspace_resources")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("job_id", "text", (c) => c.notNull().references("provisioner_jobs.id").onDelete("cascade"))
        .addColumn("transition", "text", (c) => c.notNull())
        .addColumn("type", "text", (c) => c.notNull())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("hide", "integer", (c) => c.notNull())
        .addColumn("icon", "text", (c) => c.notNull())
        .addColumn("instance_type", "text", (c) => c.notNull())
        .addColumn("daily_cost", "integer", (c) => c.notNull())
        .addColumn("module_path", "text", (c) => c.notNull())
        .addColumn("metadata", "text", (c) => c.notNull())
        .addColumn("created_at", ty.bigint, (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("workspace_resources_job_idx")
        .on("workspace_resources")
        .column("job_id")
        .execute();

      await db.schema
        .createTable("workspace_agents")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("resource_id", "text", (c) =>
          c.notNull().references("workspace_resources.id").onDelete("cascade"),
        )
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("auth_token", "text", (c) => c.notNull())
        .addColumn("auth_token_hash", ty.bytes, (c) => c.notNull())
        .addColumn("architecture", "text", (c) => c.notNull())
        .addColumn("operating_system", "text", (c) => c.notNull())
        .addColumn("directory", "text", (c) => c.notNull())
        .addColumn("env", "text", (c) => c.notNull())
        .addColumn("connection_timeout_seconds", "integer", (c) => c.notNull())
        .addColumn("troubleshooting_url", "text", (c) => c.notNull())
        .addColumn("motd_file", "text", (c) => c.notNull())
        .addColumn("display_apps", "text", (c) => c.notNull())
        .addColumn("api_key_scope", "text", (c) => c.notNull())
        .addColumn("display_order", "integer", (c) => c.notNull())
        .addColumn("lifecycle_state", "text", (c) => c.notNull())
        .addColumn("first_connected_at", ty.bigint)
        .addColumn("last_connected_at", ty.bigint)
        .addColumn("ready_at", ty.bigint)
        .addColumn("created_at", ty.bigint, (c) => c.notNull())
        .addColumn("updated_at", ty.bigint, (c) => c.notNull())
        .addCheckConstraint(
          "workspace_agents_lifecycle_state_check",
          oneOf("lifecycle_state", ["created", "starting", "ready", "start_error", "shutting_down", "off"]),
        )
        .execute();
      await db.schema
        .createIndex("workspace_agents_resource_idx")
        .on("workspace_agents")
        .column("resource_id")
        .execute();
      // Not unique: a claim or a restart may reuse a token on a new agent row of a later build.
      await db.schema
        .createIndex("workspace_agents_token_hash_idx")
        .on("workspace_agents")
        .column("auth_token_hash")
        .execute();

      await db.schema
        .createTable("workspace_apps")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("agent_id", "text", (c) =>
          c.notNull().references("workspace_agents.id").onDelete("cascade"),
        )
        .addColumn("slug", "text", (c) => c.notNull())
        .addColumn("display_name", "text", (c) => c.notNull())
        .addColumn("command", "text", (c) => c.notNull())
        .addColumn("url", "text", (c) => c.notNull())
        .addColumn("icon", "text", (c) => c.notNull())
        .addColumn("subdomain", "integer", (c) => c.notNull())
        .addColumn("external", "integer", (c) => c.notNull())
        .addColumn("hidden", "integer", (c) => c.notNull())
        .addColumn("display_order", "integer", (c) => c.notNull())
        .addColumn("healthcheck", "text", (c) => c.notNull())
        .addColumn("created_at", ty.bigint, (c) => c.notNull())
        .addUniqueConstraint("workspace_apps_agent_slug_key", ["agent_id", "slug"])
        .execute();

      await db.schema
        .createTable("workspace_agent_scripts")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("agent_id", "text", (c) =>
          c.notNull().references("workspace_agents.id").onDelete("cascade"),
        )
        .addColumn("display_name", "text", (c) => c.notNull())
        .addColumn("icon", "text", (c) => c.notNull())
        .addColumn("script", "text", (c) => c.notNull())
        .addColumn("cron", "text", (c) => c.notNull())
        .addColumn("start_blocks_login", "integer", (c) => c.notNull())
        .addColumn("run_on_start", "integer", (c) => c.notNull())
        .addColumn("run_on_stop", "integer", (c) => c.notNull())
        .addColumn("timeout_seconds", "integer", (c) => c.notNull())
        .addColumn("log_path", "text", (c) => c.notNull())
        .addColumn("created_at", ty.bigint, (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("workspace_agent_scripts_agent_idx")
        .on("workspace_agent_scripts")
        .column("agent_id")
        .execute();

      await db.schema
        .createTable("provisioner_daemons")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("provisioners", "text", (c) => c.notNull())
        .addColumn("tags", "text", (c) => c.notNull())
        .addColumn("version", "text", (c) => c.notNull())
        .addColumn("created_at", ty.bigint, (c) => c.notNull())
        .addColumn("last_seen_at", ty.bigint, (c) => c.notNull())
        .addUniqueConstraint("provisioner_daemons_name_key", ["name"])
        .execute();

      await db.schema
        .createTable("site_config")
        .addColumn("key", "text", (c) => c.primaryKey())
        .addColumn("value", "text", (c) => c.notNull())
        .execute();

      await serialId(db.schema.createTable("prebuild_events"), dialect)
        .addColumn("preset_id", "text", (c) => c.notNull().references("presets.id").onDelete("cascade"))
        .addColumn("event_type", "text", (c) => c.notNull())
        .addColumn("created_at", ty.bigint, (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("prebuild_events_preset_idx")
        .on("prebuild_events")
        .columns(["preset_id", "created_at"])
        .execute();

      // The system user. created_at 0: it has existed "forever"; it cannot log in (no password, no tokens).
      await sql`insert into users (id, username, email, name, role, login_type, password_hash, is_system, created_at, updated_at)
        values (${PREBUILDS_USER_ID}, ${PREBUILDS_USERNAME}, '', 'Prebuilds', 'member', 'none', null, 1, 0, 0)`.execute(
        db,
      );
    },
  };
}
