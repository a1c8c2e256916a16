// Users and API tokens: login with a password (throttled, auth/login.ts), the calling user, listing and
// creating users (owners), creating, listing and revoking one's own tokens, and owners listing and revoking
// anyone's.
import { randomBytes } from "node:crypto";
import { routes } from "../../../contract/api.js";
import { type AuditActor, audit, target } from "../../audit.js";
import { checkPassword } from "../../auth/login.js";
import { hashPassword } from "../../auth/passwords.js";
import { tokenExpiry } from "../../auth/token-lifetime.js";
import type { ServerContext } from "../../context.js";
import { conflict, notFound } from "../../domain-errors.js";
import { isUniqueViolation } from "../../store/errors.js";
import type { Executor } from "../../store/store.js";
import {
  createApiToken,
  deleteApiToken,
  getApiToken,
  getUserByUsername,
  insertUser,
  listApiTokens,
  listUsers,
  ownerIds,
  setUserRole,
  type User,
} from "../../store/users.js";
import type { App } from "../app.js";
import type { ApiDeps } from "../deps.js";
import { ApiError } from "../errors.js";
import { presentTokenInfo, presentUser } from "../presenters.js";
import { actorOf, callerOf } from "./caller.js";

export function registerUserRoutes(app: App, { ctx, auth }: ApiDeps): void {
  const db = ctx.store.db;

  app.route({
    ...routes.login,
    handler: async (request, reply) => {
      const { username, password } = request.body;
      const user = await checkPassword(ctx, auth.throttle, { username, password, address: request.ip });
      // One message for every failure, so the answer does not tell which usernames exist.
      if (!user) throw new ApiError(401, "invalid username or password");
      const now = ctx.clock.now();
      const expiresAt = tokenExpiry(undefined, auth.tokenLifetimes, now);
      const { token } = await ctx.store.transaction(async (tx) => {
        const minted = await createApiToken(tx, {
          userId: user.id,
          name: `login-${now.toISOString()}-${randomBytes(3).toString("hex")}`,
          expiresAt,
          now,
        });
        await audit(tx, now, {
          actor: { id: user.id, username: user.username, address: request.ip },
          action: "user.login",
          target: target.user(user.username),
          detail: { method: "password", via: "api" },
        });
        return minted;
      });
      return reply.status(201).send({ token, expiresAt: expiresAt.toISOString(), user: presentUser(user) });
    },
  });

  app.route({
    ...routes.me,
    handler: async (request) => presentUser(callerOf(request)),
  });

  app.route({
    ...routes.listUsers,
    handler: async () => (await listUsers(db)).map(presentUser),
  });

  app.route({
    ...routes.createUser,
    handler: async (request, reply) => {
      const body = request.body;
      const passwordHash = body.password ? await hashPassword(body.password) : null;
      const now = ctx.clock.now();
      try {
        const user = await ctx.store.transaction(async (tx) => {
          const created = await insertUser(tx, {
            username: body.username,
            email: body.email,
            role: body.role ?? "member",
            passwordHash,
            now,
          });
          await audit(tx, now, {
            actor: actorOf(request),
            action: "user.create",
            target: target.user(created.username),
            detail: { role: created.role, hasPassword: passwordHash !== null },
          });
          return created;
        });
        return reply.status(201).send(presentUser(user));
      } catch (err) {
        if (isUniqueViolation(err)) throw conflict(`a user named "${body.username}" already exists`);
        throw err;
      }
    },
  });

  app.route({
    ...routes.updateUser,
    handler: async (request) => {
      const { role } = request.body;
      const now = ctx.clock.now();
      const user = await ctx.store.transaction(async (tx) => {
        const found = await getUserByUsername(tx, request.params.name);
        if (!found || found.isSystem) throw notFound(`user "${request.params.name}"`, { field: "name" });
        if (found.role === role) return found;
        // Someone must be able to administer the server (the owners' rows stay locked until the commit, so
        // two demotions at once cannot both pass this check).
        const owners = await ownerIds(tx, { lock: ctx.store.dialect === "postgres" });
        if (role !== "owner" && owners.filter((id) => id !== found.id).length === 0)
          throw conflict(`"${found.username}" is the last owner; make another user an owner first`);
        const changed = await setUserRole(tx, found.id, role, now);
        if (!changed) throw notFound(`user "${request.params.name}"`, { field: "name" });
        await audit(tx, now, {
          actor: actorOf(request),
          action: "user.role",
          target: target.user(found.username),
          detail: { from: found.role, to: role },
        });
        return changed;
      });
      return presentUser(user);
    },
  });

  app.route({
    ...routes.createToken,
    handler: async (request, reply) => {
      const user = callerOf(request);
      const now = ctx.clock.now();
      const expiresAt = tokenExpiry(request.body.lifetimeSeconds, auth.tokenLifetimes, now);
      const name = request.body.name ?? `token-${randomBytes(4).toString("hex")}`;
      const { token, apiToken } = await ctx.store.transaction(async (tx) => {
        const minted = await createApiToken(tx, { userId: user.id, name, expiresAt, now });
        await audit(tx, now, {
          actor: actorOf(request),
          action: "token.create",
          target: target.token(minted.apiToken.id),
          detail: { user: user.username, name, expiresAt: expiresAt?.toISOString() ?? null },
        });
        return minted;
      });
      return reply.status(201).send({
        id: apiToken.id,
        name: apiToken.name,
        token,
        createdAt: apiToken.createdAt.toISOString(),
        expiresAt: apiToken.expiresAt?.toISOString() ?? null,
      });
    },
  });

  app.route({
    ...routes.listMyTokens,
    handler: async (request) => (await listApiTokens(db, callerOf(request).id)).map(presentTokenInfo),
  });

  app.route({
    ...routes.deleteMyToken,
    handler: async (request, reply) => {
      await revoke(ctx, actorOf(request), callerOf(request), request.params.id);
      return reply.status(204).send(null);
    },
  });

  app.route({
    ...routes.listUserTokens,
    handler: async (request) =>
      (await listApiTokens(db, (await requireUser(db, request.params.name)).id)).map(presentTokenInfo),
  });

  app.route({
    ...routes.deleteUserToken,
    handler: async (request, reply) => {
      await revoke(ctx, actorOf(request), await requireUser(db, request.params.name), request.params.id);
      return reply.status(204).send(null);
    },
  });
}

async function requireUser(db: Executor, username: string): Promise<User> {
  const user = await getUserByUsername(db, username);
  if (!user) throw notFound(`user "${username}"`, { field: "name" });
  return user;
}

/** Deletes the user's token with this id; authentication reads the table on every request, so it is final. */
async function revoke(ctx: ServerContext, by: AuditActor, user: User, id: string): Promise<void> {
  const now = ctx.clock.now();
  const deleted = await ctx.store.transaction(async (tx) => {
    const token = await getApiToken(tx, user.id, id);
    if (!token || !(await deleteApiToken(tx, user.id, id))) return false;
    await audit(tx, now, {
      actor: by,
      action: "token.revoke",
      target: target.token(id),
      detail: { user: user.username, name: token.name },
    });
    return true;
  });
  if (!deleted) throw notFound(`token "${id}" of user "${user.username}"`, { field: "id" });
}
