// Templates, template versions, rich parameters, variables and presets.
import { Type } from "@sinclair/typebox";
import { Nullable, NullableTimestamp, PresetStatus, Provisioner, StringEnum, Timestamp } from "./common.js";
import { AutoscalePolicy, PresetCost, ReplaceAhead, Rollout } from "./demand.js";
import { Job } from "./jobs.js";

export { defaultUploadQuotaBytes, maxTemplateArchiveBytes } from "./upload-limits.js";

export const FileUploadResponse = Type.Object(
  { hash: Type.String({ description: "sha256 of the archive, lowercase hex", pattern: "^[0-9a-f]{64}$" }) },
  { title: "FileUploadResponse" },
);

export const ParameterOption = Type.Object({
  name: Type.String(),
  value: Type.String(),
  description: Type.String(),
  icon: Type.String(),
});

export const ParameterValidation = Type.Object({
  regex: Nullable(Type.String()),
  error: Nullable(Type.String()),
  min: Nullable(Type.Number()),
  max: Nullable(Type.Number()),
  monotonic: Nullable(StringEnum(["increasing", "decreasing"])),
});

/** A rich parameter a workspace of this version takes (`coder_parameter`). */
export const Parameter = Type.Object(
  {
    name: Type.String(),
    displayName: Nullable(Type.String()),
    description: Type.String(),
    type: StringEnum(["string", "number", "bool", "list(string)"]),
    mutable: Type.Boolean(),
    required: Type.Boolean(),
    ephemeral: Type.Boolean(),
    defaultValue: Nullable(Type.String()),
    options: Type.Array(ParameterOption),
    validation: Nullable(ParameterValidation),
    order: Type.Integer(),
    icon: Type.String(),
    formType: Type.String({ description: "e.g. input, dropdown, radio, slider; empty = default" }),
  },
  { title: "Parameter" },
);

/** A template (Terraform) variable of a version; `value` is null for sensitive variables. */
export const Variable = Type.Object(
  {
    name: Type.String(),
    description: Type.String(),
    type: Type.String(),
    defaultValue: Nullable(Type.String()),
    required: Type.Boolean(),
    sensitive: Type.Boolean(),
    value: Nullable(Type.String()),
  },
  { title: "Variable" },
);

export const Scheduling = Type.Object({
  timezone: Type.String({ description: "IANA time zone, e.g. Europe/Berlin" }),
  schedules: Type.Array(Type.Object({ cron: Type.String(), instances: Type.Integer({ minimum: 0 }) })),
});

/** What a preset declares in the template (as imported). */
export const PresetDefinition = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    default: Type.Boolean(),
    description: Type.String(),
    icon: Type.String(),
    parameters: Type.Record(Type.String(), Type.String()),
    /** null: the preset declares no prebuilds. */
    desiredInstances: Nullable(Type.Integer({ minimum: 0 })),
    /** null or 0: prebuilds never expire. */
    ttlSeconds: Nullable(Type.Integer({ minimum: 0 })),
    scheduling: Nullable(Scheduling),
  },
  { title: "PresetDefinition" },
);

export const PrebuildCounts = Type.Object({
  desired: Type.Integer(),
  /** All running prebuilds, expired ones included. */
  running: Type.Integer(),
  /** Ready, non-expired: what a claim can take right now. */
  eligible: Type.Integer(),
  expired: Type.Integer(),
  /** Prebuild start builds in progress. */
  starting: Type.Integer(),
});

/** A preset with its live prebuild pool (`GET /templates/{name}/presets`). */
export const Preset = Type.Composite(
  [
    PresetDefinition,
    Type.Object({
      template: Type.String(),
      templateVersion: Type.String(),
      /** Its version is the active one and the template is neither deleted nor deprecated. */
      active: Type.Boolean(),
      status: PresetStatus,
      lastInvalidatedAt: NullableTimestamp,
      prebuilds: PrebuildCounts,
      /**
       * The claim rehearsal (a plan-only run of a prebuild as if claimed, once per preset): null until it ran.
       * `replacements` lists what a real claim would destroy and re-create.
       */
      claimRehearsal: Nullable(
        Type.Object({
          status: StringEnum(["pending", "clean", "replacements", "failed"]),
          replacements: Type.Array(
            Type.Object({ resource: Type.String(), paths: Type.Array(Type.String()) }),
          ),
          at: Timestamp,
          error: Nullable(Type.String()),
        }),
      ),
      /** Claims of this preset whose build replaced resources (rebuilt instead of handed over). */
      claimReplacements: Type.Integer(),
      // Demand-driven pools (issue 13; always sent by the server).
      /** While set, it decides `prebuilds.desired` instead of `desiredInstances` and schedules. */
      autoscale: Type.Optional(Nullable(AutoscalePolicy)),
      /** Why `prebuilds.desired` is what it is; null when the reconciler does not track the preset. */
      desiredReason: Type.Optional(Nullable(Type.String())),
      replaceAhead: Type.Optional(ReplaceAhead),
      rollout: Type.Optional(Rollout),
      cost: Type.Optional(PresetCost),
    }),
  ],
  { title: "Preset" },
);

const TemplateVersionCore = {
  id: Type.String(),
  template: Type.String(),
  /** Assigned by the server: "v1", "v2", … The URL's `{version}` takes this name or the bare number. */
  name: Type.String(),
  number: Type.Integer({ minimum: 1 }),
  provisioner: Provisioner,
  message: Nullable(Type.String()),
  active: Type.Boolean(),
  createdAt: Timestamp,
  createdBy: Type.String({ description: "username" }),
  job: Job,
};

export const TemplateVersionSummary = Type.Object(TemplateVersionCore);

export const TemplateVersion = Type.Object(
  {
    ...TemplateVersionCore,
    readme: Nullable(Type.String()),
    parameters: Type.Array(Parameter),
    variables: Type.Array(Variable),
    presets: Type.Array(PresetDefinition),
    workspaceTags: Type.Record(Type.String(), Type.String()),
  },
  { title: "TemplateVersion" },
);

const TemplateCore = {
  id: Type.String(),
  name: Type.String(),
  activeVersion: Nullable(Type.Object({ id: Type.String(), name: Type.String(), provisioner: Provisioner })),
  deprecated: Type.Boolean(),
  deprecationMessage: Nullable(Type.String()),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  /** Workspaces of this template owned by users (prebuilds not counted). */
  workspaceCount: Type.Integer(),
  /** The lease of a workspace whose create names none, and the longest allowed (seconds; null: none). */
  defaultLeaseSeconds: Nullable(Type.Integer()),
  maxLeaseSeconds: Nullable(Type.Integer()),
};

export const Template = Type.Object(TemplateCore);

/** `GET /templates/{name}`: the template, its versions (newest first) and its active version's details. */
export const TemplateDetail = Type.Object(
  {
    ...TemplateCore,
    versions: Type.Array(TemplateVersionSummary),
    parameters: Type.Array(Parameter),
    variables: Type.Array(Variable),
    presets: Type.Array(Preset),
  },
  { title: "TemplateDetail" },
);

export const CreateTemplateVersionRequest = Type.Object({
  fileHash: Type.String({ pattern: "^[0-9a-f]{64}$" }),
  provisioner: Provisioner,
  /**
   * Make it the active version once its import succeeds. The first version of a new template is always
   * activated on success.
   */
  activate: Type.Optional(Type.Boolean()),
  message: Type.Optional(Type.String({ maxLength: 1048 })),
  variables: Type.Optional(
    Type.Array(Type.Object({ name: Type.String({ minLength: 1 }), value: Type.String() })),
  ),
  /** Provisioner tags the import job (and this version's builds) require of a daemon. */
  tags: Type.Optional(Type.Record(Type.String(), Type.String())),
});

export const UpdateTemplateRequest = Type.Object({
  /** Non-empty: deprecate with this message; null or "": undeprecate. */
  deprecationMessage: Type.Optional(Nullable(Type.String())),
  /** The lease a workspace gets when its create names none (seconds; null clears). */
  defaultLeaseSeconds: Type.Optional(Nullable(Type.Integer({ minimum: 1 }))),
  /** The longest lease a create or an extend may give (seconds; null: no limit). */
  maxLeaseSeconds: Type.Optional(Nullable(Type.Integer({ minimum: 1 }))),
});

export const PresetsQuery = Type.Object({
  /** A version name or number; default: the active version. */
  version: Type.Optional(Type.String()),
});
