// `prewarm templates …` and `prewarm presets list` as a real child process against the fake API.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { rm } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import { after, before, beforeEach, describe, test } from "node:test";
import { type JobT, type PresetT, routes } from "../../src/contract/api.js";
import { runCli } from "../support/cli.js";
import { type CliEnv, cliEnv, fakeApiSuite } from "./support/env.js";
import { FakeApi, sseEvent } from "./support/fake-api.js";
import { job, log, preset, template, templateVersion } from "./support/fixtures.js";
import { makeTemplateDir, packedFiles, tarEntries } from "./support/template-dir.js";

/** An SSE log stream: the given logs, then `end` with the final job. */
function logStream(logs: ReturnType<typeof log>[], final: JobT) {
  return {
    raw: (res: ServerResponse) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      for (const l of logs) res.write(sseEvent("log", l, l.id));
      res.end(sseEvent("end", final));
    },
  };
}

describe("templates push (real CLI)", () => {
  let fake: FakeApi;
  let ctx: CliEnv;
  let dir: string;
  before(async () => {
    fake = await FakeApi.start();
    dir = await makeTemplateDir();
  });
  beforeEach(async () => {
    ctx = await cliEnv({ PREWARM_URL: fake.url, PREWARM_TOKEN: "t" });
    fake.on(routes.uploadFile, (req) => ({
      status: 201,
      body: { hash: createHash("sha256").update(req.body).digest("hex") },
    }));
    fake.on(routes.createTemplateVersion, {
      status: 201,
      body: templateVersion({
        job: job({ id: "import-1", status: "pending", type: "template_version_import" }),
      }),
    });
    fake.on(routes.getTemplateVersion, { status: 200, body: templateVersion() });
  });
  after(async () => {
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  });

  test("GIVEN a template dir WHEN push --activate --var --provisioner-tag THEN the tar upload skips hidden files, the version is created, import logs shown, presets printed", async () => {
    fake.on(
      routes.getJobLogs,
      logStream(
        [
          log(1, "parsing main.tf", { stage: "Parsing" }),
          log(2, "found preset small", { stage: "Planning" }),
        ],
        job({ id: "import-1", type: "template_version_import" }),
      ),
    );
    try {
      const res = await runCli(
        [
          "templates",
          "push",
          "echo-demo",
          "-d",
          dir,
          "--provisioner",
          "echo",
          "--activate",
          "--var",
          "region=eu",
          "--var",
          "x=a=b",
          "--provisioner-tag",
          "region=eu",
        ],
        { env: ctx.env },
      );
      assert.equal(res.code, 0, res.stderr);
      const upload = fake.calls(routes.uploadFile).at(-1)!;
      assert.equal(upload.headers["content-type"], "application/x-tar");
      const files = [...tarEntries(new Uint8Array(upload.body))]
        .filter(([, e]) => e.type === "file")
        .map(([p]) => p)
        .sort();
      assert.deepEqual(files, Object.keys(packedFiles).sort());
      const created = fake.calls(routes.createTemplateVersion).at(-1)!;
      assert.equal(created.params.name, "echo-demo");
      assert.deepEqual(JSON.parse(created.body.toString()), {
        fileHash: createHash("sha256").update(upload.body).digest("hex"),
        provisioner: "echo",
        activate: true,
        variables: [
          { name: "region", value: "eu" },
          { name: "x", value: "a=b" },
        ],
        tags: { region: "eu" },
      });
      assert.equal(fake.calls(routes.getJobLogs).at(-1)?.params.id, "import-1");
      assert.match(res.stderr, /\[Parsing\] parsing main\.tf\n/);
      assert.match(res.stdout, /^Template echo-demo v2 imported \(active\)\./);
      assert.match(res.stdout, /^PRESET +PARAMETERS +PREBUILDS +TTL +SCHEDULES$/m);
      assert.match(res.stdout, /^small \(default\) +size=small +2 +1d +-$/m);
    } finally {
      await ctx.cleanup();
    }
  });

  test("GIVEN push --wait-rehearsal WHEN the rehearsal finds a replacement THEN it waits for it and prints it", async () => {
    fake.on(routes.getJobLogs, logStream([], job({ id: "import-1", type: "template_version_import" })));
    fake.on(routes.getTemplateVersion, { status: 200, body: templateVersion({ active: true }) });
    let polls = 0;
    fake.on(routes.listPresets, () => {
      polls++;
      const rehearsal =
        polls < 2
          ? { status: "pending", replacements: [], at: "2026-01-05T10:00:00.000Z", error: null }
          : {
              status: "replacements",
              replacements: [{ resource: "docker_volume.home", paths: ["name"] }],
              at: "2026-01-05T10:00:01.000Z",
              error: null,
            };
      return { status: 200, body: [preset({ claimRehearsal: rehearsal as PresetT["claimRehearsal"] })] };
    });
    try {
      const res = await runCli(
        ["templates", "push", "echo-demo", "-d", dir, "--provisioner", "echo", "--wait-rehearsal", "1m"],
        { env: ctx.env },
      );
      assert.equal(res.code, 0, res.stderr);
      assert.ok(polls >= 2, `polled ${polls} times`);
      assert.match(res.stdout, /Claim rehearsal of "small": a claim would replace:/);
      assert.match(res.stdout, /docker_volume\.home/);
      // without the flag, push says where to look instead of waiting
      const plain = await runCli(["templates", "push", "echo-demo", "-d", dir, "--provisioner", "echo"], {
        env: ctx.env,
      });
      assert.match(plain.stdout, /REHEARSAL column of `prewarm presets list echo-demo`/);
    } finally {
      await ctx.cleanup();
    }
  });

  test("templates edit: lease flags become the PATCH body; off clears; no flag is a usage error", async () => {
    fake.on(routes.updateTemplate, {
      status: 200,
      body: template({ defaultLeaseSeconds: 3600, maxLeaseSeconds: null }),
    });
    try {
      const res = await runCli(
        ["templates", "edit", "echo-demo", "--default-lease", "1h", "--max-lease", "off"],
        {
          env: ctx.env,
        },
      );
      assert.equal(res.code, 0, res.stderr);
      assert.deepEqual(JSON.parse(fake.calls(routes.updateTemplate).at(-1)!.body.toString()), {
        defaultLeaseSeconds: 3600,
        maxLeaseSeconds: null,
      });
      assert.match(res.stdout, /default lease 1h, maximum lease none/);
      const none = await runCli(["templates", "edit", "echo-demo"], { env: ctx.env });
      assert.equal(none.code, 2);
      const bad = await runCli(["templates", "edit", "echo-demo", "--max-lease", "soon"], { env: ctx.env });
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--max-lease/);
      // A bare number is not taken as milliseconds (nor seconds): it needs a unit.
      const bare = await runCli(["templates", "edit", "echo-demo", "--max-lease", "3600"], { env: ctx.env });
      assert.equal(bare.code, 2);
      assert.match(bare.stderr, /^prewarm: --max-lease: .*give a unit/m);
    } finally {
      await ctx.cleanup();
    }
  });

  test("GIVEN the import fails WHEN push THEN exit 1 with the import error on one line", async () => {
    fake.on(
      routes.getJobLogs,
      logStream(
        [log(1, "bad preset", { level: "error" })],
        job({
          id: "import-1",
          type: "template_version_import",
          status: "failed",
          error: 'preset "small": ttl must be 0 or at least 3600',
        }),
      ),
    );
    try {
      const res = await runCli(["templates", "push", "echo-demo", "-d", dir, "--provisioner", "echo"], {
        env: ctx.env,
      });
      assert.equal(res.code, 1);
      assert.match(
        res.stderr,
        /\nprewarm: import of echo-demo v2 failed: preset "small": ttl must be 0 or at least 3600\n$/,
      );
      assert.equal(res.stdout, "");
    } finally {
      await ctx.cleanup();
    }
  });

  test("GIVEN -o json THEN stdout is exactly the imported version's contract JSON", async () => {
    fake.on(routes.getJobLogs, logStream([], job({ id: "import-1", type: "template_version_import" })));
    try {
      const res = await runCli(
        ["templates", "push", "echo-demo", "-d", dir, "--provisioner", "echo", "-o", "json"],
        { env: ctx.env },
      );
      assert.equal(res.code, 0, res.stderr);
      assert.deepEqual(JSON.parse(res.stdout), templateVersion());
      assert.equal(res.stderr, "", "no progress off a terminal in json mode");
    } finally {
      await ctx.cleanup();
    }
  });

  test("GIVEN a bad --var or --provisioner THEN exit 2 before anything is uploaded", async () => {
    const uploads = fake.calls(routes.uploadFile).length;
    try {
      for (const [args, want] of [
        [["--var", "novalue"], /invalid --var "novalue": expected NAME=VALUE/],
        [["--provisioner", "docker"], /invalid --provisioner "docker"/],
      ] as const) {
        const res = await runCli(["templates", "push", "echo-demo", "-d", dir, ...args], { env: ctx.env });
        assert.equal(res.code, 2);
        assert.match(res.stderr, want);
      }
      assert.equal(fake.calls(routes.uploadFile).length, uploads);
    } finally {
      await ctx.cleanup();
    }
  });

  test("the fake saw only contract-shaped traffic", () => assert.deepEqual(fake.violations, []));
});

describe("templates list/show/activate and presets list (real CLI)", () => {
  const suite = fakeApiSuite();

  test("templates list: -o json is the contract array; the table has one row per template", async () => {
    const rows = [
      template(),
      template({
        id: "tpl-2",
        name: "old",
        deprecated: true,
        deprecationMessage: "use echo-demo",
        activeVersion: null,
      }),
    ];
    suite.fake.on(routes.listTemplates, { status: 200, body: rows });
    const json = await runCli(["templates", "list", "-o", "json"], { env: suite.ctx.env });
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), rows);
    const table = await runCli(["templates", "list"], { env: suite.ctx.env });
    const lines = table.stdout.trimEnd().split("\n");
    assert.match(lines[0]!, /^NAME +ACTIVE VERSION +PROVISIONER +WORKSPACES +DEPRECATED +UPDATED$/);
    assert.match(lines[1]!, /^echo-demo +v1 +echo +3 +- /);
    assert.match(lines[2]!, /^old +- +- +3 +use echo-demo /);
  });

  test("presets list: columns desired/running/eligible/expired/starting/ttl; json has the §6 fields", async () => {
    const rows = [
      preset(),
      preset({
        id: "p2",
        name: "none",
        default: false,
        desiredInstances: null,
        ttlSeconds: null,
        prebuilds: { desired: 0, running: 0, eligible: 0, expired: 0, starting: 0 },
        claimRehearsal: {
          status: "replacements",
          replacements: [{ resource: "docker_volume.home", paths: ["name"] }],
          at: "2026-01-05T10:00:00.000Z",
          error: null,
        },
      }),
    ];
    suite.fake.on(routes.listPresets, { status: 200, body: rows });
    const table = await runCli(["presets", "list", "echo-demo"], { env: suite.ctx.env });
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split("\n");
    assert.match(
      lines[0]!,
      /^PRESET +VERSION +DESIRED +RUNNING +ELIGIBLE +EXPIRED +STARTING +TTL +STATUS +REHEARSAL$/,
    );
    assert.match(lines[1]!, /^small \(default\) +v1 +2 +2 +1 +1 +0 +1d +healthy +-$/);
    assert.match(lines[2]!, /^none +v1 +0 +0 +0 +0 +0 +- +healthy +replaces 1$/);
    const json = await runCli(["presets", "list", "echo-demo", "-o", "json", "--template-version", "3"], {
      env: suite.ctx.env,
    });
    const parsed = JSON.parse(json.stdout) as Record<string, unknown>[];
    for (const key of ["name", "desiredInstances", "ttlSeconds", "prebuilds", "claimRehearsal"])
      assert.ok(key in parsed[0]!, key);
    assert.equal((parsed[1]!.claimRehearsal as { status: string }).status, "replacements");
    assert.equal(suite.fake.calls(routes.listPresets).at(-1)?.query.get("version"), "v3");
  });

  test("templates activate NAME 2 calls the v2 activate route", async () => {
    suite.fake.on(routes.activateTemplateVersion, {
      status: 200,
      body: template({ activeVersion: { id: "tv-2", name: "v2", provisioner: "echo" } }),
    });
    const res = await runCli(["templates", "activate", "echo-demo", "2"], { env: suite.ctx.env });
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(suite.fake.calls(routes.activateTemplateVersion).at(-1)?.params, {
      name: "echo-demo",
      version: "v2",
    });
    assert.equal(res.stdout, "Template echo-demo: v2 is now the active version.\n");
  });

  test("templates show: fields, versions, presets; -o json is the template detail", async () => {
    const detail = {
      ...template(),
      versions: [
        (({ readme: _r, parameters: _p, variables: _v, presets: _s, workspaceTags: _w, ...summary }) =>
          summary)(templateVersion()),
      ],
      parameters: [],
      variables: [
        {
          name: "region",
          description: "",
          type: "string",
          defaultValue: "eu",
          required: false,
          sensitive: false,
          value: "eu",
        },
        {
          name: "key",
          description: "",
          type: "string",
          defaultValue: null,
          required: true,
          sensitive: true,
          value: null,
        },
      ],
      presets: [preset()],
    };
    suite.fake.on(routes.getTemplate, { status: 200, body: detail });
    const res = await runCli(["templates", "show", "echo-demo"], { env: suite.ctx.env });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^Active version: +v1 \(echo\)$/m);
    assert.match(res.stdout, /^v2 \(active\) +succeeded +.* by alice +-$/m);
    assert.match(res.stdout, /^key +string +\(sensitive\)$/m);
    assert.match(res.stdout, /^small \(default\) +v1 +2 +2 +1 +1 +0 +1d +healthy +-$/m);
    const json = await runCli(["templates", "show", "echo-demo", "-o", "json"], { env: suite.ctx.env });
    assert.deepEqual(JSON.parse(json.stdout), detail);
  });

  test("templates delete: a 204 reply is success; a 409 is one line", async () => {
    suite.fake.on(routes.deleteTemplate, (req) =>
      req.params.name === "busy"
        ? { status: 409, body: { message: 'template "busy" has 2 workspaces; delete them first' } }
        : { status: 204 },
    );
    const ok = await runCli(["templates", "delete", "echo-demo"], { env: suite.ctx.env });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, "Template echo-demo deleted.\n");
    const busy = await runCli(["templates", "delete", "busy"], { env: suite.ctx.env });
    assert.equal(busy.code, 1);
    assert.equal(busy.stderr, 'prewarm: template "busy" has 2 workspaces; delete them first\n');
  });

  test("templates deprecate needs --message; sends it", async () => {
    suite.fake.on(routes.updateTemplate, {
      status: 200,
      body: template({ deprecated: true, deprecationMessage: "gone" }),
    });
    const missing = await runCli(["templates", "deprecate", "echo-demo"], { env: suite.ctx.env });
    assert.equal(missing.code, 2);
    const res = await runCli(["templates", "deprecate", "echo-demo", "-m", "gone"], { env: suite.ctx.env });
    assert.equal(res.code, 0, res.stderr);
    assert.deepEqual(JSON.parse(suite.fake.calls(routes.updateTemplate).at(-1)!.body.toString()), {
      deprecationMessage: "gone",
    });
  });

  test("the fake saw only contract-shaped traffic", () => assert.deepEqual(suite.fake.violations, []));
});
