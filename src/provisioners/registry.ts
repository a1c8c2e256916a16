// Provisioner types known to `prewarm provisioner serve --type …` (and daemons). Imports are lazy so a
// type's dependencies load only when it is used. Add a type with one line.
import type { AnyProvisioner } from "../provisionersdk/types.js";
import type { TerraformProvisionerOptions } from "./terraform/index.js"; // type only: loads nothing

/** Operator settings of the terraform type (see docs/terraform-provisioner.md). */
export type TerraformTypeOptions = Pick<
  TerraformProvisionerOptions,
  "exitTimeoutMs" | "pluginCacheDir" | "extraEnv" | "agentScriptEnv"
>;

/** Per-type settings; each factory reads only its own entry and ignores the rest. */
export interface ProvisionerTypeOptions {
  terraform?: TerraformTypeOptions;
}

export type ProvisionerFactory = (options: ProvisionerTypeOptions) => Promise<AnyProvisioner>;

export const provisionerTypes: Record<string, ProvisionerFactory> = {
  echo: async () => (await import("./echo/provisioner.js")).echoProvisioner,
  terraform: async ({ terraform }) => {
    const module = await import("./terraform/index.js");
    return terraform ? module.createTerraformProvisioner(terraform) : module.terraformProvisioner;
  },
};

export class UnknownProvisionerTypeError extends Error {
  constructor(readonly type: string) {
    super(
      `unknown provisioner type ${JSON.stringify(type)} (known: ${Object.keys(provisionerTypes).join(", ")})`,
    );
    this.name = "UnknownProvisionerTypeError";
  }
}

/**
 * The provisioner of `type`, configured by `options`; throws UnknownProvisionerTypeError, or the type's own
 * error for a bad setting (terraform: TerraformEnvError for a configured name that is not TF_*).
 */
export async function loadProvisioner(
  type: string,
  options: ProvisionerTypeOptions = {},
): Promise<AnyProvisioner> {
  const load = Object.hasOwn(provisionerTypes, type) ? provisionerTypes[type] : undefined;
  if (!load) throw new UnknownProvisionerTypeError(type);
  return load(options);
}

export interface AvailabilityOptions {
  /** Where terraform is looked up (PATH only). Default: process.env. */
  env?: NodeJS.ProcessEnv;
  /** Told why a known type cannot run here, e.g. to log it. */
  onUnavailable?: (type: string, reason: string) => void;
}

/**
 * The types that can run on this host: "echo" always, "terraform" when a usable terraform binary is on PATH.
 * Never throws; the server uses it to choose its in-process provisioners.
 */
export async function availableProvisionerTypes(options: AvailabilityOptions = {}): Promise<string[]> {
  const { detectTerraform } = await import("./terraform/detect.js");
  const detection = await detectTerraform("terraform", options.env ?? process.env);
  if (detection.version !== undefined) return ["echo", "terraform"];
  options.onUnavailable?.("terraform", detection.reason ?? "terraform not found");
  return ["echo"];
}
