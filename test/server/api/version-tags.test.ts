// Provisioner tags over the HTTP API: version tags at push (stored on the import job, Coder's MutateTags
// applied), bad tags refused with a 400 naming the field, and a build's tags from the template's
// coder_workspace_tags evaluated for its owner.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { JobT, TemplateVersionT, WorkspaceT } from "../../../src/contract/api.js";
import { buildEchoArchive } from "../../../src/provisioners/echo/archive.js";
import {
  type Client,
  client,
  createMember,
  startTestServer,
  type TestServer,
  waitForJob,
} from "./support.js";

const UNTAGGED = { owner: "", scope: "organization" };

/** An echo template whose Parse reports these coder_workspace_tags (expression source, as terraform's parse). */
const taggedTemplate = (workspaceTags: Record<string, string>) =>
  buildEchoArchive({ parse: [{ type: { case: "parse", value: { workspaceTags } } }] });

describe("provisioner tags API", { timeout: 120_000 }, () => {
  let server: TestServer;
  let admin: Client;

  const push = async (template: string, archive: Uint8Array, tags?: unknown) => {
    const upload = await admin.upload<{ hash: string }>(archive);
    return admin.post<TemplateVersionT & { message?: string; field?: string }>(
      `/api/v1/templates/${template}/versions`,
      { fileHash: upload.body.hash, provisioner: "echo", ...(tags === undefined ? {} : { tags }) },
    );
  };

  before(async () => {
    server = await startTestServer();
    admin = client(server.url, server.adminToken);
  });
  after(() => server.close());

  test("GIVEN version tags WHEN pushed THEN the import job carries them with scope and owner, and an untagged daemon leaves it", async () => {
    const created = await push("tagged", taggedTemplate({}), { region: "eu" });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const job = (await admin.get<JobT>(`/api/v1/jobs/${created.body.job.id}`)).body;
    assert.deepEqual(job.tags, { ...UNTAGGED, region: "eu" });
    // The server's one in-process daemon is untagged: it must not take a job that needs region=eu.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await admin.get<JobT>(`/api/v1/jobs/${created.body.job.id}`)).body.status, "pending");
  });

  const bad: [string, unknown, RegExp][] = [
    ["a key with a space", { "a b": "x" }, /printable characters without spaces/],
    ["scope=user", { scope: "user" }, /scope=user needs user-scoped daemons/],
    ["an unknown scope", { scope: "team" }, /must be "organization"/],
    ["a control character in a value", { k: "a\u0007" }, /control character/],
  ];
  for (const [name, tags, message] of bad) {
    test(`GIVEN ${name} WHEN pushed THEN 400 naming "tags", and nothing is stored`, async () => {
      const answer = await push("bad-tags", taggedTemplate({}), tags);
      assert.equal(answer.status, 400, JSON.stringify(answer.body));
      assert.equal(answer.body.field, "tags");
      assert.match(answer.body.message ?? "", message);
      assert.equal((await admin.get(`/api/v1/templates/bad-tags`)).status, 404);
    });
  }
  test("GIVEN a tag value that is not a string WHEN pushed THEN 400", async () => {
    assert.equal((await push("bad-tags", taggedTemplate({}), { n: 1 })).status, 400);
  });

  test("GIVEN the prebuild-pool recipe WHEN a person builds THEN the job is untagged; a bad tag expression is a 400", async () => {
    // GIVEN a template tagging only builds whose owner is the prebuilds user (parse.ts folds the count this way)
    const recipe = '(data.coder_workspace_owner.me.name == "prebuilds" ? 1 : 0) > 0 ? ("true") : null';
    const pushed = await push("pool", taggedTemplate({ is_prebuild: recipe }));
    assert.equal((await waitForJob(admin, pushed.body.job.id)).status, "succeeded");
    const shown = await admin.get<TemplateVersionT>("/api/v1/templates/pool/versions/1");
    assert.deepEqual(shown.body.workspaceTags, { is_prebuild: recipe });

    // WHEN a member creates a workspace
    const mia = (await createMember(admin, server.url, "mia")).api;
    const created = await mia.post<WorkspaceT>("/api/v1/workspaces", { name: "w", template: "pool" });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    // THEN its build job is untagged (the untagged daemon builds it)
    const job = await waitForJob(mia, created.body.latestBuild.jobId);
    assert.deepEqual(job.tags, UNTAGGED);
    assert.equal(job.status, "succeeded");

    // GIVEN a version whose tag refers to a variable it does not have WHEN built THEN 400 naming workspaceTags
    const broken = await push("broken", taggedTemplate({ zone: "var.zone" }));
    assert.equal((await waitForJob(admin, broken.body.job.id)).status, "succeeded");
    const refused = await mia.post<{ message: string; field?: string }>("/api/v1/workspaces", {
      name: "w2",
      template: "broken",
    });
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.equal(refused.body.field, "workspaceTags");
    assert.match(refused.body.message, /workspace tag "zone": unknown reference var\.zone/);
  });
});
