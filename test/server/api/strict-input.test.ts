// Strict input through a real server socket: JSON bodies are not coerced (a number or an array is not a
// string, null is not ""), user names and emails follow the documented rules, uploaded archives with hostile
// entry names are refused naming the entry, and a member's uploads stop at the upload quota (owners exempt).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createTar } from "../../../src/provisionersdk/archive.js";
import { type Client, client, createMember, startTestServer, type TestServer } from "./support.js";

/** A small valid archive whose bytes differ by `n` (so each one is a new file). */
const archiveOf = (n: number, bytes = 0) =>
  createTar([
    { path: "main.tf", data: `# ${n}\n` },
    { path: "pad.bin", data: new Uint8Array(bytes) },
  ]);

describe("strict input", { timeout: 60_000 }, () => {
  let server: TestServer;
  let admin: Client;
  let member: Client;
  const QUOTA = 50_000;

  const countRows = async (table: "users" | "files" | "workspaces") => {
    const row = await server.server.store.db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  };

  before(async () => {
    server = await startTestServer({ uploadQuotaBytes: QUOTA });
    admin = client(server.url, server.adminToken);
    member = (await createMember(admin, server.url, "mia")).api;
  });
  after(() => server.close());

  const uncoerced: Array<{ name: string; path: string; body: unknown; field: string }> = [
    {
      name: "a number and an array for strings",
      path: "/api/v1/workspaces",
      body: { name: 1, template: ["pool10"] },
      field: "name",
    },
    {
      name: "null for a name",
      path: "/api/v1/workspaces",
      body: { name: null, template: "t" },
      field: "name",
    },
    {
      name: "a string for an integer",
      path: "/api/v1/users/me/tokens",
      body: { lifetimeSeconds: "60" },
      field: "lifetimeSeconds",
    },
    {
      name: "a string for a boolean",
      path: "/api/v1/templates/t/versions",
      body: { fileHash: "a".repeat(64), provisioner: "echo", activate: "true" },
      field: "activate",
    },
    {
      name: "a number for a username",
      path: "/api/v1/users",
      body: { username: 42, email: "x@example.com" },
      field: "username",
    },
  ];
  for (const c of uncoerced) {
    test(`GIVEN ${c.name} in a JSON body THEN 400 names the field and nothing is stored`, async () => {
      const before = [await countRows("users"), await countRows("workspaces")];
      const answer = await admin.post<{ message: string; field?: string }>(c.path, c.body);
      assert.equal(answer.status, 400, JSON.stringify(answer.body));
      assert.equal(answer.body.field, c.field, JSON.stringify(answer.body));
      assert.deepEqual([await countRows("users"), await countRows("workspaces")], before);
    });
  }

  test("GIVEN booleans in a query string THEN they are still read as the booleans the schema asks for", async () => {
    assert.equal((await admin.get("/api/v1/workspaces?all=true&prebuilds=false")).status, 200);
    const bad = await admin.get<{ field?: string }>("/api/v1/workspaces?all=maybe");
    assert.equal(bad.status, 400, JSON.stringify(bad.body));
  });

  const badUsers: Array<{ name: string; body: Record<string, unknown>; field: string }> = [
    { name: "an email without @", body: { username: "nat", email: "notanemail" }, field: "email" },
    { name: "an email with a space", body: { username: "nat", email: "n at@example.com" }, field: "email" },
    { name: "an email with two @", body: { username: "nat", email: "n@a@example.com" }, field: "email" },
    { name: "an email with a bad host", body: { username: "nat", email: "n@-x.com" }, field: "email" },
    { name: "a username starting with _", body: { username: "_nat", email: "n@x.io" }, field: "username" },
    {
      name: "a username of 65 characters",
      body: { username: "n".repeat(65), email: "n@x.io" },
      field: "username",
    },
    { name: "a null email", body: { username: "nat", email: null }, field: "email" },
  ];
  for (const c of badUsers) {
    test(`GIVEN ${c.name} THEN creating the user is a 400 naming ${c.field}`, async () => {
      const before = await countRows("users");
      const answer = await admin.post<{ field?: string }>("/api/v1/users", c.body);
      assert.equal(answer.status, 400, JSON.stringify(answer.body));
      assert.equal(answer.body.field, c.field);
      assert.equal(await countRows("users"), before);
    });
  }

  test("GIVEN a username or email of the wrong form THEN the 400 states the rule in words", async () => {
    const email = await admin.post<{ message: string }>("/api/v1/users", {
      username: "nat",
      email: "notanemail",
    });
    assert.match(email.body.message, /email must be an email address: one `@`, then a host name/);
    const name = await admin.post<{ message: string }>("/api/v1/users", {
      username: "_nat",
      email: "n@x.io",
    });
    assert.match(name.body.message, /username must be letters, digits, `_` and `-`, starting with a letter/);
  });

  test("GIVEN a valid username and a localhost email THEN the user is created", async () => {
    const answer = await admin.post("/api/v1/users", { username: "n-64_ok", email: "ops@localhost" });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
  });

  test("GIVEN an upload with a NUL hidden in an entry name THEN 400 names the entry and nothing is stored", async () => {
    const before = await countRows("files");
    const answer = await member.upload<{ message: string }>(
      createTar([{ path: "main.tf\0evil.sh", data: "x" }]),
    );
    assert.equal(answer.status, 400, JSON.stringify(answer.body));
    assert.match(answer.body.message, /entry "main\.tf\\x00evil\.sh": path contains a NUL byte/);
    assert.equal(await countRows("files"), before);
  });

  test("GIVEN a member's uploads WHEN they would pass the quota THEN 413 names the quota; known bytes and owners pass", async () => {
    const first = await member.upload<{ hash: string }>(archiveOf(1, 30_000));
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const over = await member.upload<{ message: string }>(archiveOf(2, 30_000));
    assert.equal(over.status, 413, JSON.stringify(over.body));
    assert.match(over.body.message, new RegExp(`upload quota exceeded.*quota of ${QUOTA} bytes`));
    // The same bytes again are stored already: no new storage, no quota.
    const again = await member.upload<{ hash: string }>(archiveOf(1, 30_000));
    assert.equal(again.status, 200, JSON.stringify(again.body));
    // Owners are exempt.
    const owner = await admin.upload(archiveOf(3, 60_000));
    assert.equal(owner.status, 201, JSON.stringify(owner.body));
  });
});
