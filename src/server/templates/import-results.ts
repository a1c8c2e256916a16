// A template import's results: the parse result (variables, readme, workspace tags) while the job runs, then
// the START/STOP resources, parameters and presets when it completes. Presets are validated first; an
// invalid one fails the import with a message naming it, and nothing of the version's results is stored.
import { Code, ConnectError } from "@connectrpc/connect";
import type {
  CompleteJobRequest_TemplateImport,
  UpdateJobRequest_ParseResult,
} from "../../gen/prewarm/daemon/v1/daemon_pb.js";
import type { ServerContext } from "../context.js";
import { completeJob, failJob } from "../jobs/queue.js";
import { parameterFromProto, presetFromProto, resourcesFromProto } from "../provisioner-results.js";
import type { ProvisionerJob, TemplateImportJobInput } from "../store/jobs.js";
import { insertPresets } from "../store/presets.js";
import { insertResources } from "../store/resources.js";
import {
  getTemplateById,
  getTemplateVersion,
  insertTemplateVersionParameters,
  listTemplateVersionVariables,
  setTemplateVersionVariables,
  setTemplateVersionWorkspaceTags,
  type TemplateVariable,
  updateTemplate,
  updateTemplateVersion,
} from "../store/templates.js";
import { PresetValidationError, validateImportedPresets } from "./validate-presets.js";

type ImportJob = ProvisionerJob & { type: "template_version_import"; input: TemplateImportJobInput };

/**
 * Stores the parse result and returns the variable values to plan with: the user's value, else the value the
 * template's active version used, else the default. Required variables without any value fail the import.
 */
export async function recordParseResult(
  ctx: ServerContext,
  job: ImportJob,
  parsed: UpdateJobRequest_ParseResult,
): Promise<TemplateVariable[]> {
  const versionId = job.input.templateVersionId;
  return ctx.store.transaction(async (tx) => {
    const version = await getTemplateVersion(tx, versionId);
    if (!version) throw new ConnectError(`template version ${versionId} not found`, Code.NotFound);
    const template = version.templateId ? await getTemplateById(tx, version.templateId) : undefined;
    const activeValues = new Map(
      template?.activeVersionId && template.activeVersionId !== version.id
        ? (await listTemplateVersionVariables(tx, template.activeVersionId)).map((v) => [v.name, v.value])
        : [],
    );
    const user = job.input.userVariableValues ?? {};
    const missing: string[] = [];
    const variables = parsed.templateVariables.map((v): TemplateVariable => {
      const value = user[v.name] ?? activeValues.get(v.name) ?? (v.required ? undefined : v.defaultValue);
      if (value === undefined) missing.push(v.name);
      return {
        name: v.name,
        description: v.description,
        type: v.type,
        defaultValue: v.defaultValue,
        value: value ?? "",
        required: v.required,
        sensitive: v.sensitive,
      };
    });
    if (missing.length > 0) {
      throw new ConnectError(
        `required template variables need values: ${missing.join(", ")}`,
        Code.FailedPrecondition,
      );
    }
    const unknown = Object.keys(user).filter(
      (name) => !parsed.templateVariables.some((v) => v.name === name),
    );
    if (unknown.length > 0) {
      throw new ConnectError(`unknown template variables: ${unknown.join(", ")}`, Code.FailedPrecondition);
    }
    await setTemplateVersionVariables(tx, versionId, variables);
    await setTemplateVersionWorkspaceTags(tx, versionId, parsed.workspaceTags);
    await updateTemplateVersion(tx, versionId, {
      readme: Buffer.from(parsed.readme).toString("utf8"),
      now: ctx.clock.now(),
    });
    return variables;
  });
}

export async function completeTemplateImport(
  ctx: ServerContext,
  job: ImportJob,
  daemonId: string,
  result: CompleteJobRequest_TemplateImport,
): Promise<ProvisionerJob> {
  const now = ctx.clock.now();
  try {
    validateImportedPresets(result.presets, result.richParameters);
  } catch (err) {
    if (!(err instanceof PresetValidationError)) throw err;
    return failJob(ctx.store, job.id, daemonId, now, { error: err.message, errorCode: "INVALID_PRESET" });
  }
  let activated = false;
  const completed = await completeJob(ctx.store, job.id, daemonId, now, async (tx) => {
    const versionId = job.input.templateVersionId;
    await insertResources(tx, {
      jobId: job.id,
      transition: "start",
      resources: resourcesFromProto(result.startResources),
      now,
    });
    await insertResources(tx, {
      jobId: job.id,
      transition: "stop",
      resources: resourcesFromProto(result.stopResources),
      now,
    });
    await insertTemplateVersionParameters(tx, versionId, result.richParameters.map(parameterFromProto));
    await insertPresets(tx, versionId, result.presets.map(presetFromProto), now);
    const version = await getTemplateVersion(tx, versionId);
    const template = version?.templateId ? await getTemplateById(tx, version.templateId) : undefined;
    // The first successful version of a template becomes active; later ones only when asked to.
    if (template && (template.activeVersionId === null || job.input.activate)) {
      await updateTemplate(tx, template.id, { activeVersionId: versionId, now });
      activated = true;
    }
  });
  if (activated) ctx.events.reconcileSoon("new active version");
  return completed;
}
