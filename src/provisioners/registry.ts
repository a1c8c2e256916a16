// Provisioner types known to `prewarm provisioner serve --type …` (and daemons). Imports are lazy so a
// type's dependencies load only when it is used. Add a type with one line.
import type { Provisioner } from "../provisionersdk/types.js";

export const provisionerTypes: Record<string, () => Promise<Provisioner>> = {
  echo: async () => (await import("./echo/provisioner.js")).echoProvisioner,
  terraform: async () => (await import("./terraform/index.js")).terraformProvisioner,
};

export class UnknownProvisionerTypeError extends Error {
  constructor(readonly type: string) {
    super(
      `unknown provisioner type ${JSON.stringify(type)} (known: ${Object.keys(provisionerTypes).join(", ")})`,
    );
    this.name = "UnknownProvisionerTypeError";
  }
}

/** The provisioner of `type`; throws UnknownProvisionerTypeError. */
export async function loadProvisioner(type: string): Promise<Provisioner> {
  const load = Object.hasOwn(provisionerTypes, type) ? provisionerTypes[type] : undefined;
  if (!load) throw new UnknownProvisionerTypeError(type);
  return load();
}
