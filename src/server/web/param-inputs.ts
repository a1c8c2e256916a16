// The create form's parameter inputs: which control a template parameter gets (from its type, options and
// Coder's `form_type`), its markup, and reading the submitted form back into parameter values. Pure.
//
// Control by type and form type (Coder's defaults when form_type is empty):
//   string / number with options: dropdown if asked for, otherwise radio buttons;
//   string without options:       textarea if asked for, otherwise a text input;
//   number without options:       slider if asked for and the validation has both min and max, else a number input;
//   bool:                         switch if asked for, otherwise a checkbox;
//   list(string):                 multi-select (one checkbox per option) with options, else tag-select (a line each).
//
// Every field may stay "unset", meaning the preset's value or the parameter's default (the server resolves it):
// an empty text, the dropdown's and the radio group's "default" choice. A checkbox, switch or slider always
// submits a value, so it carries a hidden `paramdefault_<name>` with what it showed at first: a submitted value
// equal to it is left unset. Lists carry `paramlist_<name>` ("multi" or "lines"): their values are sent as the
// JSON array the server expects for list(string); none ticked or typed is unset too.
import type { TemplateParameter } from "../store/templates.js";
import { type Html, html } from "./html.js";

export const PARAM_PREFIX = "param_";
const DEFAULT_PREFIX = "paramdefault_";
const LIST_PREFIX = "paramlist_";

export type InputKind =
  | "text"
  | "number"
  | "textarea"
  | "dropdown"
  | "radio"
  | "checkbox"
  | "switch"
  | "slider"
  | "multi-select"
  | "tag-select";

export type ParameterShape = Pick<
  TemplateParameter,
  "type" | "formType" | "options" | "validationMin" | "validationMax"
>;

export function inputKind(p: ParameterShape): InputKind {
  const form = p.formType.toLowerCase();
  const hasOptions = p.options.length > 0;
  switch (p.type) {
    case "bool":
      return form === "switch" ? "switch" : "checkbox";
    case "list(string)":
      return hasOptions ? "multi-select" : "tag-select";
    case "number":
      if (hasOptions) return form === "dropdown" ? "dropdown" : "radio";
      return form === "slider" && p.validationMin !== null && p.validationMax !== null ? "slider" : "number";
    default:
      if (hasOptions) return form === "dropdown" ? "dropdown" : "radio";
      return form === "textarea" ? "textarea" : "text";
  }
}

type Body = Record<string, unknown>;

const values = (v: unknown): string[] =>
  typeof v === "string" ? [v] : Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];

/** The submitted parameter values: unset fields (see the header) are left out, lists become JSON arrays. */
export function parseParameters(body: Body): Record<string, string> {
  const out: Record<string, string> = {};
  const names = new Set<string>();
  for (const key of Object.keys(body)) {
    for (const prefix of [PARAM_PREFIX, DEFAULT_PREFIX, LIST_PREFIX])
      if (key.startsWith(prefix)) names.add(key.slice(prefix.length));
  }
  for (const name of names) {
    const submitted = values(body[PARAM_PREFIX + name]).map((v) => v.trim());
    const list = values(body[LIST_PREFIX + name])[0];
    const shown = values(body[DEFAULT_PREFIX + name])[0];
    let value: string | undefined;
    if (list === "multi" || list === "lines") {
      const items = (list === "lines" ? submitted.flatMap((v) => v.split(/\r?\n/)) : submitted)
        .map((v) => v.trim())
        .filter((v) => v !== "");
      // Nothing ticked or typed: unset, like an empty text (the preset's value or the default).
      value = items.length === 0 ? undefined : JSON.stringify(items);
    } else if (shown !== undefined) {
      // A checkbox or switch sends nothing when off.
      value = submitted[0] ?? "false";
    } else {
      value = submitted[0] || undefined;
    }
    if (value === undefined || (shown !== undefined && value === shown.trim())) continue;
    out[name] = value;
  }
  return out;
}

const listOf = (value: string): string[] => {
  try {
    const parsed: unknown = JSON.parse(value);
    return Array.isArray(parsed) ? parsed.map(String) : [];
  } catch {
    return [];
  }
};

const label = (p: TemplateParameter) => p.displayName || p.name;

/**
 * One parameter's field: its label (display name), control, hint and error. `value` is what the user sent
 * last time ("" at first), never the default: an untouched field stays unset.
 */
export function parameterInput(p: TemplateParameter, value: string, error: string | undefined): Html {
  const id = `param-${p.name}`;
  const name = `${PARAM_PREFIX}${p.name}`;
  const kind = inputKind(p);
  const described = [error ? `${id}-error` : "", p.description ? `${id}-hint` : ""].filter(Boolean).join(" ");
  const aria = html`${error ? html` aria-invalid="true"` : ""}${described ? html` aria-describedby="${described}"` : ""}`;
  const title = html`${label(p)}${p.required && " (required)"}`;
  const hint = p.description && html`<div class="muted small" id="${id}-hint">${p.description}</div>`;
  const errorText = error ? html`<p class="error" id="${id}-error" role="alert">${error}</p>` : html``;
  const defaultText = p.defaultValue === "" ? "none" : optionName(p, p.defaultValue);
  const unset = p.required ? "choose one" : `default (${defaultText})`;
  const data = html` data-kind="${kind}"`;

  switch (kind) {
    case "dropdown":
      return html`<div class="field"${data}><label for="${id}">${title}</label>
<select id="${id}" name="${name}"${aria}><option value="">${unset}</option>
${p.options.map((o) => html`<option value="${o.value}" ${value === o.value ? "selected" : ""}>${o.name || o.value}</option>`)}</select>
${hint}${errorText}</div>`;
    case "radio":
      return html`<fieldset class="field" id="${id}"${data}${aria}><legend>${title}</legend>
<label class="radio"><input type="radio" name="${name}" value="" ${value === "" ? "checked" : ""}> <span>${unset}</span></label>
${p.options.map(
  (o, i) =>
    html`<label class="radio"><input type="radio" id="${id}-${i}" name="${name}" value="${o.value}" ${value === o.value ? "checked" : ""}> <span>${o.name || o.value}${o.description && html` <span class="muted small">— ${o.description}</span>`}</span></label>`,
)}
${hint}${errorText}</fieldset>`;
    case "checkbox":
    case "switch": {
      const shown = value || p.defaultValue || "false";
      return html`<div class="field"${data}><input type="hidden" name="${DEFAULT_PREFIX}${p.name}" value="${p.defaultValue || "false"}">
<label class="check" for="${id}"><input type="checkbox" id="${id}" name="${name}" value="true" ${kind === "switch" ? html`role="switch"` : ""} ${shown === "true" ? "checked" : ""}${aria}> ${title}</label>
${hint}${errorText}</div>`;
    }
    case "slider": {
      const min = p.validationMin ?? 0;
      const max = p.validationMax ?? 100;
      const shown = value || p.defaultValue || String(min);
      return html`<div class="field"${data}><label for="${id}">${title}</label>
<input type="hidden" name="${DEFAULT_PREFIX}${p.name}" value="${p.defaultValue || String(min)}">
<input type="range" id="${id}" name="${name}" min="${min}" max="${max}" step="1" value="${shown}"${aria}>
<span class="small">${min} – ${max}; default ${defaultText}</span>
${hint}${errorText}</div>`;
    }
    case "multi-select": {
      const chosen = new Set(listOf(value));
      return html`<fieldset class="field" id="${id}"${data}${aria}><legend>${title}</legend>
<input type="hidden" name="${LIST_PREFIX}${p.name}" value="multi">
${p.options.map(
  (o, i) =>
    html`<label class="check"><input type="checkbox" id="${id}-${i}" name="${name}" value="${o.value}" ${chosen.has(o.value) ? "checked" : ""}> ${o.name || o.value}</label>`,
)}
<div class="muted small">none ticked: ${p.defaultValue === "" ? "no values" : `the default (${listOf(p.defaultValue).join(", ") || "none"})`}</div>
${hint}${errorText}</fieldset>`;
    }
    case "tag-select":
      return html`<div class="field"${data}><label for="${id}">${title}</label>
<input type="hidden" name="${LIST_PREFIX}${p.name}" value="lines">
<textarea id="${id}" name="${name}" rows="3"${aria} placeholder="one value per line">${listOf(value).join("\n")}</textarea>
<div class="muted small">one value per line; empty: the default (${listOf(p.defaultValue).join(", ") || "none"})</div>
${hint}${errorText}</div>`;
    case "textarea":
      return html`<div class="field"${data}><label for="${id}">${title}</label>
<textarea id="${id}" name="${name}" rows="4"${aria} placeholder="${p.required ? "" : p.defaultValue}">${value}</textarea>
${hint}${errorText}</div>`;
    default:
      return html`<div class="field"${data}><label for="${id}">${title}</label>
<input id="${id}" name="${name}" value="${value}" ${kind === "number" ? html`type="number" inputmode="decimal"${p.validationMin !== null ? html` min="${p.validationMin}"` : ""}${p.validationMax !== null ? html` max="${p.validationMax}"` : ""}` : html`type="text"`} placeholder="${p.required ? "" : p.defaultValue}"${aria}>
${hint}${errorText}</div>`;
  }
}

/** An option's display name for a value (the value itself when no option has it). */
function optionName(p: TemplateParameter, value: string): string {
  return p.options.find((o) => o.value === value)?.name || value;
}
