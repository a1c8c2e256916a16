// `prewarm prebuilds simulate --input FILE`: replays a claim trace against a pool policy on a virtual clock with
// the planner the reconciler runs (src/planning/simulate.ts), offline. JSON by default (the documented output
// document, docs/prebuilds-autoscaling.md); `-o table` prints a short summary. `--policy JSON` replaces the
// input's policy, so one trace can be tried against several policies. An invalid input exits 2 naming the
// field; an unreadable file exits 1. Registered by ../register/prebuilds.ts.
import { formatTimestamp } from "../../planning/json-reader.js";
import { simulate } from "../../planning/simulate.js";
import {
  parseSimulation,
  SimulationFormatError,
  simulationToJson,
} from "../../planning/simulation-format.js";
import { CliError } from "../errors.js";
import { readInputFile } from "../input-file.js";
import { colorsFor, parseOutputFormat, printData, renderFields } from "../output.js";

/** Exit code for an input that is not valid (as opposed to 1: could not run at all). */
const EXIT_INVALID_INPUT = 2;

export interface SimulateOptions {
  input: string;
  policy?: string;
  output: string;
}

function invalid(file: string, message: string): CliError {
  return new CliError(`invalid simulation input "${file}": ${message}`, EXIT_INVALID_INPUT);
}

export async function run(options: SimulateOptions): Promise<void> {
  const format = parseOutputFormat(options.output);
  const text = await readInputFile(options.input, "simulation input");
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (err) {
    throw invalid(options.input, `input: not valid JSON: ${(err as Error).message}`);
  }
  if (options.policy !== undefined) {
    let policy: unknown;
    try {
      policy = JSON.parse(options.policy);
    } catch (err) {
      throw new CliError(`--policy: not valid JSON: ${(err as Error).message}`, EXIT_INVALID_INPUT);
    }
    if (typeof document === "object" && document !== null) document = { ...document, policy };
  }
  let input: ReturnType<typeof parseSimulation>;
  try {
    input = parseSimulation(document);
  } catch (err) {
    if (err instanceof SimulationFormatError) throw invalid(options.input, err.message);
    throw err;
  }
  const result = simulationToJson(simulate(input));
  if (format !== "table") return printData(format, result);
  const colors = colorsFor();
  const hours = (result.prebuildSeconds / 3600).toFixed(1);
  const peak = result.desired.reduce((m, [, n]) => Math.max(m, n), 0);
  process.stdout.write(
    renderFields(
      [
        ["Policy", JSON.stringify(document && (document as { policy?: unknown }).policy)],
        ["Measured", `${formatTimestamp(input.measureFrom)} – ${formatTimestamp(input.end)}`],
        ["Claims", String(result.claims)],
        [
          "Hit rate",
          result.hitRate === null ? "-" : `${(result.hitRate * 100).toFixed(1)}% (${result.hits} hits)`,
        ],
        ["Prebuild-hours", hours],
        ["Prebuilds created", String(result.created)],
        ["Desired", `${result.desired.length} changes, at most ${peak}`],
      ],
      colors,
    ),
  );
}
