// Password sign-in, shared by POST /users/login and the dashboard's sign-in form: the throttle's admission
// (login-throttle.ts), the user lookup and the password check. Every refusal costs the same scrypt work — an
// unknown user, a system user or one without a password is checked against a dummy hash — so the time an
// answer takes does not tell which usernames exist. A refusal is recorded in the audit log (its own small
// write); a success is recorded by the caller, in the transaction that mints the token or session.
import { randomBytes } from "node:crypto";
import { audit, target } from "../audit.js";
import type { ServerContext } from "../context.js";
import { throttled } from "../domain-errors.js";
import { getUserByUsername, type User } from "../store/users.js";
import type { LoginThrottle } from "./login-throttle.js";
import { hashPassword, verifyPassword } from "./passwords.js";

// Made once, on the first refusal that needs it; its password is random and discarded, so nothing matches it.
let dummyHash: Promise<string> | undefined;
const dummy = (): Promise<string> => {
  dummyHash ??= hashPassword(randomBytes(16).toString("hex"));
  return dummyHash;
};

/**
 * The user these credentials sign in, or undefined when they are wrong (whatever the reason). Throws a
 * "throttled" DomainError, without checking the password, while the username or the address must wait.
 */
export async function checkPassword(
  ctx: ServerContext,
  throttle: LoginThrottle,
  input: { username: string; password: string; address: string },
): Promise<User | undefined> {
  const admission = throttle.admit(input.username, input.address, ctx.clock.now());
  if (!admission.admitted)
    throw throttled(
      `too many failed sign-in attempts; try again in ${admission.retryAfterSeconds} s`,
      admission.retryAfterSeconds,
    );
  const user = await getUserByUsername(ctx.store.db, input.username.trim());
  const hash = user && !user.isSystem ? user.passwordHash : null;
  const ok = await verifyPassword(input.password, hash ?? (await dummy()));
  if (!ok || !user || hash === null) {
    await auditFailedLogin(
      ctx,
      input.username.trim(),
      input.address,
      user && !user.isSystem ? user : undefined,
    );
    return undefined;
  }
  throttle.succeeded(input.username, input.address);
  return user;
}

/**
 * A refused password: for a known user the entry names them as actor (whose account was tried); for an unknown
 * name there is no actor, and the attempted name goes in the detail. Never the password.
 */
async function auditFailedLogin(
  ctx: ServerContext,
  username: string,
  address: string,
  user: User | undefined,
): Promise<void> {
  await audit(ctx.store.db, ctx.clock.now(), {
    actor: user ? { id: user.id, username: user.username, address } : null,
    address,
    action: "user.login",
    target: user ? target.user(user.username) : "user",
    outcome: "failure",
    detail: user
      ? {
          method: "password",
          reason: user.passwordHash === null ? "the user has no password" : "wrong password",
        }
      : { method: "password", reason: "unknown user", username },
  });
}
