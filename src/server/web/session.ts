// Dashboard sessions. A sign-in (username + password, or an existing API token) creates a dedicated API token
// named `web-session-…` that expires after `SESSION_TTL_MS`; the cookie `prewarm_session` carries it
// (HttpOnly, SameSite=Lax, Secure over HTTPS). So sessions live in the database like every other credential:
// they work across replicas, survive restarts, show in `prewarm tokens list`, and signing out deletes the token.
//
// CSRF: every state-changing form carries `_csrf`. Signed in, it is sha256("csrf:" + session token), which a
// page of another origin cannot compute (it cannot read the HttpOnly cookie) and which needs no server state.
// The sign-in form (no session yet) uses a double-submit cookie `prewarm_csrf` instead.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { AuthSettings } from "../api/deps.js";
import { audit, target } from "../audit.js";
import { checkPassword } from "../auth/login.js";
import type { ServerContext } from "../context.js";
import {
  authenticateApiToken,
  createApiToken,
  deleteApiToken,
  deleteExpiredApiTokens,
  getApiToken,
  type User,
} from "../store/users.js";

export const SESSION_COOKIE = "prewarm_session";
export const LOGIN_CSRF_COOKIE = "prewarm_csrf";
export const SESSION_TTL_MS = 12 * 3_600_000;
const SESSION_TOKEN_PREFIX = "web-session-";

export class SignInError extends Error {
  override name = "SignInError";
}

export function csrfForSession(sessionToken: string): string {
  return createHash("sha256").update(`csrf:${sessionToken}`).digest("base64url");
}

export function sameSecret(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export const newLoginCsrf = (): string => randomBytes(18).toString("base64url");

/**
 * The user signing in, or a SignInError with a message fit for the form (never saying which part was wrong).
 * A password sign-in is throttled like the API's login (the same counters): a "throttled" DomainError.
 */
export async function checkCredentials(
  ctx: ServerContext,
  auth: AuthSettings,
  input: { username?: string; password?: string; token?: string; address: string },
): Promise<SignedIn> {
  const now = ctx.clock.now();
  if (input.token) {
    const user = await authenticateApiToken(ctx.store.db, input.token.trim(), now);
    if (!user) {
      // Never the token itself: not even a refused one goes in the log.
      await audit(ctx.store.db, now, {
        actor: null,
        address: input.address,
        action: "user.login",
        target: "user",
        outcome: "failure",
        detail: { method: "token", reason: "invalid token", via: "dashboard" },
      });
      throw new SignInError("that token is not valid (unknown, expired or revoked)");
    }
    return { user, method: "token" };
  }
  if (!input.username || !input.password)
    throw new SignInError("enter a username and a password, or a token");
  const user = await checkPassword(ctx, auth.throttle, {
    username: input.username,
    password: input.password,
    address: input.address,
  });
  if (!user) throw new SignInError("wrong username or password");
  return { user, method: "password" };
}

/** Who signed in, and how (the audit log's detail). */
export interface SignedIn {
  user: User;
  method: "password" | "token";
}

/**
 * Creates the session token (and removes the user's expired session tokens), recording the sign-in in the
 * audit log in the same transaction.
 */
export async function openSession(ctx: ServerContext, signedIn: SignedIn, address: string): Promise<string> {
  const { user, method } = signedIn;
  const now = ctx.clock.now();
  return ctx.store.transaction(async (tx) => {
    await deleteExpiredApiTokens(tx, user.id, { namePrefix: SESSION_TOKEN_PREFIX, now });
    const { token } = await createApiToken(tx, {
      userId: user.id,
      name: `${SESSION_TOKEN_PREFIX}${randomBytes(6).toString("hex")}`,
      expiresAt: new Date(now.getTime() + SESSION_TTL_MS),
      now,
    });
    await audit(tx, now, {
      actor: { id: user.id, username: user.username, address },
      action: "user.login",
      target: target.user(user.username),
      detail: { method, via: "dashboard" },
    });
    return token;
  });
}

/** Deletes the session's token, if it is a session token of that user. */
export async function closeSession(ctx: ServerContext, user: User, sessionToken: string): Promise<void> {
  const id = sessionToken.split("-")[0] ?? "";
  const token = await getApiToken(ctx.store.db, user.id, id);
  if (token?.name.startsWith(SESSION_TOKEN_PREFIX)) await deleteApiToken(ctx.store.db, user.id, id);
}

export interface Session {
  user: User;
  token: string;
  csrf: string;
}

export async function sessionOf(ctx: ServerContext, request: FastifyRequest): Promise<Session | undefined> {
  const token = request.cookies[SESSION_COOKIE];
  if (!token) return undefined;
  const user = await authenticateApiToken(ctx.store.db, token, ctx.clock.now());
  if (!user) return undefined;
  return { user, token, csrf: csrfForSession(token) };
}

const secure = (request: FastifyRequest): boolean => request.protocol === "https";

export function setSessionCookie(request: FastifyRequest, reply: FastifyReply, token: string): void {
  reply.setCookie(SESSION_COOKIE, token, {
    path: "/",
    httpOnly: true,
    sameSite: "lax",
    secure: secure(request),
    maxAge: SESSION_TTL_MS / 1000,
  });
}

export function clearSessionCookie(request: FastifyRequest, reply: FastifyReply): void {
  reply.clearCookie(SESSION_COOKIE, { path: "/", httpOnly: true, sameSite: "lax", secure: secure(request) });
}

export function setLoginCsrfCookie(request: FastifyRequest, reply: FastifyReply, value: string): void {
  reply.setCookie(LOGIN_CSRF_COOKIE, value, {
    path: "/login",
    httpOnly: true,
    sameSite: "lax",
    secure: secure(request),
    maxAge: 3600,
  });
}
