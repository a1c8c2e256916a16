// The conversion result as proto3 JSON (lowerCamelCase names, defaults omitted, int64 as strings): what
// `prewarm terraform convert` prints and what the golden files hold.
import { type JsonValue, toJson } from "@bufbuild/protobuf";
import {
  ExternalAuthProviderResourceSchema,
  PresetSchema,
  ResourceSchema,
  RichParameterSchema,
} from "../../gen/provisioner/provisioner_pb.js";
import type { ConversionResult } from "./convert.js";

export interface ConversionJson {
  resources: JsonValue[];
  parameters: JsonValue[];
  presets: JsonValue[];
  externalAuthProviders: JsonValue[];
}

export function conversionResultToJson(result: ConversionResult): ConversionJson {
  return {
    resources: result.resources.map((m) => toJson(ResourceSchema, m)),
    parameters: result.parameters.map((m) => toJson(RichParameterSchema, m)),
    presets: result.presets.map((m) => toJson(PresetSchema, m)),
    externalAuthProviders: result.externalAuthProviders.map((m) =>
      toJson(ExternalAuthProviderResourceSchema, m),
    ),
  };
}
