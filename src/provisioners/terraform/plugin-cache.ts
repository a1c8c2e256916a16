// Exclusive use of the shared provider plugin cache while `terraform init` runs.
//
// Terraform does not support concurrent use of one plugin cache directory: two inits installing the same
// provider race while unpacking into it (hashicorp/terraform#31964). Only `init` writes to the cache —
// plan/apply/show/graph read the providers init linked into the session's .terraform — so prewarm
// serialises inits that share a cache: in-process with a promise chain, across processes with a lock file
// created exclusively (`<cache>/.prewarm-init.lock`, holding the owner's pid; a lock whose owner is dead is
// taken over).
import { mkdir, open, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";

const chains = new Map<string, Promise<void>>();
const pollMs = 100;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function acquireFileLock(lockPath: string, signal?: AbortSignal): Promise<void> {
  for (;;) {
    signal?.throwIfAborted();
    try {
      const handle = await open(lockPath, "wx", 0o600);
      await handle.writeFile(String(process.pid));
      await handle.close();
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const owner = Number.parseInt(await readFile(lockPath, "utf8").catch(() => ""), 10);
    if (Number.isInteger(owner) && owner > 0 && !alive(owner)) {
      await unlink(lockPath).catch(() => {});
      continue;
    }
    await delay(pollMs, undefined, signal ? { signal } : undefined);
  }
}

/** Runs `fn` while holding the cache's init lock; without a cache directory it just runs `fn`. */
export async function withPluginCacheLock<T>(
  cacheDir: string | undefined,
  fn: () => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  if (!cacheDir) return fn();
  // Join the queue before the first await, so callers are served in call order.
  const previous = chains.get(cacheDir) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((r) => {
    release = r;
  });
  const chain = previous.then(() => mine);
  chains.set(cacheDir, chain);
  const lockPath = join(cacheDir, ".prewarm-init.lock");
  try {
    await previous;
    await mkdir(cacheDir, { recursive: true });
    await acquireFileLock(lockPath, signal);
    try {
      return await fn();
    } finally {
      await unlink(lockPath).catch(() => {});
    }
  } finally {
    release();
    if (chains.get(cacheDir) === chain) chains.delete(cacheDir);
  }
}
