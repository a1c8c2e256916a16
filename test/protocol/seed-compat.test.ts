// Our proto/provisioner/provisioner.proto against the seed's: every seed message, field, oneof, enum value
// and method exists in ours unchanged, and ours adds exactly what ARCHITECTURE §3 allows.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { repoRoot } from "../support/cli.js";
import { buf, ourProtoDir, ourProvisionerProto, seedInput, tempDir } from "./buf.js";
import { type Entry, flattenDescriptorSet } from "./descriptors.js";

const string = (number: number) =>
  ({
    kind: "field",
    number,
    label: "LABEL_OPTIONAL",
    type: "TYPE_STRING",
    typeName: "",
    oneof: "",
    proto3Optional: false,
  }) as const;
const scalar = (number: number, type: string) => ({ ...string(number), type }) as Entry;
const formTypes = [
  "DEFAULT",
  "FORM_ERROR",
  "RADIO",
  "DROPDOWN",
  "INPUT",
  "TEXTAREA",
  "SLIDER",
  "CHECKBOX",
  "SWITCH",
  "TAGSELECT",
  "MULTISELECT",
];

/** The additions ARCHITECTURE §3 lists, with the numbers Coder later gave them. */
const allowedAdditions = new Map<string, Entry>([
  ["provisioner.Preset.default", scalar(4, "TYPE_BOOL")],
  ["provisioner.Preset.description", string(5)],
  ["provisioner.Preset.icon", string(6)],
  [
    "provisioner.Prebuild.scheduling",
    { ...string(3), type: "TYPE_MESSAGE", typeName: ".provisioner.Scheduling" },
  ],
  ["provisioner.Scheduling", { kind: "message" }],
  ["provisioner.Scheduling.timezone", string(1)],
  [
    "provisioner.Scheduling.schedule",
    { ...string(2), label: "LABEL_REPEATED", type: "TYPE_MESSAGE", typeName: ".provisioner.Schedule" },
  ],
  ["provisioner.Schedule", { kind: "message" }],
  ["provisioner.Schedule.cron", string(1)],
  ["provisioner.Schedule.instances", scalar(2, "TYPE_INT32")],
  [
    "provisioner.RichParameter.form_type",
    { ...string(18), type: "TYPE_ENUM", typeName: ".provisioner.ParameterFormType" },
  ],
  ["provisioner.ParameterFormType", { kind: "enum" }],
  ...formTypes.map((name, number): [string, Entry] => [
    `provisioner.ParameterFormType.${name}`,
    { kind: "enumValue", number },
  ]),
]);

describe("proto compatibility with the seed", () => {
  let seed: Map<string, Entry>;
  let ours: Map<string, Entry>;
  const dir = tempDir("prewarm-seed-compat-");
  before(async () => {
    const build = async (cwd: string, args: string[]) =>
      flattenDescriptorSet(
        JSON.parse(await buf(["build", ...args, "--exclude-imports", "-o", "-#format=json"], cwd)),
      );
    const tmp = await dir;
    seed = await build(await seedInput(tmp.path), ["."]);
    // Only the provisioner file: proto/ also holds prewarm's own daemon API.
    ours = await build(repoRoot, [ourProtoDir, "--path", ourProvisionerProto]);
  });
  after(async () => (await dir).dispose());

  test("GIVEN both files THEN the seed describes the Session method our clients rely on", () => {
    assert.deepEqual(seed.get("provisioner.Provisioner/Session"), {
      kind: "method",
      input: ".provisioner.Request",
      output: ".provisioner.Response",
      clientStreaming: true,
      serverStreaming: true,
    });
  });

  test("GIVEN every element of the seed THEN ours has it with the same number, type, label and oneof", () => {
    const problems: string[] = [];
    for (const [name, entry] of seed) {
      const mine = ours.get(name);
      if (!mine) problems.push(`${name}: missing`);
      else if (JSON.stringify(mine) !== JSON.stringify(entry)) {
        problems.push(`${name}: seed ${JSON.stringify(entry)} ours ${JSON.stringify(mine)}`);
      }
    }
    assert.deepEqual(problems, []);
  });

  test("GIVEN elements only ours has THEN they are exactly the additions ARCHITECTURE §3 allows", () => {
    const added = new Map([...ours].filter(([name]) => !seed.has(name)));
    assert.deepEqual(added, allowedAdditions);
  });
});
