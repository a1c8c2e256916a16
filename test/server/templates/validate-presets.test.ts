import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import {
  type Preset,
  PresetSchema,
  type RichParameter,
  RichParameterSchema,
} from "../../../src/gen/provisioner/provisioner_pb.js";
import { parameterFromProto } from "../../../src/server/provisioner-results.js";
import { parameterDefinition } from "../../../src/server/templates/parameter-definitions.js";
import {
  PresetValidationError,
  validateImportedPresets,
} from "../../../src/server/templates/validate-presets.js";

// ── named fixtures ──────────────────────────────────────────────────────────────────────────────────────
type PresetInit = Parameters<typeof create<typeof PresetSchema>>[1];
const preset = (init: PresetInit): Preset => create(PresetSchema, init);

/** A template's parameters, one of each kind the checks care about. */
const PARAMETERS: RichParameter[] = [
  create(RichParameterSchema, {
    name: "region",
    type: "string",
    defaultValue: "eu",
    options: [
      { name: "Europe", value: "eu" },
      { name: "US", value: "us" },
    ],
  }),
  create(RichParameterSchema, {
    name: "cpus",
    type: "number",
    defaultValue: "2",
    validationMin: 1,
    validationMax: 8,
  }),
  create(RichParameterSchema, { name: "floor", type: "number", defaultValue: "0", validationMin: 0 }),
  create(RichParameterSchema, { name: "gpu", type: "bool", defaultValue: "false" }),
  create(RichParameterSchema, { name: "repo", type: "string", required: true, validationRegex: "^https://" }),
  create(RichParameterSchema, { name: "tools", type: "list(string)", defaultValue: "[]" }),
];

const WEEKDAYS = { cron: "* 8-18 * * 1-5", instances: 3 };
const WEEKENDS = { cron: "* 8-18 * * 0,6", instances: 1 };
const NIGHTS = { cron: "* 0-7,19-23 * * *", instances: 0 };

/** Runs the validator and returns the error it threw, or undefined when it accepted. */
function rejection(presets: Preset[], parameters = PARAMETERS): PresetValidationError | undefined {
  try {
    validateImportedPresets(presets, parameters);
    return undefined;
  } catch (err) {
    assert.ok(err instanceof PresetValidationError, `expected a PresetValidationError, got ${String(err)}`);
    return err;
  }
}

describe("validateImportedPresets: accepted", () => {
  const cases: Array<{ name: string; presets: Preset[]; parameters?: RichParameter[] }> = [
    { name: "no presets at all", presets: [] },
    { name: "a preset without prebuilds", presets: [preset({ name: "dev" })] },
    {
      name: "instances 0 and ttl 0 (no pool, no expiry)",
      presets: [preset({ name: "dev", prebuild: { instances: 0, expirationPolicy: { ttl: 0 } } })],
    },
    {
      name: "a pool with a TTL",
      presets: [preset({ name: "dev", prebuild: { instances: 2, expirationPolicy: { ttl: 3600 } } })],
    },
    {
      name: "non-overlapping schedules in an IANA timezone, one with instances 0",
      presets: [
        preset({
          name: "dev",
          prebuild: {
            instances: 1,
            scheduling: { timezone: "Europe/Berlin", schedule: [WEEKDAYS, WEEKENDS, NIGHTS] },
          },
        }),
      ],
    },
    {
      name: "distinct names, exactly one default",
      presets: [preset({ name: "small", default: true }), preset({ name: "large" }), preset({ name: "gpu" })],
    },
    {
      name: "valid values for every parameter kind",
      presets: [
        preset({
          name: "dev",
          parameters: [
            { name: "region", value: "us" },
            { name: "cpus", value: "8" },
            { name: "floor", value: "0" },
            { name: "gpu", value: "true" },
            { name: "repo", value: "https://example.com/r.git" },
            { name: "tools", value: '["git","make"]' },
          ],
        }),
      ],
    },
    {
      name: "a required parameter left unset (checked when a workspace is built)",
      presets: [preset({ name: "dev", parameters: [{ name: "region", value: "eu" }] })],
    },
    {
      name: "the same parameter set by two presets",
      presets: [
        preset({ name: "eu", parameters: [{ name: "region", value: "eu" }] }),
        preset({ name: "us", parameters: [{ name: "region", value: "us" }] }),
      ],
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      // GIVEN the presets  WHEN validated  THEN nothing is thrown
      assert.equal(rejection(c.presets, c.parameters), undefined);
    });
  }
});

describe("validateImportedPresets: rejected", () => {
  const scheduled = (name: string, timezone: string, schedule: Array<{ cron: string; instances: number }>) =>
    preset({ name, prebuild: { instances: 1, scheduling: { timezone, schedule } } });
  const cases: Array<{
    name: string;
    presets: Preset[];
    parameters?: RichParameter[];
    preset: string;
    message: RegExp | string;
  }> = [
    {
      name: "negative TTL",
      presets: [preset({ name: "dev", prebuild: { instances: 1, expirationPolicy: { ttl: -5 } } })],
      preset: "dev",
      message: 'preset "dev": expiration_policy.ttl must be >= 0 (got -5)',
    },
    {
      name: "negative instances",
      presets: [preset({ name: "dev", prebuild: { instances: -1 } })],
      preset: "dev",
      message: 'preset "dev": instances must be >= 0 (got -1)',
    },
    {
      name: "a cron with 4 fields",
      presets: [scheduled("dev", "UTC", [{ cron: "* 8-18 * *", instances: 1 }])],
      preset: "dev",
      message:
        /^preset "dev": scheduling\.schedules\[0\]\.cron: invalid cron "\* 8-18 \* \*": must have 5 fields/,
    },
    {
      name: "a cron with 6 fields",
      presets: [scheduled("dev", "UTC", [{ cron: "0 * 8-18 * * 1-5", instances: 1 }])],
      preset: "dev",
      message: /scheduling\.schedules\[0\]\.cron: .*must have 5 fields.*got 6/,
    },
    {
      name: "a cron whose minute is not *",
      presets: [scheduled("dev", "UTC", [{ cron: "0 8-18 * * 1-5", instances: 1 }])],
      preset: "dev",
      message: /scheduling\.schedules\[0\]\.cron: .*minute field must be "\*"/,
    },
    {
      name: "a timezone that is not IANA",
      presets: [scheduled("dev", "Mars/Olympus_Mons", [WEEKDAYS])],
      preset: "dev",
      message: 'preset "dev": scheduling.timezone: "Mars/Olympus_Mons" is not an IANA timezone',
    },
    {
      name: "schedules without a timezone",
      presets: [scheduled("dev", "", [WEEKDAYS])],
      preset: "dev",
      message: /scheduling\.timezone: timezone is required/,
    },
    {
      name: "overlapping schedules",
      presets: [scheduled("dev", "UTC", [WEEKDAYS, { cron: "* 18-20 * * *", instances: 1 }])],
      preset: "dev",
      message: /^preset "dev": scheduling\.schedules\[1\]\.cron: overlaps schedules\[0\].*18:00–18:59/,
    },
    {
      name: "a schedule with negative instances",
      presets: [scheduled("dev", "UTC", [{ cron: WEEKDAYS.cron, instances: -2 }])],
      preset: "dev",
      message: /scheduling\.schedules\[0\]\.instances: must be a non-negative integer/,
    },
    {
      name: "two presets with the same name (the second is named)",
      presets: [
        preset({ name: "dev" }),
        preset({ name: "ops" }),
        preset({ name: "dev", description: "again" }),
      ],
      preset: "dev",
      message: 'preset "dev": another preset of this template has the same name',
    },
    {
      name: "a preset without a name",
      presets: [preset({ name: "dev" }), preset({ name: "" })],
      preset: "",
      message: "preset #2 (unnamed): name must not be empty",
    },
    {
      name: "two defaults",
      presets: [preset({ name: "a", default: true }), preset({ name: "b", default: true })],
      preset: "b",
      message: 'preset "b": a maximum of 1 preset can be marked as default, but 2 are set ("a", "b")',
    },
    {
      name: "three defaults (all counted, reported on the second)",
      presets: [
        preset({ name: "a", default: true }),
        preset({ name: "b" }),
        preset({ name: "c", default: true }),
        preset({ name: "d", default: true }),
      ],
      preset: "c",
      message: /but 3 are set \("a", "c", "d"\)$/,
    },
    {
      name: "an unknown parameter (named, with the known ones)",
      presets: [preset({ name: "dev", parameters: [{ name: "zone", value: "a" }] })],
      preset: "dev",
      message:
        /^preset "dev": parameter "zone" is not a parameter of this template \(it has "region", "cpus",/,
    },
    {
      name: "a parameter of a template that has none",
      presets: [preset({ name: "dev", parameters: [{ name: "zone", value: "a" }] })],
      parameters: [],
      preset: "dev",
      message: 'preset "dev": parameter "zone" is not a parameter of this template (it has none)',
    },
    {
      name: "a parameter set twice",
      presets: [
        preset({
          name: "dev",
          parameters: [
            { name: "region", value: "eu" },
            { name: "region", value: "us" },
          ],
        }),
      ],
      preset: "dev",
      message: 'preset "dev": parameter "region" is set more than once',
    },
    {
      name: "a value outside the options",
      presets: [preset({ name: "dev", parameters: [{ name: "region", value: "mars" }] })],
      preset: "dev",
      message: /^preset "dev": parameter "region": "mars" is not one of the options: eu, us$/,
    },
    {
      name: "a number that is not a number",
      presets: [preset({ name: "dev", parameters: [{ name: "cpus", value: "many" }] })],
      preset: "dev",
      message: 'preset "dev": parameter "cpus": "many" is not a number',
    },
    {
      name: "a number below its minimum",
      presets: [preset({ name: "dev", parameters: [{ name: "cpus", value: "0" }] })],
      preset: "dev",
      message: /parameter "cpus": 0 is less than the minimum 1/,
    },
    {
      name: "a number above its maximum",
      presets: [preset({ name: "dev", parameters: [{ name: "cpus", value: "9" }] })],
      preset: "dev",
      message: /parameter "cpus": 9 is more than the maximum 8/,
    },
    {
      name: "a number below a minimum of 0 (an explicit 0 is a bound)",
      presets: [preset({ name: "dev", parameters: [{ name: "floor", value: "-1" }] })],
      preset: "dev",
      message: /parameter "floor": -1 is less than the minimum 0/,
    },
    {
      name: "a bool that is not true/false",
      presets: [preset({ name: "dev", parameters: [{ name: "gpu", value: "yes" }] })],
      preset: "dev",
      message: /parameter "gpu": "yes" is not a boolean/,
    },
    {
      name: "a string failing the regex",
      presets: [preset({ name: "dev", parameters: [{ name: "repo", value: "git@host:r" }] })],
      preset: "dev",
      message: /parameter "repo": "git@host:r" does not match \^https:\/\//,
    },
    {
      name: "a list(string) that is not a JSON list",
      presets: [preset({ name: "dev", parameters: [{ name: "tools", value: "git,make" }] })],
      preset: "dev",
      message: /parameter "tools": "git,make" is not a JSON list of strings/,
    },
    {
      name: "every problem of the preset is listed",
      presets: [
        preset({
          name: "dev",
          prebuild: { instances: -1, expirationPolicy: { ttl: -1 } },
          parameters: [{ name: "zone", value: "a" }],
        }),
      ],
      preset: "dev",
      message:
        /^preset "dev": instances must be >= 0 \(got -1\); expiration_policy\.ttl must be >= 0 \(got -1\); parameter "zone"/,
    },
    {
      name: "the first invalid preset in template order is reported",
      presets: [
        preset({ name: "ok" }),
        preset({ name: "first", prebuild: { instances: -1 } }),
        preset({ name: "second", prebuild: { instances: -1 } }),
      ],
      preset: "first",
      message: /^preset "first": /,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      // GIVEN the presets  WHEN validated
      const err = rejection(c.presets, c.parameters);
      // THEN the import fails naming the preset and the problem
      assert.ok(err, "expected the presets to be rejected");
      assert.equal(err.preset, c.preset);
      if (typeof c.message === "string") assert.equal(err.message, c.message);
      else assert.match(err.message, c.message);
    });
  }
});

describe("an imported parameter as the resolver sees it (parameterFromProto, then parameterDefinition)", () => {
  const fromProto = (init: Parameters<typeof create<typeof RichParameterSchema>>[1]) =>
    parameterDefinition(parameterFromProto(create(RichParameterSchema, init)));

  test("min/max only when the template set them; a 0 bound is kept", () => {
    // GIVEN a number parameter with min 0 and no max
    const def = fromProto({ name: "n", type: "number", validationMin: 0 });
    // THEN min is 0 and max is unset (null, not 0)
    assert.equal(def.validationMin, 0);
    assert.equal(def.validationMax, null);
  });

  test("copies the fields validation uses", () => {
    const def = fromProto({
      name: "region",
      displayName: "Region",
      description: "where",
      type: "string",
      mutable: true,
      required: true,
      ephemeral: true,
      defaultValue: "eu",
      options: [{ name: "Europe", value: "eu", description: "d", icon: "i" }],
    });
    assert.equal(def.name, "region");
    assert.equal(def.displayName, "Region");
    assert.equal(def.type, "string");
    assert.deepEqual([def.mutable, def.required, def.ephemeral, def.defaultValue], [true, true, true, "eu"]);
    assert.deepEqual(
      def.options.map((o) => [o.name, o.value]),
      [["Europe", "eu"]],
    );
    assert.equal(def.validationRegex, "");
  });

  test("keeps regex, error text and monotonic rule when set", () => {
    const def = fromProto({
      name: "disk",
      type: "number",
      validationRegex: "^[0-9]+$",
      validationError: "whole GB",
      validationMax: 500,
      validationMonotonic: "increasing",
    });
    assert.equal(def.validationRegex, "^[0-9]+$");
    assert.equal(def.validationError, "whole GB");
    assert.equal(def.validationMax, 500);
    assert.equal(def.validationMonotonic, "increasing");
    assert.equal(def.validationMin, null);
  });
});
