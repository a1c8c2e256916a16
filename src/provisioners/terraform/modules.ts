// The modules `terraform init` installed, from `.terraform/modules/modules.json`. Informational only, so a
// missing or unreadable manifest yields an empty list rather than failing the plan.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { type Module, ModuleSchema } from "../../gen/provisioner/provisioner_pb.js";

interface ManifestEntry {
  Key?: unknown;
  Source?: unknown;
  Version?: unknown;
  Dir?: unknown;
}

const str = (v: unknown): string => (typeof v === "string" ? v : "");

/** Modules of a parsed manifest: entries with a source (the root module has none). */
export function modulesFromManifest(manifest: unknown): Module[] {
  const entries = (manifest as { Modules?: unknown } | null)?.Modules;
  if (!Array.isArray(entries)) return [];
  return (entries as ManifestEntry[])
    .filter((e) => str(e?.Source) !== "")
    .map((e) =>
      create(ModuleSchema, {
        key: str(e.Key),
        source: str(e.Source),
        version: str(e.Version),
        dir: str(e.Dir),
      }),
    );
}

/** Reads the module manifest of an initialised working directory. */
export async function readModules(workDirectory: string): Promise<Module[]> {
  try {
    const text = await readFile(join(workDirectory, ".terraform", "modules", "modules.json"), "utf8");
    return modulesFromManifest(JSON.parse(text));
  } catch {
    return [];
  }
}
