// Runs one acquired job by driving one provisioner Session, the way Coder's provisionerd runner does:
//
//   template import:  Config{archive} → Parse → UpdateJob{parse result} → Plan(START) → Plan(STOP) → CompleteJob
//   workspace build:  Config{archive, state, log level} → Plan{metadata, parameters, variables} → Apply → CompleteJob
//
// While it runs it heartbeats (UpdateJob after `heartbeatMs` without one) so the server's reaper knows the job
// is alive. The replies steer it:
//   - "canceled": the runner sends Cancel on the Session; the provisioner's Complete (with its error) is then
//     reported as the job's failure (FailJob), which the server records as canceled;
//   - the job is no longer this daemon's (LOST_JOB_CODES: not found, finished — e.g. reaped —, not running,
//     running elsewhere), answered to a heartbeat, a log batch, the parse result, CompleteJob or FailJob: the
//     runner stops talking to the server about it (no more heartbeats or logs, and no CompleteJob/FailJob —
//     the server would refuse them, and what it recorded stands), sends Cancel on the Session and waits for
//     the provisioner to stop before returning "lost", so a provisioner never runs two jobs for one daemon
//     and terraform can exit cleanly. Cancel, not abort: a killed terraform can leave its state locked.
// Every other outcome is reported exactly once: CompleteJob or FailJob — with the last log lines, to a server
// that takes them (outcomeTakesLogs), else after an UpdateJob carrying them. Transient errors are retried.
// Heartbeats, log batching and retry backoff run on the injected Clock; log lines are stamped with its now().
import { clone, create, type MessageInitShape } from "@bufbuild/protobuf";
import { type Clock, systemClock, type TimerHandle } from "../clock.js";
import {
  type AcquiredJob,
  type AcquiredJob_ClaimRehearsal,
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
import { type DaemonClient, isLostJob, withRetry } from "./api.js";
import { LogBuffer } from "./log-buffer.js";

/** "lost": the server said the job is no longer this daemon's; nothing was reported for it. */
export type JobOutcome = "completed" | "failed" | "lost";

export interface RunJobOptions {
  job: AcquiredJob;
  daemonId: string;
  api: DaemonClient;
  /** The provisioner for `job.provisioner`, or undefined when this daemon has none of that type. */
  provisioner: ProvisionerClient | undefined;
  /**
   * The server stores the logs of CompleteJob and FailJob (AcquireJobResponse.outcome_takes_logs): the last
   * lines go with the outcome instead of in an UpdateJob of their own. Default false (every line by UpdateJob).
   */
  outcomeTakesLogs?: boolean;
  /** Heartbeat period (Coder: 1 s for built-in daemons, 500 ms for external ones). */
  heartbeatMs?: number;
  logQuietMs?: number;
  logMaxLines?: number;
  /** Aborts when the daemon is force-stopping: the job is canceled on the Session and then failed. */
  signal?: AbortSignal;
  /** Default: the system clock. */
  clock?: Clock;
  /** Told once why the job was lost (the server's message), for the daemon's log. */
  onLost?: (reason: string) => void;
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

/** The server said the job is no longer this daemon's; the run ends as "lost". */
class JobLostError extends Error {
  override name = "JobLostError";
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
  const clock = options.clock ?? systemClock;
  const heartbeatMs = options.heartbeatMs ?? 1_000;
  let stage = "Setting up";
  let session: SessionClient | undefined;
  let canceled = false;
  /** Set once the server said the job is not ours; from then on nothing more is sent for it. */
  let lost: JobLostError | undefined;
  let finished = false;
  let heartbeat: TimerHandle | undefined;

  const requestCancel = () => {
    if (canceled) return;
    canceled = true;
    session?.cancel();
  };
  const onAbort = () => requestCancel();
  options.signal?.addEventListener("abort", onAbort, { once: true });

  /** Records a lost-job answer (the first one wins), stops heartbeats and cancels the Session. */
  const markLost = (err: { rawMessage: string }): JobLostError => {
    if (!lost) {
      lost = new JobLostError(`job ${job.jobId} is no longer this daemon's: ${err.rawMessage}`);
      clock.clearTimeout(heartbeat);
      options.onLost?.(err.rawMessage);
      requestCancel();
    }
    return lost;
  };
  /** Set when CompleteJob/FailJob is sent: from then on only its own answer can say the job is lost. */
  let reporting = false;
  /**
   * Calls the server about this job; a lost-job answer becomes the JobLostError. Accepted race: a heartbeat
   * still in flight when the outcome is reported may be answered "already completed" — by our own report —
   * so once reporting, an update's lost answer is ignored and the report's answer decides.
   */
  const call = async <T>(fn: () => Promise<T>, report = false): Promise<T> => {
    if (lost) throw lost;
    try {
      return await withRetry(fn, clock, options.signal);
    } catch (err) {
      throw isLostJob(err) && (report || !reporting) ? markLost(err) : err;
    }
  };
  const throwIfLost = () => {
    if (lost) throw lost;
  };

  // The heartbeat is re-armed by every update, so one goes out after `heartbeatMs` without any.
  const armHeartbeat = () => {
    clock.clearTimeout(heartbeat);
    if (finished || lost) return;
    heartbeat = clock.setTimeout(() => {
      void update({ logs: logs.take() }).catch(() => {
        // Transient errors were retried and a lost job handled; anything else (the server gone for good, a
        // force-stop) leaves the job to the reaper. The update re-armed the next beat before it was sent.
      });
    }, heartbeatMs);
  };
  const update = async (
    extra: { logs?: JobLogInit[]; parseResult?: UpdateJobRequest["parseResult"] } = {},
  ) => {
    throwIfLost();
    armHeartbeat();
    const request = create(UpdateJobRequestSchema, { daemonId, jobId: job.jobId, logs: extra.logs ?? [] });
    request.parseResult = extra.parseResult;
    const res = await call(() => api.updateJob(request));
    if (res.canceled) requestCancel();
    return res;
  };
  const logs = new LogBuffer<JobLogInit>({
    send: async (batch) => {
      await update({ logs: batch });
    },
    quietMs: options.logQuietMs,
    maxLines: options.logMaxLines,
    clock,
  });
  /** The lines still to send when the outcome is reported: sent now, or handed back to go with the outcome. */
  const lastLogs = async (): Promise<JobLogInit[]> => {
    if (options.outcomeTakesLogs) return logs.settle();
    await logs.flush();
    return [];
  };
  const stamp = () => BigInt(clock.now().getTime());
  const daemonLog = (output: string, level = LogLevel.INFO) =>
    logs.push({ source: LogSource.PROVISIONER_DAEMON, level, createdAtMs: stamp(), stage, output });
  const setStage = (next: string) => {
    stage = next;
    daemonLog("");
  };
  const provisionerLog = (log: Log) =>
    logs.push({
      source: LogSource.PROVISIONER,
      level: log.level,
      createdAtMs: stamp(),
      stage,
      output: log.output,
    });

  armHeartbeat();
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
    } else if (jobType.case === "claimRehearsal") {
      result = { case: "claimRehearsal", value: await runClaimRehearsal(jobType.value) };
    } else {
      throw new JobFailure(`unsupported job type ${String(jobType.case)}`);
    }
    // The apply's last lines and the cleaning-up line go in one request: nothing is decided between the two.
    setStage("Cleaning Up");
    const last = await lastLogs();
    reporting = true;
    await call(() => api.completeJob({ daemonId, jobId: job.jobId, type: result, logs: last }), true);
    return "completed";
  } catch (err) {
    if (lost) return "lost";
    const message = err instanceof Error ? err.message : String(err);
    const details = err instanceof JobFailure ? err.details : {};
    daemonLog(message, LogLevel.ERROR);
    const last = await lastLogs();
    reporting = true;
    try {
      await call(
        () =>
          api.failJob({
            daemonId,
            jobId: job.jobId,
            error: message,
            errorCode: errorCodeFor(message),
            logs: last,
            workspaceBuild:
              job.type.case === "workspaceBuild"
                ? { state: details.state ?? new Uint8Array(), timings: details.timings ?? [] }
                : undefined,
          }),
        true,
      );
    } catch {
      // Lost meanwhile (handled below), or the server is gone for good / we are force-stopping: the reaper
      // will fail the job.
    }
    return lost ? "lost" : "failed";
  } finally {
    finished = true;
    clock.clearTimeout(heartbeat);
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
      throwIfLost(); // the Cancel may have reached the provisioner between two requests
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

  /** Plans a claim of the prebuild and reports what it would replace; never applies anything. */
  async function runClaimRehearsal(input: AcquiredJob_ClaimRehearsal) {
    const s = await openSession(input.state);
    setStage("Rehearsing the claim (plan only)");
    const plan = await s.plan({
      metadata: input.metadata,
      richParameterValues: input.richParameterValues,
      variableValues: input.variableValues,
    });
    if (plan.error) throw new JobFailure(`claim rehearsal plan: ${plan.error}`);
    return { resourceReplacements: plan.resourceReplacements };
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
