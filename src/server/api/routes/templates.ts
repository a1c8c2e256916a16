// Template archives, templates, versions and presets (with their live prebuild pools).

import { routes } from "../../../contract/api.js";
import { invalid } from "../../domain-errors.js";
import {
  listTemplates,
  listTemplateVersionParameters,
  listTemplateVersions,
  listTemplateVersionVariables,
} from "../../store/templates.js";
import {
  activateVersion,
  createTemplateVersion,
  deleteTemplate,
  getActiveVersion,
  requireTemplate,
  requireVersion,
  setDeprecation,
  setLeasePolicy,
  type TemplateSettings,
  uploadTemplateFile,
} from "../../templates/service.js";
import type { App } from "../app.js";
import type { ApiDeps } from "../deps.js";
import { presentParameter, presentVariable } from "../presenters.js";
import {
  presetsWithPoolsView,
  templateView,
  templateViews,
  versionSummaryViews,
  versionView,
} from "../views.js";
import { actorOf, callerOf } from "./caller.js";

function uploadBytes(body: unknown): Uint8Array {
  if (body instanceof Uint8Array) return body;
  throw invalid("send the template archive as the raw request body with Content-Type: application/x-tar");
}

export function registerTemplateRoutes(app: App, deps: ApiDeps): void {
  const { ctx } = deps;
  const db = ctx.store.db;
  const settings: TemplateSettings = deps.templates;

  app.route({
    ...routes.uploadFile,
    handler: async (request, reply) => {
      const { hash, created } = await uploadTemplateFile(
        ctx,
        callerOf(request),
        uploadBytes(request.body),
        settings,
      );
      return reply.status(created ? 201 : 200).send({ hash });
    },
  });

  app.route({
    ...routes.listTemplates,
    handler: async () => templateViews(db, await listTemplates(db)),
  });

  app.route({
    ...routes.getTemplate,
    handler: async (request) => {
      const template = await requireTemplate(ctx, request.params.name);
      const [json, versions, active] = await Promise.all([
        templateView(db, template),
        listTemplateVersions(db, template.id),
        getActiveVersion(ctx, template),
      ]);
      const [summaries, parameters, variables, presets] = await Promise.all([
        versionSummaryViews(db, template, versions),
        active ? listTemplateVersionParameters(db, active.id) : [],
        active ? listTemplateVersionVariables(db, active.id) : [],
        active ? presetsWithPoolsView(ctx, deps.reconciler().planConfig, template, active) : [],
      ]);
      return {
        ...json,
        versions: summaries,
        parameters: parameters.map(presentParameter),
        variables: variables.map(presentVariable),
        presets,
      };
    },
  });

  app.route({
    ...routes.updateTemplate,
    handler: async (request) => {
      const { deprecationMessage, defaultLeaseSeconds, maxLeaseSeconds } = request.body;
      let template =
        deprecationMessage === undefined
          ? await requireTemplate(ctx, request.params.name)
          : await setDeprecation(ctx, actorOf(request), request.params.name, deprecationMessage ?? "");
      if (defaultLeaseSeconds !== undefined || maxLeaseSeconds !== undefined) {
        template = await setLeasePolicy(ctx, template, { defaultLeaseSeconds, maxLeaseSeconds });
      }
      return templateView(db, template);
    },
  });

  app.route({
    ...routes.deleteTemplate,
    handler: async (request, reply) => {
      await deleteTemplate(ctx, actorOf(request), request.params.name);
      return reply.status(204).send(null);
    },
  });

  app.route({
    ...routes.createTemplateVersion,
    handler: async (request, reply) => {
      const body = request.body;
      const { template, version } = await createTemplateVersion(
        ctx,
        actorOf(request),
        request.params.name,
        {
          fileHash: body.fileHash,
          provisioner: body.provisioner,
          activate: body.activate,
          message: body.message,
          variables: body.variables,
          tags: body.tags,
        },
        settings,
      );
      return reply.status(201).send(await versionView(db, template, version));
    },
  });

  app.route({
    ...routes.listTemplateVersions,
    handler: async (request) => {
      const template = await requireTemplate(ctx, request.params.name);
      return versionSummaryViews(db, template, await listTemplateVersions(db, template.id));
    },
  });

  app.route({
    ...routes.getTemplateVersion,
    handler: async (request) => {
      const template = await requireTemplate(ctx, request.params.name);
      const version = await requireVersion(ctx, template, request.params.version);
      return versionView(db, template, version);
    },
  });

  app.route({
    ...routes.activateTemplateVersion,
    handler: async (request) =>
      templateView(
        db,
        await activateVersion(ctx, actorOf(request), request.params.name, request.params.version),
      ),
  });

  app.route({
    ...routes.listPresets,
    handler: async (request) => {
      const template = await requireTemplate(ctx, request.params.name);
      const ref = request.query.version;
      const version = ref ? await requireVersion(ctx, template, ref) : await getActiveVersion(ctx, template);
      if (!version) return [];
      return presetsWithPoolsView(ctx, deps.reconciler().planConfig, template, version);
    },
  });
}
