// Safe extraction of a template archive into a session directory. The whole archive is judged first
// (planExtraction, pure) and only then written, so a bad entry anywhere means nothing is written at all; the
// writer creates only regular files and directories under `dir`, with O_EXCL, so nothing can be redirected.
import { mkdirSync, writeFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { readTar, type TarEntry, TarFormatError } from "./tar-format.js";

export { createTar, type TarEntryType, type TarInput } from "./tar-format.js";

export interface ArchiveLimits {
  /** Upper bound on the sum of the sizes of all files in the archive. */
  maxBytes: number;
  /** Upper bound on the number of file and directory entries. */
  maxEntries: number;
}

export const DEFAULT_ARCHIVE_LIMITS: Readonly<ArchiveLimits> = Object.freeze({
  maxBytes: 64 * 1024 * 1024,
  maxEntries: 10_000,
});

/** A rejected archive. `entry` names the offending entry when there is one. */
export class ArchiveError extends Error {
  override name = "ArchiveError";
  constructor(
    message: string,
    readonly entry?: string,
  ) {
    super(message);
  }
}

export interface PlannedFile {
  /** Normalised relative path (no `.` or empty segments). */
  path: string;
  mode: number;
  data: Uint8Array;
}

export interface ExtractionPlan {
  /** Relative directory paths, parents before children. */
  directories: Array<{ path: string; mode: number }>;
  /** Files in archive order; a later entry for the same path replaced an earlier one. */
  files: PlannedFile[];
}

const REJECTED_TYPES: Partial<Record<TarEntry["type"], string>> = {
  symlink: "symbolic links are not allowed",
  hardlink: "hard links are not allowed",
  "character-device": "device files are not allowed",
  "block-device": "device files are not allowed",
  fifo: "FIFOs are not allowed",
};

/** Longest accepted entry path, in UTF-8 bytes (Linux's PATH_MAX). */
export const MAX_PATH_BYTES = 4096;
/** Deepest accepted entry path, in segments: no template needs more, and deep trees cost every walker. */
export const MAX_PATH_DEPTH = 64;

const encoder = new TextEncoder();
// C0 controls, DEL and C1 controls: a name with a newline or an escape sequence misleads logs and terminals.
const CONTROL = /[\x01-\x1f\x7f-\x9f]/;

/** Longest entry name a message shows in full; a longer one is cut (its length is in the reason). */
const SHOWN_NAME_MAX = 200;

/**
 * An entry name as messages show it: control characters escaped, so the name is visible and on one line, and
 * cut after SHOWN_NAME_MAX characters, so a hostile 100 kB name does not become a 100 kB error.
 */
export function shownName(name: string): string {
  const cut = name.length > SHOWN_NAME_MAX ? `${name.slice(0, SHOWN_NAME_MAX)}…` : name;
  return cut.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/** Splits an archive path into safe segments, or explains why it is unsafe. */
export function safeSegments(path: string): string[] | string {
  if (path.includes("\0")) return "path contains a NUL byte";
  const control = CONTROL.exec(path);
  if (control) return `path contains a control character (${shownName(control[0])})`;
  const bytes = encoder.encode(path).length;
  if (bytes > MAX_PATH_BYTES) return `path is ${bytes} bytes long; the limit is ${MAX_PATH_BYTES}`;
  if (path.startsWith("/")) return "absolute paths are not allowed";
  if (/^[A-Za-z]:/.test(path) || path.startsWith("\\")) return "absolute paths are not allowed";
  const segments = path.split("/").filter((s) => s !== "" && s !== ".");
  if (segments.some((s) => s === "..")) return 'paths containing ".." are not allowed';
  if (segments.length > MAX_PATH_DEPTH) {
    return `path is ${segments.length} levels deep; the limit is ${MAX_PATH_DEPTH}`;
  }
  return segments;
}

function checkLimits(limits: ArchiveLimits): void {
  for (const key of ["maxBytes", "maxEntries"] as const) {
    const v = limits[key];
    if (!Number.isSafeInteger(v) || v < 0)
      throw new RangeError(`archive limits: ${key} must be a whole number ≥ 0`);
  }
}

/**
 * Reads and judges the whole archive without touching the file system. Throws ArchiveError for anything that
 * is not a plain file or directory at a local path, for limit violations, and for malformed archives.
 */
export function planExtraction(archive: Uint8Array, limits: ArchiveLimits): ExtractionPlan {
  checkLimits(limits);
  const kinds = new Map<string, "file" | "directory">();
  const directories = new Map<string, number>();
  const files = new Map<string, PlannedFile>();
  let entries = 0;
  let bytes = 0;

  const claim = (segments: string[], kind: "file" | "directory", entry: string) => {
    const shown = shownName(entry);
    for (let i = 1; i < segments.length; i++) {
      const parent = segments.slice(0, i).join("/");
      if (kinds.get(parent) === "file") {
        throw new ArchiveError(`entry "${shown}": its parent "${parent}" is a file in the archive`, entry);
      }
      kinds.set(parent, "directory");
    }
    const path = segments.join("/");
    const existing = kinds.get(path);
    if (existing !== undefined && existing !== kind) {
      throw new ArchiveError(`entry "${shown}": conflicts with a ${existing} of the same path`, entry);
    }
    kinds.set(path, kind);
    return path;
  };

  try {
    readTar(archive, (entry) => {
      const name = entry.path;
      const shown = shownName(name);
      const rejected = REJECTED_TYPES[entry.type];
      if (rejected !== undefined) throw new ArchiveError(`entry "${shown}": ${rejected}`, name);
      if (entry.type === "other") {
        throw new ArchiveError(`entry "${shown}": unsupported entry type '${entry.typeflag}'`, name);
      }
      const segments = safeSegments(name);
      if (typeof segments === "string") throw new ArchiveError(`entry "${shown}": ${segments}`, name);
      entries++;
      if (entries > limits.maxEntries) {
        throw new ArchiveError(
          `entry "${shown}": archive has more than ${limits.maxEntries} entries (the limit)`,
          name,
        );
      }
      if (entry.type === "directory") {
        if (segments.length === 0) return; // "./": the session directory itself
        const path = claim(segments, "directory", name);
        directories.set(path, (entry.mode & 0o777) | 0o700);
        return;
      }
      if (segments.length === 0) throw new ArchiveError(`entry "${shown}": a file needs a name`, name);
      bytes += entry.size;
      if (bytes > limits.maxBytes) {
        throw new ArchiveError(
          `entry "${shown}": archive content exceeds ${limits.maxBytes} bytes (the limit)`,
          name,
        );
      }
      const path = claim(segments, "file", name);
      files.delete(path); // a repeated path: the later entry wins, in its own position
      files.set(path, { path, mode: (entry.mode & 0o777) | 0o600, data: entry.data });
    });
  } catch (err) {
    if (err instanceof TarFormatError) throw new ArchiveError(err.message, err.entry);
    throw err;
  }

  // Parents the archive implies without listing them.
  for (const [path, kind] of kinds) {
    if (kind === "directory" && !directories.has(path)) directories.set(path, 0o755);
  }
  const dirList = [...directories]
    .map(([path, mode]) => ({ path, mode }))
    .sort((a, b) => a.path.split("/").length - b.path.split("/").length || a.path.localeCompare(b.path));
  return { directories: dirList, files: [...files.values()] };
}

/** How many files are written at once (large archives). */
const WRITE_CONCURRENCY = 16;
/**
 * Archives up to this size are written with synchronous calls. For small files Node's promise-based fs costs
 * about ten times the CPU of the system calls themselves (thread-pool hand-offs); a small template is written
 * in well under a millisecond this way, so the event loop is held only briefly. Bigger archives go async so
 * one session never stalls the others for long.
 */
export const SYNC_WRITE_MAX = Object.freeze({ entries: 64, bytes: 1024 * 1024 });

/**
 * Extracts `archive` into `dir` (which must exist and be private to the caller). Nothing is written unless the
 * whole archive is acceptable. A write failure (disk full…) leaves a partial tree inside `dir` only; the
 * caller removes `dir`.
 */
export async function extractArchive(archive: Uint8Array, dir: string, limits: ArchiveLimits): Promise<void> {
  await writeExtraction(planExtraction(archive, limits), dir);
}

function directoryError(path: string, err: unknown): ArchiveError {
  return new ArchiveError(`entry "${path}": create directory: ${(err as Error).message}`, path);
}
function writeError(path: string, err: unknown): ArchiveError {
  return new ArchiveError(`entry "${path}": write: ${(err as Error).message}`, path);
}

/** Writes a plan made by planExtraction into `dir` (see extractArchive). */
export async function writeExtraction(plan: ExtractionPlan, dir: string): Promise<void> {
  const bytes = plan.files.reduce((n, f) => n + f.data.length, 0);
  if (
    plan.files.length + plan.directories.length <= SYNC_WRITE_MAX.entries &&
    bytes <= SYNC_WRITE_MAX.bytes
  ) {
    writeExtractionSync(plan, dir);
    return;
  }
  for (const d of plan.directories) {
    try {
      await mkdir(join(dir, d.path), { mode: d.mode });
    } catch (err) {
      throw directoryError(d.path, err);
    }
  }
  const queue = [...plan.files];
  let failure: ArchiveError | undefined;
  const worker = async () => {
    for (let f = queue.shift(); f !== undefined && failure === undefined; f = queue.shift()) {
      try {
        // Parents exist (planned above); "wx" refuses to follow or replace anything already there.
        await writeFile(join(dir, f.path), f.data, { mode: f.mode, flag: "wx" });
      } catch (err) {
        failure ??= writeError(f.path, err);
      }
    }
  };
  // Every worker has stopped before we report, so the caller can remove `dir` without racing a write.
  await Promise.all(Array.from({ length: Math.min(WRITE_CONCURRENCY, queue.length) }, worker));
  if (failure !== undefined) throw failure;
}

function writeExtractionSync(plan: ExtractionPlan, dir: string): void {
  for (const d of plan.directories) {
    try {
      mkdirSync(join(dir, d.path), { mode: d.mode });
    } catch (err) {
      throw directoryError(d.path, err);
    }
  }
  for (const f of plan.files) {
    try {
      writeFileSync(join(dir, f.path), f.data, { mode: f.mode, flag: "wx" });
    } catch (err) {
      throw writeError(f.path, err);
    }
  }
}
