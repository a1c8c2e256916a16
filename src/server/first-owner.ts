// The first owner. A server whose database has no user who can sign in creates the owner `admin` (nobody could
// ever create users otherwise) and writes a token for it to <data-dir>/admin-token; `--dev` does so on every
// start. Replicas may start together on an empty database, so the check and the insert run under a
// cross-replica lock: one creates the owner, the others find it.
//
// The token minted here is the one API token with no expiry (a user's own tokens and logins always expire,
// auth/token-lifetime.ts): an owner who could not sign in again would have no way back in. To rotate it,
// delete it (`prewarm tokens delete ID`) after creating another way in (a password user, or a `--dev` restart,
// which mints a fresh one); docs/server.md says so.
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Store } from "./store/store.js";
import { createApiToken, getUserByUsername, insertUser, listUsers } from "./store/users.js";

/** Creates the owner if needed; returns the token it minted (first start or `dev`), else undefined. */
export function bootstrapOwner(
  store: Store,
  now: Date,
  dataDir: string,
  dev: boolean,
): Promise<string | undefined> {
  return store.withSessionLock("bootstrap", async () => {
    const firstStart = (await listUsers(store.db)).every((u) => u.isSystem);
    return dev || firstStart ? mintAdminToken(store, now, dataDir) : undefined;
  });
}

async function mintAdminToken(store: Store, now: Date, dataDir: string): Promise<string> {
  const db = store.db;
  const admin =
    (await getUserByUsername(db, "admin")) ??
    (await insertUser(db, {
      username: "admin",
      email: "admin@localhost",
      name: "Admin",
      role: "owner",
      now,
    }));
  // Replicas may mint theirs in the same millisecond: the name must still be unique per user.
  const name = `dev-${now.toISOString()}-${randomBytes(3).toString("hex")}`;
  const { token } = await createApiToken(db, { userId: admin.id, name, now });
  writeFileSync(join(dataDir, "admin-token"), `${token}\n`, { mode: 0o600 });
  return token;
}
