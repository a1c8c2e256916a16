// The terraform provisioner: runs the real terraform CLI in the session directory (see
// docs/terraform-provisioner.md). `terraformProvisioner` uses the defaults: `terraform` from PATH, a 3-minute
// exit timeout, no plugin cache.
import type { Provisioner } from "../../provisionersdk/types.js";
import { createTerraformProvisioner } from "./provisioner.js";

export { detectTerraform, type TerraformDetection } from "./detect.js";
export {
  createTerraformProvisioner,
  defaultExitTimeoutMs,
  type TerraformProvisionerOptions,
} from "./provisioner.js";

export const terraformProvisioner: Provisioner = createTerraformProvisioner();
