// The tfplugin6.Provider service: terraform's calls mapped onto the coder schema (coder.ts) with the
// SDK-like planning rules of schema.ts. Values arrive and leave as MessagePack (DynamicValue); a failure
// inside a handler becomes an error diagnostic rather than a gRPC error, so terraform shows it as it would
// show a provider's own message.
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { dataSources, defaultAccessUrl, type ProviderContext, providerFields, resources } from "./coder.js";
import { type CtyType, clone, conform, unknownAsNull } from "./cty.js";
import {
  type AttributePath,
  AttributePath_StepSchema,
  AttributePathSchema,
  type Diagnostic,
  Diagnostic_Severity,
  DiagnosticSchema,
  type DynamicValue,
  DynamicValueSchema,
  type Provider,
  type Schema,
  Schema_AttributeSchema,
  type Schema_Block,
  Schema_BlockSchema,
  Schema_NestedBlock_NestingMode,
  Schema_NestedBlockSchema,
  SchemaSchema,
  ServerCapabilitiesSchema,
} from "./gen/tfplugin6/tfplugin6_pb.js";
import { decodeMsgpack, encodeMsgpack, isObject, type Value, type ValueObject } from "./msgpack.js";
import {
  applyDefaults,
  changedPaths,
  type Diag,
  errorDiag,
  type Fields,
  forcesNew,
  hasErrors,
  impliedType,
  isEmpty,
  isNested,
  type PathStep,
  unknownComputed,
  validateConfig,
  type WireBlock,
  wireBlock,
  withId,
} from "./schema.js";

// ---- wire conversions ----------------------------------------------------------------------------------

function protoBlock(block: WireBlock): Schema_Block {
  return create(Schema_BlockSchema, {
    description: block.description,
    attributes: block.attributes.map((a) =>
      create(Schema_AttributeSchema, {
        name: a.name,
        type: new TextEncoder().encode(JSON.stringify(a.type)),
        description: a.description,
        required: a.required,
        optional: a.optional,
        computed: a.computed,
        sensitive: a.sensitive,
        deprecated: a.deprecated,
      }),
    ),
    blockTypes: block.blocks.map((b) =>
      create(Schema_NestedBlockSchema, {
        typeName: b.name,
        nesting:
          b.nesting === "list" ? Schema_NestedBlock_NestingMode.LIST : Schema_NestedBlock_NestingMode.SET,
        minItems: BigInt(b.minItems),
        maxItems: BigInt(b.maxItems),
        block: protoBlock(b.block),
      }),
    ),
  });
}

function protoSchema(fields: Fields, version: number, description: string): Schema {
  return create(SchemaSchema, {
    version: BigInt(version),
    block: protoBlock(wireBlock(fields, description)),
  });
}

/** Attribute names and list indexes as terraform's AttributePath. */
function protoAttributePath(path: readonly PathStep[]): AttributePath {
  return create(AttributePathSchema, {
    steps: path.map((step) =>
      create(AttributePath_StepSchema, {
        selector:
          typeof step === "number"
            ? { case: "elementKeyInt", value: BigInt(step) }
            : { case: "attributeName", value: step },
      }),
    ),
  });
}

function protoDiagnostics(diags: readonly Diag[]): Diagnostic[] {
  return diags.map((d) =>
    create(DiagnosticSchema, {
      severity: d.severity === "error" ? Diagnostic_Severity.ERROR : Diagnostic_Severity.WARNING,
      summary: d.summary,
      detail: d.detail ?? "",
      attribute: d.path ? protoAttributePath(d.path) : undefined,
    }),
  );
}

function decode(value: DynamicValue | undefined, type: CtyType): Value {
  if (!value) return null;
  if (value.msgpack.length > 0) return conform(decodeMsgpack(value.msgpack), type);
  if (value.json.length > 0) return conform(JSON.parse(new TextDecoder().decode(value.json)) as Value, type);
  return null;
}

function encode(value: Value, type: CtyType): DynamicValue {
  return create(DynamicValueSchema, { msgpack: encodeMsgpack(conform(value, type)) });
}

function decodeObject(value: DynamicValue | undefined, type: CtyType): ValueObject | null {
  const v = decode(value, type);
  return isObject(v) ? v : null;
}

// ---- the service ---------------------------------------------------------------------------------------

interface TypeInfo<T> {
  def: T;
  fields: Fields;
  type: CtyType;
}

function index<T extends { fields: Fields }>(defs: Record<string, T>): Map<string, TypeInfo<T>> {
  const out = new Map<string, TypeInfo<T>>();
  for (const [name, def] of Object.entries(defs)) {
    const fields = withId(def.fields);
    out.set(name, { def, fields, type: impliedType(fields) });
  }
  return out;
}

const resourceTypes = index(resources);
const dataSourceTypes = index(dataSources);
const providerType = impliedType(providerFields);

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The provider context before ConfigureProvider (terraform configures before any read or plan). */
function contextFor(env: NodeJS.ProcessEnv, configured: string | null): ProviderContext | Diag {
  const raw = configured ?? (env.CODER_AGENT_URL || defaultAccessUrl);
  if (raw === "") return errorDiag(`CODER_AGENT_URL must not be empty; got ""`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return errorDiag(`parse ${JSON.stringify(raw)}: invalid URL`);
  }
  // Go's url.Parse lowercases the scheme and otherwise keeps the text; WHATWG would add a "/".
  const rawUrl = raw.replace(/^[A-Za-z][A-Za-z0-9+.-]*:/, (s) => s.toLowerCase());
  return { env, url, rawUrl };
}

/** Data source results: the SDK leaves blocks the configuration does not write, and read does not set, null. */
function nullUnsetBlocks(fields: Fields, before: ValueObject, after: ValueObject): void {
  for (const [name, field] of Object.entries(fields)) {
    if (isNested(field) && after[name] === before[name] && isEmpty(after[name] ?? null)) after[name] = null;
  }
}

export interface ProviderServiceOptions {
  env: NodeJS.ProcessEnv;
}

export function providerService(options: ProviderServiceOptions): ServiceImpl<typeof Provider> {
  let ctx: ProviderContext | undefined;
  const context = (): ProviderContext => {
    if (ctx) return ctx;
    const c = contextFor(options.env, null);
    if ("summary" in c) throw new Error(c.summary);
    ctx = c;
    return c;
  };
  const resource = (name: string) => {
    const info = resourceTypes.get(name);
    if (!info) throw new Error(`unknown resource type: ${name}`);
    return info;
  };
  const dataSource = (name: string) => {
    const info = dataSourceTypes.get(name);
    if (!info) throw new Error(`unknown data source: ${name}`);
    return info;
  };
  const failed = (err: unknown) => protoDiagnostics([errorDiag(describe(err))]);

  return {
    getMetadata() {
      return {
        serverCapabilities: create(ServerCapabilitiesSchema, { getProviderSchemaOptional: true }),
        dataSources: [...dataSourceTypes.keys()].map((typeName) => ({ typeName })),
        resources: [...resourceTypes.keys()].map((typeName) => ({ typeName })),
      };
    },

    getProviderSchema() {
      const resourceSchemas: Record<string, Schema> = {};
      for (const [name, info] of resourceTypes) {
        resourceSchemas[name] = protoSchema(info.fields, info.def.version, info.def.description);
      }
      const dataSourceSchemas: Record<string, Schema> = {};
      for (const [name, info] of dataSourceTypes) {
        dataSourceSchemas[name] = protoSchema(info.fields, info.def.version, info.def.description);
      }
      return {
        provider: protoSchema(providerFields, 0, ""),
        resourceSchemas,
        dataSourceSchemas,
        // Terraform may reuse the schema across provider instances instead of asking each one again.
        serverCapabilities: create(ServerCapabilitiesSchema, { getProviderSchemaOptional: true }),
      };
    },

    validateProviderConfig(req) {
      try {
        const config = decodeObject(req.config, providerType) ?? {};
        return { diagnostics: protoDiagnostics(validateConfig(providerFields, config)) };
      } catch (err) {
        return { diagnostics: failed(err) };
      }
    },

    configureProvider(req) {
      try {
        const config = decodeObject(req.config, providerType) ?? {};
        const url = typeof config.url === "string" ? config.url : null;
        const c = contextFor(options.env, url);
        if ("summary" in c) return { diagnostics: protoDiagnostics([c]) };
        ctx = c;
        return {};
      } catch (err) {
        return { diagnostics: failed(err) };
      }
    },

    validateResourceConfig(req) {
      try {
        const info = resource(req.typeName);
        const config = decodeObject(req.config, info.type) ?? {};
        return { diagnostics: protoDiagnostics(validateConfig(info.fields, config)) };
      } catch (err) {
        return { diagnostics: failed(err) };
      }
    },

    validateDataResourceConfig(req) {
      try {
        const info = dataSource(req.typeName);
        const config = decodeObject(req.config, info.type) ?? {};
        return { diagnostics: protoDiagnostics(validateConfig(info.fields, config)) };
      } catch (err) {
        return { diagnostics: failed(err) };
      }
    },

    upgradeResourceState(req) {
      try {
        const info = resource(req.typeName);
        const json = req.rawState?.json ?? new Uint8Array();
        if (json.length === 0) {
          return {
            diagnostics: protoDiagnostics([errorDiag("flatmap state is not supported by the test provider")]),
          };
        }
        // The schema never changed between versions: the stored JSON is the current shape.
        const value = JSON.parse(new TextDecoder().decode(json)) as Value;
        return { upgradedState: encode(value, info.type) };
      } catch (err) {
        return { diagnostics: failed(err) };
      }
    },

    readResource(req) {
      try {
        const info = resource(req.typeName);
        const current = decodeObject(req.currentState, info.type);
        if (!current) return { newState: encode(null, info.type), private: req.private };
        const state = clone(current);
        const diags = info.def.read?.(context(), state) ?? [];
        return {
          newState: encode(unknownAsNull(state), info.type),
          diagnostics: protoDiagnostics(diags),
          private: req.private,
        };
      } catch (err) {
        return { diagnostics: failed(err) };
      }
    },

    planResourceChange(req) {
      try {
        const info = resource(req.typeName);
        const { fields } = info;
        const prior = decodeObject(req.priorState, info.type);
        const proposed = decodeObject(req.proposedNewState, info.type);
        const config = decodeObject(req.config, info.type) ?? {};
        // The SDK asks terraform to tolerate its legacy planning (unknown computed blocks on create).
        const base = { legacyTypeSystem: true, plannedPrivate: req.priorPrivate };
        if (!proposed) return { ...base, plannedState: encode(null, info.type) }; // destroy
        let planned = applyDefaults(fields, proposed);
        let requiresReplace: PathStep[][] = [];
        if (!prior) {
          planned = unknownComputed(fields, planned, config);
          requiresReplace = [["id"]];
        } else {
          const changes = changedPaths(fields, prior, planned, config);
          if (changes.length === 0) return { ...base, plannedState: encode(prior, info.type) };
          const replacing = changes.filter((p) => forcesNew(fields, p));
          if (replacing.length > 0) {
            planned = unknownComputed(fields, planned, config);
            requiresReplace = [...replacing, ["id"]];
          } else {
            // In-place update: computed values the configuration does not set keep their prior value.
            for (const [name, field] of Object.entries(fields)) {
              if (field.computed && isEmpty(config[name] ?? null)) planned[name] = prior[name] ?? null;
            }
          }
        }
        const diags = info.def.customizeDiff?.(planned) ?? [];
        if (hasErrors(diags)) return { ...base, diagnostics: protoDiagnostics(diags) };
        return {
          ...base,
          plannedState: encode(planned, info.type),
          requiresReplace: requiresReplace.map(protoAttributePath),
          diagnostics: protoDiagnostics(diags),
        };
      } catch (err) {
        return { diagnostics: failed(err) };
      }
    },

    applyResourceChange(req) {
      try {
        const info = resource(req.typeName);
        const prior = decodeObject(req.priorState, info.type);
        const planned = decodeObject(req.plannedState, info.type);
        const base = { legacyTypeSystem: true };
        if (!planned) return { ...base, newState: encode(null, info.type) }; // delete: nothing to do
        const state = clone(planned);
        // No coder resource updates in place (every argument is ForceNew); an update keeps the plan.
        const diags = prior ? [] : info.def.create(context(), state);
        const created = typeof state.id === "string" && state.id !== "";
        if (hasErrors(diags) && !created) {
          return { ...base, newState: encode(null, info.type), diagnostics: protoDiagnostics(diags) };
        }
        // Like the SDK, a create that failed after setting its id is saved (terraform marks it tainted).
        return {
          ...base,
          newState: encode(unknownAsNull(state), info.type),
          diagnostics: protoDiagnostics(diags),
        };
      } catch (err) {
        return { diagnostics: failed(err) };
      }
    },

    importResourceState(req) {
      return {
        diagnostics: protoDiagnostics([errorDiag(`resource ${req.typeName} doesn't support import`)]),
      };
    },

    readDataSource(req) {
      try {
        const info = dataSource(req.typeName);
        const config = decodeObject(req.config, info.type) ?? {};
        const state = applyDefaults(info.fields, config);
        const before = { ...state };
        const diags = info.def.read(context(), state, config);
        if (hasErrors(diags)) return { diagnostics: protoDiagnostics(diags) };
        nullUnsetBlocks(info.fields, before, state);
        return { state: encode(unknownAsNull(state), info.type), diagnostics: protoDiagnostics(diags) };
      } catch (err) {
        return { diagnostics: failed(err) };
      }
    },

    stopProvider() {
      return {};
    },
  };
}
