// Converts `terraform show -json` (of a plan or of the state) plus `terraform graph` into the protocol's
// resources, parameters, presets and external auth providers, following Coder's rules so that existing
// Coder templates behave the same. Pure: no I/O; the runner and `prewarm terraform convert` call it.
//
// Where this deliberately differs from Coder (v1.9):
// - output order is deterministic (resources by name, type, module path; agents by name; apps by slug;
//   external auth by id; preset parameters by name) instead of Go map order;
// - plan-time association of apps/envs/scripts/devcontainers compares node *labels*, so it also works for
//   coder_* resources inside modules (Coder matches root-module node names only);
// - labels drop every instance key (`module.m[0].x.y[1]` → `module.m.x.y`), matching graph node labels;
// - a data source present in both `prior_state` and `planned_values` of a plan is read once.
import { create } from "@bufbuild/protobuf";
import {
  type Agent,
  type App,
  type ExternalAuthProviderResource,
  ExternalAuthProviderResourceSchema,
  type Preset,
  type Resource,
  Resource_MetadataSchema,
  ResourceSchema,
  type RichParameter,
} from "../../gen/provisioner/provisioner_pb.js";
import { AGENT_CHILD_TYPES, attachToAgent, convertAgent, convertApp, validateAgentName } from "./agents.js";
import { ConversionError } from "./convert-error.js";
import { type Graph, hasEdgeBetweenLabels, nearestLabel, nodesWithLabel, parseGraph } from "./graph.js";
import { checkUniqueParameterNames, convertParameter } from "./parameters.js";
import { checkSingleDefault, convertPreset } from "./presets.js";
import {
  blocks,
  bool,
  int32,
  modulePath,
  resourceLabel,
  str,
  type TerraformModule,
  type TerraformResource,
  type TerraformShowJson,
  valuesOf,
  walkResources,
} from "./tfjson.js";

export { ConversionError } from "./convert-error.js";
export { GraphParseError } from "./graph.js";
export { resourceReplacements } from "./replacements.js";
export type { TerraformShowJson } from "./tfjson.js";

export interface ConversionInput {
  /** Parsed `terraform show -json` of a saved plan or of the state. */
  state: TerraformShowJson;
  /** DOT text of `terraform graph`. */
  graph: string;
  kind: "plan" | "state";
}

export interface ConversionResult {
  resources: Resource[];
  parameters: RichParameter[];
  presets: Preset[];
  externalAuthProviders: ExternalAuthProviderResource[];
  /** Things a template author should know that are not errors (a dropped agent, an unknown preset parameter). */
  warnings: string[];
}

/** coder_* types that configure other resources and are not emitted as resources themselves. */
const HELPER_TYPES = new Set([
  "coder_agent",
  "coder_agent_instance",
  "coder_app",
  "coder_metadata",
  "coder_script",
]);

/** The attribute holding the machine size, by resource type (shown as the resource's instance type). */
export const INSTANCE_TYPE_ATTRIBUTE: Readonly<Record<string, string>> = {
  aws_instance: "instance_type",
  aws_spot_instance_request: "instance_type",
  google_compute_instance: "machine_type",
  azurerm_linux_virtual_machine: "size",
  azurerm_windows_virtual_machine: "size",
};

/** The attribute holding the cloud instance id agents with instance-identity auth authenticate as. */
export const INSTANCE_ID_ATTRIBUTE: Readonly<Record<string, string>> = {
  aws_instance: "id",
  aws_spot_instance_request: "spot_instance_id",
  google_compute_instance: "instance_id",
  azurerm_linux_virtual_machine: "virtual_machine_id",
  azurerm_windows_virtual_machine: "virtual_machine_id",
};

/** The root modules to read: for a plan, the data sources of the prior state, then the planned values. */
function rootModules(input: ConversionInput): TerraformModule[] {
  const roots: TerraformModule[] = [];
  if (input.kind === "plan") {
    // Data sources read at plan time (parameters, presets) are only in prior_state. Its managed resources
    // are left out: they may be on their way out (a stop plan) and must not be reported.
    const prior = input.state.prior_state?.values?.root_module;
    if (prior) roots.push(onlyDataSources(prior));
    const planned = input.state.planned_values?.root_module;
    if (planned) roots.push(planned);
  } else {
    const root = input.state.values?.root_module;
    if (root) roots.push(root);
  }
  return roots;
}

function onlyDataSources(module: TerraformModule): TerraformModule {
  return {
    address: module.address,
    resources: (module.resources ?? []).filter((r) => r.mode === "data"),
    child_modules: (module.child_modules ?? []).map(onlyDataSources),
  };
}

/** Every resource in walk order, each address once. */
function walk(input: ConversionInput): TerraformResource[] {
  const seen = new Set<string>();
  return walkResources(rootModules(input)).filter(
    (r) => !seen.has(r.address) && Boolean(seen.add(r.address)),
  );
}

/** Code-unit order, the same on every machine (no locale). */
const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

interface PlacedAgent {
  agent: Agent;
  label: string;
}

/** Converts plan or state JSON plus the graph; throws ConversionError when the template breaks a rule. */
export function convertTerraform(input: ConversionInput): ConversionResult {
  const graph = parseGraph(input.graph);
  const resources = walk(input);
  const warnings: string[] = [];
  const warn = (m: string) => warnings.push(m);

  const byLabel = new Map<string, TerraformResource[]>();
  for (const r of resources) {
    const label = resourceLabel(r.address);
    byLabel.set(label, [...(byLabel.get(label) ?? []), r]);
  }
  // A node can host agents and carry metadata when it is a managed resource other than coder's helpers.
  const isHost = (label: string) =>
    (byLabel.get(label) ?? []).some(
      (r) => r.mode === "managed" && (!r.type.startsWith("coder_") || r.type === "coder_external_agent"),
    );

  const agentsByHost = placeAgents(resources, graph, isHost, warn);
  const placed = [...agentsByHost.values()].flat();
  applyAgentInstances(resources, placed);
  attachChildren(resources, graph, placed);
  const metadata = resourceMetadata(resources, graph, isHost);

  const emitted: Resource[] = [];
  for (const r of resources) {
    if (r.mode !== "managed" || HELPER_TYPES.has(r.type)) continue;
    const values = valuesOf(r);
    const label = resourceLabel(r.address);
    const agents = (agentsByHost.get(label) ?? []).map((p) => p.agent);
    const idKey = INSTANCE_ID_ATTRIBUTE[r.type];
    if (idKey) {
      // Instance-identity agents on a cloud VM authenticate as that VM unless coder_agent_instance said
      // otherwise.
      for (const agent of agents) {
        if (agent.auth.case === "instanceId" && agent.auth.value === "")
          agent.auth.value = str(values, idKey);
      }
    }
    const typeKey = INSTANCE_TYPE_ATTRIBUTE[r.type];
    emitted.push(
      create(ResourceSchema, {
        name: r.name,
        type: r.type,
        agents: [...agents].sort((a, b) => compare(a.name, b.name)),
        instanceType: typeKey ? str(values, typeKey) : "",
        modulePath: modulePath(r.address),
        ...metadata.get(label),
      }),
    );
  }
  for (const { agent } of placed) agent.apps.sort((a, b) => compare(a.slug, b.slug));
  emitted.sort(
    (a, b) => compare(a.name, b.name) || compare(a.type, b.type) || compare(a.modulePath, b.modulePath),
  );

  const parameters = resources.filter((r) => r.type === "coder_parameter").map(convertParameter);
  checkUniqueParameterNames(parameters);
  const parameterNames = new Set(parameters.map((p) => p.name));
  const presets = resources
    .filter((r) => r.type === "coder_workspace_preset")
    .map((r) => convertPreset(r, parameterNames, warn));
  checkSingleDefault(presets);

  return {
    resources: emitted,
    parameters,
    presets,
    externalAuthProviders: externalAuthProviders(resources),
    warnings,
  };
}

/**
 * Validates agents and places each on the nearest managed resource that depends on it (hosting label →
 * agents). Agents nothing depends on are dropped, with a warning.
 */
function placeAgents(
  resources: readonly TerraformResource[],
  graph: Graph,
  isHost: (label: string) => boolean,
  warn: (m: string) => void,
): Map<string, PlacedAgent[]> {
  const byHost = new Map<string, PlacedAgent[]>();
  const names = new Set<string>();
  for (const r of resources) {
    if (r.type !== "coder_agent") continue;
    validateAgentName(r.name);
    const key = r.name.toLowerCase();
    if (names.has(key)) throw new ConversionError(`duplicate agent name: ${r.name}`);
    names.add(key);
    const label = resourceLabel(r.address);
    const nodes = nodesWithLabel(graph, label);
    if (nodes.length === 0)
      throw new ConversionError(`couldn't find node on graph: ${JSON.stringify(label)}`);
    const host = nearestLabel(graph, nodes, "up", isHost);
    if (host === undefined) {
      warn(`agent ${JSON.stringify(r.name)} was dropped: no managed resource depends on ${label}`);
      continue;
    }
    byHost.set(host, [...(byHost.get(host) ?? []), { agent: convertAgent(r), label }]);
  }
  return byHost;
}

/** `coder_agent_instance` sets the instance id an instance-identity agent authenticates as. */
function applyAgentInstances(resources: readonly TerraformResource[], placed: readonly PlacedAgent[]): void {
  for (const r of resources) {
    if (r.type !== "coder_agent_instance") continue;
    const values = valuesOf(r);
    const agentId = str(values, "agent_id");
    for (const { agent } of placed) {
      if (agent.id === agentId && agent.auth.case === "instanceId")
        agent.auth.value = str(values, "instance_id");
    }
  }
}

/**
 * Whether a coder_app/env/script/devcontainer belongs to an agent: same id, or — at plan time, when both
 * ids are still unknown — a graph edge from it to the agent.
 */
function dependsOnAgent(graph: Graph, child: TerraformResource, placed: PlacedAgent): boolean {
  const agentId = str(valuesOf(child), "agent_id");
  if (placed.agent.id === "" && agentId === "") {
    return hasEdgeBetweenLabels(graph, resourceLabel(child.address), placed.label);
  }
  return placed.agent.id === agentId;
}

function attachChildren(
  resources: readonly TerraformResource[],
  graph: Graph,
  placed: readonly PlacedAgent[],
) {
  const slugs = new Set<string>();
  for (const r of resources) {
    if (r.mode !== "managed" || !AGENT_CHILD_TYPES.has(r.type)) continue;
    let app: App | undefined;
    if (r.type === "coder_app") {
      app = convertApp(r);
      if (slugs.has(app.slug)) {
        throw new ConversionError(
          `duplicate app slug, they must be unique per template: ${JSON.stringify(app.slug)}`,
        );
      }
      slugs.add(app.slug);
    }
    for (const p of placed) {
      if (!dependsOnAgent(graph, r, p)) continue;
      if (app) p.agent.apps.push(app);
      else attachToAgent(p.agent, r);
    }
  }
}

type MetadataFields = Pick<Resource, "metadata" | "hide" | "icon" | "dailyCost">;

/** coder_metadata → the fields it sets on the nearest managed resource it depends on (by label). */
function resourceMetadata(
  resources: readonly TerraformResource[],
  graph: Graph,
  isHost: (label: string) => boolean,
): Map<string, MetadataFields> {
  const byTarget = new Map<string, MetadataFields>();
  for (const r of resources) {
    if (r.mode !== "managed" || r.type !== "coder_metadata") continue;
    const nodes = nodesWithLabel(graph, resourceLabel(r.address));
    const target = nodes.length > 0 ? nearestLabel(graph, nodes, "down", isHost) : undefined;
    if (target === undefined) continue;
    if (byTarget.has(target)) throw new ConversionError(`duplicate metadata resource: ${target}`);
    const values = valuesOf(r);
    byTarget.set(target, {
      hide: bool(values, "hide"),
      icon: str(values, "icon"),
      dailyCost: int32(values, "daily_cost"),
      metadata: blocks(values, "item").map((item) =>
        create(Resource_MetadataSchema, {
          key: str(item, "key"),
          value: str(item, "value"),
          sensitive: bool(item, "sensitive"),
          isNull: bool(item, "is_null"),
        }),
      ),
    });
  }
  return byTarget;
}

/** coder_external_auth (and the legacy coder_git_auth): one entry per id, sorted by id. */
function externalAuthProviders(resources: readonly TerraformResource[]): ExternalAuthProviderResource[] {
  const byId = new Map<string, ExternalAuthProviderResource>();
  for (const r of resources) {
    if (r.type !== "coder_external_auth" && r.type !== "coder_git_auth") continue;
    const values = valuesOf(r);
    if (typeof values.id !== "string") throw new ConversionError("external auth id is not a string");
    byId.set(
      values.id,
      create(ExternalAuthProviderResourceSchema, { id: values.id, optional: bool(values, "optional") }),
    );
  }
  return [...byId.values()].sort((a, b) => compare(a.id, b.id));
}
