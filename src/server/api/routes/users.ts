// Users and API tokens: login with a password, the calling user, listing and creating users (owners), and
// creating tokens for oneself.
import { randomBytes } from "node:crypto";
import { routes } from "../../../contract/api.js";
import { hashPassword, verifyPassword } from "../../auth/passwords.js";
import { conflict } from "../../domain-errors.js";
import { isUniqueViolation } from "../../store/errors.js";
import { createApiToken, getUserByUsername, insertUser, listUsers } from "../../store/users.js";
import type { App } from "../app.js";
import type { ApiDeps } from "../deps.js";
import { ApiError } from "../errors.js";
import { presentUser } from "../presenters.js";
import { callerOf } from "./caller.js";

/** Lifetime of a token handed out by POST /users/login (tokens created explicitly choose their own). */
export const LOGIN_TOKEN_LIFETIME_MS = 30 * 24 * 3_600_000;

export function registerUserRoutes(app: App, { ctx }: ApiDeps): void {
  const db = ctx.store.db;

  app.route({
    ...routes.login,
    handler: async (request, reply) => {
      const { username, password } = request.body;
      const user = await getUserByUsername(db, username);
      // One message for every failure, so the answer does not tell which usernames exist.
      const refused = new ApiError(401, "invalid username or password");
      if (!user || user.isSystem || !user.passwordHash) throw refused;
      if (!(await verifyPassword(password, user.passwordHash))) throw refused;
      const now = ctx.clock.now();
      const expiresAt = new Date(now.getTime() + LOGIN_TOKEN_LIFETIME_MS);
      const { token } = await createApiToken(db, {
        userId: user.id,
        name: `login-${now.toISOString()}`,
        expiresAt,
        now,
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
      try {
        const user = await insertUser(db, {
          username: body.username,
          email: body.email,
          role: body.role ?? "member",
          passwordHash: body.password ? await hashPassword(body.password) : null,
          now: ctx.clock.now(),
        });
        return reply.status(201).send(presentUser(user));
      } catch (err) {
        if (isUniqueViolation(err)) throw conflict(`a user named "${body.username}" already exists`);
        throw err;
      }
    },
  });

  app.route({
    ...routes.createToken,
    handler: async (request, reply) => {
      const user = callerOf(request);
      const now = ctx.clock.now();
      const lifetime = request.body.lifetimeSeconds ?? 0;
      const expiresAt = lifetime > 0 ? new Date(now.getTime() + lifetime * 1000) : null;
      const name = request.body.name ?? `token-${randomBytes(4).toString("hex")}`;
      const { token, apiToken } = await createApiToken(db, { userId: user.id, name, expiresAt, now });
      return reply.status(201).send({
        id: apiToken.id,
        name: apiToken.name,
        token,
        createdAt: apiToken.createdAt.toISOString(),
        expiresAt: apiToken.expiresAt?.toISOString() ?? null,
      });
    },
  });
}
