// Recognising driver errors the same way on both dialects: constraint violations, so the API can map them to
// 409, and storage faults (a database that went away, a full disk), so it can answer 503/507 with the reason.
// PostgreSQL names the violated constraint (`err.constraint`); SQLite names the columns ("UNIQUE constraint
// failed: workspaces.owner_id, workspaces.name") or, for expression indexes, the index. The table below maps
// SQLite's wording back to the constraint names used in migrations.ts.

/** Every unique constraint/index in the schema, with the columns SQLite reports for it. */
const UNIQUE_CONSTRAINTS = {
  users_username_key: "index 'users_username_key'",
  users_pkey: "users.id",
  api_tokens_pkey: "api_tokens.id",
  api_tokens_user_name_key: "api_tokens.user_id, api_tokens.name",
  files_hash_key: "files.hash",
  templates_name_live_key: "templates.name",
  template_versions_template_name_key: "template_versions.template_id, template_versions.name",
  presets_version_name_key: "presets.template_version_id, presets.name",
  presets_one_default_key: "presets.template_version_id",
  preset_parameters_pkey: "preset_parameters.preset_id, preset_parameters.name",
  preset_schedules_pkey: "preset_schedules.preset_id, preset_schedules.ordinal",
  template_version_parameters_pkey:
    "template_version_parameters.template_version_id, template_version_parameters.name",
  template_version_variables_pkey:
    "template_version_variables.template_version_id, template_version_variables.name",
  workspaces_owner_name_live_key: "workspaces.owner_id, workspaces.name",
  workspace_builds_number_key: "workspace_builds.workspace_id, workspace_builds.build_number",
  workspace_builds_job_key: "workspace_builds.job_id",
  workspace_build_parameters_pkey:
    "workspace_build_parameters.workspace_build_id, workspace_build_parameters.name",
  workspace_apps_agent_slug_key: "workspace_apps.agent_id, workspace_apps.slug",
  provisioner_daemons_name_key: "provisioner_daemons.name",
  claim_rehearsals_pkey: "claim_rehearsals.preset_id",
  workspace_create_keys_pkey: "workspace_create_keys.owner_id, workspace_create_keys.key",
} as const;

export type UniqueConstraintName = keyof typeof UNIQUE_CONSTRAINTS;

const SQLITE_SUBJECT_TO_NAME = new Map<string, UniqueConstraintName>(
  Object.entries(UNIQUE_CONSTRAINTS).map(([name, subject]) => [subject, name as UniqueConstraintName]),
);

interface DriverError {
  code?: unknown;
  constraint?: unknown;
  message?: unknown;
  cause?: unknown;
}

/**
 * The driver's error behind `err`: `err` itself, or the first error in its `cause` chain that carries a code
 * (code that adds context wraps driver errors — `claim prebuild …: UNIQUE constraint failed` — and a wrapped
 * violation must still be recognised). Bounded, in case of a cyclic chain.
 */
function asDriverError(err: unknown): DriverError | undefined {
  for (const e of causes(err)) if (e.code !== undefined) return e;
  return undefined;
}

/**
 * `err` and the errors behind it, nearest first: its `cause` chain and an AggregateError's members (pg reports
 * a refused dual-stack connect as one). Bounded, in case of a cycle.
 */
function* causes(err: unknown): Generator<DriverError & { errors?: unknown }> {
  const queue: unknown[] = [err];
  for (let seen = 0; seen < 16 && queue.length > 0; seen++) {
    const current = queue.shift();
    if (typeof current !== "object" || current === null) continue;
    const e = current as DriverError & { errors?: unknown };
    yield e;
    if (e.cause !== undefined) queue.push(e.cause);
    if (Array.isArray(e.errors)) queue.push(...e.errors);
  }
}

/**
 * The name of the unique constraint `err` violated, or undefined when `err` is not a unique violation.
 * A violation of a constraint missing from the table above yields the raw subject (so it still counts).
 */
export function uniqueViolation(err: unknown): string | undefined {
  const e = asDriverError(err);
  if (!e) return undefined;
  if (e.code === "23505") return typeof e.constraint === "string" ? e.constraint : "unknown";
  if (e.code === "SQLITE_CONSTRAINT_UNIQUE" || e.code === "SQLITE_CONSTRAINT_PRIMARYKEY") {
    const subject = String(e.message).replace(/^UNIQUE constraint failed: /, "");
    return SQLITE_SUBJECT_TO_NAME.get(subject as never) ?? subject;
  }
  return undefined;
}

/** True when `err` is a unique violation (of `constraint`, when given). */
export function isUniqueViolation(err: unknown, constraint?: UniqueConstraintName): boolean {
  const name = uniqueViolation(err);
  return name !== undefined && (constraint === undefined || name === constraint);
}

/** A storage fault: the database cannot serve now, through no fault of the request. */
export interface StorageFault {
  /** 507 for a full disk, 503 for everything that passes by itself (unreachable, busy, read-only, I/O). */
  status: 503 | 507;
  reason: string;
}

/** Node's socket errors and PostgreSQL's "cannot serve now" codes (class 08 is matched by prefix). */
const UNREACHABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "EPIPE",
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now (starting up, shutting down)
  "53300", // too_many_connections
]);

/** pg reports a dropped connection by message only. */
const LOST_CONNECTION =
  /Connection terminated|connection timeout|Client has encountered a connection error|not queryable/i;

function faultOf(code: string, message: string): StorageFault | undefined {
  if (code === "SQLITE_FULL") return { status: 507, reason: "the database or the disk is full" };
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED"))
    return { status: 503, reason: "the database is busy (another writer holds it)" };
  if (code.startsWith("SQLITE_READONLY")) return { status: 503, reason: "the database is read-only" };
  if (code.startsWith("SQLITE_IOERR") || code === "SQLITE_CANTOPEN")
    return { status: 503, reason: "the database file cannot be read or written" };
  if (UNREACHABLE_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code))
    return { status: 503, reason: `the database is unreachable (${code})` };
  if (LOST_CONNECTION.test(message))
    return { status: 503, reason: "the connection to the database was lost" };
  return undefined;
}

/** The storage fault behind `err` (itself or its cause chain, AggregateError members included), if any. */
export function storageFault(err: unknown): StorageFault | undefined {
  for (const e of causes(err)) {
    const fault = faultOf(typeof e.code === "string" ? e.code : "", String(e.message ?? ""));
    if (fault) return fault;
  }
  return undefined;
}
