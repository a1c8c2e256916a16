// Which resources a plan replaces, and why (the attribute paths that force replacement). Prebuilt
// workspaces use this to warn when claiming one would recreate its infrastructure.
import { create } from "@bufbuild/protobuf";
import { type ResourceReplacement, ResourceReplacementSchema } from "../../gen/provisioner/provisioner_pb.js";
import type { TerraformShowJson } from "./tfjson.js";

/** A replace path is a list of attribute names / indexes (`["ami"]`, `["disk", 0, "size"]`). */
function pathString(path: unknown): string {
  if (Array.isArray(path)) return path.map(pathString).join(".");
  if (typeof path === "string") return path;
  return JSON.stringify(path) ?? "";
}

/**
 * The non-`coder_` resources of a plan's `resource_changes` that are replaced, with their stringified
 * `replace_paths`, in plan order (one entry per address).
 */
export function resourceReplacements(plan: TerraformShowJson): ResourceReplacement[] {
  const byAddress = new Map<string, string[]>();
  for (const rc of plan.resource_changes ?? []) {
    const change = rc.change;
    if (!change || typeof rc.type !== "string" || rc.type.startsWith("coder_")) continue;
    const actions = change.actions ?? [];
    if (actions.length === 1 && actions[0] === "no-op") continue;
    const paths = change.replace_paths ?? [];
    if (paths.length === 0) continue;
    const list = byAddress.get(rc.address) ?? [];
    list.push(...paths.map(pathString));
    byAddress.set(rc.address, list);
  }
  return [...byAddress].map(([resource, paths]) => create(ResourceReplacementSchema, { resource, paths }));
}
