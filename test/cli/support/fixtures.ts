// Named, contract-shaped fixtures for the CLI tests. Each builder takes overrides; the fake API checks every
// reply against the contract, so a fixture that drifts from it fails the test using it.
import type {
  BuildT,
  JobLogT,
  JobT,
  PrebuildsStatusT,
  PresetT,
  TemplateT,
  TemplateVersionT,
  UserT,
  WorkspaceT,
} from "../../../src/contract/api.js";

export const T0 = "2026-01-05T10:00:00.000Z";
export const T1 = "2026-01-05T10:00:02.000Z";

export function job(overrides: Partial<JobT> = {}): JobT {
  return {
    id: "job-1",
    type: "workspace_build",
    status: "succeeded",
    error: null,
    errorCode: null,
    workerName: "daemon-1",
    tags: {},
    createdAt: T0,
    startedAt: T0,
    updatedAt: T1,
    completedAt: T1,
    canceledAt: null,
    ...overrides,
  };
}

export function build(overrides: Partial<BuildT> = {}): BuildT {
  return {
    id: "build-1",
    workspaceId: "ws-1",
    number: 1,
    transition: "start",
    status: "succeeded",
    reason: "initiator",
    prebuildStage: "none",
    templateVersion: "v1",
    initiator: "alice",
    jobId: "job-1",
    error: null,
    createdAt: T0,
    startedAt: T0,
    completedAt: T1,
    usableAt: T1,
    resourceReplacements: [],
    ...overrides,
  };
}

export function workspace(overrides: Partial<WorkspaceT> = {}): WorkspaceT {
  return {
    id: "ws-1",
    name: "dev",
    owner: "alice",
    template: "echo-demo",
    templateVersion: "v1",
    outdated: false,
    preset: null,
    claimedPrebuild: false,
    claimedAt: null,
    createdAt: T0,
    lease: null,
    latestBuild: build(),
    resources: [
      {
        name: "box",
        type: "null_resource",
        agents: [
          {
            id: "agent-1",
            name: "main",
            lifecycleState: "ready",
            status: "connected",
            operatingSystem: "linux",
            architecture: "amd64",
            lastSeenAt: T1,
            apps: [],
            metadata: [],
          },
        ],
      },
    ],
    ...overrides,
  };
}

export function log(id: number, output: string, overrides: Partial<JobLogT> = {}): JobLogT {
  return { id, createdAt: T0, source: "provisioner", level: "info", stage: "Planning", output, ...overrides };
}

export function user(overrides: Partial<UserT> = {}): UserT {
  return {
    id: "user-1",
    username: "alice",
    email: "alice@example.com",
    role: "owner",
    system: false,
    createdAt: T0,
    ...overrides,
  };
}

export function template(overrides: Partial<TemplateT> = {}): TemplateT {
  return {
    id: "tpl-1",
    name: "echo-demo",
    activeVersion: { id: "tv-1", name: "v1", provisioner: "echo" },
    deprecated: false,
    deprecationMessage: null,
    createdAt: T0,
    updatedAt: T0,
    workspaceCount: 3,
    defaultLeaseSeconds: null,
    maxLeaseSeconds: null,
    ...overrides,
  };
}

export function preset(overrides: Partial<PresetT> = {}): PresetT {
  return {
    id: "preset-1",
    name: "small",
    default: true,
    description: "",
    icon: "",
    parameters: { size: "small" },
    desiredInstances: 2,
    ttlSeconds: 86_400,
    scheduling: null,
    template: "echo-demo",
    templateVersion: "v1",
    active: true,
    status: "healthy",
    lastInvalidatedAt: null,
    prebuilds: { desired: 2, running: 2, eligible: 1, expired: 1, starting: 0 },
    claimRehearsal: null,
    claimReplacements: 0,
    ...overrides,
  };
}

export function templateVersion(overrides: Partial<TemplateVersionT> = {}): TemplateVersionT {
  const {
    template: _t,
    templateVersion: _v,
    active: _a,
    status: _s,
    lastInvalidatedAt: _l,
    prebuilds: _p,
    claimRehearsal: _r,
    claimReplacements: _c,
    ...definition
  } = preset();
  return {
    id: "tv-2",
    template: "echo-demo",
    name: "v2",
    number: 2,
    provisioner: "echo",
    message: null,
    active: true,
    createdAt: T0,
    createdBy: "alice",
    job: job({ id: "import-1", type: "template_version_import" }),
    readme: null,
    parameters: [],
    variables: [],
    presets: [definition],
    workspaceTags: {},
    ...overrides,
  };
}

export function prebuildsStatus(overrides: Partial<PrebuildsStatusT> = {}): PrebuildsStatusT {
  const p = preset();
  return {
    paused: false,
    reconcileIntervalSeconds: 15,
    lastReconcileAt: T0,
    lastReconcileDurationMs: 12,
    inFlightJobs: 1,
    maxInFlightJobs: 2,
    presets: [
      {
        presetId: p.id,
        template: p.template,
        templateVersion: p.templateVersion,
        preset: p.name,
        active: true,
        status: "hard_limited",
        desiredInstances: 2,
        ttlSeconds: 3600,
        prebuilds: p.prebuilds,
        backoffUntil: null,
      },
    ],
    ...overrides,
  };
}
