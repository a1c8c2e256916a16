// `GET /jobs/:id/logs?follow=true`: a job's logs as server-sent events until the job ends (the event format is
// documented in contract/jobs.ts). Pub/sub messages on the job's log channel are only hints to look again: after
// each one (and every `pollMs` anyway, in case a message was lost — PostgreSQL NOTIFY is not durable across a
// listener reconnect) the stream re-reads the database from the last log id it sent. The database is the
// source of truth, so a reconnecting client with Last-Event-ID gets exactly the lines it missed.
//
// Lifecycle: stored logs → (new logs | `job` on a status change)* → final logs → `end`, then close. The client
// going away ends the loop at its next wake-up; `error` is sent (then close) when the server cannot continue.
import type { ServerResponse } from "node:http";
import type { JobLogEventName } from "../../contract/api.js";
import type { ServerContext } from "../context.js";
import { isTerminal } from "../store/job-status.js";
import { getJob, listJobLogs } from "../store/jobs.js";
import { channels } from "../store/pubsub.js";
import { presentJobLog } from "./presenters.js";
import { jobView } from "./views.js";

export interface LogStreamOptions {
  /** Re-read the database this often without a hint (default 1 s). */
  pollMs?: number;
  /** `: ping` comment interval that keeps proxies from closing an idle stream (default 15 s). */
  pingMs?: number;
  /** Log lines read per query. */
  batch?: number;
}

/** Writes one event; resolves once the socket accepted it (waits for `drain` under backpressure). */
function writeEvent(res: ServerResponse, event: JobLogEventName, data: unknown, id?: number): Promise<void> {
  const text = `event: ${event}\n${id === undefined ? "" : `id: ${id}\n`}data: ${JSON.stringify(data)}\n\n`;
  if (res.write(text)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

/**
 * Streams the job's logs after `afterId` to `res` (already hijacked from Fastify) until the job ends or the
 * client disconnects. Never throws: failures become an `error` event.
 */
export async function streamJobLogs(
  ctx: ServerContext,
  res: ServerResponse,
  jobId: string,
  afterId: number,
  options: LogStreamOptions = {},
): Promise<void> {
  const pollMs = options.pollMs ?? 1_000;
  const batch = options.batch ?? 1_000;
  const db = ctx.store.db;
  let closed = false;
  let wake: (() => void) | undefined;
  const nudge = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  res.on("close", () => {
    closed = true;
    nudge();
  });
  const unsubscribe = ctx.store.pubsub.subscribe(channels.jobLogs(jobId), nudge);
  const ping = setInterval(() => {
    if (!closed) res.write(": ping\n\n");
  }, options.pingMs ?? 15_000);

  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache, no-transform",
    connection: "keep-alive",
    "x-accel-buffering": "no",
  });
  res.flushHeaders();

  let cursor = afterId;
  let lastStatus: string | undefined;
  const sendLogs = async (): Promise<void> => {
    for (;;) {
      const logs = await listJobLogs(db, jobId, { afterId: cursor, limit: batch });
      for (const log of logs) {
        if (closed) return;
        await writeEvent(res, "log", presentJobLog(log), log.id);
        cursor = log.id;
      }
      if (logs.length < batch) return;
    }
  };

  try {
    await unsubscribe.ready;
    while (!closed) {
      // Arm the wake-up before reading, so a hint arriving during the reads is not lost.
      const hinted = new Promise<void>((resolve) => {
        wake = resolve;
      });
      await sendLogs();
      const job = await getJob(db, jobId);
      if (!job) throw new Error(`job ${jobId} disappeared`);
      if (closed) break;
      if (isTerminal(job.status)) {
        // Lines stored between the read above and the job ending.
        await sendLogs();
        if (!closed) await writeEvent(res, "end", await jobView(db, job));
        break;
      }
      if (job.status !== lastStatus) {
        if (lastStatus !== undefined) await writeEvent(res, "job", await jobView(db, job));
        lastStatus = job.status;
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        hinted,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, pollMs);
        }),
      ]);
      clearTimeout(timer);
    }
  } catch (err) {
    ctx.logger.warn({ err, jobId }, "job log stream failed");
    if (!closed) await writeEvent(res, "error", { message: `log stream failed: ${(err as Error).message}` });
  } finally {
    clearInterval(ping);
    unsubscribe();
    res.end();
  }
}
