// The served OpenAPI document: valid by an independent validator (@apidevtools/swagger-parser), limited to
// the JSON API, with operation ids, named schemas, response descriptions and `servers`; and real responses
// of a running server (successes and errors) conform to the schemas it documents, checked with Ajv.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import SwaggerParser from "@apidevtools/swagger-parser";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { workspaceNamePattern } from "../../../src/contract/workspaces.js";
import {
  type Answer,
  type Client,
  call,
  client,
  createMember,
  exampleArchive,
  pushTemplate,
  startTestServer,
  type TestServer,
} from "./support.js";

interface Operation {
  operationId?: string;
  summary?: string;
  responses: Record<string, { description: string; content?: Record<string, { schema: unknown }> }>;
}
type Document = {
  openapi: string;
  servers?: Array<{ url: string }>;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Record<string, unknown>> };
};

describe("OpenAPI document", { timeout: 120_000 }, () => {
  let server: TestServer;
  let admin: Client;
  let member: Client;
  let served: Document;
  let resolved: Document;

  before(async () => {
    server = await startTestServer();
    admin = client(server.url, server.adminToken);
    member = (await createMember(admin, server.url, "mia")).api;
    served = (await call<Document>(server.url, "GET", "/api/v1/openapi.json")).body;
    // The validator dereferences in place: give it a copy.
    resolved = (await SwaggerParser.validate(structuredClone(served) as never)) as unknown as Document;
  });
  after(() => server.close());

  test("GIVEN the served document THEN an independent validator accepts it and it lists only /api/v1", () => {
    assert.equal(served.openapi, "3.1.0");
    assert.deepEqual(served.servers, [{ url: server.url }]);
    const paths = Object.keys(served.paths);
    assert.ok(paths.length > 30, `${paths.length} paths`);
    for (const path of paths) assert.ok(path.startsWith("/api/v1/"), path);
  });

  test("GIVEN every operation THEN it has a unique operationId, a summary and described responses", () => {
    const ids = new Set<string>();
    for (const [path, operations] of Object.entries(served.paths)) {
      for (const [method, op] of Object.entries(operations)) {
        const where = `${method.toUpperCase()} ${path}`;
        assert.ok(op.operationId, `${where} has an operationId`);
        assert.ok(!ids.has(op.operationId), `${where}: operationId ${op.operationId} is unique`);
        ids.add(op.operationId);
        assert.ok(op.summary, `${where} has a summary`);
        assert.ok(op.responses["500"], `${where} documents 500`);
        for (const [status, response] of Object.entries(op.responses)) {
          assert.notEqual(response.description, "Default Response", `${where} ${status}`);
        }
      }
    }
    assert.equal(served.paths["/api/v1/users/me"]?.get?.operationId, "me");
    assert.ok(served.paths["/api/v1/users"]?.get?.responses["403"], "owner routes document 403");
  });

  test("GIVEN the contract's titled schemas THEN they are named components referenced by $ref", () => {
    for (const name of ["Workspace", "TemplateDetail", "ErrorBody", "Job", "Preset", "User"]) {
      assert.ok(served.components.schemas[name], name);
    }
    const me = served.paths["/api/v1/users/me"]?.get?.responses["200"]?.content?.["application/json"];
    assert.deepEqual(me?.schema, { $ref: "#/components/schemas/User" });
  });

  test("GIVEN the workspace name THEN the document's rule is the server's", async () => {
    const create = served.paths["/api/v1/workspaces"]?.post as unknown as {
      requestBody: { content: { "application/json": { schema: { properties: { name: unknown } } } } };
    };
    assert.deepEqual(create.requestBody.content["application/json"].schema.properties.name, {
      type: "string",
      minLength: 1,
      maxLength: 32,
      pattern: workspaceNamePattern,
    });
    for (const name of ["a".repeat(33), "ends-", "under_score"]) {
      const answer = await member.post<{ field?: string }>("/api/v1/workspaces", { name, template: "x" });
      assert.equal(answer.status, 400, name);
      assert.equal(answer.body.field, "name", name);
    }
  });

  test("GIVEN real answers of a running server THEN each conforms to the documented response schema", async () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats.default(ajv);
    const check = (method: string, path: string, answer: Answer) => {
      const op = resolved.paths[path]?.[method];
      assert.ok(op, `${method} ${path} is documented`);
      const response = op.responses[String(answer.status)];
      assert.ok(response, `${method} ${path} documents status ${answer.status}`);
      const schema = response.content?.["application/json"]?.schema;
      if (!schema) return;
      const validate = ajv.compile(schema as object);
      assert.ok(
        validate(answer.body),
        `${method} ${path} ${answer.status}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(answer.body)}`,
      );
    };

    const { version } = await pushTemplate(admin, "docs", exampleArchive("echo-demo"));
    check("get", "/api/v1/buildinfo", await call(server.url, "GET", "/api/v1/buildinfo"));
    check("get", "/api/v1/users/me", await member.get("/api/v1/users/me"));
    check("get", "/api/v1/users/me", await call(server.url, "GET", "/api/v1/users/me"));
    check("get", "/api/v1/users", await admin.get("/api/v1/users"));
    check("get", "/api/v1/users", await member.get("/api/v1/users"));
    check("get", "/api/v1/templates", await member.get("/api/v1/templates"));
    check("get", "/api/v1/templates/{name}", await member.get("/api/v1/templates/docs"));
    check("get", "/api/v1/templates/{name}", await member.get("/api/v1/templates/nope"));
    check("get", "/api/v1/templates/{name}/versions", await member.get("/api/v1/templates/docs/versions"));
    check("get", "/api/v1/templates/{name}/presets", await member.get("/api/v1/templates/docs/presets"));
    check("get", "/api/v1/jobs/{id}", await member.get(`/api/v1/jobs/${version.job.id}`));
    check("get", "/api/v1/workspaces", await member.get("/api/v1/workspaces"));
    check(
      "post",
      "/api/v1/workspaces",
      await member.post("/api/v1/workspaces", { name: "-bad", template: "x" }),
    );
    check("get", "/api/v1/prebuilds/status", await admin.get("/api/v1/prebuilds/status"));
    check("get", "/api/v1/prebuilds/plan", await admin.get("/api/v1/prebuilds/plan"));
  });
});
