// Workspace lifecycle commands: create (claiming a prebuild when one is ready), list, show, start, stop,
// delete, logs. A workspace is addressed as NAME (the caller's) or OWNER/NAME.
// Registered by ../register/workspaces.ts; this module loads when one of them runs.
import { performance } from "node:perf_hooks";
import { type BuildT, type JobT, routes, type WorkspaceT } from "../../contract/api.js";
import { formatDuration } from "../../util/duration.js";
import { type ApiClient, type ApiOptions, commandContext } from "../client.js";
import { CliError } from "../errors.js";
import {
  type Colors,
  colorStatus,
  colorsFor,
  formatAgo,
  printData,
  renderFields,
  renderTable,
  workspaceState,
} from "../output.js";
import { toYaml } from "../yaml.js";
import {
  formatLogLine,
  parseDurationFlag,
  parseKeyValues,
  progressFor,
  versionName,
  waitForJob,
} from "./shared.js";

/** "dev" → the caller's workspace "dev"; "alice/dev" → alice's. */
export function parseWorkspaceRef(ref: string): { owner: string; name: string } {
  const parts = ref.split("/");
  if (parts.length === 1 && parts[0]) return { owner: "me", name: parts[0] };
  if (parts.length === 2 && parts[0] && parts[1]) return { owner: parts[0], name: parts[1] };
  throw new CliError(`invalid workspace "${ref}": use NAME or OWNER/NAME`, 2);
}

export function getWorkspace(client: ApiClient, ref: string): Promise<WorkspaceT> {
  return client.call(routes.getWorkspaceByName, { params: parseWorkspaceRef(ref) });
}

function buildFailed(
  ws: { name: string },
  build: { number: number; transition: string },
  job: JobT,
): CliError {
  const what = job.status === "canceled" ? "was canceled" : "failed";
  return new CliError(
    `${build.transition} build #${build.number} of workspace "${ws.name}" ${what}: ${job.error ?? job.status}`,
  );
}

function workspaceColumns(all: boolean, now: Date, colors: Colors) {
  return [
    ...(all ? [{ header: "owner", value: (w: WorkspaceT) => w.owner }] : []),
    { header: "name", value: (w: WorkspaceT) => w.name },
    { header: "template", value: (w: WorkspaceT) => w.template },
    { header: "version", value: (w: WorkspaceT) => w.templateVersion + (w.outdated ? " (outdated)" : "") },
    { header: "preset", value: (w: WorkspaceT) => w.preset ?? "-" },
    { header: "status", value: (w: WorkspaceT) => colorStatus(workspaceState(w.latestBuild), colors) },
    { header: "prebuild", value: (w: WorkspaceT) => (w.claimedPrebuild ? "claimed" : "-") },
    { header: "last build", value: (w: WorkspaceT) => formatAgo(w.latestBuild.createdAt, now) },
  ];
}

export function renderWorkspace(w: WorkspaceT, now: Date, colors: Colors): string {
  const b = w.latestBuild;
  let out = renderFields(
    [
      ["Workspace", `${w.owner}/${w.name}`],
      ["Template", `${w.template} ${w.templateVersion}${w.outdated ? " (outdated)" : ""}`],
      ["Preset", w.preset ?? "-"],
      ["Prebuild", w.claimedPrebuild ? `claimed ${formatAgo(w.claimedAt, now)}` : "no"],
      ["Status", colorStatus(workspaceState(b), colors)],
      [
        "Latest build",
        `#${b.number} ${b.transition} ${colorStatus(b.status, colors)} (${b.reason}, ${formatAgo(b.createdAt, now)})`,
      ],
      ...(b.error ? [["Error", colors.red(b.error)] as [string, string]] : []),
      ...(b.resourceReplacements.length > 0
        ? [
            [
              "Replaced",
              colors.yellow(
                b.resourceReplacements.map((r) => `${r.resource} (${r.paths.join(", ") || "?"})`).join("; "),
              ),
            ] as [string, string],
          ]
        : []),
      [
        "Lease",
        w.lease
          ? w.lease.deadline
            ? `${w.lease.onExpiry} ${formatAgo(w.lease.deadline, now)} (${w.lease.deadline})`
            : `${formatDuration(w.lease.seconds * 1000)} once usable, then ${w.lease.onExpiry}`
          : "none",
      ],
      ["Created", formatAgo(w.createdAt, now)],
    ],
    colors,
  );
  const agents = w.resources.flatMap((r) => r.agents.map((a) => ({ resource: r, agent: a })));
  if (w.resources.length > 0) {
    out += `\n${renderTable(
      [
        { header: "resource", value: (r: (typeof w.resources)[number]) => `${r.type}.${r.name}` },
        { header: "agents", value: (r) => r.agents.map((a) => a.name).join(", ") || "-" },
      ],
      w.resources,
      colors,
    )}`;
  }
  if (agents.length > 0) {
    out += `\n${renderTable(
      [
        { header: "agent", value: (x: (typeof agents)[number]) => x.agent.name },
        { header: "lifecycle", value: (x) => colorStatus(x.agent.lifecycleState, colors) },
        { header: "status", value: (x) => colorStatus(x.agent.status, colors) },
        { header: "apps", value: (x) => x.agent.apps.map((a) => a.slug).join(", ") || "-" },
        {
          header: "metadata",
          value: (x) =>
            x.agent.metadata
              .map(
                (m) => `${m.displayName}: ${m.error ? colors.red(m.error) : m.collectedAt ? m.value : "…"}`,
              )
              .join("; ") || "-",
        },
      ],
      agents,
      colors,
    )}`;
  }
  return out;
}

export interface CreateOptions extends ApiOptions {
  template: string;
  preset?: string;
  parameter: string[];
  wait: boolean;
  templateVersion?: string;
  lease?: string;
  onExpiry?: string;
  idempotencyKey?: string;
}

/** How long `create` waits for a built workspace's agents to be ready before it reports anyway. */
const READY_WAIT = "5m";

export async function create(name: string, options: CreateOptions): Promise<void> {
  const parameters = parseKeyValues("--parameter", options.parameter);
  const lease = parseLease(options);
  const { client, format } = await commandContext(options);
  const colors = colorsFor();
  const started = performance.now();
  const created = await client.call(routes.createWorkspace, {
    body: {
      name,
      template: options.template,
      ...(options.preset ? { preset: options.preset } : {}),
      ...(options.templateVersion ? { templateVersion: versionName(options.templateVersion) } : {}),
      ...(Object.keys(parameters).length > 0 ? { parameters } : {}),
      ...(lease ? { lease } : {}),
    },
    ...(options.idempotencyKey ? { headers: { "idempotency-key": options.idempotencyKey } } : {}),
  });
  const claimed = created.claimedPrebuild
    ? `claimed a prebuilt workspace${created.preset ? ` of preset "${created.preset}"` : ""}`
    : `no prebuild claimed${created.preset ? ` (preset "${created.preset}" had none ready)` : ""}`;
  if (!options.wait) {
    if (format !== "table") printData(format, created);
    else
      process.stdout.write(
        `Workspace "${created.name}" created: ${claimed}; build #${created.latestBuild.number} ${created.latestBuild.status}.\n`,
      );
    return;
  }
  const progress = progressFor(format);
  const job = await waitForJob(client, created.latestBuild.jobId, {
    label: `Building workspace "${name}"`,
    progress,
    showLogs: false,
    colors: colorsFor(process.stderr),
  });
  if (job.status !== "succeeded") throw buildFailed(created, created.latestBuild, job);
  // Usable = the agents are ready too (or the build is done, for a template without agents): the server
  // answers this call at that moment.
  progress.update(`Waiting for the agents of "${name}" to be ready`);
  const ws = await client.call(routes.getWorkspace, {
    params: { id: created.id },
    query: { wait: "ready", timeout: READY_WAIT },
  });
  progress.stop();
  const usableMs = Math.round(performance.now() - started);
  if (format !== "table") return printData(format, ws);
  const usable = ws.latestBuild.usableAt
    ? `usable ${formatDuration(usableMs)} after the request`
    : `its agents are not ready yet after ${formatDuration(usableMs)}`;
  process.stdout.write(`Workspace "${ws.name}" is ready: ${claimed}; ${usable}.\n\n`);
  process.stdout.write(renderWorkspace(ws, new Date(), colors));
}

function parseLease(options: CreateOptions): { seconds: number; onExpiry?: "stop" | "delete" } | undefined {
  if (options.onExpiry !== undefined && options.onExpiry !== "stop" && options.onExpiry !== "delete") {
    throw new CliError(`--on-expiry must be stop or delete, got "${options.onExpiry}"`, 2);
  }
  if (options.lease === undefined) {
    if (options.onExpiry !== undefined) throw new CliError("--on-expiry needs --lease", 2);
    return undefined;
  }
  const seconds = Math.round(parseDurationFlag("--lease", options.lease) / 1000);
  if (seconds < 1) throw new CliError(`--lease must be at least 1s, got "${options.lease}"`, 2);
  return { seconds, ...(options.onExpiry ? { onExpiry: options.onExpiry } : {}) };
}

export async function extend(ref: string, duration: string, options: ApiOptions): Promise<void> {
  const seconds = Math.round(parseDurationFlag("duration", duration) / 1000);
  if (seconds < 1) throw new CliError(`extend by at least 1s, got "${duration}"`, 2);
  const { client, format } = await commandContext(options);
  const ws = await getWorkspace(client, ref);
  const extended = await client.call(routes.extendLease, { params: { id: ws.id }, body: { seconds } });
  if (format !== "table") return printData(format, extended);
  const lease = extended.lease;
  process.stdout.write(
    lease?.deadline
      ? `Workspace "${extended.name}": lease runs until ${lease.deadline} (then ${lease.onExpiry}).\n`
      : `Workspace "${extended.name}": lease of ${formatDuration((lease?.seconds ?? 0) * 1000)} once it is usable.\n`,
  );
}

export async function list(options: ApiOptions & { all?: boolean; prebuilds?: boolean; template?: string }) {
  const { client, format } = await commandContext(options);
  const rows = await client.call(routes.listWorkspaces, {
    query: {
      ...(options.all ? { all: true } : {}),
      ...(options.prebuilds ? { prebuilds: true } : {}),
      ...(options.template ? { template: options.template } : {}),
    },
  });
  if (format !== "table") return printData(format, rows);
  if (rows.length === 0) {
    process.stdout.write("No workspaces. Create one with `prewarm create NAME --template TEMPLATE`.\n");
    return;
  }
  const colors = colorsFor();
  process.stdout.write(renderTable(workspaceColumns(Boolean(options.all), new Date(), colors), rows, colors));
}

export async function show(ref: string, options: ApiOptions) {
  const { client, format } = await commandContext(options);
  const ws = await getWorkspace(client, ref);
  if (format !== "table") return printData(format, ws);
  process.stdout.write(renderWorkspace(ws, new Date(), colorsFor()));
}

const pastTense = { start: "started", stop: "stopped", delete: "deleted" } as const;

export async function transition(
  ref: string,
  to: "start" | "stop" | "delete",
  options: ApiOptions & { wait: boolean },
) {
  const { client, format } = await commandContext(options);
  const ws = await getWorkspace(client, ref);
  const build = await client.call(routes.createBuild, { params: { id: ws.id }, body: { transition: to } });
  if (!options.wait) {
    if (format !== "table") return printData(format, build);
    process.stdout.write(`Build #${build.number} (${to}) of workspace "${ws.name}" queued.\n`);
    return;
  }
  const job = await waitForJob(client, build.jobId, {
    label: `${to[0]!.toUpperCase()}${to.slice(1)} workspace "${ws.name}"`,
    progress: progressFor(format),
    showLogs: false,
    colors: colorsFor(process.stderr),
  });
  if (job.status !== "succeeded") throw buildFailed(ws, build, job);
  if (format !== "table")
    return printData(format, await client.call(routes.getBuild, { params: { id: build.id } }));
  process.stdout.write(`Workspace "${ws.name}" ${pastTense[to]} (build #${build.number}).\n`);
}

export async function cancel(ref: string, options: ApiOptions) {
  const { client, format } = await commandContext(options);
  const ws = await getWorkspace(client, ref);
  const job = await client.call(routes.cancelJob, { params: { id: ws.latestBuild.jobId } });
  if (format !== "table") return printData(format, job);
  process.stdout.write(
    `Build #${ws.latestBuild.number} (${ws.latestBuild.transition}) of workspace "${ws.name}": ${job.status}.\n`,
  );
}

export async function logs(ref: string, options: ApiOptions & { follow?: boolean; build?: string }) {
  const { client, format } = await commandContext(options);
  const ws = await getWorkspace(client, ref);
  let build: BuildT = ws.latestBuild;
  if (options.build !== undefined) {
    const number = Number(options.build);
    if (!Number.isInteger(number) || number < 1)
      throw new CliError(`invalid --build "${options.build}": expected a build number`, 2);
    build = await client.call(routes.getBuildByNumber, { params: { id: ws.id, number } });
  }
  const colors = colorsFor();
  if (!options.follow) {
    const lines = await client.call(routes.getJobLogs, { params: { id: build.jobId } });
    if (format !== "table") return printData(format, lines);
    for (const log of lines) process.stdout.write(`${formatLogLine(log, colors)}\n`);
    return;
  }
  // Follow: one line per log as it arrives (with -o json, one JSON object per line).
  const job = await client.followJobLogs(build.jobId, {
    onLog: (log) =>
      process.stdout.write(
        format === "json"
          ? `${JSON.stringify(log)}\n`
          : format === "yaml"
            ? `---\n${toYaml(log)}`
            : `${formatLogLine(log, colors)}\n`,
      ),
  });
  if (job.status !== "succeeded") throw buildFailed(ws, build, job);
}
