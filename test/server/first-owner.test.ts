// The first start of a server creates the owner `admin` (nobody could create users otherwise); later starts
// without --dev do not mint tokens.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { silentLogger } from "../../src/server/logger.js";
import { startServer } from "../../src/server/server.js";

const dataDir = mkdtempSync(join(tmpdir(), "prewarm-first-owner-"));
after(() => rmSync(dataDir, { recursive: true, force: true }));

const options = {
  dataDir,
  listen: "127.0.0.1:0",
  daemons: 0,
  provisionerTypes: ["echo"],
  reconcileIntervalMs: 3_600_000,
  dev: false,
  logger: silentLogger,
};

test("GIVEN an empty data directory WHEN the server starts without --dev THEN it creates the owner admin and writes its token (0600); a restart mints none", async () => {
  const first = await startServer(options);
  try {
    assert.ok(first.adminToken, "a token for the first owner");
    const tokenFile = join(dataDir, "admin-token");
    assert.equal(readFileSync(tokenFile, "utf8").trim(), first.adminToken);
    assert.equal(statSync(tokenFile).mode & 0o777, 0o600);
    const me = await fetch(`${first.url}/api/v1/users/me`, {
      headers: { authorization: `Bearer ${first.adminToken}` },
    });
    assert.equal(me.status, 200);
    assert.equal(((await me.json()) as { role: string }).role, "owner");
  } finally {
    await first.close();
  }
  const second = await startServer(options);
  try {
    assert.equal(second.adminToken, undefined);
    assert.ok(existsSync(join(dataDir, "admin-token")), "the first token file stays");
  } finally {
    await second.close();
  }
});
