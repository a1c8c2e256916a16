// The test coder provider's pure parts (test/support/terraform-provider-coder): the msgpack codec against
// the encodings terraform writes, value shaping, the SDK-like planner and wire schema, the parameter and
// cron rules, the self-signed certificate, and that its generated protobuf code is fresh.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { describe, test } from "node:test";
import { buf, tempDir } from "../../protocol/buf.js";
import { repoRoot } from "../../support/cli.js";
import { selfSignedCertificate } from "../../support/terraform-provider-coder/cert.js";
import { dataSources, resources } from "../../support/terraform-provider-coder/coder.js";
import {
  scheduleOverlapError,
  validatePrebuildCron,
  validateScriptCron,
} from "../../support/terraform-provider-coder/cron.js";
import { ConformError, conform, unknownAsNull } from "../../support/terraform-provider-coder/cty.js";
import {
  decodeMsgpack,
  encodeMsgpack,
  isUnknown,
  MsgpackError,
  UNKNOWN,
  type Value,
  type ValueObject,
} from "../../support/terraform-provider-coder/msgpack.js";
import { type Parameter, validateInput } from "../../support/terraform-provider-coder/parameter.js";
import {
  applyDefaults,
  changedPaths,
  forcesNew,
  impliedType,
  unknownComputed,
  validateConfig,
  wireBlock,
  withId,
} from "../../support/terraform-provider-coder/schema.js";

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const fromHex = (text: string) => new Uint8Array(Buffer.from(text.replace(/\s+/g, ""), "hex"));

describe("msgpack codec", () => {
  const roundTrips: [string, Value][] = [
    ["null", null],
    ["booleans", [true, false]],
    ["integers at every format boundary", [0, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296]],
    [
      "negative integers at every format boundary",
      [-1, -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649],
    ],
    ["the largest safe integers", [Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]],
    ["floats", [1.5, -0.25, 1e300]],
    [
      "strings of every length class",
      ["", "a".repeat(31), "b".repeat(32), "c".repeat(255), "d".repeat(256), "é".repeat(40000)],
    ],
    ["arrays of every length class", [Array(15).fill(1), Array(16).fill(2), Array(70000).fill(3)]],
    [
      "maps of every size class",
      [
        Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`k${i}`, i])),
        Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, i])),
      ],
    ],
    ["nested objects with unknowns", { a: { b: [UNKNOWN, { c: null }] }, d: UNKNOWN }],
  ];
  for (const [name, value] of roundTrips) {
    test(`GIVEN ${name} WHEN encoded and decoded THEN the value comes back`, () => {
      assert.deepEqual(decodeMsgpack(encodeMsgpack(value)), value);
    });
  }

  test("GIVEN small values WHEN encoded THEN the most compact formats are used (as terraform writes them)", () => {
    assert.equal(hex(encodeMsgpack(null)), "c0");
    assert.equal(hex(encodeMsgpack(true)), "c3");
    assert.equal(hex(encodeMsgpack(7)), "07");
    assert.equal(hex(encodeMsgpack(-1)), "ff");
    assert.equal(hex(encodeMsgpack(200)), "ccc8");
    assert.equal(hex(encodeMsgpack("id")), "a26964");
    assert.equal(hex(encodeMsgpack({ a: 1 })), "81a16101");
    assert.equal(hex(encodeMsgpack([1, 2])), "920102");
    assert.equal(hex(encodeMsgpack(1.5)), "cb3ff8000000000000");
  });

  test("GIVEN an unknown value WHEN encoded THEN it is the unrefined extension (fixext1, type 0)", () => {
    assert.equal(hex(encodeMsgpack(UNKNOWN)), "d40000");
  });

  test("GIVEN terraform's refined unknown (extension 12 with a refinement map) WHEN decoded THEN it is unknown", () => {
    // ext8, length 3, type 12, payload {1: false} (definitely not null)
    const value = decodeMsgpack(fromHex("c7 03 0c 81 01 c2"));
    assert.ok(isUnknown(value));
    // any other extension type too, inside a map
    const obj = decodeMsgpack(fromHex("81 a1 78 d5 05 0000")) as ValueObject;
    assert.ok(isUnknown(obj.x));
  });

  test("GIVEN the wider encodings a writer may choose WHEN decoded THEN they read as the plain values", () => {
    assert.equal(decodeMsgpack(fromHex("ca 3fc00000")), 1.5); // float32
    assert.equal(decodeMsgpack(fromHex("cf 0000000000000005")), 5); // uint64
    assert.equal(decodeMsgpack(fromHex("d3 fffffffffffffffe")), -2); // int64
    assert.equal(decodeMsgpack(fromHex("d9 02 6869")), "hi"); // str8 for a short string
    assert.equal(decodeMsgpack(fromHex("c4 02 6869")), "hi"); // bin8 (the "dynamic" type's JSON) as text
    assert.deepEqual(decodeMsgpack(fromHex("dc 0001 01")), [1]); // array16
    assert.deepEqual(decodeMsgpack(fromHex("de 0001 a161 02")), { a: 2 }); // map16
  });

  test("GIVEN a map key __proto__ (user data) WHEN decoded and encoded THEN it is an ordinary key", () => {
    const bytes = encodeMsgpack(JSON.parse('{"__proto__": "x", "b": 1}') as Value);
    const value = decodeMsgpack(bytes) as ValueObject;
    assert.deepEqual(Object.keys(value), ["__proto__", "b"]);
    assert.equal(Object.getPrototypeOf(value), Object.prototype);
    assert.equal(hex(encodeMsgpack(value)), hex(bytes));
  });

  for (const [name, input] of [
    ["truncated input", "a5 6869"],
    ["trailing bytes", "01 02"],
    ["a map key that is not a string", "81 01 02"],
    ["an unused type byte", "c1"],
    ["invalid UTF-8", "a1 ff"],
  ] as const) {
    test(`GIVEN ${name} WHEN decoded THEN a MsgpackError is thrown`, () => {
      assert.throws(
        () => decodeMsgpack(fromHex(input)),
        (err: unknown) => err instanceof MsgpackError || err instanceof TypeError,
      );
    });
  }

  test("GIVEN a non-finite number WHEN encoded THEN it is refused (cty numbers are finite)", () => {
    assert.throws(() => encodeMsgpack(Number.POSITIVE_INFINITY), MsgpackError);
  });
});

describe("value shaping (conform)", () => {
  const type = ["object", { name: "string", count: "number", tags: ["map", "string"], on: "bool" }] as const;

  test("GIVEN an object missing attributes and carrying an extra one WHEN conformed THEN missing are null, extra dropped", () => {
    assert.deepEqual(conform({ name: "a", extra: 1 }, type), {
      name: "a",
      count: null,
      tags: null,
      on: null,
    });
  });

  test("GIVEN a number written as a string (terraform does that beyond float64) WHEN conformed THEN it is a number", () => {
    assert.deepEqual(conform({ count: "42" }, type), { name: null, count: 42, tags: null, on: null });
  });

  test("GIVEN a value of the wrong kind WHEN conformed THEN a ConformError names the path", () => {
    assert.throws(
      () => conform({ tags: [1] }, type),
      (err: unknown) => err instanceof ConformError && /tags/.test(err.message),
    );
  });

  test("GIVEN unknowns WHEN made null THEN nothing unknown is left", () => {
    assert.deepEqual(unknownAsNull({ a: UNKNOWN, b: [UNKNOWN, 1] }), { a: null, b: [null, 1] });
  });
});

describe("wire schema (the SDK's CoreConfigSchema rules)", () => {
  const agentBlock = wireBlock(withId(resources.coder_agent!.fields));

  test("GIVEN coder_agent WHEN described for terraform THEN id is optional+computed and token is sensitive", () => {
    const id = agentBlock.attributes.find((a) => a.name === "id")!;
    assert.deepEqual([id.optional, id.computed, id.required], [true, true, false]);
    const token = agentBlock.attributes.find((a) => a.name === "token")!;
    assert.deepEqual([token.computed, token.sensitive, token.optional], [true, true, false]);
    assert.deepEqual(agentBlock.attributes.find((a) => a.name === "env")!.type, ["map", "string"]);
    assert.equal(agentBlock.attributes.find((a) => a.name === "connection_timeout")!.type, "number");
  });

  test("GIVEN nested resources WHEN described THEN optional ones are blocks with their nesting and limits", () => {
    const displayApps = agentBlock.blocks.find((b) => b.name === "display_apps")!;
    assert.deepEqual([displayApps.nesting, displayApps.minItems, displayApps.maxItems], ["set", 0, 1]);
    assert.equal(agentBlock.blocks.find((b) => b.name === "metadata")!.nesting, "list");
    const preset = wireBlock(withId(dataSources.coder_workspace_preset!.fields));
    const schedule = preset.blocks[0]!.block.blocks.find((b) => b.name === "scheduling")!.block.blocks[0]!;
    assert.deepEqual([schedule.name, schedule.minItems], ["schedule", 1]);
  });

  test("GIVEN a computed-only nested resource (rbac_roles) WHEN described THEN it is an attribute list(object)", () => {
    const owner = wireBlock(withId(dataSources.coder_workspace_owner!.fields));
    assert.equal(owner.blocks.length, 0);
    assert.deepEqual(owner.attributes.find((a) => a.name === "rbac_roles")!.type, [
      "list",
      ["object", { name: "string", org_id: "string" }],
    ]);
  });
});

describe("planning (SDK-like)", () => {
  const fields = withId(resources.coder_agent!.fields);
  const type = impliedType(fields);
  const config = conform(
    { os: "linux", arch: "amd64", metadata: [], display_apps: [], resources_monitoring: [] },
    type,
  ) as ValueObject;

  test("GIVEN a new agent WHEN planned THEN defaults are filled and computed values (id, token, init_script, display_apps) are unknown", () => {
    const planned = unknownComputed(fields, applyDefaults(fields, config), config);
    assert.equal(planned.auth, "token");
    assert.equal(planned.connection_timeout, 120);
    assert.equal(planned.startup_script_behavior, "non-blocking");
    for (const name of ["id", "token", "init_script", "display_apps"])
      assert.ok(isUnknown(planned[name]), name);
    assert.equal(planned.dir, null);
  });

  test("GIVEN a stored agent WHEN the same configuration is planned THEN nothing changed (computed values stand)", () => {
    const prior = {
      ...applyDefaults(fields, config),
      id: "a",
      token: "t",
      init_script: "",
      display_apps: [{ vscode: true }],
    };
    assert.deepEqual(changedPaths(fields, prior, applyDefaults(fields, config), config), []);
  });

  test("GIVEN a stored agent WHEN arch or a metadata script changes THEN those paths change and force a replacement", () => {
    const prior = applyDefaults(fields, { ...config, metadata: [{ key: "k", script: "a", interval: 1 }] });
    const next = { ...config, arch: "arm64", metadata: [{ key: "k", script: "b", interval: 1 }] };
    const changes = changedPaths(fields, prior, applyDefaults(fields, next), next);
    assert.deepEqual(changes, [["arch"], ["metadata", 0, "script"]]);
    assert.ok(changes.every((p) => forcesNew(fields, p)));
  });

  test("GIVEN a null that the SDK cannot tell from the zero value WHEN compared THEN it is no change", () => {
    const prior = { ...applyDefaults(fields, config), dir: "" };
    assert.deepEqual(changedPaths(fields, prior, applyDefaults(fields, config), config), []);
  });

  test("GIVEN configuration values WHEN validated THEN ValidateFuncs report with the SDK's messages and paths", () => {
    const bad = conform({ os: "plan9", arch: "amd64", connection_timeout: -1 }, type) as ValueObject;
    const diags = validateConfig(fields, bad).map((d) => [d.summary, d.path]);
    assert.deepEqual(diags.sort(), [
      ["expected connection_timeout to be at least (0), got -1", ["connection_timeout"]],
      ['expected os to be one of ["linux" "darwin" "windows"], got plan9', ["os"]],
    ]);
  });

  test("GIVEN conflicting coder_app arguments WHEN validated THEN ConflictsWith reports both", () => {
    const appFields = withId(resources.coder_app!.fields);
    const appConfig = conform(
      { agent_id: "x", slug: "web", command: "ls", url: "http://localhost" },
      impliedType(appFields),
    ) as ValueObject;
    const summaries = validateConfig(appFields, appConfig)
      .map((d) => d.summary)
      .sort();
    assert.deepEqual(summaries, ['"command": conflicts with url', '"url": conflicts with command']);
  });
});

describe("coder_parameter value rules", () => {
  const base: Parameter = {
    name: "size",
    type: "number",
    formType: "",
    mutable: true,
    default: "2",
    options: [],
    validation: [
      { min: 1, minDisabled: false, max: 8, maxDisabled: false, monotonic: "", regex: "", error: "" },
    ],
    optional: true,
    ephemeral: false,
  };

  test("GIVEN no input WHEN validated THEN the default is the value and the form type defaults to input", () => {
    assert.deepEqual(validateInput(base, undefined, undefined), { value: "2", formType: "input", diags: [] });
  });

  test("GIVEN an input above the maximum WHEN validated THEN the validation block's error", () => {
    const { diags } = validateInput(base, "9", undefined);
    assert.deepEqual(
      diags.map((d) => [d.summary, d.detail]),
      [["Invalid parameter value according to 'validation' block", "value 9 is more than the maximum 8"]],
    );
  });

  test("GIVEN a monotonic increasing parameter WHEN the value goes down THEN it is refused", () => {
    const p = { ...base, validation: [{ ...base.validation[0]!, monotonic: "increasing" }] };
    assert.match(
      validateInput(p, "3", "5").diags[0]!.detail!,
      /must be equal or greater than previous value: 5/,
    );
  });

  test("GIVEN options WHEN the default is not one of them THEN 'Default value must be a valid option' at default", () => {
    const p: Parameter = {
      ...base,
      type: "string",
      validation: [],
      default: "c",
      options: [{ name: "A", description: "", value: "a", icon: "" }],
    };
    const { diags, formType } = validateInput(p, undefined, undefined);
    assert.equal(formType, "radio");
    assert.deepEqual(
      [diags[0]!.summary, diags[0]!.path],
      ["Default value must be a valid option", ["default"]],
    );
  });

  test("GIVEN a form type that does not fit WHEN validated THEN 'Invalid form_type for parameter'", () => {
    const { diags } = validateInput({ ...base, formType: "checkbox" }, undefined, undefined);
    assert.equal(diags[0]!.summary, "Invalid form_type for parameter");
    assert.match(diags[0]!.detail!, /"form_type" attribute="checkbox" is not supported for "type"="number"/);
  });

  test("GIVEN a list(string) multi-select WHEN a value is not an option THEN the missing values are named", () => {
    const p: Parameter = {
      ...base,
      type: "list(string)",
      formType: "multi-select",
      validation: [],
      default: '["a"]',
      options: ["a", "b"].map((v) => ({ name: v, description: "", value: v, icon: "" })),
    };
    assert.equal(validateInput(p, '["a","b"]', undefined).value, '["a","b"]');
    assert.match(
      validateInput(p, '["c"]', undefined).diags[0]!.detail!,
      /values "c" are missing from the options/,
    );
  });
});

describe("cron rules", () => {
  test("GIVEN prebuild schedules WHEN the minute is not * or fields are missing THEN refused", () => {
    assert.equal(validatePrebuildCron("* 8-18 * * 1-5"), undefined);
    assert.equal(validatePrebuildCron("0 8 * * *"), "cron spec failed validation: minute field should be *");
    assert.match(validatePrebuildCron("* 25 * * *")!, /above maximum \(23\)/);
    assert.match(validatePrebuildCron("* * *")!, /should consist of 5 fields/);
  });

  test("GIVEN two schedules WHEN their hours and days overlap THEN named; weekdays vs weekend do not overlap", () => {
    assert.equal(scheduleOverlapError(["* 8-18 * * 1-5", "* 8-14 * * 6"]), undefined);
    assert.equal(
      scheduleOverlapError(["* 8-18 * * 1-5", "* 10 * * 3"]),
      "schedules overlap: * 8-18 * * 1-5 and * 10 * * 3",
    );
  });

  test("GIVEN coder_script cron WHEN 5 fields THEN valid with a warning; WHEN nonsense THEN an error", () => {
    const five = validateScriptCron("*/5 * * * *");
    assert.deepEqual([five.errors.length, five.warnings.length], [0, 1]);
    assert.deepEqual(validateScriptCron("0 0 22 * * *"), { errors: [], warnings: [] });
    assert.equal(validateScriptCron("@daily").errors.length, 0);
    assert.match(validateScriptCron("0 0 99 * * *").errors[0]!, /is not a valid cron expression/);
  });
});

describe("AutoMTLS certificate", () => {
  test("GIVEN a new certificate WHEN inspected THEN it is self-signed for localhost and verifies", () => {
    const cert = selfSignedCertificate(new Date("2030-01-01T00:00:00Z"));
    const x = new X509Certificate(cert.certPem);
    assert.equal(x.subjectAltName, "DNS:localhost");
    assert.ok(x.ca);
    assert.ok(x.verify(x.publicKey));
    assert.ok(x.checkIssued(x));
    assert.equal(new Date(x.validFrom).toISOString(), "2029-12-31T23:59:30.000Z");
    assert.ok(x.raw.equals(cert.certDer));
    assert.match(x.keyUsage?.join(",") ?? "", /1\.3\.6\.1\.5\.5\.7\.3\.1/); // serverAuth
  });
});

describe("generated code", () => {
  test("GIVEN the provider's protos WHEN generated afresh THEN gen/ is byte-for-byte identical", async (t) => {
    const providerDir = join(repoRoot, "test", "support", "terraform-provider-coder");
    const tmp = await tempDir("prewarm-coder-provider-gen-");
    t.after(tmp.dispose);
    const template = await readFile(join(providerDir, "buf.gen.yaml"), "utf8");
    const out = join(tmp.path, "gen");
    const redirected = template.replace(/^(\s*out:\s*)gen\s*$/m, `$1${JSON.stringify(out)}`);
    assert.notEqual(redirected, template);
    await writeFile(join(tmp.path, "buf.gen.yaml"), redirected);
    await buf(["generate", "--template", join(tmp.path, "buf.gen.yaml")], providerDir);
    const list = async (dir: string) =>
      (await readdir(dir, { recursive: true, withFileTypes: true }))
        .filter((e) => e.isFile())
        .map((e) => relative(dir, join(e.parentPath, e.name)))
        .sort();
    const committed = join(providerDir, "gen");
    const fresh = await list(out);
    assert.deepEqual(await list(committed), fresh);
    for (const file of fresh) {
      const [a, b] = await Promise.all([readFile(join(committed, file)), readFile(join(out, file))]);
      assert.ok(a.equals(b), `gen/${file} is stale: run \`npm run generate:coder-provider\``);
    }
  });
});
