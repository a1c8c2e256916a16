// Generated hostile input against every operation of the served OpenAPI document, through a real server
// socket on loopback: malformed JSON bodies (wrong types, nulls, huge strings, nested junk, bodies that are
// not JSON at all), bad path parameters (unknown ids, traversal strings, very long values) and bad query
// values, as an owner and as a member. Every input is one the document itself rejects (checked with an
// independent Ajv before sending), so every answer must be a 4xx, never a 5xx, and the database must be
// exactly as it was: same row counts, same content hash in every table.
//
// The generator is seeded (a fixed mulberry32), so a failure reproduces; the request and its answer are in
// the assertion message.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";
import SwaggerParser from "@apidevtools/swagger-parser";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { sql } from "kysely";
import { createTar } from "../../../src/provisionersdk/archive.js";
import { call, client, createMember, startTestServer, type TestServer } from "./support.js";

interface Parameter {
  name: string;
  in: "path" | "query" | "header" | "cookie";
  required?: boolean;
  schema?: Record<string, unknown>;
}
interface Operation {
  operationId?: string;
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema?: Record<string, unknown> }> };
}
type Document = { paths: Record<string, Record<string, Operation>> };

interface Request {
  method: string;
  path: string;
  body?: string | Uint8Array;
  contentType?: string;
  what: string;
}

/** A small seeded PRNG (mulberry32): the same requests on every run. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T,
  };
}

const HUGE = "x".repeat(200_000);
function deep(levels: number): unknown {
  let v: unknown = "bottom";
  for (let i = 0; i < levels; i++) v = i % 2 ? [v] : { a: v };
  return v;
}
/** Values no field of the API takes in that position (the Ajv check below throws out the ones it does). */
const JUNK: readonly unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1.5,
  1e308,
  2 ** 53 + 1,
  "",
  "x",
  HUGE,
  "../../etc/passwd",
  "\u0000",
  "a\nb",
  "<script>alert(1)</script>",
  "'; drop table users; --",
  "\u202e\u0301",
  [],
  [null],
  ["pool10"],
  {},
  { $ne: 1 },
  JSON.parse('{"__proto__": {"polluted": true}}'),
  { constructor: { prototype: { polluted: true } } },
  deep(200),
  { a: { b: { c: [1, { d: null, e: HUGE.slice(0, 5000) }] } } },
];

/** Path parameter values that name nothing (the test database has no templates, workspaces or jobs). */
const BAD_PATH_VALUES: readonly string[] = [
  "00000000-0000-4000-8000-000000000000",
  "does-not-exist",
  "..%2F..%2Fetc%2Fpasswd",
  "%2e%2e",
  "%00",
  "a%0Ab",
  "%E2%80%AE",
  "'%20or%201%3D1",
  "a".repeat(3000),
  "-1",
  "99999999999999999999999",
  "1e400",
  "%7B%7D",
];

/** Query values for typed (number, boolean, enum) parameters. */
const BAD_QUERY_VALUES: readonly string[] = [
  "abc",
  "-1",
  "1.5",
  "1e999",
  "",
  "%00",
  "true,false",
  "[]",
  "x".repeat(5000),
];

describe("hostile input on every operation", { timeout: 180_000 }, () => {
  let server: TestServer;
  let tokens: Array<{ role: string; token: string }>;
  let operations: Array<{ method: string; path: string; op: Operation }>;

  /**
   * Row counts and a content hash of every table; `last_used_at` of tokens moves with every call, and a member's
   * refused owner action adds a failure entry to the audit log, both by design (only its successes count here).
   */
  async function snapshot(): Promise<Record<string, string>> {
    const db = server.server.store.db;
    const tables = (await db.introspection.getTables()).map((t) => t.name).sort();
    const out: Record<string, string> = {};
    for (const table of tables) {
      const onlySuccesses = table === "audit_log" ? sql` where outcome = 'success'` : sql``;
      const rows = await sql<
        Record<string, unknown>
      >`select * from ${sql.table(table)}${onlySuccesses}`.execute(db);
      const lines = rows.rows
        .map((row) => {
          const { last_used_at: _moves, ...rest } = row;
          return JSON.stringify(rest, (_k, v) =>
            Buffer.isBuffer(v) || v instanceof Uint8Array ? createHash("sha256").update(v).digest("hex") : v,
          );
        })
        .sort();
      out[table] = `${lines.length} rows ${createHash("sha256").update(lines.join("\n")).digest("hex")}`;
    }
    return out;
  }

  before(async () => {
    server = await startTestServer({ daemons: 0 });
    const admin = client(server.url, server.adminToken);
    const member = await createMember(admin, server.url, "mallory");
    // Something stored to protect: a member's upload.
    const upload = await member.api.upload(createTar([{ path: "main.tf", data: "# kept\n" }]));
    assert.equal(upload.status, 201);
    tokens = [
      { role: "owner", token: server.adminToken },
      { role: "member", token: member.token },
    ];
    const served = (await call<Document>(server.url, "GET", "/api/v1/openapi.json")).body;
    const resolved = (await SwaggerParser.dereference(
      structuredClone(served) as never,
    )) as unknown as Document;
    operations = Object.entries(resolved.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({ method: method.toUpperCase(), path, op })),
    );
  });
  after(() => server.close());

  test("GIVEN a few thousand generated invalid requests THEN none is a 5xx and no stored data changes", async (t) => {
    // The server's own options (api/app.ts): a body the document rejects after removing what the server
    // removes is one the server must reject.
    const ajv = new Ajv2020({ strict: false, coerceTypes: false, useDefaults: true, removeAdditional: true });
    addFormats.default(ajv);
    const textAjv = new Ajv2020({
      strict: false,
      coerceTypes: "array",
      useDefaults: true,
      removeAdditional: true,
    });
    addFormats.default(textAjv);
    const rejects = (validator: Ajv2020, schema: object, value: unknown) =>
      !validator.validate(schema, structuredClone(value));

    const random = prng(16);
    const requests: Request[] = [];
    for (const { method, path, op } of operations) {
      const params = op.parameters ?? [];
      const pathParams = params.filter((p) => p.in === "path");
      const fill = (value: (p: Parameter) => string) =>
        path.replace(/\{([^}]+)\}/g, (_m, name: string) => {
          const p = pathParams.find((q) => q.name === name);
          return p ? value(p) : "does-not-exist";
        });
      const plainPath = fill(() => "does-not-exist");
      const json = op.requestBody?.content["application/json"]?.schema;
      const rawBody = op.requestBody && !json;

      // Bodies the document rejects: junk in place of the body, and objects with junk in every field.
      const badBodies: unknown[] = [];
      if (json) {
        for (const junk of JUNK) if (rejects(ajv, json, junk)) badBodies.push(junk);
        const properties = Object.keys((json.properties as Record<string, unknown> | undefined) ?? {});
        for (let round = 0; round < 24; round++) {
          const body: Record<string, unknown> = {};
          for (const name of properties) if (random.next() < 0.8) body[name] = random.pick(JUNK);
          if (random.next() < 0.5) body[`extra${round}`] = random.pick(JUNK);
          if (rejects(ajv, json, body)) badBodies.push(body);
        }
      }
      const pathOnly = pathParams.length > 0;
      const someBadBody = () => (badBodies.length ? random.pick(badBodies) : undefined);

      const push = (r: Omit<Request, "method">) => requests.push({ method, ...r });
      for (const body of badBodies) {
        push({
          path: plainPath,
          body: JSON.stringify(body),
          contentType: "application/json",
          what: "bad body",
        });
      }
      if (json || rawBody) {
        push({ path: plainPath, body: "{", contentType: "application/json", what: "truncated JSON" });
        push({ path: plainPath, body: "name=x", contentType: "text/plain", what: "wrong content type" });
        push({ path: plainPath, body: '{"a":', contentType: "application/json", what: "broken JSON" });
      }
      if (rawBody) {
        const hostile = [
          new TextEncoder().encode("not a tar archive at all"),
          createTar([{ path: "main.tf\0evil", data: "x" }]),
          createTar([{ path: `${"d/".repeat(2000)}f`, data: "x" }]),
          createTar([{ path: "../escape", data: "x" }]),
          createTar([{ path: "bad\u001bname", data: "x" }]),
          createTar([{ path: "link", type: "symlink", linkpath: "/etc/passwd" }]),
          new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3]),
        ];
        for (const bytes of hostile) {
          push({ path: plainPath, body: bytes, contentType: "application/x-tar", what: "hostile archive" });
        }
        for (const junk of JUNK.slice(0, 12)) {
          push({
            path: plainPath,
            body: JSON.stringify(junk),
            contentType: "application/json",
            what: "JSON for an archive",
          });
        }
      }
      // Bad path parameters: each value in each parameter, with a rejected body where the route takes one
      // (a valid body could legitimately create something under a new name).
      if (pathOnly) {
        for (const p of pathParams) {
          for (const value of BAD_PATH_VALUES) {
            const body = json ? someBadBody() : undefined;
            if (json && body === undefined) continue;
            push({
              path: fill((q) => (q.name === p.name ? value : "does-not-exist")),
              ...(body === undefined ? {} : { body: JSON.stringify(body), contentType: "application/json" }),
              what: `bad path parameter ${p.name}`,
            });
          }
        }
      }
      // Bad query values for the typed query parameters the document rejects them for.
      const query = params.filter((p) => p.in === "query" && p.schema);
      for (const p of query) {
        const schema = { type: "object", properties: { [p.name]: p.schema } };
        for (const value of BAD_QUERY_VALUES) {
          if (!rejects(textAjv, schema, { [p.name]: value })) continue;
          const body = json ? someBadBody() : undefined;
          if (!pathOnly && method !== "GET" && body === undefined) continue;
          push({
            path: `${plainPath}?${encodeURIComponent(p.name)}=${encodeURIComponent(value)}`,
            ...(body === undefined ? {} : { body: JSON.stringify(body), contentType: "application/json" }),
            what: `bad query ${p.name}`,
          });
        }
      }
    }

    const before = await snapshot();
    const statuses = new Map<number, number>();
    let sent = 0;
    const failures: string[] = [];
    const all = tokens.flatMap(({ role, token }) => requests.map((r) => ({ ...r, role, token })));
    const send = async () => {
      for (let r = all.shift(); r !== undefined; r = all.shift()) {
        const headers: Record<string, string> = { authorization: `Bearer ${r.token}` };
        if (r.contentType) headers["content-type"] = r.contentType;
        const response = await fetch(`${server.url}${r.path}`, {
          method: r.method,
          headers,
          body:
            r.body === undefined
              ? undefined
              : typeof r.body === "string"
                ? r.body
                : new Blob([new Uint8Array(r.body)]),
          signal: AbortSignal.timeout(30_000),
        });
        const text = await response.text();
        sent++;
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        if (response.status < 400 || response.status >= 500) {
          failures.push(
            `${r.role} ${r.method} ${r.path.slice(0, 200)} (${r.what}) → ${response.status} ${text.slice(0, 300)}`,
          );
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, send));
    const answered = [...statuses]
      .sort(([a], [b]) => a - b)
      .map(([s, n]) => `${s}×${n}`)
      .join(" ");

    t.diagnostic(`${operations.length} operations, ${sent} requests: ${answered}`);
    assert.ok(operations.length >= 30, `${operations.length} operations`);
    assert.ok(sent >= 2000, `${sent} requests sent (${answered})`);
    assert.deepEqual(
      failures.slice(0, 20),
      [],
      `${failures.length} of ${sent} requests were not refused with a 4xx`,
    );
    assert.deepEqual(await snapshot(), before, "stored data changed");
  });
});
