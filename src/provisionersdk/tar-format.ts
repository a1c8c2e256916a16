// A small, strict reader and writer for the tar format (ustar, with pax `x` and GNU `L`/`K` long-name headers).
// Pure: bytes in, records out, no I/O. We read tar ourselves rather than through node-tar because the session
// needs the whole archive judged before a single byte is written, and precise errors: node-tar's parser ends
// silently on a truncated archive and rejects an empty (all-zero) one.

const BLOCK = 512;

/** Entry kinds as they appear in an archive (links, devices etc. are read so they can be rejected by name). */
export type TarEntryType =
  | "file"
  | "directory"
  | "symlink"
  | "hardlink"
  | "character-device"
  | "block-device"
  | "fifo"
  | "other";

export interface TarEntry {
  type: TarEntryType;
  /** The raw type flag, for error messages about "other" entries. */
  typeflag: string;
  /** Path as recorded (pax `path` / GNU long name applied), not normalised. */
  path: string;
  linkpath: string;
  mode: number;
  size: number;
  /** Byte offset of the entry's header in the archive (for error messages). */
  offset: number;
  /** The entry's data: a view into the archive, not a copy. */
  data: Uint8Array;
}

/** Thrown by the reader for input that is not a well-formed tar archive. */
export class TarFormatError extends Error {
  override name = "TarFormatError";
  constructor(
    message: string,
    readonly entry?: string,
  ) {
    super(message);
  }
}

const TYPES: Record<string, TarEntryType> = {
  "0": "file",
  "\0": "file",
  "5": "directory",
  "1": "hardlink",
  "2": "symlink",
  "3": "character-device",
  "4": "block-device",
  "6": "fifo",
};

const decoder = new TextDecoder("utf-8", { fatal: false });

function cString(block: Uint8Array, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const end = field.indexOf(0);
  return decoder.decode(end === -1 ? field : field.subarray(0, end));
}

/**
 * A path field. A NUL normally ends the name and zeros fill the rest; a NUL followed by more name bytes
 * (`main.tf\0evil`) is kept in the string, so the path checks refuse the entry instead of a reader quietly
 * importing the shorter name another tool would not see.
 */
function pathField(bytes: Uint8Array, start: number, length: number): string {
  const field = bytes.subarray(start, start + length);
  let end = field.length;
  while (end > 0 && field[end - 1] === 0) end--;
  return decoder.decode(field.subarray(0, end));
}

function octal(block: Uint8Array, start: number, length: number, what: string, offset: number): number {
  const text = cString(block, start, length).trim();
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarFormatError(`bad ${what} field in header at offset ${offset}`);
  return Number.parseInt(text, 8);
}

function numeric(block: Uint8Array, start: number, length: number, what: string, offset: number): number {
  const first = block[start] ?? 0;
  if ((first & 0x80) === 0) return octal(block, start, length, what, offset);
  // GNU base-256: big-endian two's complement with the top bit as a marker; negative sizes are nonsense.
  if ((first & 0x40) !== 0) throw new TarFormatError(`negative ${what} in header at offset ${offset}`);
  let value = first & 0x3f;
  for (let i = start + 1; i < start + length; i++) value = value * 256 + (block[i] ?? 0);
  return value;
}

function checksumMatches(block: Uint8Array, offset: number): boolean {
  const recorded = octal(block, 148, 8, "checksum", offset);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return recorded === unsigned || recorded === signed;
}

function isZeroBlock(block: Uint8Array): boolean {
  for (const b of block) if (b !== 0) return false;
  return true;
}

/** Parses pax extended-header records (`"<len> key=value\n"`). */
function paxRecords(data: Uint8Array, offset: number): Map<string, string> {
  const records = new Map<string, string>();
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break; // padding
    const space = data.indexOf(0x20, pos);
    const len = space === -1 ? Number.NaN : Number(decoder.decode(data.subarray(pos, space)));
    if (!Number.isInteger(len) || len <= 0 || pos + len > data.length) {
      throw new TarFormatError(`bad pax header at offset ${offset}`);
    }
    const record = decoder.decode(data.subarray(space + 1, pos + len - 1));
    const eq = record.indexOf("=");
    if (eq === -1) throw new TarFormatError(`bad pax record at offset ${offset}`);
    records.set(record.slice(0, eq), record.slice(eq + 1));
    pos += len;
  }
  return records;
}

/**
 * Reads every entry of an in-memory tar archive, in order, and calls `visit` with it. `visit` may throw to stop early (limits). An empty input, or one that
 * starts with end-of-archive blocks, has no entries.
 */
export function readTar(archive: Uint8Array, visit: (entry: TarEntry) => void): void {
  if (archive.length >= 2 && archive[0] === 0x1f && archive[1] === 0x8b) {
    throw new TarFormatError("archive is gzip-compressed; send an uncompressed tar");
  }
  let pos = 0;
  let pax = new Map<string, string>();
  let longName: string | undefined;
  let lastPath: string | undefined;
  const where = () => (lastPath === undefined ? "at the start" : `after entry "${lastPath}"`);
  while (pos < archive.length) {
    if (archive.length - pos < BLOCK) {
      if (isZeroBlock(archive.subarray(pos))) return; // short zero padding: tolerated
      if (lastPath === undefined) {
        throw new TarFormatError(`not a tar archive (${archive.length} bytes, shorter than one tar header)`);
      }
      throw new TarFormatError(`archive truncated in a header ${where()}`);
    }
    const block = archive.subarray(pos, pos + BLOCK);
    if (isZeroBlock(block)) return; // end-of-archive marker; anything after it is padding
    let valid: boolean;
    try {
      valid = checksumMatches(block, pos);
    } catch {
      valid = false;
    }
    if (!valid) {
      throw new TarFormatError(
        lastPath === undefined
          ? "not a tar archive (no valid tar header at the start)"
          : `corrupt tar header at offset ${pos} ${where()}`,
      );
    }
    const typeflag = String.fromCharCode(block[156] ?? 0);
    const magic = cString(block, 257, 6);
    const version = decoder.decode(block.subarray(263, 265));
    const isPosixUstar = magic === "ustar" && version === "00";
    let path = pathField(block, 0, 100);
    if (isPosixUstar) {
      const prefix = pathField(block, 345, 155);
      if (prefix !== "") path = `${prefix}/${path}`;
    }
    let size = numeric(block, 124, 12, "size", pos);
    const mode = octal(block, 100, 8, "mode", pos);
    let linkpath = cString(block, 157, 100);
    const headerOffset = pos;

    if (longName !== undefined) path = longName;
    const paxPath = pax.get("path");
    if (paxPath !== undefined) path = paxPath;
    const paxLink = pax.get("linkpath");
    if (paxLink !== undefined) linkpath = paxLink;
    const paxSize = pax.get("size");
    if (paxSize !== undefined) {
      if (!/^\d+$/.test(paxSize)) throw new TarFormatError(`bad pax size for entry "${path}"`, path);
      size = Number(paxSize);
    }

    const dataStart = pos + BLOCK;
    const truncated = dataStart + size > archive.length;
    const data = archive.subarray(dataStart, Math.min(dataStart + size, archive.length));
    pos = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    const isMeta = typeflag === "x" || typeflag === "g" || typeflag === "L" || typeflag === "K";
    if (isMeta && truncated) throw new TarFormatError(`archive truncated in an extended header ${where()}`);

    if (typeflag === "x") {
      pax = paxRecords(data, headerOffset);
      continue;
    }
    if (typeflag === "g") continue; // global pax defaults: nothing we honour
    if (typeflag === "L") {
      longName = pathField(data, 0, data.length);
      continue;
    }
    if (typeflag === "K") continue; // long link name: links are rejected anyway (the short name is reported)
    pax = new Map();
    longName = undefined;
    lastPath = path;
    // The visitor judges the entry (type, path, limits) first: those errors say more than "truncated".
    visit({
      type: TYPES[typeflag] ?? "other",
      typeflag,
      path,
      linkpath,
      mode,
      size,
      offset: headerOffset,
      data,
    });
    if (truncated) throw new TarFormatError(`archive truncated in the data of entry "${path}"`, path);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Writing

export interface TarInput {
  /** Slash-separated path inside the archive; a trailing `/` makes a directory entry. */
  path: string;
  data?: Uint8Array | string;
  /** Permission bits; default 0644 for files, 0755 for directories. */
  mode?: number;
  /**
   * Entry type; default from the path (file or directory). Other types exist so tests can build the
   * archives a provisioner must refuse; `linkpath` is their target.
   */
  type?: TarEntryType;
  linkpath?: string;
}

const encoder = new TextEncoder();
const TYPEFLAG: Record<Exclude<TarEntryType, "other">, string> = {
  file: "0",
  directory: "5",
  hardlink: "1",
  symlink: "2",
  "character-device": "3",
  "block-device": "4",
  fifo: "6",
};

function writeString(block: Uint8Array, start: number, length: number, value: string): boolean {
  const bytes = encoder.encode(value);
  if (bytes.length > length) return false;
  block.set(bytes, start);
  return true;
}

function writeOctal(block: Uint8Array, start: number, length: number, value: number): void {
  writeString(block, start, length, `${value.toString(8).padStart(length - 1, "0")}\0`);
}

function header(path: string, typeflag: string, size: number, mode: number, linkpath: string): Uint8Array {
  const block = new Uint8Array(BLOCK);
  if (!writeString(block, 0, 100, path)) throw new Error(`tar: path too long for a header: ${path}`);
  writeOctal(block, 100, 8, mode);
  writeOctal(block, 108, 8, 0); // uid
  writeOctal(block, 116, 8, 0); // gid
  writeOctal(block, 124, 12, size);
  writeOctal(block, 136, 12, 0); // mtime: fixed, so archives are reproducible
  block.fill(0x20, 148, 156);
  block[156] = typeflag.charCodeAt(0);
  if (!writeString(block, 157, 100, linkpath)) throw new Error(`tar: link target too long: ${linkpath}`);
  writeString(block, 257, 6, "ustar\0");
  writeString(block, 263, 2, "00");
  let sum = 0;
  for (const b of block) sum += b;
  writeString(block, 148, 8, `${sum.toString(8).padStart(6, "0")}\0 `);
  return block;
}

function paxHeader(path: string): Uint8Array[] {
  const body = ` path=${path}\n`;
  // The length prefix counts itself; grow it until it is self-consistent.
  let len = encoder.encode(body).length + 1;
  while (String(len).length + encoder.encode(body).length !== len) len++;
  const data = encoder.encode(`${len}${body}`);
  return [header("PaxHeader", "x", data.length, 0o644, ""), pad(data)];
}

function pad(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(data.length / BLOCK) * BLOCK);
  out.set(data);
  return out;
}

/** Builds an uncompressed ustar archive in memory (pax headers for paths longer than 100 bytes). */
export function createTar(files: readonly TarInput[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const file of files) {
    const type = file.type ?? (file.path.endsWith("/") ? "directory" : "file");
    if (type === "other") throw new Error(`tar: cannot write an entry of type "other": ${file.path}`);
    const data =
      type === "file"
        ? typeof file.data === "string"
          ? encoder.encode(file.data)
          : (file.data ?? new Uint8Array(0))
        : new Uint8Array(0);
    const mode = file.mode ?? (type === "directory" ? 0o755 : 0o644);
    let name = file.path;
    if (encoder.encode(name).length > 100) {
      parts.push(...paxHeader(name));
      name = name.slice(0, 50).replace(/[^\x20-\x7e]/g, "_");
    }
    parts.push(header(name, TYPEFLAG[type], data.length, mode, file.linkpath ?? ""));
    if (data.length > 0) parts.push(pad(data));
  }
  parts.push(new Uint8Array(BLOCK * 2));
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
