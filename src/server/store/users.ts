// Users and API tokens.
//
// API token format: `<id>-<secret>`, id = 10 lowercase alphanumerics (stored, shown in token lists), secret =
// 32 base64url characters (~192 bits; only its sha256 is stored). Lookup is by id, then a constant-time
// comparison of the secret's hash, so a token cannot be recovered from the database.
import { createHash, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import type { Selectable } from "kysely";
import { toBool, toDate, toDateOrNull, toMillis, toMillisOrNull } from "./rows.js";
import type { ApiTokensTable, LoginType, UserRole, UsersTable } from "./schema.js";
import type { Executor } from "./store.js";

export interface User {
  id: string;
  username: string;
  email: string;
  name: string;
  role: UserRole;
  loginType: LoginType;
  /** Password hash (format owned by the auth module), null when the user cannot log in with a password. */
  passwordHash: string | null;
  isSystem: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export function userFromRow(row: Selectable<UsersTable>): User {
  return {
    id: row.id,
    username: row.username,
    email: row.email,
    name: row.name,
    role: row.role,
    loginType: row.login_type,
    passwordHash: row.password_hash,
    isSystem: toBool(row.is_system),
    createdAt: toDate(row.created_at),
    updatedAt: toDate(row.updated_at),
  };
}

export interface NewUser {
  id?: string;
  username: string;
  email?: string;
  name?: string;
  role: UserRole;
  loginType?: LoginType;
  passwordHash?: string | null;
  now: Date;
}

/** Inserts a user. A taken username (case-insensitive) is a unique violation of `users_username_key`. */
export async function insertUser(db: Executor, user: NewUser): Promise<User> {
  const row = await db
    .insertInto("users")
    .values({
      id: user.id ?? randomUUID(),
      username: user.username,
      email: user.email ?? "",
      name: user.name ?? "",
      role: user.role,
      login_type: user.loginType ?? (user.passwordHash ? "password" : "token"),
      password_hash: user.passwordHash ?? null,
      is_system: 0,
      created_at: toMillis(user.now),
      updated_at: toMillis(user.now),
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return userFromRow(row);
}

export async function getUserById(db: Executor, id: string): Promise<User | undefined> {
  const row = await db.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst();
  return row ? userFromRow(row) : undefined;
}

/** Usernames by user id, in one query (unknown ids are absent). */
export async function getUsernames(db: Executor, ids: readonly string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .selectFrom("users")
    .select(["id", "username"])
    .where("id", "in", [...ids])
    .execute();
  return new Map(rows.map((r) => [r.id, r.username]));
}

/** Case-insensitive. */
export async function getUserByUsername(db: Executor, username: string): Promise<User | undefined> {
  const row = await db
    .selectFrom("users")
    .selectAll()
    .where((eb) => eb(eb.fn("lower", ["username"]), "=", username.toLowerCase()))
    .executeTakeFirst();
  return row ? userFromRow(row) : undefined;
}

/** Sets the user's role; returns the user as changed (undefined: no such user). */
export async function setUserRole(
  db: Executor,
  id: string,
  role: UserRole,
  now: Date,
): Promise<User | undefined> {
  const row = await db
    .updateTable("users")
    .set({ role, updated_at: toMillis(now) })
    .where("id", "=", id)
    .returningAll()
    .executeTakeFirst();
  return row ? userFromRow(row) : undefined;
}

/**
 * The ids of the human users with the owner role. `lock` (PostgreSQL, in a transaction): their rows are locked
 * until it ends, so two demotions cannot both count the other's owner (SQLite transactions are serial anyway).
 */
export async function ownerIds(db: Executor, options: { lock: boolean }): Promise<string[]> {
  let query = db.selectFrom("users").select("id").where("role", "=", "owner").where("is_system", "=", 0);
  if (options.lock) query = query.forUpdate();
  return (await query.execute()).map((r) => r.id);
}

/** Human users (not system users), by username. */
export async function listUsers(db: Executor): Promise<User[]> {
  const rows = await db
    .selectFrom("users")
    .selectAll()
    .where("is_system", "=", 0)
    .orderBy("username")
    .execute();
  return rows.map(userFromRow);
}

// ---- API tokens ----------------------------------------------------------------------------------------

export interface ApiToken {
  id: string;
  userId: string;
  name: string;
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
}

const TOKEN_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";
const TOKEN_RE = /^([a-z0-9]{10})-([A-Za-z0-9_-]{32})$/;

function tokenId(): string {
  const bytes = randomBytes(10);
  return Array.from(bytes, (b) => TOKEN_ID_ALPHABET[b % TOKEN_ID_ALPHABET.length]).join("");
}

const sha256 = (text: string): Buffer => createHash("sha256").update(text).digest();

/** Creates a token; the returned `token` string is shown once and never stored. */
export async function createApiToken(
  db: Executor,
  input: { userId: string; name: string; expiresAt?: Date | null; now: Date },
): Promise<{ token: string; apiToken: ApiToken }> {
  const id = tokenId();
  const secret = randomBytes(24).toString("base64url");
  await db
    .insertInto("api_tokens")
    .values({
      id,
      user_id: input.userId,
      hashed_secret: sha256(secret),
      name: input.name,
      created_at: toMillis(input.now),
      expires_at: toMillisOrNull(input.expiresAt),
      last_used_at: null,
    })
    .execute();
  return {
    token: `${id}-${secret}`,
    apiToken: {
      id,
      userId: input.userId,
      name: input.name,
      createdAt: input.now,
      expiresAt: input.expiresAt ?? null,
      lastUsedAt: null,
    },
  };
}

/** How stale `last_used_at` may get before an authentication writes it again (saves a write per request). */
const LAST_USED_GRANULARITY_MS = 60_000;

/**
 * The user a token belongs to, or undefined (malformed, unknown, wrong secret, expired, or a system user).
 * Updates `last_used_at` at most once a minute.
 */
export async function authenticateApiToken(
  db: Executor,
  token: string,
  now: Date,
): Promise<User | undefined> {
  const match = TOKEN_RE.exec(token);
  if (!match) return undefined;
  const [, id, secret] = match as unknown as [string, string, string];
  const row = await db
    .selectFrom("api_tokens")
    .innerJoin("users", "users.id", "api_tokens.user_id")
    .selectAll("users")
    .select(["api_tokens.hashed_secret", "api_tokens.expires_at", "api_tokens.last_used_at"])
    .where("api_tokens.id", "=", id)
    .executeTakeFirst();
  if (!row) return undefined;
  const expected = Buffer.from(row.hashed_secret);
  const actual = sha256(secret);
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return undefined;
  if (row.expires_at !== null && row.expires_at <= now.getTime()) return undefined;
  if (row.is_system === 1) return undefined;
  if (row.last_used_at === null || now.getTime() - row.last_used_at >= LAST_USED_GRANULARITY_MS) {
    await db
      .updateTable("api_tokens")
      .set({ last_used_at: toMillis(now) })
      .where("id", "=", id)
      .execute();
  }
  return userFromRow(row);
}

const TOKEN_COLUMNS = ["id", "user_id", "name", "created_at", "expires_at", "last_used_at"] as const;

function tokenFromRow(r: Pick<Selectable<ApiTokensTable>, (typeof TOKEN_COLUMNS)[number]>): ApiToken {
  return {
    id: r.id,
    userId: r.user_id,
    name: r.name,
    createdAt: toDate(r.created_at),
    expiresAt: toDateOrNull(r.expires_at),
    lastUsedAt: toDateOrNull(r.last_used_at),
  };
}

/** The token of `userId` with this id (not by name), if any. */
export async function getApiToken(db: Executor, userId: string, id: string): Promise<ApiToken | undefined> {
  const r = await db
    .selectFrom("api_tokens")
    .select(TOKEN_COLUMNS)
    .where("id", "=", id)
    .where("user_id", "=", userId)
    .executeTakeFirst();
  return r ? tokenFromRow(r) : undefined;
}

/** The user's tokens (metadata only: the secret's hash is not read), oldest first. */
export async function listApiTokens(db: Executor, userId: string): Promise<ApiToken[]> {
  const rows = await db
    .selectFrom("api_tokens")
    .select(TOKEN_COLUMNS)
    .where("user_id", "=", userId)
    .orderBy("created_at")
    .orderBy("id")
    .execute();
  return rows.map(tokenFromRow);
}

/** Deletes the user's tokens whose name starts with `namePrefix` and that expired at or before `now`. */
export async function deleteExpiredApiTokens(
  db: Executor,
  userId: string,
  options: { namePrefix: string; now: Date },
): Promise<void> {
  await db
    .deleteFrom("api_tokens")
    .where("user_id", "=", userId)
    .where("name", "like", `${options.namePrefix}%`)
    .where("expires_at", "<=", toMillis(options.now))
    .execute();
}

/**
 * Deletes the token of `userId` with this id; true when one was deleted. By id only: a token's name is chosen
 * by its user and could equal another token's id.
 */
export async function deleteApiToken(db: Executor, userId: string, id: string): Promise<boolean> {
  const result = await db
    .deleteFrom("api_tokens")
    .where("user_id", "=", userId)
    .where("id", "=", id)
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

// ---- build session tokens ----------------------------------------------------------------------------------

/**
 * The session token a start build hands its provisioner (Metadata.workspace_owner_session_token, the coder
 * provider's `coder_workspace_owner.session_token`): an API token of the workspace's owner, named after the job,
 * minted when a daemon acquires the job and revoked when the job ends (revokeBuildSessionToken).
 */
export const buildSessionTokenName = (jobId: string): string => `workspace-build-${jobId}`;

/** Revokes the job's build session token, if it has one; inside the transaction that ends the job. */
export async function revokeBuildSessionToken(db: Executor, jobId: string): Promise<void> {
  await db.deleteFrom("api_tokens").where("name", "=", buildSessionTokenName(jobId)).execute();
}
