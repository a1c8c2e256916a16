// The coder provider's schema (registry.terraform.io/coder/coder 2.13.0) and what its resources and data
// sources compute. Attribute names, types, flags, defaults, ForceNew and the environment variables read are
// those of terraform-provider-coder v2.13.0 (provider/*.go); the behaviour is re-implemented here.
import { createHash, randomUUID } from "node:crypto";
import { isAbsolute } from "node:path";
import { scheduleOverlapError, validatePrebuildCron, validateScriptCron } from "./cron.js";
import { isObject, type Value, type ValueObject } from "./msgpack.js";
import { formTypes, optionTypes, type Parameter, validateInput } from "./parameter.js";
import {
  type Diag,
  errorDiag,
  type Fields,
  getBool,
  getNumber,
  getObjects,
  getString,
  isSet,
  type Validator,
  validators as v,
  warningDiag,
} from "./schema.js";

export interface ProviderContext {
  /** The provider process's environment (terraform passes its own on). */
  env: NodeJS.ProcessEnv;
  /** The provider's `url`, as configured (provider block, CODER_AGENT_URL, or the default). */
  url: URL;
  /** `url` as written, for `access_url` (Go prints a URL the way it was given; WHATWG adds a "/"). */
  rawUrl: string;
}

export interface ResourceType {
  version: number;
  description: string;
  fields: Fields;
  /** Fills in the computed values of a new object (`state` is the planned value). */
  create(ctx: ProviderContext, state: ValueObject): Diag[];
  /** Refresh: adjusts the stored object (default: unchanged). */
  read?(ctx: ProviderContext, state: ValueObject): Diag[];
  /** Extra plan-time checks of the planned object (the SDK's CustomizeDiff). */
  customizeDiff?(planned: ValueObject): Diag[];
}

export interface DataSourceType {
  version: number;
  description: string;
  fields: Fields;
  /** Sets the computed values of `state` (configuration with defaults); `config` is as written. */
  read(ctx: ProviderContext, state: ValueObject, config: ValueObject): Diag[];
}

/** The SDK's default `url`. */
export const defaultAccessUrl = "https://mydeployment.coder.com";

const sha256Hex = (text: string) => createHash("sha256").update(text).digest("hex");

/** A variable's value, or "" (the provider's helpers.OptionalEnv: unset and empty are the same). */
const optionalEnv = (ctx: ProviderContext, name: string) => ctx.env[name] ?? "";

/** Go's url.Parse fails rarely; reject what it rejects most often (control characters, bad escapes). */
const validateUrl: Validator = (value) => {
  const text = String(value);
  if (/[\u0000-\u001f\u007f]/.test(text)) return { errors: ["net/url: invalid control character in URL"] };
  const bad = /%(?![0-9a-fA-F]{2})/.exec(text);
  if (bad) return { errors: [`invalid URL escape ${JSON.stringify(text.slice(bad.index, bad.index + 3))}`] };
  return {};
};

// ---- coder_agent ---------------------------------------------------------------------------------------

const defaultDisplayApps: ValueObject = {
  vscode: true,
  vscode_insiders: false,
  web_terminal: true,
  ssh_helper: true,
  port_forwarding_helper: true,
};

/** The token of a claimed prebuild's running agent, else a new one (the provider looks up agent id ""). */
function agentAuthToken(ctx: ProviderContext): string {
  return optionalEnv(ctx, `CODER_RUNNING_WORKSPACE_AGENT_TOKEN_${sha256Hex("")}`) || randomUUID();
}

// The placeholders of Coder's agent scripts (built with "$" + … so they are not mistaken for templates).
const accessUrlPlaceholder = "$" + "{ACCESS_URL}";
const authTypePlaceholder = "$" + "{AUTH_TYPE}";

/** init_script: CODER_AGENT_SCRIPT_<os>_<arch> with ${ACCESS_URL} (the url's origin + "/") and ${AUTH_TYPE}. */
function updateInitScript(ctx: ProviderContext, state: ValueObject): void {
  const os = getString(state, "os");
  const arch = getString(state, "arch");
  let script = optionalEnv(ctx, `CODER_AGENT_SCRIPT_${os}_${arch}`);
  if (script !== "") {
    const accessUrl = new URL("/", ctx.url).toString();
    script = script
      .replaceAll(accessUrlPlaceholder, accessUrl)
      .replaceAll(authTypePlaceholder, getString(state, "auth"));
  }
  state.init_script = script;
}

function refreshAgent(ctx: ProviderContext, state: ValueObject): Diag[] {
  state.token = agentAuthToken(ctx);
  if (!isSet(state, "display_apps")) state.display_apps = [{ ...defaultDisplayApps }];
  updateInitScript(ctx, state);
  return [];
}

const validatePercent = v.intBetween(0, 100);

const agent: ResourceType = {
  version: 1,
  description: "Use this resource to associate an agent.",
  fields: {
    api_key_scope: {
      type: "string",
      optional: true,
      default: "all",
      forceNew: true,
      validate: v.stringInSlice(["all", "no_user_data"]),
    },
    init_script: { type: "string", computed: true },
    arch: {
      type: "string",
      required: true,
      forceNew: true,
      validate: v.stringInSlice(["amd64", "armv7", "arm64"]),
    },
    auth: {
      type: "string",
      optional: true,
      default: "token",
      forceNew: true,
      validate: v.stringInSlice([
        "token",
        "google-instance-identity",
        "aws-instance-identity",
        "azure-instance-identity",
      ]),
    },
    dir: { type: "string", optional: true, forceNew: true },
    env: { type: { map: "string" }, optional: true, forceNew: true },
    os: {
      type: "string",
      required: true,
      forceNew: true,
      validate: v.stringInSlice(["linux", "darwin", "windows"]),
    },
    startup_script: { type: "string", optional: true, forceNew: true },
    shutdown_script: { type: "string", optional: true, forceNew: true },
    token: { type: "string", computed: true, sensitive: true, forceNew: true },
    connection_timeout: {
      type: "int",
      optional: true,
      default: 120,
      forceNew: true,
      validate: v.intAtLeast(0),
    },
    troubleshooting_url: { type: "string", optional: true, forceNew: true },
    motd_file: { type: "string", optional: true, forceNew: true },
    startup_script_behavior: {
      type: "string",
      optional: true,
      default: "non-blocking",
      forceNew: true,
      validate: v.stringInSlice(["blocking", "non-blocking"]),
    },
    metadata: {
      nesting: "list",
      optional: true,
      forceNew: true,
      elem: {
        key: { type: "string", required: true, forceNew: true },
        display_name: { type: "string", optional: true, forceNew: true },
        script: { type: "string", required: true, forceNew: true },
        timeout: { type: "int", optional: true, forceNew: true },
        interval: { type: "int", required: true, forceNew: true },
        order: { type: "int", optional: true, forceNew: true },
      },
    },
    display_apps: {
      nesting: "set",
      optional: true,
      computed: true,
      forceNew: true,
      maxItems: 1,
      elem: {
        vscode: { type: "bool", optional: true, default: true, forceNew: true },
        vscode_insiders: { type: "bool", optional: true, default: false, forceNew: true },
        web_terminal: { type: "bool", optional: true, default: true, forceNew: true },
        port_forwarding_helper: { type: "bool", optional: true, default: true, forceNew: true },
        ssh_helper: { type: "bool", optional: true, default: true, forceNew: true },
      },
    },
    order: { type: "int", optional: true, forceNew: true },
    resources_monitoring: {
      nesting: "set",
      optional: true,
      forceNew: true,
      maxItems: 1,
      elem: {
        memory: {
          nesting: "set",
          optional: true,
          forceNew: true,
          maxItems: 1,
          elem: {
            enabled: { type: "bool", required: true, forceNew: true },
            threshold: { type: "int", required: true, forceNew: true, validate: validatePercent },
          },
        },
        volume: {
          nesting: "set",
          optional: true,
          forceNew: true,
          elem: {
            path: {
              type: "string",
              required: true,
              forceNew: true,
              validate: (value) =>
                value === ""
                  ? { errors: ["volume path must not be empty"] }
                  : isAbsolute(String(value))
                    ? {}
                    : { errors: ["volume path must be an absolute path"] },
            },
            enabled: { type: "bool", required: true, forceNew: true },
            threshold: { type: "int", required: true, forceNew: true, validate: validatePercent },
          },
        },
      },
    },
  },
  create(ctx, state) {
    state.id = randomUUID();
    return refreshAgent(ctx, state);
  },
  read: refreshAgent,
  customizeDiff(planned) {
    const keys = new Set<string>();
    for (const m of getObjects(planned, "metadata")) {
      const key = getString(m, "key");
      if (keys.has(key)) return [errorDiag(`duplicate agent metadata key ${JSON.stringify(key)}`)];
      keys.add(key);
    }
    const paths = new Set<string>();
    for (const monitoring of getObjects(planned, "resources_monitoring")) {
      for (const volume of getObjects(monitoring, "volume")) {
        const path = getString(volume, "path");
        if (paths.has(path)) return [errorDiag(`duplicate volume path ${JSON.stringify(path)}`)];
        paths.add(path);
      }
    }
    return [];
  },
};

// ---- the other resources -------------------------------------------------------------------------------

const newId = (state: ValueObject): Diag[] => {
  state.id = randomUUID();
  return [];
};

const agentId = { type: "string", required: true, forceNew: true } as const;

const agentInstance: ResourceType = {
  version: 0,
  description: "Use this resource to associate an instance ID with an agent for zero-trust authentication.",
  fields: {
    agent_id: agentId,
    instance_id: { type: "string", required: true, forceNew: true },
  },
  create: (_ctx, state) => newId(state),
};

const maxLength =
  (what: string, max: number): Validator =>
  (value) =>
    [...String(value)].length > max ? { errors: [`${what} is too long (max ${max} characters)`] } : {};

const app: ResourceType = {
  version: 1,
  description: "Use this resource to define shortcuts to access applications in a workspace.",
  fields: {
    agent_id: agentId,
    command: { type: "string", optional: true, forceNew: true, conflictsWith: ["url"] },
    icon: { type: "string", optional: true, forceNew: true, validate: validateUrl },
    slug: {
      type: "string",
      required: true,
      forceNew: true,
      validate: (value) =>
        /^[a-z0-9](-?[a-z0-9])*$/.test(String(value))
          ? {}
          : {
              errors: [
                `invalid "coder_app" slug, must be a valid hostname ("^[a-z0-9](-?[a-z0-9])*$", cannot contain two consecutive hyphens or start/end with a hyphen): ${JSON.stringify(value)}`,
              ],
            },
    },
    display_name: { type: "string", optional: true, forceNew: true, validate: maxLength("display name", 64) },
    subdomain: { type: "bool", optional: true, forceNew: true },
    share: {
      type: "string",
      optional: true,
      default: "owner",
      forceNew: true,
      validate: (value) =>
        ["owner", "authenticated", "public"].includes(String(value))
          ? {}
          : {
              errors: [
                `invalid app share ${JSON.stringify(value)}, must be one of "owner", "authenticated", "public"`,
              ],
            },
    },
    url: { type: "string", optional: true, forceNew: true, conflictsWith: ["command"] },
    external: {
      type: "bool",
      optional: true,
      default: false,
      forceNew: true,
      conflictsWith: ["healthcheck", "command", "subdomain", "share"],
    },
    healthcheck: {
      nesting: "set",
      optional: true,
      forceNew: true,
      maxItems: 1,
      conflictsWith: ["command"],
      elem: {
        url: { type: "string", required: true, forceNew: true },
        interval: { type: "int", required: true, forceNew: true },
        threshold: { type: "int", required: true, forceNew: true },
      },
    },
    group: { type: "string", optional: true, forceNew: true, validate: maxLength("group name", 64) },
    order: { type: "int", optional: true, forceNew: true },
    hidden: { type: "bool", optional: true, default: false, forceNew: true },
    open_in: {
      type: "string",
      optional: true,
      default: "slim-window",
      forceNew: true,
      validate: (value) =>
        value === "tab" || value === "slim-window"
          ? {}
          : {
              errors: [
                `invalid "coder_app" open_in value, must be one of "tab", "slim-window": ${JSON.stringify(value)}`,
              ],
            },
    },
    tooltip: { type: "string", optional: true, forceNew: true, validate: maxLength("tooltip", 2048) },
  },
  create(_ctx, state) {
    newId(state);
    const diags: Diag[] = [];
    if (getBool(state, "hidden")) {
      for (const name of ["display_name", "icon", "order"]) {
        const value = state[name];
        // GetOk: set and not the zero value.
        if (value !== null && value !== undefined && value !== "" && value !== 0) {
          diags.push(warningDiag(`\`${name}\` set when app is hidden`));
        }
      }
    }
    return diags;
  },
};

const script: ResourceType = {
  version: 1,
  description: "Use this resource to run a script from an agent.",
  fields: {
    agent_id: agentId,
    display_name: { type: "string", required: true, forceNew: true },
    log_path: { type: "string", optional: true, forceNew: true },
    icon: { type: "string", optional: true, forceNew: true },
    script: { type: "string", required: true, forceNew: true },
    cron: {
      type: "string",
      optional: true,
      forceNew: true,
      validate: (value) => validateScriptCron(String(value)),
    },
    start_blocks_login: { type: "bool", optional: true, default: false, forceNew: true },
    run_on_start: { type: "bool", optional: true, default: false, forceNew: true },
    run_on_stop: { type: "bool", optional: true, default: false, forceNew: true },
    timeout: { type: "int", optional: true, default: 0, forceNew: true, validate: v.intAtLeast(1) },
  },
  create(_ctx, state) {
    newId(state);
    const runOnStart = getBool(state, "run_on_start");
    if (!runOnStart && !getBool(state, "run_on_stop") && getString(state, "cron") === "") {
      return [errorDiag('at least one of "run_on_start", "run_on_stop", or "cron" must be set')];
    }
    if (!runOnStart && getBool(state, "start_blocks_login")) {
      return [errorDiag('"start_blocks_login" can only be set if "run_on_start" is "true"')];
    }
    return [];
  },
};

const env: ResourceType = {
  version: 1,
  description: "Use this resource to set an environment variable in a workspace.",
  fields: {
    agent_id: agentId,
    name: {
      type: "string",
      required: true,
      forceNew: true,
      validate: v.stringMatch(/^[a-zA-Z_][a-zA-Z0-9_]*$/, "must be a valid environment variable name"),
    },
    value: { type: "string", optional: true, forceNew: true },
  },
  create: (_ctx, state) => newId(state),
};

const metadata: ResourceType = {
  version: 1,
  description: "Use this resource to attach metadata to a resource.",
  fields: {
    resource_id: { type: "string", required: true, forceNew: true },
    hide: { type: "bool", optional: true, forceNew: true },
    icon: { type: "string", optional: true, forceNew: true, validate: validateUrl },
    daily_cost: { type: "int", optional: true, forceNew: true },
    item: {
      nesting: "list",
      optional: true,
      forceNew: true,
      elem: {
        key: { type: "string", required: true, forceNew: true },
        value: { type: "string", optional: true, forceNew: true },
        sensitive: { type: "bool", optional: true, default: false, forceNew: true },
        is_null: { type: "bool", computed: true, forceNew: true },
      },
    },
  },
  create(_ctx, state) {
    newId(state);
    // The provider's populateIsNull: a null value is stored as "" with is_null = true.
    state.item = getObjects(state, "item").map((item) => ({
      key: getString(item, "key"),
      value: getString(item, "value"),
      sensitive: item.sensitive === null ? null : getBool(item, "sensitive"),
      is_null: item.value === null,
    }));
    return [];
  },
  customizeDiff(planned) {
    const keys = new Set<string>();
    for (const item of getObjects(planned, "item")) {
      const key = getString(item, "key");
      if (keys.has(key)) return [errorDiag(`duplicate resource metadata key ${JSON.stringify(key)}`)];
      keys.add(key);
    }
    return [];
  },
};

const devcontainer: ResourceType = {
  version: 1,
  description: "Define a Dev Container the agent should know of and attempt to autostart.",
  fields: {
    agent_id: agentId,
    workspace_folder: { type: "string", required: true, forceNew: true, validate: v.stringIsNotEmpty },
    config_path: { type: "string", optional: true, forceNew: true },
  },
  create: (_ctx, state) => newId(state),
};

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const nilUuid = "00000000-0000-0000-0000-000000000000";

const aiTask: ResourceType = {
  version: 1,
  description: "Use this resource to define Coder tasks.",
  fields: {
    id: { type: "string", computed: true },
    sidebar_app: {
      nesting: "set",
      optional: true,
      forceNew: true,
      maxItems: 1,
      deprecated: "This field has been deprecated in favor of the `app_id` field.",
      conflictsWith: ["app_id"],
      elem: { id: { type: "string", required: true, forceNew: true, validate: v.isUUID } },
    },
    prompt: { type: "string", computed: true },
    app_id: {
      type: "string",
      optional: true,
      computed: true,
      forceNew: true,
      validate: v.isUUID,
      conflictsWith: ["sidebar_app"],
    },
    enabled: { type: "bool", computed: true },
  },
  create(ctx, state) {
    const taskId = optionalEnv(ctx, "CODER_TASK_ID");
    const isTask = uuidPattern.test(taskId) && taskId !== nilUuid;
    state.id = isTask ? taskId.toLowerCase() : randomUUID();
    state.enabled = isTask;
    const prompt = optionalEnv(ctx, "CODER_TASK_PROMPT");
    if (prompt !== "") state.prompt = prompt;
    let appId = typeof state.app_id === "string" ? state.app_id : "";
    const sidebar = getObjects(state, "sidebar_app")[0];
    if (appId === "" && sidebar && getString(sidebar, "id") !== "") {
      appId = getString(sidebar, "id");
      state.app_id = appId;
    }
    if (appId === "") return [errorDiag("'app_id' must be set")];
    return [];
  },
};

const externalAgent: ResourceType = {
  version: 1,
  description: "Define an external agent to be used in a workspace.",
  fields: { agent_id: agentId },
  create: (_ctx, state) => newId(state),
};

export const resources: Record<string, ResourceType> = {
  coder_agent: agent,
  coder_agent_instance: agentInstance,
  coder_ai_task: aiTask,
  coder_app: app,
  coder_metadata: metadata,
  coder_script: script,
  coder_env: env,
  coder_devcontainer: devcontainer,
  coder_external_agent: externalAgent,
};

// ---- data sources --------------------------------------------------------------------------------------

const workspace: DataSourceType = {
  version: 1,
  description: "Use this data source to get information for the active workspace build.",
  fields: {
    access_url: { type: "string", computed: true },
    access_port: { type: "int", computed: true },
    prebuild_count: { type: "int", computed: true },
    start_count: { type: "int", computed: true },
    transition: { type: "string", computed: true },
    id: { type: "string", computed: true },
    is_prebuild: { type: "bool", computed: true },
    is_prebuild_claim: { type: "bool", computed: true },
    name: { type: "string", computed: true },
    template_id: { type: "string", computed: true },
    template_name: { type: "string", computed: true },
    template_version: { type: "string", computed: true },
  },
  read(ctx, state) {
    const transition = optionalEnv(ctx, "CODER_WORKSPACE_TRANSITION") || "start";
    state.transition = transition;
    state.start_count = transition === "start" ? 1 : 0;
    const isPrebuild = optionalEnv(ctx, "CODER_WORKSPACE_IS_PREBUILD").toLowerCase() === "true";
    const isClaim = optionalEnv(ctx, "CODER_WORKSPACE_IS_PREBUILD_CLAIM").toLowerCase() === "true";
    // A claim only follows a prebuild, so it wins if both are set.
    state.is_prebuild = isPrebuild && !isClaim;
    state.prebuild_count = isPrebuild && !isClaim ? 1 : 0;
    state.is_prebuild_claim = isClaim;
    state.name = optionalEnv(ctx, "CODER_WORKSPACE_NAME") || "default";
    state.id = optionalEnv(ctx, "CODER_WORKSPACE_ID") || randomUUID();
    // Required only during a real build (CODER_WORKSPACE_BUILD_ID set); elsewhere they may be empty.
    const building = optionalEnv(ctx, "CODER_WORKSPACE_BUILD_ID") !== "";
    for (const [attr, name, what] of [
      ["template_id", "CODER_WORKSPACE_TEMPLATE_ID", "template ID"],
      ["template_name", "CODER_WORKSPACE_TEMPLATE_NAME", "template name"],
      ["template_version", "CODER_WORKSPACE_TEMPLATE_VERSION", "template version"],
    ] as const) {
      const value = optionalEnv(ctx, name);
      if (building && value === "") return [errorDiag(`${what} is missing: ${name} is required`)];
      state[attr] = value;
    }
    state.access_url = ctx.rawUrl;
    const port = ctx.url.port || (ctx.url.protocol === "https:" ? "443" : "80");
    state.access_port = Number(port);
    return [];
  },
};

const workspaceOwner: DataSourceType = {
  version: 0,
  description: "Use this data source to fetch information about the workspace owner.",
  fields: {
    id: { type: "string", computed: true },
    name: { type: "string", computed: true },
    full_name: { type: "string", computed: true },
    email: { type: "string", computed: true },
    ssh_public_key: { type: "string", computed: true },
    ssh_private_key: { type: "string", computed: true, sensitive: true },
    groups: { type: { list: "string" }, computed: true },
    session_token: { type: "string", computed: true, sensitive: true },
    oidc_access_token: { type: "string", computed: true, sensitive: true },
    login_type: { type: "string", computed: true },
    rbac_roles: {
      nesting: "list",
      computed: true,
      elem: { name: { type: "string", computed: true }, org_id: { type: "string", computed: true } },
    },
  },
  read(ctx, state) {
    state.id = optionalEnv(ctx, "CODER_WORKSPACE_OWNER_ID") || randomUUID();
    state.name = optionalEnv(ctx, "CODER_WORKSPACE_OWNER") || "default";
    state.full_name = optionalEnv(ctx, "CODER_WORKSPACE_OWNER_NAME") || "default";
    state.email = optionalEnv(ctx, "CODER_WORKSPACE_OWNER_EMAIL") || "default@example.com";
    state.ssh_public_key = optionalEnv(ctx, "CODER_WORKSPACE_OWNER_SSH_PUBLIC_KEY");
    state.ssh_private_key = optionalEnv(ctx, "CODER_WORKSPACE_OWNER_SSH_PRIVATE_KEY");
    const groups = ctx.env.CODER_WORKSPACE_OWNER_GROUPS;
    if (groups !== undefined) {
      const parsed = parseJson(groups);
      if (!(parsed === null || (Array.isArray(parsed) && parsed.every((g) => typeof g === "string")))) {
        return [errorDiag("invalid user groups: json: cannot unmarshal into []string")];
      }
      // A nil slice (unset or JSON null) is stored as an empty list by the SDK.
      state.groups = (parsed as string[] | null) ?? [];
    } else {
      state.groups = [];
    }
    state.session_token = optionalEnv(ctx, "CODER_WORKSPACE_OWNER_SESSION_TOKEN");
    state.oidc_access_token = optionalEnv(ctx, "CODER_WORKSPACE_OWNER_OIDC_ACCESS_TOKEN");
    const loginType = optionalEnv(ctx, "CODER_WORKSPACE_OWNER_LOGIN_TYPE");
    if (loginType !== "") state.login_type = loginType;
    const roles = ctx.env.CODER_WORKSPACE_OWNER_RBAC_ROLES;
    const parsedRoles = roles === undefined ? null : parseJson(roles);
    if (
      roles !== undefined &&
      !(
        parsedRoles === null ||
        (Array.isArray(parsedRoles) && parsedRoles.every((r) => isObject(r as Value)))
      )
    ) {
      return [errorDiag("invalid user rbac roles: json: cannot unmarshal into []map[string]string")];
    }
    state.rbac_roles = ((parsedRoles as ValueObject[] | null) ?? []).map((r) => ({
      name: typeof r.name === "string" ? r.name : "",
      org_id: typeof r.org_id === "string" ? r.org_id : "",
    }));
    return [];
  },
};

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return Symbol.for("invalid");
  }
}

const parameter: DataSourceType = {
  version: 1,
  description: "Use this data source to configure editable options for workspaces.",
  fields: {
    value: { type: "string", computed: true },
    name: { type: "string", required: true },
    display_name: { type: "string", optional: true },
    description: { type: "string", optional: true },
    type: { type: "string", optional: true, default: "string", validate: v.stringInSlice(optionTypes) },
    form_type: { type: "string", optional: true, default: "", validate: v.stringInSlice(formTypes) },
    styling: { type: "string", optional: true, default: "{}" },
    mutable: { type: "bool", optional: true, default: false },
    default: { type: "string", optional: true },
    icon: { type: "string", optional: true, forceNew: true, validate: validateUrl },
    option: {
      nesting: "list",
      optional: true,
      forceNew: true,
      elem: {
        name: { type: "string", required: true, forceNew: true },
        description: { type: "string", optional: true, forceNew: true },
        value: { type: "string", required: true, forceNew: true },
        icon: { type: "string", optional: true, forceNew: true, validate: validateUrl },
      },
    },
    validation: {
      nesting: "list",
      optional: true,
      maxItems: 1,
      elem: {
        min: { type: "int", optional: true },
        min_disabled: { type: "bool", computed: true },
        max: { type: "int", optional: true },
        max_disabled: { type: "bool", computed: true },
        monotonic: { type: "string", optional: true },
        regex: {
          type: "string",
          optional: true,
          conflictsWith: ["validation.0.min", "validation.0.max", "validation.0.monotonic"],
        },
        error: { type: "string", optional: true },
      },
    },
    optional: { type: "bool", computed: true },
    order: { type: "int", optional: true },
    ephemeral: { type: "bool", optional: true, default: false },
  },
  read(ctx, state, config) {
    state.id = randomUUID();
    // min_disabled / max_disabled say whether min / max were written at all.
    const configValidation = getObjects(config, "validation")[0];
    const validation = getObjects(state, "validation").map((rule) => ({
      ...rule,
      min_disabled: configValidation ? configValidation.min === null : rule.min === null,
      max_disabled: configValidation ? configValidation.max === null : rule.max === null,
    }));
    state.validation = validation;
    const hasDefault = config.default !== null && config.default !== undefined;
    state.optional = hasDefault;
    const p: Parameter = {
      name: getString(state, "name"),
      type: getString(state, "type"),
      formType: getString(state, "form_type"),
      mutable: getBool(state, "mutable"),
      default: hasDefault ? getString(state, "default") : undefined,
      options: getObjects(state, "option").map((o) => ({
        name: getString(o, "name"),
        description: getString(o, "description"),
        value: getString(o, "value"),
        icon: getString(o, "icon"),
      })),
      validation: validation.map((rule) => ({
        min: getNumber(rule, "min"),
        minDisabled: rule.min_disabled,
        max: getNumber(rule, "max"),
        maxDisabled: rule.max_disabled,
        monotonic: getString(rule, "monotonic"),
        regex: getString(rule, "regex"),
        error: getString(rule, "error"),
      })),
      optional: hasDefault,
      ephemeral: getBool(state, "ephemeral"),
    };
    if (!p.mutable && p.ephemeral) return [errorDiag("parameter can't be immutable and ephemeral")];
    if (!p.optional && p.ephemeral) return [errorDiag("ephemeral parameter requires the default property")];
    const hash = sha256Hex(p.name);
    const result = validateInput(
      p,
      ctx.env[`CODER_PARAMETER_${hash}`],
      ctx.env[`CODER_PARAMETER_PREVIOUS_${hash}`],
    );
    if (result.diags.some((d) => d.severity === "error")) return result.diags;
    state.value = result.value;
    state.form_type = result.formType;
    return result.diags;
  },
};

const validateTtl: Validator = (value, key) => {
  const n = Number(value);
  if (n === 0 || (n >= 3600 && n <= 31536000)) return {};
  return { errors: [`${JSON.stringify(key)} must be 0 or between 3600 and 31536000, got ${n}`] };
};

/** Go's time.LoadLocation: "", "UTC" and "Local" are special; anything else must be an IANA zone. */
const validateTimezone: Validator = (value) => {
  const zone = String(value);
  if (zone === "" || zone === "UTC" || zone === "Local") return {};
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return {};
  } catch {
    return { errors: [`failed to load timezone ${JSON.stringify(zone)}: unknown time zone ${zone}`] };
  }
};

const workspacePreset: DataSourceType = {
  version: 1,
  description: "Use this data source to predefine common configurations for coder workspaces.",
  fields: {
    id: { type: "string", computed: true },
    name: { type: "string", required: true, validate: v.stringIsNotEmpty },
    description: { type: "string", optional: true, validate: v.stringLenBetween(0, 128) },
    icon: {
      type: "string",
      optional: true,
      forceNew: true,
      validate: v.all(validateUrl, v.stringLenBetween(0, 256)),
    },
    default: { type: "bool", optional: true, default: false },
    parameters: { type: { map: "string" }, optional: true },
    prebuilds: {
      nesting: "set",
      optional: true,
      maxItems: 1,
      elem: {
        instances: { type: "int", required: true, forceNew: true, validate: v.intAtLeast(0) },
        expiration_policy: {
          nesting: "set",
          optional: true,
          maxItems: 1,
          elem: { ttl: { type: "int", required: true, forceNew: true, validate: validateTtl } },
        },
        scheduling: {
          nesting: "list",
          optional: true,
          maxItems: 1,
          elem: {
            timezone: { type: "string", required: true, validate: validateTimezone },
            schedule: {
              nesting: "list",
              required: true,
              minItems: 1,
              elem: {
                cron: {
                  type: "string",
                  required: true,
                  validate: (value) => {
                    const problem = validatePrebuildCron(String(value));
                    return problem ? { errors: [problem] } : {};
                  },
                },
                instances: { type: "int", required: true },
              },
            },
          },
        },
      },
    },
  },
  read(_ctx, state) {
    const crons: string[] = [];
    for (const prebuild of getObjects(state, "prebuilds").slice(0, 1)) {
      for (const scheduling of getObjects(prebuild, "scheduling").slice(0, 1)) {
        for (const schedule of getObjects(scheduling, "schedule")) crons.push(getString(schedule, "cron"));
      }
    }
    const overlap = scheduleOverlapError(crons);
    if (overlap) return [errorDiag(`schedules overlap with each other: ${overlap}`)];
    state.id = getString(state, "name");
    return [];
  },
};

const workspaceTags: DataSourceType = {
  version: 1,
  description: "Use this data source to configure workspace tags to select provisioners.",
  fields: { tags: { type: { map: "string" }, optional: true, forceNew: true } },
  read(_ctx, state) {
    state.id = randomUUID();
    return [];
  },
};

const goOs: Record<string, string> = { win32: "windows" };
const goArch: Record<string, string> = { x64: "amd64", ia32: "386", arm: "armv7" };

const provisioner: DataSourceType = {
  version: 1,
  description: "Use this data source to get information about the Coder provisioner.",
  fields: { os: { type: "string", computed: true }, arch: { type: "string", computed: true } },
  read(_ctx, state) {
    state.id = randomUUID();
    state.os = goOs[process.platform] ?? process.platform;
    state.arch = goArch[process.arch] ?? process.arch;
    return [];
  },
};

const externalAuth: DataSourceType = {
  version: 1,
  description: "Use this data source to require users to authenticate with an external service.",
  fields: {
    id: { type: "string", required: true },
    access_token: { type: "string", computed: true, sensitive: true },
    optional: { type: "bool", optional: true },
  },
  read(ctx, state) {
    const id = getString(state, "id");
    if (id === "") return [errorDiag("id is required")];
    state.access_token = optionalEnv(ctx, `CODER_EXTERNAL_AUTH_ACCESS_TOKEN_${id}`);
    return [];
  },
};

const task: DataSourceType = {
  version: 0,
  description: "Use this data source to read information about Coder Tasks.",
  fields: {
    id: { type: "string", computed: true },
    prompt: { type: "string", computed: true },
    enabled: { type: "bool", computed: true },
  },
  read(ctx, state) {
    const taskId = optionalEnv(ctx, "CODER_TASK_ID");
    if (taskId === "" || taskId === nilUuid) {
      state.id = randomUUID();
      state.enabled = false;
    } else if (uuidPattern.test(taskId)) {
      state.id = taskId;
      state.enabled = true;
    } else {
      return [errorDiag(`invalid UUID length: ${taskId.length}`)];
    }
    state.prompt = optionalEnv(ctx, "CODER_TASK_PROMPT");
    return [];
  },
};

export const dataSources: Record<string, DataSourceType> = {
  coder_workspace: workspace,
  coder_workspace_tags: workspaceTags,
  coder_provisioner: provisioner,
  coder_parameter: parameter,
  coder_external_auth: externalAuth,
  coder_workspace_owner: workspaceOwner,
  coder_workspace_preset: workspacePreset,
  coder_task: task,
};

/** The provider block's schema. */
export const providerFields: Fields = {
  url: { type: "string", optional: true, description: "The URL to access Coder.", validate: validateUrl },
};
