// Password sign-in, shared by POST /users/login and the dashboard's sign-in form: the throttle's admission
// (login-throttle.ts), the user lookup and the password check. Every refusal costs the same scrypt work — an
// unknown user, a system user or one without a password is checked against a dummy hash — so the time an
// answer takes does not tell which usernames exist.
import { randomBytes } from "node:crypto";
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
  if (!ok || !user || hash === null) return undefined;
  throttle.succeeded(input.username, input.address);
  return user;
}
