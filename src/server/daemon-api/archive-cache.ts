// The template archives acquired jobs carry, kept in memory by file id. Files are content-addressed and never
// change or go away (store/files.ts), so without it every build of a version reads — and on PostgreSQL
// transfers and decodes — the same bytes again. Bounded by total bytes, the least recently used out first;
// an archive larger than a quarter of the bound is not kept.

export class ArchiveCache {
  readonly #entries = new Map<string, Uint8Array>();
  #bytes = 0;

  constructor(private readonly maxBytes = 64 * 1024 * 1024) {}

  /** The archive of `fileId`: from memory, else from `load` (undefined: no such file, nothing kept). */
  async get(fileId: string, load: () => Promise<Uint8Array | undefined>): Promise<Uint8Array | undefined> {
    const hit = this.#entries.get(fileId);
    if (hit) {
      // Re-insert: a Map keeps insertion order, so the first key is the least recently used.
      this.#entries.delete(fileId);
      this.#entries.set(fileId, hit);
      return hit;
    }
    const data = await load();
    if (data && data.byteLength <= this.maxBytes / 4 && !this.#entries.has(fileId)) {
      this.#entries.set(fileId, data);
      this.#bytes += data.byteLength;
      for (const [id, old] of this.#entries) {
        if (this.#bytes <= this.maxBytes) break;
        this.#entries.delete(id);
        this.#bytes -= old.byteLength;
      }
    }
    return data;
  }
}
