// The daemon's view of the server: a ConnectRPC client of DaemonService, authenticated by a pre-shared key.
import { rootCertificates } from "node:tls";
import { type Client, Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import type { Clock } from "../clock.js";
import { LOST_JOB_CODES, PSK_HEADER } from "../contract/daemon.js";
import { DaemonService } from "../gen/prewarm/daemon/v1/daemon_pb.js";

export type DaemonClient = Client<typeof DaemonService>;

export interface DaemonClientOptions {
  /** A PEM certificate to trust besides the system roots, regardless of the name it was issued for. */
  trustCertificate?: Buffer;
  /**
   * Ask for compressed responses (default true). A daemon on the server's own machine (the in-process ones)
   * turns it off: over a local socket, gzip of every acquired job's template archive is CPU spent on both
   * ends for nothing.
   */
  compression?: boolean;
}

export function createDaemonClient(
  baseUrl: string,
  psk: string,
  options: DaemonClientOptions = {},
): DaemonClient {
  const auth: Interceptor = (next) => async (req) => {
    req.header.set(PSK_HEADER, psk);
    return next(req);
  };
  const transport = createConnectTransport({
    baseUrl,
    httpVersion: "1.1",
    useBinaryFormat: true,
    interceptors: [auth],
    ...(options.compression === false ? { acceptCompression: [] } : {}),
    ...(options.trustCertificate
      ? {
          nodeOptions: {
            ca: [...rootCertificates, options.trustCertificate.toString()],
            checkServerIdentity: () => undefined,
          },
        }
      : {}),
  });
  return createClient(DaemonService, transport);
}

/** Errors worth retrying: the server is restarting or the network blipped. Anything else is final. */
export function isTransient(err: unknown): boolean {
  if (!(err instanceof ConnectError)) return false;
  return [Code.Unavailable, Code.Unknown, Code.DeadlineExceeded, Code.Aborted, Code.Internal].includes(
    err.code,
  );
}

/** The server's answer that the job is no longer this daemon's (see LOST_JOB_CODES); final, never retried. */
export function isLostJob(err: unknown): err is ConnectError {
  return err instanceof ConnectError && LOST_JOB_CODES.includes(err.code);
}

/**
 * Retries `fn` on transient errors with exponential backoff (25 ms → 5 s, on `clock`) until it succeeds,
 * fails for good, or `signal` aborts. A daemon must not lose a job's outcome because the server restarted for
 * a moment.
 */
export async function withRetry<T>(fn: () => Promise<T>, clock: Clock, signal?: AbortSignal): Promise<T> {
  let delay = 25;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!isTransient(err) || signal?.aborted) throw err;
      await clock.sleep(delay, signal);
      delay = Math.min(delay * 2, 5_000);
    }
  }
}
