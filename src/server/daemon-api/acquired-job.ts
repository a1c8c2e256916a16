// Builds what a daemon receives for an acquired job: the template archive plus, for a workspace build, the
// previous state, parameter values (this build's and the previous build's), variable values and truthful
// Metadata (Coder's acquireProtoJob). The archive comes from `archives` (archive-cache.ts) when it holds it.
// Reads, and writes one row: a start build's session token for its owner
// (minted here, as Coder regenerates it at acquisition; revoked when the job ends, store/users.ts). The caller
// fails the job when this throws — which revokes the token too.
import { create } from "@bufbuild/protobuf";
import {
  type AcquiredJob,
  type AcquiredJob_ClaimRehearsal,
  AcquiredJob_ClaimRehearsalSchema,
  AcquiredJobSchema,
} from "../../gen/prewarm/daemon/v1/daemon_pb.js";
import {
  MetadataSchema,
  PrebuiltWorkspaceBuildStage,
  WorkspaceTransition,
} from "../../gen/provisioner/provisioner_pb.js";
import { keepsRunningAgentTokens } from "../agents/rules.js";
import { getFile } from "../store/files.js";
import type { ClaimRehearsalJobInput, ProvisionerJob } from "../store/jobs.js";
import { getAgentTokensOfJob } from "../store/resources.js";
import type { Transition } from "../store/schema.js";
import type { Executor } from "../store/store.js";
import {
  getTemplateById,
  getTemplateVersion,
  listTemplateVersionVariables,
  type TemplateVariable,
} from "../store/templates.js";
import { buildSessionTokenName, createApiToken, getUserById } from "../store/users.js";
import {
  getBuild,
  getBuildByNumber,
  getBuildParameters,
  getLatestBuild,
  getLatestSucceededBuildBefore,
  getWorkspace,
} from "../store/workspaces.js";
import type { ArchiveCache } from "./archive-cache.js";

/** The job's input no longer makes sense (a row vanished); the job is failed with this message. */
export class JobInputError extends Error {
  override name = "JobInputError";
}

const TRANSITIONS = {
  start: WorkspaceTransition.START,
  stop: WorkspaceTransition.STOP,
  delete: WorkspaceTransition.DESTROY,
} as const;

/** The workspace build's transition an acquired job carries ("" for imports and rehearsals). */
export function acquiredTransition(acquired: AcquiredJob): Transition | "" {
  if (acquired.type.case !== "workspaceBuild") return "";
  const sent = acquired.type.value.metadata?.workspaceTransition;
  const found = (Object.keys(TRANSITIONS) as Transition[]).find((t) => TRANSITIONS[t] === sent);
  return found ?? "";
}

const STAGES = {
  none: PrebuiltWorkspaceBuildStage.NONE,
  create: PrebuiltWorkspaceBuildStage.CREATE,
  claim: PrebuiltWorkspaceBuildStage.CLAIM,
} as const;

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new JobInputError(`request job was invalidated: ${what} not found`);
  return value;
}

const toParameterValues = (values: Record<string, string>) =>
  Object.entries(values).map(([name, value]) => ({ name, value }));

const toVariableValues = (variables: TemplateVariable[]) =>
  variables.map((v) => ({ name: v.name, value: v.value, sensitive: v.sensitive }));

/**
 * A build session token outlives no build (it is revoked at the job's end); the expiry is only the backstop
 * for a server that died mid-build and never got to revoke it.
 */
const BUILD_SESSION_TOKEN_LIFETIME_MS = 60 * 60_000;

export async function buildAcquiredJob(
  db: Executor,
  job: ProvisionerJob,
  accessUrl: string,
  now: Date,
  archives: ArchiveCache,
): Promise<AcquiredJob> {
  const archive = need(
    await archives.get(job.fileId, async () => (await getFile(db, job.fileId))?.data),
    `file ${job.fileId}`,
  );
  const initiator = await getUserById(db, job.initiatorId);
  const acquired = create(AcquiredJobSchema, {
    jobId: job.id,
    createdAtMs: BigInt(job.createdAt.getTime()),
    provisioner: job.provisioner,
    userName: initiator?.username ?? "",
    templateSourceArchive: archive,
  });

  if (job.type === "template_version_import") {
    const version = need(await getTemplateVersion(db, job.input.templateVersionId), "template version");
    const template = version.templateId ? await getTemplateById(db, version.templateId) : undefined;
    acquired.type = {
      case: "templateImport",
      value: {
        $typeName: "prewarm.daemon.v1.AcquiredJob.TemplateImport",
        userVariableValues: Object.entries(job.input.userVariableValues ?? {}).map(([name, value]) => ({
          $typeName: "provisioner.VariableValue",
          name,
          value,
          sensitive: false,
        })),
        metadata: create(MetadataSchema, {
          coderUrl: accessUrl,
          workspaceOwnerGroups: ["Everyone"],
          templateName: template?.name ?? "",
          templateVersion: version.name,
          templateId: template?.id ?? "",
        }),
      },
    };
    return acquired;
  }

  if (job.type === "claim_rehearsal") {
    acquired.type = { case: "claimRehearsal", value: await rehearsalJob(db, job.input, accessUrl) };
    return acquired;
  }

  const build = need(await getBuild(db, job.input.workspaceBuildId), "workspace build");
  const workspace = need(await getWorkspace(db, build.workspaceId), "workspace");
  // Most builds are started by their workspace's owner (and every prebuild's by the prebuilds user): one read.
  const owner =
    initiator?.id === workspace.ownerId
      ? initiator
      : need(await getUserById(db, workspace.ownerId), "workspace owner");
  const version = need(await getTemplateVersion(db, build.templateVersionId), "template version");
  const template = need(await getTemplateById(db, workspace.templateId), "template");
  const previous =
    build.buildNumber > 1 ? await getBuildByNumber(db, workspace.id, build.buildNumber - 1) : undefined;
  // A claim, or an upgrade of a running workspace, hands the running agents their existing tokens, so they
  // keep working for the new owner or the new version (rules.ts keepsRunningAgentTokens says why).
  const running = await getLatestSucceededBuildBefore(db, workspace.id, build.buildNumber);
  const runningAgentAuthTokens =
    running && keepsRunningAgentTokens(build, running)
      ? (await getAgentTokensOfJob(db, running.jobId)).map((t) => ({ agentId: t.agentId, token: t.token }))
      : [];
  // Only a start build gets one (Coder deletes it for stop and delete), and never a system user (the prebuilds
  // user cannot sign in, so a token of theirs would authenticate nothing).
  const sessionToken =
    build.transition === "start" && !owner.isSystem
      ? (
          await createApiToken(db, {
            userId: owner.id,
            name: buildSessionTokenName(job.id),
            expiresAt: new Date(now.getTime() + BUILD_SESSION_TOKEN_LIFETIME_MS),
            now,
          })
        ).token
      : "";
  const metadata = create(MetadataSchema, {
    coderUrl: accessUrl,
    workspaceTransition: TRANSITIONS[build.transition],
    workspaceName: workspace.name,
    workspaceOwner: owner.username,
    workspaceId: workspace.id,
    workspaceOwnerId: owner.id,
    workspaceOwnerEmail: owner.email,
    workspaceOwnerName: owner.name,
    workspaceOwnerSessionToken: sessionToken,
    workspaceOwnerGroups: ["Everyone"],
    workspaceOwnerLoginType: owner.loginType,
    workspaceOwnerRbacRoles: [{ name: owner.role, orgId: "" }],
    templateName: template.name,
    templateVersion: version.name,
    templateId: template.id,
    workspaceBuildId: build.id,
    prebuiltWorkspaceBuildStage: STAGES[build.prebuildStage],
    runningAgentAuthTokens,
  });
  acquired.type = {
    case: "workspaceBuild",
    value: {
      $typeName: "prewarm.daemon.v1.AcquiredJob.WorkspaceBuild",
      workspaceBuildId: build.id,
      workspaceName: workspace.name,
      state: build.provisionerState ?? new Uint8Array(),
      richParameterValues: toParameterValues(await getBuildParameters(db, build.id)).map((v) => ({
        $typeName: "provisioner.RichParameterValue",
        ...v,
      })),
      previousParameterValues: previous
        ? toParameterValues(await getBuildParameters(db, previous.id)).map((v) => ({
            $typeName: "provisioner.RichParameterValue",
            ...v,
          }))
        : [],
      variableValues: toVariableValues(await listTemplateVersionVariables(db, version.id)).map((v) => ({
        $typeName: "provisioner.VariableValue",
        ...v,
      })),
      metadata,
      logLevel: job.input.logLevel ?? "",
    },
  };
  return acquired;
}

/**
 * A claim rehearsal (prebuilds/rehearsal.ts): the prebuild's latest state, its parameter values (the values a
 * claim of its preset resolves to) and the Metadata of a claim — stage CLAIM, the running agents' tokens — by
 * a synthetic owner under a new name, as the real claim changes both.
 */
async function rehearsalJob(
  db: Executor,
  input: ClaimRehearsalJobInput,
  accessUrl: string,
): Promise<AcquiredJob_ClaimRehearsal> {
  const workspace = need(await getWorkspace(db, input.workspaceId), "prebuild");
  const build = need(await getLatestBuild(db, workspace.id), "prebuild build");
  const version = need(await getTemplateVersion(db, build.templateVersionId), "template version");
  const template = need(await getTemplateById(db, workspace.templateId), "template");
  const tokens = await getAgentTokensOfJob(db, build.jobId);
  return create(AcquiredJob_ClaimRehearsalSchema, {
    state: build.provisionerState ?? new Uint8Array(),
    richParameterValues: toParameterValues(await getBuildParameters(db, build.id)),
    variableValues: toVariableValues(await listTemplateVersionVariables(db, version.id)),
    metadata: create(MetadataSchema, {
      coderUrl: accessUrl,
      workspaceTransition: WorkspaceTransition.START,
      workspaceName: REHEARSAL_OWNER.workspaceName,
      workspaceOwner: REHEARSAL_OWNER.username,
      workspaceId: workspace.id,
      workspaceOwnerId: REHEARSAL_OWNER.id,
      workspaceOwnerEmail: REHEARSAL_OWNER.email,
      workspaceOwnerName: REHEARSAL_OWNER.name,
      workspaceOwnerGroups: ["Everyone"],
      workspaceOwnerLoginType: "password",
      workspaceOwnerRbacRoles: [{ name: "member", orgId: "" }],
      templateName: template.name,
      templateVersion: version.name,
      templateId: template.id,
      workspaceBuildId: build.id,
      prebuiltWorkspaceBuildStage: PrebuiltWorkspaceBuildStage.CLAIM,
      runningAgentAuthTokens: tokens.map((t) => ({ agentId: t.agentId, token: t.token })),
    }),
  });
}

/** Who a rehearsal plans the claim for: nobody real (no such user exists). */
const REHEARSAL_OWNER = {
  id: "00000000-0000-4000-8000-00000000c1a1",
  username: "claim-rehearsal",
  email: "claim-rehearsal@prewarm.invalid",
  name: "Claim rehearsal",
  workspaceName: "claim-rehearsal",
} as const;
