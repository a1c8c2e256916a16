// Safe extraction of template archives (extractArchive) and the in-memory tar writer (createTar).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, test } from "node:test";
import {
  ArchiveError,
  type ArchiveLimits,
  createTar,
  DEFAULT_ARCHIVE_LIMITS,
  extractArchive,
  SYNC_WRITE_MAX,
  type TarInput,
} from "../../src/provisionersdk/index.js";
import { commandWorks, skipUnless } from "../support/requirements.js";

const limits: ArchiveLimits = { ...DEFAULT_ARCHIVE_LIMITS };

/** Deterministic bytes that are not a tar archive (a fixed-seed LCG, so the test never flakes). */
function noise(length: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = 12345;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

async function listTree(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
    const rel = prefix + entry.name;
    if (entry.isDirectory()) out.push(`${rel}/`, ...(await listTree(join(dir, entry.name), `${rel}/`)));
    else out.push(rel);
  }
  return out;
}

describe("extractArchive", () => {
  let root: string;
  let dir: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), "prewarm-archive-test-"));
    dir = join(root, "session");
    await mkdir(dir);
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test("GIVEN files in nested directories without directory entries THEN parents are created", async () => {
    await extractArchive(
      createTar([
        { path: "main.tf", data: "a" },
        { path: "modules/net/vars.tf", data: "bb" },
        { path: "./scripts/run.sh", data: "#!/bin/sh\n", mode: 0o755 },
        { path: "empty/" },
      ]),
      dir,
      limits,
    );
    assert.deepEqual(await listTree(dir), [
      "empty/",
      "main.tf",
      "modules/",
      "modules/net/",
      "modules/net/vars.tf",
      "scripts/",
      "scripts/run.sh",
    ]);
    assert.equal(await readFile(join(dir, "modules/net/vars.tf"), "utf8"), "bb");
    assert.equal((await stat(join(dir, "scripts/run.sh"))).mode & 0o777, 0o755);
  });

  test("GIVEN a read-only file mode THEN the owner still gets read/write", async () => {
    await extractArchive(createTar([{ path: "ro.txt", data: "x", mode: 0o400 }]), dir, limits);
    assert.equal((await stat(join(dir, "ro.txt"))).mode & 0o777, 0o600);
  });

  test("GIVEN a path exactly 64 levels deep THEN it is extracted", async () => {
    const path = `${"d/".repeat(63)}f`;
    await extractArchive(createTar([{ path, data: "deep" }]), dir, limits);
    assert.equal(await readFile(join(dir, path), "utf8"), "deep");
  });

  test("GIVEN setuid, setgid and sticky bits THEN extraction drops them", async () => {
    await extractArchive(
      createTar([
        { path: "bin/", mode: 0o3775 },
        { path: "bin/su", data: "x", mode: 0o4755 },
        { path: "bin/sg", data: "x", mode: 0o2750 },
      ]),
      dir,
      limits,
    );
    assert.equal((await stat(join(dir, "bin/su"))).mode & 0o7777, 0o755);
    assert.equal((await stat(join(dir, "bin/sg"))).mode & 0o7777, 0o750);
    assert.equal((await stat(join(dir, "bin"))).mode & 0o7000, 0);
  });

  test("GIVEN the same path twice THEN the later entry wins", async () => {
    await extractArchive(
      createTar([
        { path: "a.txt", data: "first" },
        { path: "a.txt", data: "second" },
      ]),
      dir,
      limits,
    );
    assert.equal(await readFile(join(dir, "a.txt"), "utf8"), "second");
  });

  test("GIVEN a path longer than 100 bytes THEN createTar writes a pax header and it round-trips", async () => {
    const long = `${"deep/".repeat(30)}file-ü.txt`;
    await extractArchive(createTar([{ path: long, data: "long" }]), dir, limits);
    assert.equal(await readFile(join(dir, long), "utf8"), "long");
  });

  for (const count of [10, SYNC_WRITE_MAX.entries + 50]) {
    test(`GIVEN ${count} files (${count <= SYNC_WRITE_MAX.entries ? "written synchronously" : "written asynchronously"}) THEN all are extracted`, async () => {
      const files = Array.from({ length: count }, (_, i) => ({
        path: `d${i % 3}/f${i}.txt`,
        data: `file ${i}`,
      }));
      await extractArchive(createTar(files), dir, limits);
      for (const f of files) assert.equal(await readFile(join(dir, f.path), "utf8"), f.data);
    });
  }

  const emptyArchives = [
    { name: "zero bytes", archive: new Uint8Array(0) },
    { name: "only the end-of-archive blocks", archive: new Uint8Array(1024) },
    { name: "createTar([])", archive: createTar([]) },
  ];
  for (const c of emptyArchives) {
    test(`GIVEN an empty archive (${c.name}) THEN nothing is extracted and it is not an error`, async () => {
      await extractArchive(c.archive, dir, limits);
      assert.deepEqual(await readdir(dir), []);
    });
  }

  const bigFile = createTar([{ path: "big.bin", data: new Uint8Array(2000) }]);
  const malicious: Array<{
    name: string;
    archive: Uint8Array;
    limits?: Partial<ArchiveLimits>;
    entry?: string;
    /** How the message shows the entry, when not as it is (control characters escaped, long names cut). */
    shown?: string;
    message: RegExp;
  }> = [
    {
      // In the 100-byte ustar name field: a reader stopping at the NUL would import "main.tf".
      name: "a NUL inside the name field",
      archive: tarOf({ path: "main.tf\0evil.sh", data: "" }),
      entry: "main.tf\0evil.sh",
      shown: "main.tf\\x00evil.sh",
      message: /NUL byte/,
    },
    {
      name: "a NUL in a long (pax) name",
      archive: tarOf({ path: `${"d/".repeat(60)}x\0y`, data: "" }),
      entry: `${"d/".repeat(60)}x\0y`,
      shown: `${"d/".repeat(60)}x\\x00y`,
      message: /NUL byte/,
    },
    {
      name: "a newline in the name",
      archive: tarOf({ path: "evil\nname.txt", data: "" }),
      entry: "evil\nname.txt",
      shown: "evil\\x0aname.txt",
      message: /control character \(\\x0a\)/,
    },
    {
      name: "an escape sequence in the name",
      archive: tarOf({ path: "a\x1b[31mred", data: "" }),
      entry: "a\x1b[31mred",
      shown: "a\\x1b[31mred",
      message: /control character/,
    },
    {
      name: "a path 65 levels deep",
      archive: tarOf({ path: `${"d/".repeat(64)}f`, data: "" }),
      entry: `${"d/".repeat(64)}f`,
      message: /65 levels deep; the limit is 64/,
    },
    {
      name: "a path 2,000 levels deep",
      archive: tarOf({ path: `${"d/".repeat(2000)}f`, data: "" }),
      entry: `${"d/".repeat(2000)}f`,
      shown: `${"d/".repeat(100)}…`,
      message: /4001 bytes long|2001 levels deep/,
    },
    {
      name: "a path longer than 4,096 bytes",
      archive: tarOf({ path: `${"x".repeat(5000)}`, data: "" }),
      entry: "x".repeat(5000),
      shown: `${"x".repeat(200)}…`,
      message: /5000 bytes long; the limit is 4096/,
    },
    {
      name: "absolute path",
      archive: tarOf({ path: "/etc/cron.d/x", data: "" }),
      entry: "/etc/cron.d/x",
      message: /absolute/,
    },
    {
      name: "parent escape",
      archive: tarOf({ path: "../outside.txt", data: "" }),
      entry: "../outside.txt",
      message: /"\.\."/,
    },
    {
      name: "nested parent escape",
      archive: tarOf({ path: "a/../../x", data: "" }),
      entry: "a/../../x",
      message: /"\.\."/,
    },
    { name: "dot-dot directory", archive: tarOf({ path: "../up/" }), entry: "../up/", message: /"\.\."/ },
    {
      name: "symlink",
      archive: tarOf({ path: "link", type: "symlink", linkpath: "/etc/passwd" }),
      entry: "link",
      message: /symbolic links are not allowed/,
    },
    {
      name: "hardlink",
      archive: tarOf({ path: "hard", type: "hardlink", linkpath: "/etc/shadow" }),
      entry: "hard",
      message: /hard links are not allowed/,
    },
    {
      name: "character device",
      archive: tarOf({ path: "tty", type: "character-device" }),
      entry: "tty",
      message: /device/,
    },
    {
      name: "block device",
      archive: tarOf({ path: "sda", type: "block-device" }),
      entry: "sda",
      message: /device/,
    },
    { name: "fifo", archive: tarOf({ path: "pipe", type: "fifo" }), entry: "pipe", message: /FIFO/ },
    {
      name: "oversize content",
      archive: createTar([
        { path: "a.bin", data: new Uint8Array(600) },
        { path: "b.bin", data: new Uint8Array(600) },
      ]),
      limits: { maxBytes: 1000 },
      entry: "b.bin",
      message: /exceeds 1000 bytes/,
    },
    {
      name: "too many entries",
      archive: createTar(Array.from({ length: 6 }, (_, i) => ({ path: `f${i}`, data: "" }))),
      limits: { maxEntries: 5 },
      entry: "f5",
      message: /more than 5 entries/,
    },
    { name: "random bytes", archive: noise(4096), message: /not a tar archive/ },
    { name: "a short text", archive: new TextEncoder().encode("hello, world"), message: /not a tar archive/ },
    { name: "truncated data", archive: bigFile.subarray(0, 1000), entry: "big.bin", message: /truncated/ },
    {
      name: "truncated header",
      archive: concat(bigFile.subarray(0, 2560), noise(100)),
      message: /truncated/,
    },
    { name: "gzip-compressed", archive: new Uint8Array([0x1f, 0x8b, 8, 0, ...noise(600)]), message: /gzip/ },
    {
      name: "a file used as a directory",
      archive: createTar([
        { path: "a", data: "" },
        { path: "a/b", data: "" },
      ]),
      entry: "a/b",
      message: /parent "a" is a file/,
    },
  ];
  for (const c of malicious) {
    test(`GIVEN an archive with ${c.name} THEN it is rejected${c.entry ? " naming the entry" : ""} and nothing is written`, async () => {
      // A harmless file first: a streaming extractor would already have written it.
      const archive = c.archive;
      await assert.rejects(extractArchive(archive, dir, { ...limits, ...c.limits }), (err: unknown) => {
        assert.ok(err instanceof ArchiveError, `expected ArchiveError, got ${String(err)}`);
        assert.match(err.message, c.message);
        if (c.entry !== undefined) {
          assert.equal(err.entry, c.entry);
          assert.ok(err.message.includes(`"${c.shown ?? c.entry}"`), err.message);
        }
        return true;
      });
      assert.deepEqual(await readdir(dir), []);
      assert.deepEqual((await readdir(root)).sort(), ["session"], "nothing written beside the session dir");
    });
  }

  test("GIVEN invalid limits THEN extraction refuses to start", async () => {
    await assert.rejects(extractArchive(createTar([]), dir, { maxBytes: -1, maxEntries: 1 }), RangeError);
  });

  const hasTar = commandWorks("tar");
  for (const format of ["gnu", "pax", "ustar"]) {
    test(`GIVEN an archive made by GNU tar (--format=${format}) THEN it extracts identically`, {
      skip: skipUnless(hasTar, "tar not on PATH"),
    }, async () => {
      const src = join(root, "src");
      const nested = format === "ustar" ? "a/b/c" : `a/${"long-directory-name/".repeat(8)}c`;
      await mkdir(join(src, nested), { recursive: true });
      await writeFile(join(src, nested, "file.txt"), "deep");
      await writeFile(join(src, "README.md"), "# hi");
      const out = join(root, `t.${format}.tar`);
      const r = spawnSync("tar", [`--format=${format}`, "-cf", out, "-C", src, "."], { encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      await extractArchive(await readFile(out), dir, limits);
      assert.deepEqual(await listTree(dir), await listTree(src));
      assert.equal(await readFile(join(dir, nested, "file.txt"), "utf8"), "deep");
    });
  }
});

function tarOf(bad: TarInput): Uint8Array {
  return createTar([{ path: "harmless.txt", data: "ok" }, bad]);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
