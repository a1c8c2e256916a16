// Drives a provisioner's Session over gRPC: open a session with a Config, then parse / plan / apply one at a
// time. Logs are delivered as they arrive; each call resolves with its Complete; a gRPC error ending the stream
// rejects the pending call (and every later one) with a ProvisionerProtocolError.
import * as net from "node:net";
import * as tls from "node:tls";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  type ApplyComplete,
  type ApplyRequestSchema,
  type ConfigSchema,
  type Log,
  type ParseComplete,
  type ParseRequestSchema,
  type PlanComplete,
  type PlanRequestSchema,
  Provisioner as ProvisionerService,
  type Request,
  RequestSchema,
  type Response,
} from "../gen/provisioner/provisioner_pb.js";
import { parseAddress } from "./address.js";
import { AsyncQueue } from "./async-queue.js";
import { ConnectionManager } from "./connection.js";
import { ProvisionerProtocolError, SessionUsageError } from "./errors.js";

export interface ConnectOptions {
  /** Use TLS; `ca` trusts a private CA or a self-signed certificate. */
  tls?: { ca?: string | Buffer };
}

export interface SessionHandlers {
  onLog?: (log: Log) => void;
  /** Aborting tears the session down (like `abort()`). */
  signal?: AbortSignal;
}

export interface SessionClient {
  parse(request?: MessageInitShape<typeof ParseRequestSchema>): Promise<ParseComplete>;
  plan(request: MessageInitShape<typeof PlanRequestSchema>): Promise<PlanComplete>;
  apply(request: MessageInitShape<typeof ApplyRequestSchema>): Promise<ApplyComplete>;
  /** Sends Cancel: the running request stops early and still resolves with its Complete. */
  cancel(): void;
  /** Half-closes and waits for the stream to end; rejects with an error no call has reported yet. */
  close(): Promise<void>;
  /** Tears the stream down now; a pending call rejects (code Canceled). */
  abort(): void;
}

export interface ProvisionerClient {
  openSession(
    config: MessageInitShape<typeof ConfigSchema>,
    handlers?: SessionHandlers,
  ): Promise<SessionClient>;
  /** Closes the connection (and every session on it). */
  close(): void;
}

type Operation = "parse" | "plan" | "apply";
interface Pending {
  operation: Operation;
  resolve(value: unknown): void;
  reject(error: Error): void;
}

class GrpcSessionClient implements SessionClient {
  private pending: Pending | undefined;
  /** Set once the stream has ended: the error every later call gets (undefined error: a clean end). */
  private ended: { error: Error | undefined } | undefined;
  /** The stream's error was handed to a call (so close() need not report it again). */
  private reported = false;
  private halfClosed = false;
  private readonly finished: Promise<void>;

  constructor(
    private readonly requests: AsyncQueue<Request>,
    responses: AsyncIterable<Response>,
    private readonly controller: AbortController,
    private readonly onLog: ((log: Log) => void) | undefined,
    /** Runs once the stream has ended (detaches from the caller's signal). */
    private readonly onEnd: () => void,
  ) {
    this.finished = this.pump(responses);
  }

  private async pump(responses: AsyncIterable<Response>): Promise<void> {
    let error: Error | undefined;
    try {
      for await (const response of responses) {
        const type = response.type;
        if (type.case === "log") {
          try {
            this.onLog?.(type.value);
          } catch {
            // a failing log callback must not break the session
          }
        } else if (type.case !== undefined) {
          const pending = this.pending;
          if (pending?.operation !== type.case) {
            throw new ProvisionerProtocolError(
              Code.Internal,
              `provisioner session: unexpected ${type.case} Complete${pending ? ` while waiting for ${pending.operation}` : ""}`,
            );
          }
          this.pending = undefined;
          pending.resolve(type.value);
        }
      }
    } catch (err) {
      error = this.controller.signal.aborted
        ? new ProvisionerProtocolError(Code.Canceled, "provisioner session: aborted by the client")
        : ProvisionerProtocolError.from(err);
      if (!this.controller.signal.aborted) this.controller.abort();
    }
    this.requests.end();
    this.onEnd();
    const pending = this.pending;
    this.pending = undefined;
    if (pending) {
      pending.reject(
        error ??
          new ProvisionerProtocolError(
            Code.Unknown,
            `provisioner session: stream ended before the ${pending.operation} Complete`,
          ),
      );
      this.reported = true;
    }
    this.ended = { error };
    if (error === undefined) this.reported = true;
  }

  private call<T>(operation: Operation, value: unknown): Promise<T> {
    if (this.pending) {
      return Promise.reject(
        new SessionUsageError(
          `provisioner session: cannot start ${operation}: ${this.pending.operation} is still running (one request at a time)`,
        ),
      );
    }
    if (this.ended) {
      this.reported = true;
      return Promise.reject(
        this.ended.error ??
          new SessionUsageError(`provisioner session: cannot ${operation}: the session has ended`),
      );
    }
    if (this.halfClosed) {
      return Promise.reject(new SessionUsageError(`provisioner session: cannot ${operation} after close()`));
    }
    return new Promise<T>((resolve, reject) => {
      this.pending = { operation, resolve: resolve as (v: unknown) => void, reject };
      // biome-ignore lint/suspicious/noExplicitAny: `value` is the init shape for `operation`'s request
      this.requests.push(create(RequestSchema, { type: { case: operation, value: value as any } }));
    });
  }

  parse(request: MessageInitShape<typeof ParseRequestSchema> = {}): Promise<ParseComplete> {
    return this.call("parse", request);
  }
  plan(request: MessageInitShape<typeof PlanRequestSchema>): Promise<PlanComplete> {
    return this.call("plan", request);
  }
  apply(request: MessageInitShape<typeof ApplyRequestSchema>): Promise<ApplyComplete> {
    return this.call("apply", request);
  }

  cancel(): void {
    if (this.halfClosed || this.ended) return;
    this.requests.push(create(RequestSchema, { type: { case: "cancel", value: {} } }));
  }

  async close(): Promise<void> {
    this.halfClosed = true;
    this.requests.end();
    await this.finished;
    if (this.ended?.error && !this.reported) {
      this.reported = true;
      throw this.ended.error;
    }
  }

  abort(): void {
    this.controller.abort();
  }
}

export function connectProvisioner(address: string, options: ConnectOptions = {}): ProvisionerClient {
  const target = parseAddress(address);
  const scheme = options.tls ? "https" : "http";
  let baseUrl: string;
  const nodeOptions: http2SessionOptions = {};
  if (options.tls?.ca !== undefined) nodeOptions.ca = options.tls.ca;
  if (target.kind === "unix") {
    baseUrl = `${scheme}://localhost`;
    const path = target.path;
    nodeOptions.createConnection = options.tls
      ? () => tls.connect({ path, ca: options.tls?.ca, servername: "localhost", ALPNProtocols: ["h2"] })
      : () => net.connect(path);
  } else {
    const host = target.host.includes(":") ? `[${target.host}]` : target.host;
    baseUrl = `${scheme}://${host}:${target.port}`;
  }
  const sessionManager = new ConnectionManager(baseUrl, nodeOptions);
  const client = createClient(ProvisionerService, createGrpcTransport({ baseUrl, sessionManager }));

  return {
    async openSession(config, handlers = {}) {
      const controller = new AbortController();
      const outer = handlers.signal;
      const abort = () => controller.abort();
      if (outer?.aborted) abort();
      else outer?.addEventListener("abort", abort, { once: true });
      const requests = new AsyncQueue<Request>();
      requests.push(create(RequestSchema, { type: { case: "config", value: config } }));
      const responses = client.session(requests, { signal: controller.signal });
      return new GrpcSessionClient(requests, responses, controller, handlers.onLog, () =>
        outer?.removeEventListener("abort", abort),
      );
    },
    close() {
      sessionManager.close();
    },
  };
}

type http2SessionOptions = import("node:http2").SecureClientSessionOptions;
