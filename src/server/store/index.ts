// The store: Kysely over SQLite or PostgreSQL, one schema, query modules per table group.
export * from "./daemons.js";
export * from "./errors.js";
export * from "./files.js";
export * from "./job-status.js";
export * from "./jobs.js";
export * from "./locks.js";
export * from "./migrations.js";
export * from "./prebuild-events.js";
export * from "./presets.js";
export * from "./pubsub.js";
export * from "./resources.js";
export * from "./rows.js";
export type * from "./schema.js";
export * from "./site-config.js";
export * from "./store.js";
export * from "./templates.js";
export * from "./users.js";
export * from "./workspaces.js";
