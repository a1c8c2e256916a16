// Provisioner jobs: show, logs (JSON or a live SSE stream), cancel. A workspace build's job is visible to the
// workspace's owner and to owners; a template import's job to every user (templates are visible to all).
import type { FastifyRequest } from "fastify";
import { routes } from "../../../contract/api.js";
import { invalid } from "../../domain-errors.js";
import { listJobLogs } from "../../store/jobs.js";
import { cancelJobFor, jobForUser } from "../../workspaces/service.js";
import type { App } from "../app.js";
import type { ApiDeps } from "../deps.js";
import { type LogStreamOptions, streamJobLogs } from "../log-stream.js";
import { presentJobLog } from "../presenters.js";
import { jobView } from "../views.js";
import { callerOf } from "./caller.js";

/** Where to resume: `Last-Event-ID` (set by a reconnecting SSE client) wins over `?after=`. */
function resumeAfter(request: FastifyRequest, after: number | undefined): number {
  const header = request.headers["last-event-id"];
  if (typeof header === "string" && header.trim() !== "") {
    if (!/^\d+$/.test(header.trim())) {
      throw invalid(`Last-Event-ID must be a log id (a non-negative integer), got "${header}"`, {
        field: "Last-Event-ID",
      });
    }
    return Number(header.trim());
  }
  return after ?? 0;
}

const wantsStream = (request: FastifyRequest, follow: boolean | undefined): boolean =>
  follow === true || (request.headers.accept ?? "").includes("text/event-stream");

export function registerJobRoutes(app: App, deps: ApiDeps, streamOptions: LogStreamOptions = {}): void {
  const { ctx } = deps;
  const db = ctx.store.db;

  app.route({
    ...routes.getJob,
    handler: async (request) => jobView(db, await jobForUser(db, callerOf(request), request.params.id)),
  });

  app.route({
    ...routes.getJobLogs,
    handler: async (request, reply) => {
      const job = await jobForUser(db, callerOf(request), request.params.id);
      const after = resumeAfter(request, request.query.after);
      if (!wantsStream(request, request.query.follow)) {
        return (await listJobLogs(db, job.id, { afterId: after })).map(presentJobLog);
      }
      reply.hijack();
      await streamJobLogs(ctx, reply.raw, job.id, after, streamOptions);
      return reply;
    },
  });

  app.route({
    ...routes.cancelJob,
    handler: async (request, reply) =>
      reply
        .status(202)
        .send(await jobView(db, await cancelJobFor(ctx, callerOf(request), request.params.id))),
  });
}
