// `prewarm terraform …`: tools for template authors. `convert` runs the same conversion the terraform
// provisioner runs on `terraform show -json` + `terraform graph` output, so an author can see which agents,
// apps, parameters and presets prewarm extracts — and why an agent is not attached.
// Registered by ../register/terraform.ts.
import { readFile } from "node:fs/promises";
import {
  ConversionError,
  convertTerraform,
  type TerraformShowJson,
} from "../../provisioners/terraform/convert.js";
import { conversionResultToJson } from "../../provisioners/terraform/convert-json.js";
import { CliError } from "../errors.js";

export interface ConvertOptions {
  plan?: string;
  state?: string;
  graph: string;
}

async function readText(what: string, file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const reason = e.code === "ENOENT" ? "no such file" : e.code === "EISDIR" ? "is a directory" : e.message;
    throw new CliError(`read ${what} "${file}": ${reason}`);
  }
}

async function readShowJson(what: string, file: string): Promise<TerraformShowJson> {
  const text = await readText(what, file);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new CliError(`read ${what} "${file}": not JSON (${(err as Error).message})`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new CliError(`read ${what} "${file}": expected the JSON object of \`terraform show -json\``);
  }
  return parsed as TerraformShowJson;
}

export async function runConvert(options: ConvertOptions): Promise<void> {
  if ((options.plan === undefined) === (options.state === undefined)) {
    throw new CliError("convert: give exactly one of --plan FILE or --state FILE");
  }
  const kind = options.plan !== undefined ? "plan" : "state";
  const file = (options.plan ?? options.state)!;
  const state = await readShowJson(kind, file);
  const graph = await readText("graph", options.graph);
  let result: ReturnType<typeof convertTerraform>;
  try {
    result = convertTerraform({ state, graph, kind });
  } catch (err) {
    if (err instanceof ConversionError) throw new CliError(`convert: ${err.message}`);
    throw err;
  }
  for (const w of result.warnings) process.stderr.write(`warning: ${w}\n`);
  process.stdout.write(`${JSON.stringify(conversionResultToJson(result), null, 2)}\n`);
}
