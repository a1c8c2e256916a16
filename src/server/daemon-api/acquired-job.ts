// Builds what a daemon receives for an acquired job: the template archive plus, for a workspace build, the
// previous state, parameter values (this build's and the previous build's), variable values and truthful
// Metadata (Coder's acquireProtoJob). Reads only; the caller fails the job when this throws.
import { create } from "@bufbuild/protobuf";
import { type AcquiredJob, AcquiredJobSchema } from "../../gen/prewarm/daemon/v1/daemon_pb.js";
import {
  MetadataSchema,
  PrebuiltWorkspaceBuildStage,
  WorkspaceTransition,
} from "../../gen/provisioner/provisioner_pb.js";
import { getFile } from "../store/files.js";
import type { ProvisionerJob } from "../store/jobs.js";
import { getAgentTokensOfJob } from "../store/resources.js";
import type { Executor } from "../store/store.js";
import {
  getTemplateById,
  getTemplateVersion,
  listTemplateVersionVariables,
  type TemplateVariable,
} from "../store/templates.js";
import { getUserById } from "../store/users.js";
import { getBuild, getBuildByNumber, getBuildParameters, getWorkspace } from "../store/workspaces.js";

/** The job's input no longer makes sense (a row vanished); the job is failed with this message. */
export class JobInputError extends Error {
  override name = "JobInputError";
}

const TRANSITIONS = {
  start: WorkspaceTransition.START,
  stop: WorkspaceTransition.STOP,
  delete: WorkspaceTransition.DESTROY,
} as const;

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

export async function buildAcquiredJob(
  db: Executor,
  job: ProvisionerJob,
  accessUrl: string,
): Promise<AcquiredJob> {
  const file = need(await getFile(db, job.fileId), `file ${job.fileId}`);
  const initiator = await getUserById(db, job.initiatorId);
  const acquired = create(AcquiredJobSchema, {
    jobId: job.id,
    createdAtMs: BigInt(job.createdAt.getTime()),
    provisioner: job.provisioner,
    userName: initiator?.username ?? "",
    templateSourceArchive: file.data,
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

  const build = need(await getBuild(db, job.input.workspaceBuildId), "workspace build");
  const workspace = need(await getWorkspace(db, build.workspaceId), "workspace");
  const owner = need(await getUserById(db, workspace.ownerId), "workspace owner");
  const version = need(await getTemplateVersion(db, build.templateVersionId), "template version");
  const template = need(await getTemplateById(db, workspace.templateId), "template");
  const previous =
    build.buildNumber > 1 ? await getBuildByNumber(db, workspace.id, build.buildNumber - 1) : undefined;
  // A claim hands the running agents their existing tokens, so they keep working for the new owner.
  const runningAgentAuthTokens =
    build.prebuildStage === "claim" && previous
      ? (await getAgentTokensOfJob(db, previous.jobId)).map((t) => ({ agentId: t.agentId, token: t.token }))
      : [];
  const metadata = create(MetadataSchema, {
    coderUrl: accessUrl,
    workspaceTransition: TRANSITIONS[build.transition],
    workspaceName: workspace.name,
    workspaceOwner: owner.username,
    workspaceId: workspace.id,
    workspaceOwnerId: owner.id,
    workspaceOwnerEmail: owner.email,
    workspaceOwnerName: owner.name,
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
