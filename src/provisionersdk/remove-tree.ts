// Removes a session directory. A small tree (what a small template extracts, plus a few files a handler
// wrote) is removed with synchronous calls: for small files Node's promise-based fs costs about ten times the
// CPU of the system calls (thread-pool hand-offs), and every session pays this before its stream ends. A
// bigger tree (terraform's .terraform with provider binaries) is removed asynchronously so other sessions
// are not stalled. Symlinks a handler created are unlinked, never followed.
import { type Dirent, readdirSync, rmdirSync, unlinkSync } from "node:fs";
import { lstat, readdir, rm, rmdir, unlink } from "node:fs/promises";
import { join } from "node:path";

/** Up to this many entries, the tree is removed synchronously. */
const SYNC_REMOVE_MAX_ENTRIES = 64;

interface Listing {
  path: string;
  entries: Dirent[];
  children: Listing[];
}

/** Lists the tree synchronously; undefined as soon as it has more than `budget` entries. */
function listSmallTree(path: string, budget: { left: number }): Listing | undefined {
  const entries = readdirSync(path, { withFileTypes: true });
  budget.left -= entries.length;
  if (budget.left < 0) return undefined;
  const children: Listing[] = [];
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    const child = listSmallTree(join(path, e.name), budget);
    if (child === undefined) return undefined;
    children.push(child);
  }
  return { path, entries, children };
}

function removeListed(listing: Listing): void {
  for (const child of listing.children) removeListed(child);
  for (const e of listing.entries) if (!e.isDirectory()) unlinkSync(join(listing.path, e.name));
  rmdirSync(listing.path);
}

async function removeContents(dir: string): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  await Promise.all(
    entries.map(async (e) => {
      const path = join(dir, e.name);
      if (e.isDirectory()) {
        await removeContents(path);
        await rmdir(path);
      } else {
        await unlink(path);
      }
    }),
  );
}

/** Removes `dir` and everything in it; a missing `dir` is fine. Falls back to fs.rm on any surprise. */
export async function removeTree(dir: string): Promise<void> {
  try {
    const small = listSmallTree(dir, { left: SYNC_REMOVE_MAX_ENTRIES });
    if (small !== undefined) {
      removeListed(small);
      return;
    }
    await removeContents(dir);
    await rmdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT" && !(await exists(dir))) return;
    // Permissions changed by the handler, a busy file, a race: the slow, thorough way (with retries).
    await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 250 });
  }
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}
