// Provisioner jobs (template imports and workspace builds) and their logs, including the SSE stream.
import { Type } from "@sinclair/typebox";
import { JobStatus, LogLevel, Nullable, NullableTimestamp, StringEnum, Timestamp } from "./common.js";

export const JobType = StringEnum(["template_version_import", "workspace_build", "claim_rehearsal"]);

export const Job = Type.Object(
  {
    id: Type.String(),
    type: JobType,
    status: JobStatus,
    /** Set when the job failed (or was canceled): one line from the provisioner or the server. */
    error: Nullable(Type.String()),
    errorCode: Nullable(Type.String()),
    /** Name of the provisioner daemon that acquired the job. */
    workerName: Nullable(Type.String()),
    tags: Type.Record(Type.String(), Type.String()),
    createdAt: Timestamp,
    startedAt: NullableTimestamp,
    updatedAt: Timestamp,
    completedAt: NullableTimestamp,
    canceledAt: NullableTimestamp,
  },
  { title: "Job" },
);

export const JobLog = Type.Object(
  {
    /** Increasing per job; pass the last one seen as `?after=` (or SSE `Last-Event-ID`) to resume. */
    id: Type.Integer(),
    createdAt: Timestamp,
    source: StringEnum(["provisioner", "provisioner_daemon"]),
    level: LogLevel,
    /** e.g. "Parsing template", "Planning infrastructure", "Applying changes". */
    stage: Type.String(),
    output: Type.String(),
  },
  { title: "JobLog" },
);

export const JobLogsQuery = Type.Object({
  /** Only logs with an id greater than this. */
  after: Type.Optional(Type.Integer({ minimum: 0 })),
  /** Stream as server-sent events until the job ends (same as `Accept: text/event-stream`). */
  follow: Type.Optional(Type.Boolean()),
});

/**
 * The SSE stream of `GET /jobs/{id}/logs?follow=true` (or with `Accept: text/event-stream`).
 * Content-Type `text/event-stream`. Events, each `data` one line of JSON:
 *
 *   event: log       id: <JobLog.id>   data: JobLog       — one per log line, in id order
 *   event: job                         data: Job          — whenever the job's status changes (optional)
 *   event: end                         data: Job          — the job reached a final status; the server
 *                                                          closes the stream right after
 *   event: error                       data: ErrorBody    — the server cannot continue; closes after
 *   ": ping" comment lines every 15 s keep proxies from closing an idle stream.
 *
 * Logs already stored are sent first (those after `?after=` / `Last-Event-ID`); if the job has already
 * ended, they are followed at once by `end`. A client that loses the connection reconnects with
 * `Last-Event-ID` set to the last log id it saw.
 */
export const JobLogEventNames = ["log", "job", "end", "error"] as const;
export type JobLogEventName = (typeof JobLogEventNames)[number];
