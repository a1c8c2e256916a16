// The server's own metrics, beside the prebuild ones (prebuilds/metrics.ts), in the same registry:
// - Node/process defaults (`process_*`, `nodejs_*`, prom-client's collectDefaultMetrics);
// - `prewarm_build_info{version,node_version}`: the Prometheus convention of a constant 1 whose labels carry
//   the build;
// - `prewarm_http_request_duration_seconds{method,route,status}`: every HTTP answer by route *template*
//   (`/api/v1/workspaces/:id`; unmatched URLs are "unmatched", so scanners cannot grow the series);
// - `prewarm_provisioner_job_queue_wait_seconds{provisioner_type,job_type,transition}`: from a job's creation
//   to its acquisition by a daemon;
// - `prewarm_provisioner_job_duration_seconds{provisioner_type,job_type,transition,status}`: from acquisition
//   to the daemon's completion or failure (`status` succeeded | failed | canceled), so build durations by
//   transition and outcome (Coder splits this into coderd_provisionerd_job_timings_seconds{provisioner,status}
//   and, for workspace builds, coderd_provisionerd_workspace_build_timings_seconds with template labels; one
//   histogram with bounded labels here, Coder's buckets);
//   `transition` is "" for jobs that are not workspace builds;
// - `prewarm_provisioner_daemons_connected`: daemons that called this replica's daemon API (acquire, update,
//   complete, fail) within the last minute: a connected daemon long-polls at most 30 s and heartbeats while
//   it runs a job (nearest in Coder: coderd_provisionerd_num_daemons). Process-local,
//   as every histogram here: each replica reports the daemons talking to it.
// - `prewarm_retention_deleted_rows_total{table}`: history rows retention deleted (retention/, process-local:
//   the replica that pruned counts them; Coder's nearest: coderd_dbpurge_records_purged_total{record_type}).
import type { FastifyInstance } from "fastify";
import { Counter, collectDefaultMetrics, Gauge, Histogram, type Registry } from "prom-client";
import type { Clock } from "../clock.js";
import type { ProvisionerJob } from "./store/jobs.js";
import type { Transition } from "./store/schema.js";
import type { Store } from "./store/store.js";
import { getBuild } from "./store/workspaces.js";

/** A daemon unheard of for this long is no longer counted as connected. */
const DAEMON_CONNECTED_WINDOW_MS = 60_000;

/** Seconds; queue waits run from milliseconds (a daemon waiting) to many minutes (none available). */
const QUEUE_WAIT_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800];
/**
 * Transitions of jobs acquired here and not ended yet, kept so a job's end needs no read. A job that ends
 * elsewhere (its daemon moved to another replica, the reaper) leaves its entry: the oldest go past this many.
 */
const MAX_REMEMBERED_TRANSITIONS = 10_000;

/** Seconds; Coder's build timing buckets (1 s … 1 h). */
const JOB_DURATION_BUCKETS = [1, 10, 30, 60, 300, 600, 1800, 3600];

/** What the daemon API reports (daemon-api/service.ts). */
export interface DaemonApiObserver {
  /** A daemon called the API. */
  daemonSeen(daemonId: string): void;
  /**
   * A job was handed to a daemon (its `startedAt` is set); `transition` is its workspace build's, "" for other
   * jobs.
   */
  jobAcquired(job: ProvisionerJob, transition: Transition | ""): void;
  /** A job a daemon ran has ended (completed or failed): the job as its ending transaction returned it. */
  jobEnded(job: ProvisionerJob): void;
}

export class ServerMetrics implements DaemonApiObserver {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #requestDuration: Histogram<string>;
  readonly #queueWait: Histogram<string>;
  readonly #jobDuration: Histogram<string>;
  readonly #rowsPruned: Counter<string>;
  readonly #daemonsSeen = new Map<string, number>();
  readonly #transitions = new Map<string, Transition | "">();

  constructor(registry: Registry, options: { store: Store; clock: Clock; version: string }) {
    this.#store = options.store;
    this.#clock = options.clock;
    collectDefaultMetrics({ register: registry });
    new Gauge({
      name: "prewarm_build_info",
      help: "Always 1; the labels say which build of prewarm this process runs.",
      labelNames: ["version", "node_version"],
      registers: [registry],
    }).set({ version: options.version, node_version: process.version }, 1);
    this.#requestDuration = new Histogram({
      name: "prewarm_http_request_duration_seconds",
      help: "HTTP requests by method, route template and status code.",
      labelNames: ["method", "route", "status"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
    this.#queueWait = new Histogram({
      name: "prewarm_provisioner_job_queue_wait_seconds",
      help: "Time from a provisioner job's creation to its acquisition by a daemon.",
      labelNames: ["provisioner_type", "job_type", "transition"],
      buckets: QUEUE_WAIT_BUCKETS,
      registers: [registry],
    });
    this.#jobDuration = new Histogram({
      name: "prewarm_provisioner_job_duration_seconds",
      help: "Time from a provisioner job's acquisition to its end, by transition and outcome.",
      labelNames: ["provisioner_type", "job_type", "transition", "status"],
      buckets: JOB_DURATION_BUCKETS,
      registers: [registry],
    });
    this.#rowsPruned = new Counter({
      name: "prewarm_retention_deleted_rows_total",
      help: "History rows deleted by retention (job and agent logs, pool history, prebuild events), by table.",
      labelNames: ["table"],
      registers: [registry],
    });
    const seen = this.#daemonsSeen;
    const clock = this.#clock;
    new Gauge({
      name: "prewarm_provisioner_daemons_connected",
      help: "Provisioner daemons that called this server's daemon API within the last minute.",
      registers: [registry],
      collect() {
        const since = clock.now().getTime() - DAEMON_CONNECTED_WINDOW_MS;
        for (const [id, at] of seen) if (at < since) seen.delete(id);
        this.set(seen.size);
      },
    });
  }

  /** Times every HTTP answer of `app` (call before its routes are registered). */
  instrument(app: FastifyInstance): void {
    app.addHook("onResponse", async (request, reply) => {
      this.#requestDuration.observe(
        {
          method: request.method,
          route: request.routeOptions.url ?? "unmatched",
          status: String(reply.statusCode),
        },
        reply.elapsedTime / 1000,
      );
    });
  }

  /** A retention run deleted these rows (per table). */
  rowsPruned(deleted: Readonly<Record<string, number>>): void {
    for (const [table, n] of Object.entries(deleted)) this.#rowsPruned.inc({ table }, n);
  }

  daemonSeen(daemonId: string): void {
    if (daemonId) this.#daemonsSeen.set(daemonId, this.#clock.now().getTime());
  }

  jobAcquired(job: ProvisionerJob, transition: Transition | ""): void {
    const startedAt = job.startedAt ?? this.#clock.now();
    this.#transitions.set(job.id, transition);
    if (this.#transitions.size > MAX_REMEMBERED_TRANSITIONS) {
      this.#transitions.delete(this.#transitions.keys().next().value as string);
    }
    this.#queueWait.observe(
      { provisioner_type: job.provisioner, job_type: job.type, transition },
      Math.max(0, startedAt.getTime() - job.createdAt.getTime()) / 1000,
    );
  }

  jobEnded(job: ProvisionerJob): void {
    if (!job.startedAt) return;
    const startedAt = job.startedAt;
    const endedAt = job.completedAt ?? this.#clock.now();
    const status = job.status === "succeeded" ? "succeeded" : job.canceledAt ? "canceled" : "failed";
    void this.#labels(job).then((labels) =>
      this.#jobDuration.observe(
        { ...labels, status },
        Math.max(0, endedAt.getTime() - startedAt.getTime()) / 1000,
      ),
    );
  }

  /**
   * The transition remembered at acquisition, else read (a job acquired on another replica or before a
   * restart). A metric must never fail a job: a transition that cannot be read is "".
   */
  async #labels(job: ProvisionerJob): Promise<Record<string, string>> {
    let transition: string | undefined = this.#transitions.get(job.id);
    this.#transitions.delete(job.id);
    if (transition === undefined && job.type === "workspace_build") {
      transition = await getBuild(this.#store.db, job.input.workspaceBuildId)
        .then((build) => build?.transition ?? "")
        .catch(() => "");
    }
    return { provisioner_type: job.provisioner, job_type: job.type, transition: transition ?? "" };
  }
}
