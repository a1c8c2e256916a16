// Templates over the real HTTP API: push the echo example, import it, list its presets with their pools;
// bad uploads and unknown names get clear errors and leave nothing stored.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { PresetT, TemplateDetailT, TemplateT, TemplateVersionT } from "../../../src/contract/api.js";
import { maxTemplateArchiveBytes } from "../../../src/contract/api.js";
import { buildEchoArchive } from "../../../src/provisioners/echo/archive.js";
import { agentTemplate } from "./fixtures.js";
import {
  type Client,
  client,
  createMember,
  exampleArchive,
  pushTemplate,
  startTestServer,
  type TestServer,
} from "./support.js";

describe("templates API", { timeout: 120_000 }, () => {
  let server: TestServer;
  let admin: Client;
  let member: Client;

  const countRows = async (table: "files" | "templates" | "template_versions") => {
    const row = await server.server.store.db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  };

  before(async () => {
    server = await startTestServer();
    admin = client(server.url, server.adminToken);
    member = (await createMember(admin, server.url, "mia")).api;
  });
  after(() => server.close());

  test("GIVEN the echo-demo example WHEN it is pushed THEN the import succeeds and its presets are listed", async () => {
    const { version, job } = await pushTemplate(admin, "echo-demo", exampleArchive("echo-demo"), {
      message: "first push",
    });
    assert.equal(job.status, "succeeded", `import failed: ${job.error}`);
    assert.equal(version.name, "v1");
    assert.equal(version.template, "echo-demo");
    assert.equal(version.message, "first push");

    const shown = await admin.get<TemplateVersionT>("/api/v1/templates/echo-demo/versions/1");
    assert.equal(shown.status, 200);
    assert.deepEqual(
      shown.body.parameters.map((p) => p.name),
      ["region", "size"],
    );
    assert.match(shown.body.readme ?? "", /echo-demo/i);
    assert.equal(shown.body.active, true, "the first version is activated when its import succeeds");

    const presets = await member.get<PresetT[]>("/api/v1/templates/echo-demo/presets");
    assert.equal(presets.status, 200);
    const byName = new Map(presets.body.map((p) => [p.name, p]));
    const dev = byName.get("dev");
    const bigUs = byName.get("big-us");
    assert.ok(dev && bigUs, `presets: ${[...byName.keys()].join(", ")}`);
    assert.equal(dev.desiredInstances, 2);
    assert.equal(dev.ttlSeconds, 86_400);
    assert.equal(dev.default, true);
    assert.equal(dev.active, true);
    assert.equal(dev.status, "healthy");
    assert.deepEqual(dev.parameters, { region: "eu-west", size: "small" });
    assert.equal(dev.prebuilds.desired, 2);
    assert.equal(bigUs.desiredInstances, null);
    assert.deepEqual(bigUs.prebuilds, { desired: 0, running: 0, eligible: 0, expired: 0, starting: 0 });

    const detail = await member.get<TemplateDetailT>("/api/v1/templates/echo-demo");
    assert.equal(detail.status, 200);
    assert.equal(detail.body.activeVersion?.name, "v1");
    assert.equal(detail.body.versions.length, 1);
    assert.deepEqual(detail.body.presets.map((p) => p.name).sort(), ["big-us", "dev"]);
  });

  test("GIVEN the same archive WHEN uploaded twice THEN the second upload answers 200 with the same hash", async () => {
    const archive = agentTemplate();
    const first = await admin.upload<{ hash: string }>(archive);
    const second = await admin.upload<{ hash: string }>(archive);
    assert.equal(first.status, 201);
    assert.equal(second.status, 200);
    assert.equal(second.body.hash, first.body.hash);
  });

  const badUploads: Array<{ name: string; bytes: () => Uint8Array; status: number; message: RegExp }> = [
    {
      name: "not a tar",
      bytes: () => new TextEncoder().encode("hello, this is not a tar archive"),
      status: 400,
      message: /archive/,
    },
    { name: "empty", bytes: () => new Uint8Array(0), status: 400, message: /empty/ },
    {
      name: "over the limit",
      bytes: () => new Uint8Array(maxTemplateArchiveBytes + 1),
      status: 413,
      message: /limit/,
    },
    {
      name: "far over the body limit",
      bytes: () => new Uint8Array(maxTemplateArchiveBytes + 2 * 1024 * 1024),
      status: 413,
      message: /limit/,
    },
  ];
  for (const bad of badUploads) {
    test(`GIVEN an upload that is ${bad.name} THEN it answers ${bad.status} and stores nothing`, async () => {
      const filesBefore = await countRows("files");
      const answer = await admin.upload<{ message: string }>(bad.bytes());
      assert.equal(answer.status, bad.status, JSON.stringify(answer.body));
      assert.match(answer.body.message, bad.message);
      assert.equal(await countRows("files"), filesBefore);
    });
  }

  test("GIVEN an unknown file hash or provisioner WHEN creating a version THEN 400 names the field and nothing is stored", async () => {
    const upload = await admin.upload<{ hash: string }>(agentTemplate());
    const cases = [
      { body: { fileHash: "0".repeat(64), provisioner: "echo" }, field: "fileHash" },
      { body: { fileHash: upload.body.hash, provisioner: "terraform" }, field: "provisioner" },
      { body: { fileHash: "nothex", provisioner: "echo" }, field: "fileHash" },
    ];
    for (const c of cases) {
      const before = [await countRows("templates"), await countRows("template_versions")];
      const answer = await admin.post<{ field?: string }>("/api/v1/templates/other/versions", c.body);
      assert.equal(answer.status, 400, JSON.stringify(answer.body));
      assert.equal(answer.body.field, c.field);
      assert.deepEqual([await countRows("templates"), await countRows("template_versions")], before);
    }
  });

  test("GIVEN a member WHEN pushing, activating, deprecating or deleting a template THEN 403", async () => {
    const upload = await member.upload<{ hash: string }>(agentTemplate());
    assert.ok(upload.status === 200 || upload.status === 201, `members may upload files: ${upload.status}`);
    const answers = await Promise.all([
      member.post("/api/v1/templates/echo-demo/versions", {
        fileHash: upload.body.hash,
        provisioner: "echo",
      }),
      member.post("/api/v1/templates/echo-demo/versions/v1/activate"),
      member.patch("/api/v1/templates/echo-demo", { deprecationMessage: "old" }),
      member.delete("/api/v1/templates/echo-demo"),
      member.post("/api/v1/templates/echo-demo/prebuilds/invalidate"),
    ]);
    assert.deepEqual(
      answers.map((a) => a.status),
      [403, 403, 403, 403, 403],
    );
  });

  const unknown: Array<[string, string]> = [
    ["GET", "/api/v1/templates/nope"],
    ["GET", "/api/v1/templates/nope/versions"],
    ["GET", "/api/v1/templates/echo-demo/versions/v99"],
    ["GET", "/api/v1/templates/echo-demo/versions/99"],
    ["GET", "/api/v1/templates/nope/presets"],
    ["GET", "/api/v1/templates/echo-demo/presets?version=v42"],
    ["POST", "/api/v1/templates/echo-demo/versions/v99/activate"],
    ["POST", "/api/v1/templates/echo-demo/presets/nope/resume"],
    ["POST", "/api/v1/templates/nope/prebuilds/invalidate"],
    ["DELETE", "/api/v1/templates/nope"],
  ];
  for (const [method, path] of unknown) {
    test(`GIVEN an unknown name WHEN ${method} ${path} THEN 404 with a message`, async () => {
      const answer =
        method === "GET"
          ? await admin.get(path)
          : method === "DELETE"
            ? await admin.delete(path)
            : await admin.post(path);
      assert.equal(answer.status, 404, JSON.stringify(answer.body));
      assert.equal(typeof (answer.body as { message: string }).message, "string");
    });
  }

  test("GIVEN a second version WHEN pushed without activate THEN v1 stays active until v2 is activated", async () => {
    const { version, job } = await pushTemplate(admin, "echo-demo", exampleArchive("echo-demo"));
    assert.equal(job.status, "succeeded");
    assert.equal(version.name, "v2");
    let template = await admin.get<TemplateT>("/api/v1/templates/echo-demo");
    assert.equal(template.body.activeVersion?.name, "v1");
    const activated = await admin.post<TemplateT>("/api/v1/templates/echo-demo/versions/v2/activate");
    assert.equal(activated.status, 200);
    assert.equal(activated.body.activeVersion?.name, "v2");
    const oldPresets = await admin.get<PresetT[]>("/api/v1/templates/echo-demo/presets?version=v1");
    assert.ok(oldPresets.body.every((p) => !p.active && p.prebuilds.desired === 0));
    template = await admin.get<TemplateT>("/api/v1/templates");
    assert.ok(Array.isArray(template.body));
  });

  test("GIVEN a template whose preset has an invalid schedule WHEN pushed THEN the import fails naming the preset and stores none of its results", async () => {
    const archive = buildEchoArchive({
      plan: [
        {
          type: {
            case: "plan",
            value: {
              plan: new TextEncoder().encode("{}"),
              presets: [
                {
                  name: "nightly",
                  prebuild: {
                    instances: 1,
                    scheduling: {
                      timezone: "Europe/Berlin",
                      schedule: [{ cron: "0 8-18 * * 1-5", instances: 2 }],
                    },
                  },
                },
              ],
            },
          },
        },
      ],
    });
    const { version, job } = await pushTemplate(admin, "bad-preset", archive);
    assert.equal(job.status, "failed");
    assert.match(job.error ?? "", /preset "nightly": .*cron/);
    const presets = await server.server.store.db
      .selectFrom("presets")
      .select("id")
      .where("template_version_id", "=", version.id)
      .execute();
    assert.equal(presets.length, 0, "no preset of the failed import is stored");
    const template = await admin.get<TemplateT>("/api/v1/templates/bad-preset");
    assert.equal(template.body.activeVersion, null, "a failed import never becomes active");
  });

  test("GIVEN a deprecated template THEN workspaces cannot be created from it until it is undeprecated", async () => {
    const deprecated = await admin.patch<TemplateT>("/api/v1/templates/echo-demo", {
      deprecationMessage: "use v-next",
    });
    assert.equal(deprecated.status, 200);
    assert.equal(deprecated.body.deprecated, true);
    assert.equal(deprecated.body.deprecationMessage, "use v-next");
    const refused = await member.post<{ message: string; field?: string }>("/api/v1/workspaces", {
      name: "dep",
      template: "echo-demo",
    });
    assert.equal(refused.status, 400);
    assert.match(refused.body.message, /deprecated/);
    const restored = await admin.patch<TemplateT>("/api/v1/templates/echo-demo", {
      deprecationMessage: null,
    });
    assert.equal(restored.body.deprecated, false);
  });

  test("GIVEN a template without users' workspaces WHEN deleted THEN it is gone (204, then 404)", async () => {
    await pushTemplate(admin, "short-lived", agentTemplate());
    const deleted = await admin.delete("/api/v1/templates/short-lived");
    assert.equal(deleted.status, 204);
    assert.equal((await admin.get("/api/v1/templates/short-lived")).status, 404);
  });
});
