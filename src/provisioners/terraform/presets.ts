// `coder_workspace_preset` data sources → Preset messages (with their prebuild pool settings).
import { create } from "@bufbuild/protobuf";
import {
  ExpirationPolicySchema,
  type Prebuild,
  PrebuildSchema,
  type Preset,
  PresetParameterSchema,
  PresetSchema,
  ScheduleSchema,
  SchedulingSchema,
} from "../../gen/provisioner/provisioner_pb.js";
import { ConversionError } from "./convert-error.js";
import {
  blocks,
  bool,
  firstBlock,
  int32,
  str,
  stringMap,
  type TerraformResource,
  valuesOf,
} from "./tfjson.js";

/**
 * Converts one preset. `parameterNames` are the template's coder_parameter names: a preset naming another
 * parameter only earns a warning (the server rejects the value when the preset is used).
 */
export function convertPreset(
  resource: TerraformResource,
  parameterNames: ReadonlySet<string>,
  warn: (message: string) => void,
): Preset {
  const values = valuesOf(resource);
  const name = str(values, "name");
  const parameters = Object.entries(stringMap(values, "parameters"))
    // The provider gives a map; sort so the output does not depend on JSON key order.
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => create(PresetParameterSchema, { name: k, value: v }));
  for (const p of parameters) {
    if (!parameterNames.has(p.name)) {
      warn(
        `preset ${JSON.stringify(name)} sets parameter ${JSON.stringify(p.name)}, which is not a coder_parameter`,
      );
    }
  }
  const prebuildBlocks = blocks(values, "prebuilds");
  if (prebuildBlocks.length !== 1) {
    warn(`preset ${JSON.stringify(name)} must have exactly one prebuild block to have prebuilds`);
  }
  return create(PresetSchema, {
    name,
    parameters,
    default: bool(values, "default"),
    description: str(values, "description"),
    icon: str(values, "icon"),
    // Always present, like Coder: instances 0 means "no prebuilt workspaces".
    prebuild: prebuild(prebuildBlocks[0] ?? {}),
  });
}

function prebuild(block: Record<string, unknown>): Prebuild {
  const result = create(PrebuildSchema, { instances: int32(block, "instances") });
  const expiration = firstBlock(block, "expiration_policy");
  if (expiration) result.expirationPolicy = create(ExpirationPolicySchema, { ttl: int32(expiration, "ttl") });
  const scheduling = firstBlock(block, "scheduling");
  if (scheduling) {
    result.scheduling = create(SchedulingSchema, {
      timezone: str(scheduling, "timezone"),
      schedule: blocks(scheduling, "schedule").map((s) =>
        create(ScheduleSchema, { cron: str(s, "cron"), instances: int32(s, "instances") }),
      ),
    });
  }
  return result;
}

/** At most one preset may be the default. */
export function checkSingleDefault(presets: readonly Preset[]): void {
  const defaults = presets.filter((p) => p.default).length;
  if (defaults > 1) {
    throw new ConversionError(
      `a maximum of 1 coder_workspace_preset can be marked as default, but ${defaults} are set`,
    );
  }
}
