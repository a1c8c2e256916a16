// The API contract as data: every route is well-formed, and its schemas compile.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { apiPrefix, ErrorBody, type RouteDef, routes } from "../../src/contract/api.js";

const all = Object.entries(routes) as [string, RouteDef][];

describe("API contract", () => {
  test("method + URL pairs are unique", () => {
    const keys = all.map(([, r]) => `${r.method} ${r.url.replace(/:[A-Za-z]+/g, ":")}`);
    assert.deepEqual(
      keys.filter((k, i) => keys.indexOf(k) !== i),
      [],
    );
  });

  test("every route but the probes lives under /api/v1", () => {
    const probes = new Set(["healthz", "readyz"]);
    for (const [name, r] of all) if (!probes.has(name)) assert.ok(r.url.startsWith(`${apiPrefix}/`), name);
  });

  test("every route has a 2xx response, and every error response is the ErrorBody", () => {
    for (const [name, r] of all) {
      const codes = Object.keys(r.schema.response).map(Number);
      assert.ok(
        codes.some((c) => c >= 200 && c < 300),
        `${name} has no 2xx`,
      );
      // /readyz answers 503 with the same body as 200 (which check failed), not an error body.
      for (const c of codes.filter((c) => c >= 400 && !(name === "readyz" && c === 503)))
        assert.equal(r.schema.response[c], ErrorBody, `${name} ${c}`);
    }
  });

  test("routes that need a token can answer 401; URL params are declared", () => {
    for (const [name, r] of all) {
      if (r.config.auth !== "none") assert.ok(401 in r.schema.response, `${name} lacks 401`);
      const inUrl = [...r.url.matchAll(/:([A-Za-z]+)/g)].map((m) => m[1]).sort();
      const declared = Object.keys(
        (r.schema.params as { properties?: object } | undefined)?.properties ?? {},
      ).sort();
      assert.deepEqual(declared, inUrl, name);
    }
  });

  test("every schema compiles", () => {
    for (const [name, r] of all) {
      const { params, querystring, body, response } = r.schema;
      for (const schema of [params, querystring, body, ...Object.values(response)]) {
        if (schema) assert.doesNotThrow(() => TypeCompiler.Compile(schema), name);
      }
    }
  });
});

describe("API contract in Fastify", () => {
  test("GIVEN every route registered with @fastify/swagger THEN Fastify compiles them and the OpenAPI document lists each", async () => {
    const { default: Fastify } = await import("fastify");
    const { default: swagger } = await import("@fastify/swagger");
    const app = Fastify();
    try {
      await app.register(swagger, { openapi: { info: { title: "prewarm", version: "test" } } });
      app.addContentTypeParser("application/x-tar", { parseAs: "buffer" }, (_req, body, done) =>
        done(null, body),
      );
      for (const [, r] of all) app.route({ ...r, handler: async () => ({}) });
      await app.ready();
      const doc = app.swagger() as { paths: Record<string, Record<string, unknown>> };
      for (const [name, r] of all) {
        const path = r.url.replace(/:([A-Za-z]+)/g, "{$1}");
        assert.ok(
          doc.paths[path]?.[r.method.toLowerCase()],
          `${name}: ${r.method} ${path} missing from OpenAPI`,
        );
      }
    } finally {
      await app.close();
    }
  });
});
