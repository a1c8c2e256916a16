// Runs one acquired job by driving one provisioner Session, the way Coder's provisionerd runner does:
//
//   template import:  Config{archive} → Parse → UpdateJob{parse result} → Plan(START) → Plan(STOP) → CompleteJob
//   workspace build:  Config{archive, state, log level} → Plan{metadata, parameters, variables} → Apply → CompleteJob
//
// While it runs it heartbeats (UpdateJob) so the server's reaper knows the job is alive; a heartbeat reply
// that says "canceled" makes the runner send Cancel on the Session, and the provisioner's Complete (with its
// error) is then reported as the job's failure. Every outcome is reported exactly once: CompleteJob or FailJob.
import { clone, create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  type AcquiredJob,
  type AcquiredJob_TemplateImport,
  type AcquiredJob_WorkspaceBuild,
  type CompleteJobRequestSchema,
  type JobLogSchema,
  LogSource,
  type UpdateJobRequest,
  UpdateJobRequest_ParseResultSchema,
  UpdateJobRequestSchema,
} from "../gen/prewarm/daemon/v1/daemon_pb.js";
import {
  type Log,
  LogLevel,
  MetadataSchema,
  type PlanComplete,
  WorkspaceTransition,
} from "../gen/provisioner/provisioner_pb.js";
import type { ProvisionerClient, SessionClient } from "../provisionersdk/client.js";
import { type DaemonClient, withRetry } from "./api.js";
import { LogBuffer } from "./log-buffer.js";

export type JobOutcome = "completed" | "failed";

export interface RunJobOptions {
  job: AcquiredJob;
  daemonId: string;
  api: DaemonClient;
  /** The provisioner for `job.provisioner`, or undefined when this daemon has none of that type. */
  provisioner: ProvisionerClient | undefined;
  /** Heartbeat period (Coder: 1 s for built-in daemons, 500 ms for external ones). */
  heartbeatMs?: number;
  logQuietMs?: number;
  logMaxLines?: number;
  /** Aborts when the daemon is force-stopping: the job is canceled on the Session and then failed. */
  signal?: AbortSignal;
  now?: () => number;
}

type JobLogInit = MessageInitShape<typeof JobLogSchema>;

/** A failure to report with FailJob. `state` keeps what a failed apply returned, so nothing is lost. */
class JobFailure extends Error {
  constructor(
    message: string,
    readonly details: { state?: Uint8Array; timings?: PlanComplete["timings"] } = {},
  ) {
    super(message);
    this.name = "JobFailure";
  }
}

/** Error codes the server and users act on (Coder's names). */
function errorCodeFor(message: string): string {
  if (message.includes("missing parameter")) return "MISSING_TEMPLATE_PARAMETER";
  if (message.includes("required template variables")) return "REQUIRED_TEMPLATE_VARIABLES";
  return "";
}

const transitionStage: Record<WorkspaceTransition, string> = {
  [WorkspaceTransition.START]: "Starting workspace",
  [WorkspaceTransition.STOP]: "Stopping workspace",
  [WorkspaceTransition.DESTROY]: "Destroying workspace",
};

export async function runJob(options: RunJobOptions): Promise<JobOutcome> {
  const { job, daemonId, api } = options;
  const now = options.now ?? Date.now;
  const heartbeatMs = options.heartbeatMs ?? 1_000;
  let stage = "Setting up";
  let session: SessionClient | undefined;
  let canceled = false;
  let lastUpdate = now();

  const requestCancel = () => {
    if (canceled) return;
    canceled = true;
    session?.cancel();
  };
  const onAbort = () => requestCancel();
  options.signal?.addEventListener("abort", onAbort, { once: true });

  const update = async (
    extra: { logs?: JobLogInit[]; parseResult?: UpdateJobRequest["parseResult"] } = {},
  ) => {
    lastUpdate = now();
    const request = create(UpdateJobRequestSchema, { daemonId, jobId: job.jobId, logs: extra.logs ?? [] });
    request.parseResult = extra.parseResult;
    const res = await withRetry(() => api.updateJob(request), options.signal);
    if (res.canceled) requestCancel();
    return res;
  };
  const logs = new LogBuffer<JobLogInit>({
    send: async (batch) => {
      await update({ logs: batch });
    },
    quietMs: options.logQuietMs,
    maxLines: options.logMaxLines,
  });
  const daemonLog = (output: string, level = LogLevel.INFO) =>
    logs.push({ source: LogSource.PROVISIONER_DAEMON, level, createdAtMs: BigInt(now()), stage, output });
  const setStage = (next: string) => {
    stage = next;
    daemonLog("");
  };
  const provisionerLog = (log: Log) =>
    logs.push({
      source: LogSource.PROVISIONER,
      level: log.level,
      createdAtMs: BigInt(now()),
      stage,
      output: log.output,
    });

  const heartbeat = setInterval(() => {
    if (now() - lastUpdate < heartbeatMs) return;
    void update({ logs: logs.take() }).catch(() => {
      // A failed heartbeat is retried by the next tick; the reaper decides when the job is lost.
    });
  }, heartbeatMs);

  try {
    setStage("Setting up");
    if (!options.provisioner) {
      throw new JobFailure(`failed to connect to provisioner: missing provisioner type ${job.provisioner}`);
    }
    const jobType = job.type;
    let result: MessageInitShape<typeof CompleteJobRequestSchema>["type"];
    if (jobType.case === "templateImport") {
      result = { case: "templateImport", value: await runTemplateImport(jobType.value) };
    } else if (jobType.case === "workspaceBuild") {
      result = { case: "workspaceBuild", value: await runWorkspaceBuild(jobType.value) };
    } else {
      throw new JobFailure(`unsupported job type ${String(jobType.case)}`);
    }
    await logs.flush();
    setStage("Cleaning Up");
    await logs.flush();
    await withRetry(() => api.completeJob({ daemonId, jobId: job.jobId, type: result }), options.signal);
    return "completed";
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const details = err instanceof JobFailure ? err.details : {};
    daemonLog(message, LogLevel.ERROR);
    await logs.flush();
    await withRetry(
      () =>
        api.failJob({
          daemonId,
          jobId: job.jobId,
          error: message,
          errorCode: errorCodeFor(message),
          workspaceBuild:
            job.type.case === "workspaceBuild"
              ? { state: details.state ?? new Uint8Array(), timings: details.timings ?? [] }
              : undefined,
        }),
      options.signal,
    ).catch(() => {
      // The server is gone for good (or we are force-stopping): the reaper will fail the job.
    });
    return "failed";
  } finally {
    clearInterval(heartbeat);
    options.signal?.removeEventListener("abort", onAbort);
    if (session) await session.close().catch(() => session?.abort());
  }

  async function openSession(state?: Uint8Array, logLevel?: string): Promise<SessionClient> {
    session = await options.provisioner!.openSession(
      { templateSourceArchive: job.templateSourceArchive, state, provisionerLogLevel: logLevel ?? "" },
      { onLog: provisionerLog },
    );
    if (canceled) session.cancel();
    return session;
  }

  async function runTemplateImport(input: AcquiredJob_TemplateImport) {
    const s = await openSession();
    setStage("Parsing template parameters");
    const parsed = await s.parse({});
    if (parsed.error) throw new JobFailure(`run parse: parse error: ${parsed.error}`);
    const parseReply = await update({
      logs: logs.take(),
      parseResult: create(UpdateJobRequest_ParseResultSchema, {
        templateVariables: parsed.templateVariables,
        readme: parsed.readme,
        workspaceTags: parsed.workspaceTags,
      }),
    });
    if (canceled) throw new JobFailure("canceled");
    const variableValues = parseReply.variableValues.length
      ? parseReply.variableValues
      : input.userVariableValues;
    const planFor = async (transition: WorkspaceTransition, label: string, stageName: string) => {
      setStage(stageName);
      const metadata = input.metadata ? clone(MetadataSchema, input.metadata) : create(MetadataSchema);
      metadata.workspaceTransition = transition;
      const plan = await s.plan({ metadata, variableValues });
      if (plan.error) throw new JobFailure(`template import provision for ${label}: ${plan.error}`);
      return plan;
    };
    const start = await planFor(WorkspaceTransition.START, "start", "Detecting persistent resources");
    const stop = await planFor(WorkspaceTransition.STOP, "stop", "Detecting ephemeral resources");
    return {
      startResources: start.resources,
      stopResources: stop.resources,
      richParameters: start.parameters,
      externalAuthProviders: start.externalAuthProviders,
      startModules: start.modules,
      stopModules: stop.modules,
      presets: start.presets,
      plan: start.plan,
    };
  }

  async function runWorkspaceBuild(input: AcquiredJob_WorkspaceBuild) {
    const s = await openSession(input.state, input.logLevel);
    const transition = input.metadata?.workspaceTransition ?? WorkspaceTransition.START;
    setStage("Planning infrastructure");
    const plan = await s.plan({
      metadata: input.metadata,
      richParameterValues: input.richParameterValues,
      previousParameterValues: input.previousParameterValues,
      variableValues: input.variableValues,
    });
    if (plan.error) throw new JobFailure(plan.error, { timings: plan.timings });
    await logs.flush();
    if (canceled) throw new JobFailure("canceled", { timings: plan.timings });
    setStage(transitionStage[transition]);
    const apply = await s.apply({ metadata: input.metadata });
    const timings = [...plan.timings, ...apply.timings];
    if (apply.error) throw new JobFailure(apply.error, { state: apply.state, timings });
    return {
      state: apply.state,
      resources: apply.resources,
      timings,
      modules: plan.modules,
      resourceReplacements: plan.resourceReplacements,
    };
  }
}
