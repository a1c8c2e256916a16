// `prewarm prebuilds plan`: asks the server for its next-cycle plan (table by default, `-o json` prints the
// contract's Plan object), or works offline with `--snapshot FILE` (JSON by default: the §5 output document;
// `-o table` renders it like the live plan). The `prebuilds` group and its options are registered by
// ../register/prebuilds.ts; this module loads when `plan` runs.
import { systemClock } from "../../clock.js";
import { type PlanT, routes } from "../../contract/api.js";
import { planCycle } from "../../planning/cycle.js";
import {
  type OfflineSnapshot,
  offlineCycleSnapshot,
  parseSnapshotText,
  planToJson,
  SnapshotFormatError,
} from "../../planning/snapshot-format.js";
import { type ApiOptions, commandContext } from "../client.js";
import { CliError } from "../errors.js";
import { readInputFile } from "../input-file.js";
import {
  type Colors,
  colorsFor,
  formatAgo,
  type OutputFormat,
  parseOutputFormat,
  printData,
  renderTable,
} from "../output.js";

/** Exit code for a snapshot that is not valid (as opposed to 1: could not run at all). */
export const EXIT_INVALID_SNAPSHOT = 2;

export interface PlanOptions extends ApiOptions {
  snapshot?: string;
}

type PlanPresetT = PlanT["presets"][number];
type PlanActionT = PlanPresetT["actions"][number];

function describeAction(a: PlanActionT, now: Date, colors: Colors): string {
  switch (a.type) {
    case "rehearse_claim":
      return "rehearse claim";
    case "set_status":
      return colors.red(`mark ${a.status.replace("_", "-")}`);
    case "delete":
      return `delete ${a.ids.length} ${a.reason}`;
    case "cancel_pending":
      return "cancel pending jobs";
    case "create":
      // The in-flight cap may grant fewer than the preset wants; the rest waits for later cycles.
      // A server-wide ceiling may hold them back too (`limitedBy`).
      if (a.wanted === undefined || a.count === a.wanted) return colors.green(`create ${a.count}`);
      return colors.yellow(
        a.limitedBy
          ? `create ${a.count} of ${a.wanted} (${a.wanted - a.count} held by ${a.limitedBy.replaceAll("_", "-")})`
          : `create ${a.count} of ${a.wanted} (${a.wanted - a.count} deferred)`,
      );
    case "backoff":
      return colors.yellow(`backoff, retry ${formatAgo(a.until, now)}`);
    case "blocked":
      return colors.red(`blocked: ${a.reason}`);
  }
}

/** One action list in a few words: "delete 1 expired, delete 2 stopped, create 3"; "-" for nothing to do. */
export function summarizeActions(actions: readonly PlanActionT[], now: Date, colors: Colors): string {
  if (actions.length === 0) return "-";
  return actions.map((a) => describeAction(a, now, colors)).join(", ");
}

/**
 * The plan as a table, one row per preset. Offline plans carry no names: the template and version columns
 * show "-" and the preset column the snapshot's id. Relative times count from the plan's `now` when it has one.
 */
export function renderPlan(plan: PlanT, fallbackNow: Date, colors: Colors): string {
  if (plan.presets.length === 0) return "No presets declare prebuilds; nothing to plan.\n";
  const now = plan.now ? new Date(plan.now) : fallbackNow;
  let head = "";
  if (plan.paused) {
    head += colors.yellow("Reconciliation is paused: nothing below runs until `prewarm prebuilds resume`.\n");
  }
  if (
    plan.inFlightJobs !== undefined &&
    plan.maxInFlightJobs !== undefined &&
    plan.maxInFlightJobs !== null
  ) {
    head += `Prebuild jobs in flight: ${plan.inFlightJobs} of at most ${plan.maxInFlightJobs}; this cycle may start ${plan.creationBudget ?? 0} creation(s).\n`;
  }
  return (
    head +
    renderTable(
      [
        { header: "template", value: (p: PlanPresetT) => p.template ?? "-" },
        { header: "version", value: (p) => p.templateVersion ?? "-" },
        { header: "preset", value: (p) => p.preset ?? p.id },
        { header: "desired", value: (p) => String(p.state.desired) },
        { header: "running", value: (p) => String(p.state.running) },
        { header: "eligible", value: (p) => String(p.state.eligible) },
        { header: "expired", value: (p) => String(p.state.expired) },
        { header: "starting", value: (p) => String(p.state.starting) },
        { header: "actions", value: (p) => summarizeActions(p.actions, now, colors) },
      ],
      plan.presets,
      colors,
    )
  );
}

/** `now` is for relative times in the table, when the plan itself carries none. */
function printPlan(plan: PlanT, format: OutputFormat, now: Date): void {
  if (format !== "table") printData(format, plan);
  else process.stdout.write(renderPlan(plan, now, colorsFor()));
}

async function loadSnapshot(file: string): Promise<OfflineSnapshot> {
  const text = await readInputFile(file, "snapshot");
  try {
    return parseSnapshotText(text);
  } catch (err) {
    if (err instanceof SnapshotFormatError) {
      throw new CliError(`invalid snapshot "${file}": ${err.message}`, EXIT_INVALID_SNAPSHOT);
    }
    throw err;
  }
}

async function planFromSnapshot(file: string, format: OutputFormat): Promise<void> {
  const snapshot = await loadSnapshot(file);
  // A snapshot without `now` is planned at the current time: the CLI is the I/O edge, the planner never reads
  // the clock.
  const now = snapshot.now ?? systemClock.now();
  const plan = planCycle(offlineCycleSnapshot(snapshot, now), snapshot.settings, snapshot.budget);
  // The JSON stays exactly the §5 document (no `now`, no names).
  printPlan(planToJson(plan), format, now);
}

async function planFromServer(options: PlanOptions): Promise<void> {
  const { client, format } = await commandContext({ ...options, output: options.output ?? "table" });
  printPlan(await client.call(routes.prebuildsPlan), format, systemClock.now());
}

export async function runPlan(options: PlanOptions): Promise<void> {
  if (options.snapshot !== undefined) {
    return planFromSnapshot(options.snapshot, parseOutputFormat(options.output ?? "json"));
  }
  return planFromServer(options);
}
