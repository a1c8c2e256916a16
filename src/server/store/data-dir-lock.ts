// One server per SQLite data dir, and the data dir's server identity. Two servers on one SQLite database would both reconcile and reap (each sees
// the other's jobs as someone else's), so the second must refuse to start. The lock is an OS file lock held for
// the life of the process — SQLite's own exclusive lock on a small lock database in the data dir — so a
// holder that dies, even by SIGKILL, releases it with no stale state to clean up; a PID file beside it only
// names the holder in the refusal, and a leftover one says that the previous server did not exit cleanly.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";

const LOCK_FILE = "server.lock";
const PID_FILE = "server.pid";
const ID_FILE = "server-id";

export class DataDirInUseError extends Error {
  override name = "DataDirInUseError";
}

export interface DataDirLock {
  /** The PID a previous server left in the PID file without releasing it (it crashed); undefined otherwise. */
  tookOverFrom: number | undefined;
  release(): void;
}

function readPid(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, "utf8").trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Takes the data dir's lock or throws DataDirInUseError naming the directory and the holder's PID. */
export function lockDataDir(dataDir: string): DataDirLock {
  const pidPath = join(dataDir, PID_FILE);
  const db = new BetterSqlite3(join(dataDir, LOCK_FILE), { timeout: 0 });
  try {
    db.pragma("locking_mode = EXCLUSIVE");
    // Held until the connection closes (release) or the process ends.
    db.exec("BEGIN EXCLUSIVE");
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code?.startsWith("SQLITE_BUSY")) {
      const pid = readPid(pidPath);
      throw new DataDirInUseError(
        `the data dir ${dataDir} is in use by another prewarm server${pid ? ` (PID ${pid})` : ""}: one server per SQLite data dir (use PostgreSQL for several replicas)`,
      );
    }
    throw err;
  }
  const previous = existsSync(pidPath) ? readPid(pidPath) : undefined;
  writeFileSync(pidPath, `${process.pid}\n`, { mode: 0o600 });
  return {
    tookOverFrom: previous !== undefined && previous !== process.pid ? previous : undefined,
    release() {
      rmSync(pidPath, { force: true });
      db.close();
    },
  };
}

/**
 * The data dir's server identity: a random id written once to <data-dir>/server-id, the same for every start
 * of this server (so its in-process daemons keep their names across restarts) and different for each replica.
 */
export function serverIdentity(dataDir: string): string {
  const path = join(dataDir, ID_FILE);
  try {
    const id = readFileSync(path, "utf8").trim();
    if (/^[0-9a-f]{8}$/.test(id)) return id;
  } catch {
    // Not written yet.
  }
  const id = randomBytes(4).toString("hex");
  writeFileSync(path, `${id}\n`, { mode: 0o600 });
  return id;
}
