// The create-workspace form: template, then a preset or parameter values, each parameter with the control its
// form type asks for (param-inputs.ts) under its display name. Validation is the API's own (createWorkspace):
// its errors carry the offending field, shown next to that field. Each preset says whether a ready prebuild is
// waiting (then the workspace is claimed instantly) or it will be built from scratch.
import { poolsById } from "../../api/views.js";
import type { ServerContext } from "../../context.js";
import { DomainError } from "../../domain-errors.js";
import type { PlanConfig } from "../../prebuilds/status.js";
import { listPresets, type Preset } from "../../store/presets.js";
import {
  getTemplateByName,
  listTemplates,
  listTemplateVersionParameters,
  type Template,
  type TemplateParameter,
} from "../../store/templates.js";
import { type Html, html } from "../html.js";
import { csrfField } from "../layout.js";
import { parameterInput, parseParameters } from "../param-inputs.js";
import type { Session } from "../session.js";

export interface CreateInput {
  template: string;
  name: string;
  preset: string;
  parameters: Record<string, string>;
}

export interface FormErrors {
  /** By field: "name", "template", "preset" or a parameter name; "" = not about one field. */
  [field: string]: string;
}

/** Form body → create input: the parameters that were set (param-inputs.ts says how each control sends). */
export function parseCreateForm(body: Record<string, unknown>): CreateInput {
  const text = (key: string) => (typeof body[key] === "string" ? (body[key] as string).trim() : "");
  return {
    template: text("template"),
    name: text("name"),
    preset: text("preset"),
    parameters: parseParameters(body),
  };
}

/** Where a domain error belongs on the form (a conflict is the name's: it is taken); undefined for others. */
export function errorsFrom(err: unknown, knownFields: ReadonlySet<string>): FormErrors | undefined {
  if (!(err instanceof DomainError)) return undefined;
  const field = err.field;
  if (field && knownFields.has(field)) return { [field]: err.message };
  if (err.kind === "conflict") return { name: err.message };
  return { "": err.message };
}

interface FormModel {
  templates: Template[];
  template: Template | undefined;
  parameters: TemplateParameter[];
  presets: Preset[];
  ready: Map<string, number>;
}

export async function loadForm(
  ctx: ServerContext,
  plan: PlanConfig,
  templateName: string,
): Promise<FormModel> {
  const db = ctx.store.db;
  const templates = (await listTemplates(db)).filter((t) => t.activeVersionId && t.deprecated === "");
  const name = templateName || (templates.length === 1 ? (templates[0]?.name ?? "") : "");
  const template = name ? await getTemplateByName(db, name) : undefined;
  if (!template?.activeVersionId)
    return { templates, template, parameters: [], presets: [], ready: new Map() };
  const [parameters, presets, pools] = await Promise.all([
    listTemplateVersionParameters(db, template.activeVersionId),
    listPresets(db, { versionIds: [template.activeVersionId] }),
    poolsById(ctx, plan),
  ]);
  return {
    templates,
    template,
    parameters,
    presets,
    ready: new Map(presets.map((p) => [p.id, pools.get(p.id)?.prebuilds.eligible ?? 0])),
  };
}

export function formFields(model: FormModel): Set<string> {
  return new Set(["name", "template", "preset", ...model.parameters.map((p) => p.name)]);
}

const fieldError = (id: string, message: string | undefined): Html =>
  message ? html`<p class="error" id="${id}-error" role="alert">${message}</p>` : html``;

function presetChoice(p: Preset, model: FormModel, chosen: string): Html {
  const ready = model.ready.get(p.id) ?? 0;
  const values = Object.entries(p.parameters)
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
  const pool =
    p.desiredInstances === null
      ? html`<span class="muted">no prebuilds: built from scratch</span>`
      : ready > 0
        ? html`<strong data-testid="claim-hint">${ready} ready prebuild${ready === 1 ? "" : "s"}: a ready one is claimed, your workspace is there in seconds</strong>`
        : html`<span class="muted">no ready prebuild right now: built from scratch</span>`;
  return html`<label class="radio"><input type="radio" name="preset" value="${p.name}" ${chosen === p.name ? "checked" : ""}>
<span><strong>${p.name}</strong>${p.isDefault && " (default)"} ${p.description && html`— ${p.description}`}<br>
<span class="small">${values || "no parameter values"}</span><br><span class="small">${pool}</span></span></label>`;
}

export function createPage(
  model: FormModel,
  session: Session,
  input: Partial<CreateInput> = {},
  errors: FormErrors = {},
): Html {
  const t = model.template;
  const chosenPreset = input.preset ?? model.presets.find((p) => p.isDefault)?.name ?? "";
  return html`<h1>New workspace</h1>
${errors[""] && html`<p class="notice bad" role="alert">${errors[""]}</p>`}
<form method="get" action="/workspaces/new" class="card">
<label for="template">Template</label>
<select id="template" name="template">
${model.templates.length === 0 && html`<option value="">no templates with an active version yet</option>`}
${model.templates.map((x) => html`<option value="${x.name}" ${t?.name === x.name ? "selected" : ""}>${x.name}</option>`)}
</select>
${fieldError("template", errors.template)}
<p><button type="submit" class="secondary">Choose template</button></p>
</form>
${
  t &&
  html`<form method="post" action="/workspaces" class="card" data-testid="create-form">
${csrfField(session)}
<input type="hidden" name="template" value="${t.name}">
<label for="name">Name</label>
<input id="name" name="name" value="${input.name ?? ""}" required autocomplete="off" ${errors.name ? html`aria-invalid="true" aria-describedby="name-error"` : ""}>
<div class="muted small">letters, digits and hyphens, at most 32 characters</div>
${fieldError("name", errors.name)}
<fieldset><legend>Preset</legend>
${model.presets.map((p) => presetChoice(p, model, chosenPreset))}
<label class="radio"><input type="radio" name="preset" value="" ${chosenPreset === "" ? "checked" : ""}><span><strong>No preset</strong> — use the parameters below (values that exactly match a preset are still served from its pool)</span></label>
${fieldError("preset", errors.preset)}
</fieldset>
${
  model.parameters.length > 0 &&
  html`<fieldset><legend>Parameters</legend>
<p class="muted small">Leave a field empty for the preset's value or the default. A preset's values cannot be changed.</p>
${[...model.parameters]
  .sort((a, b) => a.displayOrder - b.displayOrder)
  .map((p) => parameterInput(p, input.parameters?.[p.name] ?? "", errors[p.name]))}
</fieldset>`
}
<p><button type="submit">Create workspace</button></p>
</form>`
}`;
}
