// Who is calling: the user app.ts authenticated for this request (routes with auth "user" or "owner").
import type { FastifyRequest } from "fastify";
import type { AuditActor } from "../../audit.js";
import type { User } from "../../store/users.js";
import { unauthorized } from "../errors.js";

export function callerOf(request: FastifyRequest): User {
  if (!request.user) throw unauthorized();
  return request.user;
}

export const isOwner = (user: User): boolean => user.role === "owner";

/** The caller as the audit log records them: who, and from which address. */
export function actorOf(request: FastifyRequest): AuditActor {
  const user = callerOf(request);
  return { id: user.id, username: user.username, address: request.ip };
}
