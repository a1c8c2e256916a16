// Provisioner protocol messages (what an import or a build returned) → the store's input shapes. Pure.
import { timestampDate } from "@bufbuild/protobuf/wkt";
import {
  LogLevel,
  ParameterFormType,
  type Preset as ProtoPreset,
  type Resource as ProtoResource,
  type RichParameter,
  type Timing,
  TimingState,
} from "../gen/provisioner/provisioner_pb.js";
import type { JobTimingInput } from "./store/jobs.js";
import type { NewPreset } from "./store/presets.js";
import type { NewResource } from "./store/resources.js";
import type { LogLevel as StoreLogLevel } from "./store/schema.js";
import type { TemplateParameter } from "./store/templates.js";

const FORM_TYPES: Record<ParameterFormType, string> = {
  [ParameterFormType.DEFAULT]: "",
  [ParameterFormType.FORM_ERROR]: "error",
  [ParameterFormType.RADIO]: "radio",
  [ParameterFormType.DROPDOWN]: "dropdown",
  [ParameterFormType.INPUT]: "input",
  [ParameterFormType.TEXTAREA]: "textarea",
  [ParameterFormType.SLIDER]: "slider",
  [ParameterFormType.CHECKBOX]: "checkbox",
  [ParameterFormType.SWITCH]: "switch",
  [ParameterFormType.TAGSELECT]: "tag-select",
  [ParameterFormType.MULTISELECT]: "multi-select",
};

export function parameterFromProto(p: RichParameter): TemplateParameter {
  return {
    name: p.name,
    displayName: p.displayName,
    description: p.description,
    type: p.type || "string",
    formType: FORM_TYPES[p.formType] ?? "",
    mutable: p.mutable,
    defaultValue: p.defaultValue,
    icon: p.icon,
    options: p.options.map((o) => ({
      name: o.name,
      description: o.description,
      value: o.value,
      icon: o.icon,
    })),
    validationRegex: p.validationRegex,
    validationError: p.validationError,
    validationMin: p.validationMin ?? null,
    validationMax: p.validationMax ?? null,
    validationMonotonic: p.validationMonotonic,
    required: p.required,
    displayOrder: p.order,
    ephemeral: p.ephemeral,
  };
}

/**
 * A preset without a `prebuild` block has no pool (desired null). Coder's terraform provisioner always sends
 * the block, so "instances = 0" is stored as 0: a pool of nothing, which is still "declares prebuilds".
 */
export function presetFromProto(p: ProtoPreset): NewPreset {
  const prebuild = p.prebuild;
  return {
    name: p.name,
    isDefault: p.default,
    description: p.description,
    icon: p.icon,
    desiredInstances: prebuild ? prebuild.instances : null,
    ttlSeconds: prebuild?.expirationPolicy?.ttl ?? 0,
    schedulingTimezone: prebuild?.scheduling?.timezone ?? "",
    schedules: (prebuild?.scheduling?.schedule ?? []).map((s) => ({ cron: s.cron, instances: s.instances })),
    parameters: Object.fromEntries(p.parameters.map((pp) => [pp.name, pp.value])),
  };
}

export function resourcesFromProto(resources: readonly ProtoResource[]): NewResource[] {
  return resources.map((r) => ({
    type: r.type,
    name: r.name,
    hide: r.hide,
    icon: r.icon,
    instanceType: r.instanceType,
    dailyCost: r.dailyCost,
    modulePath: r.modulePath,
    metadata: r.metadata
      .filter((m) => !m.isNull)
      .map((m) => ({ key: m.key, value: m.value, sensitive: m.sensitive })),
    agents: r.agents.map((a) => ({
      name: a.name,
      // The provisioner's token (token auth) is kept so a claim can hand it back; otherwise a random one.
      authToken: a.auth.case === "token" && a.auth.value !== "" ? a.auth.value : undefined,
      architecture: a.architecture,
      operatingSystem: a.operatingSystem,
      directory: a.directory,
      env: { ...Object.fromEntries(a.extraEnvs.map((e) => [e.name, e.value])), ...a.env },
      connectionTimeoutSeconds: a.connectionTimeoutSeconds,
      troubleshootingUrl: a.troubleshootingUrl,
      motdFile: a.motdFile,
      displayApps: a.displayApps
        ? {
            vscode: a.displayApps.vscode,
            vscodeInsiders: a.displayApps.vscodeInsiders,
            webTerminal: a.displayApps.webTerminal,
            sshHelper: a.displayApps.sshHelper,
            portForwardingHelper: a.displayApps.portForwardingHelper,
          }
        : null,
      apiKeyScope: a.apiKeyScope,
      order: Number(a.order),
      apps: a.apps.map((app) => ({
        slug: app.slug,
        displayName: app.displayName,
        command: app.command,
        url: app.url,
        icon: app.icon,
        subdomain: app.subdomain,
        external: app.external,
        hidden: app.hidden,
        order: Number(app.order),
        healthcheck: app.healthcheck
          ? {
              url: app.healthcheck.url,
              interval: app.healthcheck.interval,
              threshold: app.healthcheck.threshold,
            }
          : null,
      })),
      scripts: a.scripts.map((s) => ({
        displayName: s.displayName,
        icon: s.icon,
        script: s.script,
        cron: s.cron,
        startBlocksLogin: s.startBlocksLogin,
        runOnStart: s.runOnStart,
        runOnStop: s.runOnStop,
        timeoutSeconds: s.timeoutSeconds,
        logPath: s.logPath,
      })),
      metadata: a.metadata.map((m) => ({
        key: m.key,
        displayName: m.displayName,
        script: m.script,
        intervalSeconds: Number(m.interval),
        timeoutSeconds: Number(m.timeout),
        order: Number(m.order),
      })),
    })),
  }));
}

/** Only complete spans with a known stage are kept (Coder drops the rest too). */
export function timingsFromProto(timings: readonly Timing[]): JobTimingInput[] {
  const stages = new Set(["init", "plan", "graph", "apply"]);
  return timings
    .filter((t) => t.start && t.end && stages.has(t.stage) && t.state !== TimingState.STARTED)
    .map((t) => ({
      startedAt: timestampDate(t.start!),
      endedAt: timestampDate(t.end!),
      stage: t.stage,
      source: t.source,
      action: t.action,
      resource: t.resource,
    }));
}

const LEVELS: Record<LogLevel, StoreLogLevel> = {
  [LogLevel.TRACE]: "trace",
  [LogLevel.DEBUG]: "debug",
  [LogLevel.INFO]: "info",
  [LogLevel.WARN]: "warn",
  [LogLevel.ERROR]: "error",
};

export const logLevelName = (level: LogLevel): StoreLogLevel => LEVELS[level] ?? "info";
