// `coder_agent` resources → Agent messages, and the coder_* resources that attach to agents
// (coder_app, coder_env, coder_script, coder_devcontainer). Pure: values in, messages out.
import { create } from "@bufbuild/protobuf";
import {
  type Agent,
  Agent_MetadataSchema,
  AgentSchema,
  type App,
  AppOpenIn,
  AppSchema,
  AppSharingLevel,
  DevcontainerSchema,
  type DisplayApps,
  DisplayAppsSchema,
  EnvSchema,
  HealthcheckSchema,
  MemoryResourceMonitorSchema,
  type ResourcesMonitoring,
  ResourcesMonitoringSchema,
  type Script,
  ScriptSchema,
  VolumeResourceMonitorSchema,
} from "../../gen/provisioner/provisioner_pb.js";
import { ConversionError } from "./convert-error.js";
import {
  blocks,
  bool,
  firstBlock,
  int32,
  int64,
  str,
  stringMap,
  type TerraformResource,
  type Values,
  valuesOf,
} from "./tfjson.js";

/** Agent names and app slugs: lowercase letters, digits and single hyphens between them. */
export const NAME_PATTERN = "^[a-z0-9](-?[a-z0-9])*$";
const agentNameRegex = new RegExp(NAME_PATTERN, "i");
const appSlugRegex = new RegExp(NAME_PATTERN);

/** Checks an agent's (resource) name; throws the rule's message. */
export function validateAgentName(name: string): void {
  if (name === "") throw new ConversionError("agent name cannot be empty");
  if (agentNameRegex.test(name)) return;
  const regex = JSON.stringify(`(?i)${NAME_PATTERN}`);
  if (name.includes("_")) {
    throw new ConversionError(
      `agent name ${JSON.stringify(name)} contains underscores which are no longer supported, please use hyphens instead (regex: ${regex})`,
    );
  }
  throw new ConversionError(`agent name ${JSON.stringify(name)} does not match regex ${regex}`);
}

/** What `display_apps` means when the block is absent (unknown at plan time, or an old provider). */
function defaultDisplayApps(): DisplayApps {
  return create(DisplayAppsSchema, {
    vscode: true,
    vscodeInsiders: false,
    webTerminal: true,
    sshHelper: true,
    portForwardingHelper: true,
  });
}

function displayApps(values: Values): DisplayApps {
  const block = firstBlock(values, "display_apps");
  if (!block) return defaultDisplayApps();
  return create(DisplayAppsSchema, {
    vscode: bool(block, "vscode"),
    vscodeInsiders: bool(block, "vscode_insiders"),
    webTerminal: bool(block, "web_terminal"),
    sshHelper: bool(block, "ssh_helper"),
    portForwardingHelper: bool(block, "port_forwarding_helper"),
  });
}

function resourcesMonitoring(values: Values): ResourcesMonitoring {
  const monitoring = create(ResourcesMonitoringSchema, { volumes: [] });
  for (const block of blocks(values, "resources_monitoring")) {
    // Several memory blocks cannot be expressed by the provider; if they appear, the last one wins.
    for (const memory of blocks(block, "memory")) {
      monitoring.memory = create(MemoryResourceMonitorSchema, {
        enabled: bool(memory, "enabled"),
        threshold: int32(memory, "threshold"),
      });
    }
    for (const volume of blocks(block, "volume")) {
      monitoring.volumes.push(
        create(VolumeResourceMonitorSchema, {
          path: str(volume, "path"),
          enabled: bool(volume, "enabled"),
          threshold: int32(volume, "threshold"),
        }),
      );
    }
  }
  return monitoring;
}

/** `startup_script` / `shutdown_script` on the agent itself (before coder_script existed) become scripts. */
function legacyScripts(values: Values): Script[] {
  const scripts: Script[] = [];
  const startup = str(values, "startup_script");
  if (startup !== "") {
    let behavior = str(values, "startup_script_behavior") || "non-blocking";
    if ("login_before_ready" in values && values.login_before_ready === false) behavior = "blocking";
    scripts.push(
      create(ScriptSchema, {
        displayName: "Startup Script",
        icon: "/emojis/25b6-fe0f.png",
        script: startup,
        logPath: "coder-startup-script.log",
        runOnStart: true,
        startBlocksLogin: behavior === "blocking",
      }),
    );
  }
  const shutdown = str(values, "shutdown_script");
  if (shutdown !== "") {
    scripts.push(
      create(ScriptSchema, {
        displayName: "Shutdown Script",
        icon: "/emojis/25c0.png",
        script: shutdown,
        logPath: "coder-shutdown-script.log",
        runOnStop: true,
      }),
    );
  }
  return scripts;
}

/** Converts one coder_agent resource (its name already validated). */
export function convertAgent(resource: TerraformResource): Agent {
  const values = valuesOf(resource);
  const agent = create(AgentSchema, {
    id: str(values, "id"),
    name: resource.name,
    env: stringMap(values, "env"),
    operatingSystem: str(values, "os"),
    architecture: str(values, "arch"),
    directory: str(values, "dir"),
    connectionTimeoutSeconds: int32(values, "connection_timeout"),
    troubleshootingUrl: str(values, "troubleshooting_url"),
    motdFile: str(values, "motd_file"),
    metadata: blocks(values, "metadata").map((m) =>
      create(Agent_MetadataSchema, {
        key: str(m, "key"),
        displayName: str(m, "display_name"),
        script: str(m, "script"),
        interval: int64(m, "interval"),
        timeout: int64(m, "timeout"),
        order: int64(m, "order"),
      }),
    ),
    displayApps: displayApps(values),
    scripts: legacyScripts(values),
    order: int64(values, "order"),
    resourcesMonitoring: resourcesMonitoring(values),
    apiKeyScope: str(values, "api_key_scope"),
  });
  // Anything but token auth is instance identity; the instance id is filled in later (coder_agent_instance
  // or the hosting resource), and stays "" when neither provides one.
  agent.auth =
    str(values, "auth") === "token"
      ? { case: "token", value: str(values, "token") }
      : { case: "instanceId", value: "" };
  return agent;
}

/** coder_app → App, with the slug checked against the pattern. */
export function convertApp(resource: TerraformResource): App {
  const values = valuesOf(resource);
  const slug = str(values, "slug") || resource.name;
  if (!appSlugRegex.test(slug)) {
    throw new ConversionError(
      `app slug ${JSON.stringify(slug)} does not match regex ${JSON.stringify(NAME_PATTERN)}`,
    );
  }
  const healthcheck = firstBlock(values, "healthcheck");
  return create(AppSchema, {
    slug,
    // `name` is the provider's deprecated spelling of display_name.
    displayName: str(values, "display_name") || str(values, "name") || slug,
    command: str(values, "command"),
    url: str(values, "url"),
    icon: str(values, "icon"),
    subdomain: bool(values, "subdomain"),
    healthcheck: healthcheck
      ? create(HealthcheckSchema, {
          url: str(healthcheck, "url"),
          interval: int32(healthcheck, "interval"),
          threshold: int32(healthcheck, "threshold"),
        })
      : undefined,
    sharingLevel: sharingLevel(str(values, "share")),
    external: bool(values, "external"),
    order: int64(values, "order"),
    hidden: bool(values, "hidden"),
    openIn: str(values, "open_in").toLowerCase() === "tab" ? AppOpenIn.TAB : AppOpenIn.SLIM_WINDOW,
  });
}

function sharingLevel(share: string): AppSharingLevel {
  switch (share.toLowerCase()) {
    case "authenticated":
      return AppSharingLevel.AUTHENTICATED;
    case "public":
      return AppSharingLevel.PUBLIC;
    default:
      return AppSharingLevel.OWNER;
  }
}

/** Adds what a coder_env / coder_script / coder_devcontainer resource contributes to an agent. */
export function attachToAgent(agent: Agent, resource: TerraformResource): void {
  const values = valuesOf(resource);
  switch (resource.type) {
    case "coder_env":
      agent.extraEnvs.push(create(EnvSchema, { name: str(values, "name"), value: str(values, "value") }));
      return;
    case "coder_script":
      agent.scripts.push(
        create(ScriptSchema, {
          displayName: str(values, "display_name"),
          icon: str(values, "icon"),
          script: str(values, "script"),
          cron: str(values, "cron"),
          logPath: str(values, "log_path"),
          startBlocksLogin: bool(values, "start_blocks_login"),
          runOnStart: bool(values, "run_on_start"),
          runOnStop: bool(values, "run_on_stop"),
          timeoutSeconds: int32(values, "timeout"),
        }),
      );
      return;
    case "coder_devcontainer":
      agent.devcontainers.push(
        create(DevcontainerSchema, {
          name: resource.name,
          workspaceFolder: str(values, "workspace_folder"),
          configPath: str(values, "config_path"),
        }),
      );
      return;
  }
}

/** Resource types whose `agent_id` ties them to an agent. */
export const AGENT_CHILD_TYPES = new Set(["coder_app", "coder_env", "coder_script", "coder_devcontainer"]);
