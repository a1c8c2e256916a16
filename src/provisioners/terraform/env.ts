// The environment terraform runs with: an allow-list, never the daemon's own environment. Pure functions;
// the provisioner passes in the daemon's PATH/HOME and the operator's TF_* settings.
//
// Names follow what the `coder` Terraform provider reads (checked against terraform-provider-coder):
// CODER_PARAMETER_<sha256 hex of name>, CODER_PARAMETER_PREVIOUS_<…>, CODER_WORKSPACE_IS_PREBUILD,
// CODER_WORKSPACE_IS_PREBUILD_CLAIM and CODER_RUNNING_WORKSPACE_AGENT_TOKEN_<sha256 hex of agent id> — the
// provider currently looks the token up with an empty agent id, so a single token goes under sha256("").
import { createHash } from "node:crypto";
import {
  type ExternalAuthProvider,
  type Metadata,
  PrebuiltWorkspaceBuildStage,
  type RichParameterValue,
  WorkspaceTransition,
} from "../../gen/provisioner/provisioner_pb.js";

export type Env = Record<string, string>;

/** TF_* settings whose values are shown when logged; every other TF_* value is redacted. */
const visibleTfSettings = new Set([
  "TF_LOG",
  "TF_LOG_PATH",
  "TF_INPUT",
  "TF_DATA_DIR",
  "TF_WORKSPACE",
  "TF_IN_AUTOMATION",
  "TF_REGISTRY_DISCOVERY_RETRY",
  "TF_REGISTRY_CLIENT_TIMEOUT",
  "TF_CLI_CONFIG_FILE",
  "TF_IGNORE",
  "TF_PLUGIN_CACHE_DIR",
  "TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE",
]);

export class TerraformEnvError extends Error {
  override name = "TerraformEnvError";
}

function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** The variable the provider reads a rich parameter's value from. */
export function parameterEnvName(name: string): string {
  return `CODER_PARAMETER_${sha256Hex(name)}`;
}

/** The variable the provider reads a rich parameter's previous value from (monotonic validation). */
export function previousParameterEnvName(name: string): string {
  return `CODER_PARAMETER_PREVIOUS_${sha256Hex(name)}`;
}

/** The variable the provider reads a running agent's token from when a prebuild is claimed. */
export function runningAgentTokenEnvName(agentId: string): string {
  return `CODER_RUNNING_WORKSPACE_AGENT_TOKEN_${sha256Hex(agentId)}`;
}

const transitionNames: Record<WorkspaceTransition, string> = {
  [WorkspaceTransition.START]: "start",
  [WorkspaceTransition.STOP]: "stop",
  [WorkspaceTransition.DESTROY]: "destroy",
};

/**
 * Checks operator-configured settings: only TF_* names are accepted, so a misconfiguration cannot smuggle
 * other variables (or the daemon's secrets) into terraform's environment.
 */
export function validateOperatorEnv(env: Env): Env {
  for (const name of Object.keys(env)) {
    if (!name.startsWith("TF_")) {
      throw new TerraformEnvError(`terraform environment: only TF_* settings may be configured, got ${name}`);
    }
  }
  return { ...env };
}

/** A configurable name: TF_ and then what terraform uses in its settings (TF_VAR_<name> may contain "-"). */
const operatorEnvName = /^TF_[A-Za-z0-9_-]+$/;

/**
 * Parses repeated `NAME=VALUE` settings (the CLI's `--tf-env`); a later NAME wins. Error messages name the
 * setting by its name only: a value may be a token, so it is never echoed.
 */
export function parseOperatorEnvEntries(entries: readonly string[]): Env {
  const env: Env = {};
  for (const entry of entries) {
    const eq = entry.indexOf("=");
    if (eq < 0) {
      // Without "=" the whole entry may be a value typed in the wrong place: do not echo it.
      throw new TerraformEnvError('terraform environment: expected NAME=VALUE, got an entry without "="');
    }
    const name = entry.slice(0, eq);
    if (!name.startsWith("TF_")) {
      throw new TerraformEnvError(
        `terraform environment: only TF_* settings may be configured, got ${JSON.stringify(name)}`,
      );
    }
    if (!operatorEnvName.test(name)) {
      throw new TerraformEnvError(
        `terraform environment: ${JSON.stringify(name)} is not a valid name (TF_ then letters, digits, "_" or "-")`,
      );
    }
    env[name] = entry.slice(eq + 1);
  }
  return env;
}

export interface BaseEnvInput {
  /** The daemon's environment: only PATH, HOME and TF_* are taken from it. */
  processEnv: NodeJS.ProcessEnv;
  /** Operator-configured TF_* settings (win over the daemon's TF_* variables). */
  operatorEnv: Env;
  /** Shared provider plugin cache, when configured. */
  pluginCacheDir?: string | undefined;
}

/** What every terraform command gets: PATH, HOME, TF_* settings and the plugin cache. */
export function baseEnv(input: BaseEnvInput): Env {
  const env: Env = {};
  for (const name of ["PATH", "HOME"]) {
    const value = input.processEnv[name];
    if (value !== undefined) env[name] = value;
  }
  for (const [name, value] of Object.entries(input.processEnv)) {
    if (name.startsWith("TF_") && value !== undefined) env[name] = value;
  }
  Object.assign(env, input.operatorEnv);
  if (input.pluginCacheDir) {
    env.TF_PLUGIN_CACHE_DIR = input.pluginCacheDir;
    // Session directories are throw-away, so a lock file recorded from the cache (with only this platform's
    // checksums) is never committed anywhere; without this, terraform ≥ 1.4 skips the cache for templates
    // that ship no .terraform.lock.hcl.
    env.TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE ??= "true";
  }
  return env;
}

export interface CoderEnvInput {
  metadata?: Metadata | undefined;
  richParameterValues?: readonly Pick<RichParameterValue, "name" | "value">[];
  previousParameterValues?: readonly Pick<RichParameterValue, "name" | "value">[];
  externalAuthProviders?: readonly Pick<ExternalAuthProvider, "id" | "accessToken">[];
  /** `CODER_AGENT_SCRIPT_<os>_<arch>` bootstrap scripts, when configured. */
  agentScriptEnv?: Env;
}

/** The CODER_* variables for `plan` and `apply`, from the request. */
export function coderEnv(input: CoderEnvInput): Env {
  const m = input.metadata;
  const env: Env = {};
  if (m) {
    Object.assign(env, {
      CODER_AGENT_URL: m.coderUrl,
      CODER_WORKSPACE_TRANSITION: transitionNames[m.workspaceTransition] ?? "start",
      CODER_WORKSPACE_NAME: m.workspaceName,
      CODER_WORKSPACE_ID: m.workspaceId,
      CODER_WORKSPACE_OWNER: m.workspaceOwner,
      CODER_WORKSPACE_OWNER_ID: m.workspaceOwnerId,
      CODER_WORKSPACE_OWNER_EMAIL: m.workspaceOwnerEmail,
      CODER_WORKSPACE_OWNER_NAME: m.workspaceOwnerName,
      CODER_WORKSPACE_OWNER_GROUPS: JSON.stringify(m.workspaceOwnerGroups),
      CODER_WORKSPACE_OWNER_OIDC_ACCESS_TOKEN: m.workspaceOwnerOidcAccessToken,
      CODER_WORKSPACE_OWNER_SESSION_TOKEN: m.workspaceOwnerSessionToken,
      CODER_WORKSPACE_OWNER_SSH_PUBLIC_KEY: m.workspaceOwnerSshPublicKey,
      CODER_WORKSPACE_OWNER_SSH_PRIVATE_KEY: m.workspaceOwnerSshPrivateKey,
      CODER_WORKSPACE_OWNER_LOGIN_TYPE: m.workspaceOwnerLoginType,
      // Go-JSON of the proto structs: empty fields are omitted.
      CODER_WORKSPACE_OWNER_RBAC_ROLES: JSON.stringify(
        m.workspaceOwnerRbacRoles.map((r) => ({
          ...(r.name ? { name: r.name } : {}),
          ...(r.orgId ? { org_id: r.orgId } : {}),
        })),
      ),
      CODER_WORKSPACE_TEMPLATE_ID: m.templateId,
      CODER_WORKSPACE_TEMPLATE_NAME: m.templateName,
      CODER_WORKSPACE_TEMPLATE_VERSION: m.templateVersion,
      CODER_WORKSPACE_BUILD_ID: m.workspaceBuildId,
    });
    if (m.prebuiltWorkspaceBuildStage === PrebuiltWorkspaceBuildStage.CREATE) {
      env.CODER_WORKSPACE_IS_PREBUILD = "true";
    }
    if (m.prebuiltWorkspaceBuildStage === PrebuiltWorkspaceBuildStage.CLAIM) {
      env.CODER_WORKSPACE_IS_PREBUILD_CLAIM = "true";
    }
    const tokens = m.runningAgentAuthTokens;
    if (tokens.length === 1 && tokens[0]) {
      env[runningAgentTokenEnvName("")] = tokens[0].token;
    } else {
      for (const t of tokens) env[runningAgentTokenEnvName(t.agentId)] = t.token;
    }
  }
  Object.assign(env, input.agentScriptEnv ?? {});
  for (const p of input.previousParameterValues ?? []) env[previousParameterEnvName(p.name)] = p.value;
  for (const p of input.richParameterValues ?? []) env[parameterEnvName(p.name)] = p.value;
  for (const p of input.externalAuthProviders ?? []) {
    env[`CODER_GIT_AUTH_ACCESS_TOKEN_${p.id}`] = p.accessToken; // legacy name, still read by old providers
    env[`CODER_EXTERNAL_AUTH_ACCESS_TOKEN_${p.id}`] = p.accessToken;
  }
  return env;
}

/** One log line per TF_* setting, values redacted unless known to be harmless. */
export function describeTfSettings(env: Env): string[] {
  return Object.keys(env)
    .filter((name) => name.startsWith("TF_"))
    .sort()
    .map((name) => {
      const value = visibleTfSettings.has(name) ? env[name] : "<value redacted>";
      return `terraform environment variable: ${name}=${value}`;
    });
}
