// The client's HTTP/2 connection, as a session manager for connect-node's gRPC transport.
//
// Why not connect-node's Http2SessionManager: when a server sends GOAWAY while the connection is idle (a
// provisioner shutting down), that manager destroys the session with an error after removing its own error
// listener, which crashes the process with an unhandled 'error' event. It also sends IPv6 authorities without
// brackets ("::1:7000"), which connect-node's server cannot parse. This manager is deliberately simple: one
// connection, replaced once it closes or receives GOAWAY; an error listener that is never removed (stream
// errors reach the caller through the stream); idle connections do not keep the process alive.
import * as http2 from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";

export class ConnectionManager {
  readonly authority: string;
  private current: Promise<http2.ClientHttp2Session> | undefined;
  private readonly sessions = new Set<http2.ClientHttp2Session>();
  private readonly openStreams = new WeakMap<http2.ClientHttp2Session, number>();
  private closed = false;

  constructor(
    baseUrl: string,
    private readonly options: http2.SecureClientSessionOptions,
  ) {
    this.authority = new URL(baseUrl).origin;
  }

  private connect(): Promise<http2.ClientHttp2Session> {
    const session = http2.connect(this.authority, this.options);
    this.sessions.add(session);
    const forget = () => {
      if (this.current === pending) this.current = undefined;
    };
    session.on("error", forget); // the listener that must always exist
    session.once("goaway", forget); // finish open streams there; new ones go to a new connection
    session.once("close", () => {
      forget();
      this.sessions.delete(session);
    });
    const pending = new Promise<http2.ClientHttp2Session>((resolve, reject) => {
      const onConnect = () => {
        session.off("error", onError);
        session.unref(); // idle: let the process exit; streams ref it while they run
        resolve(session);
      };
      const onError = (err: Error) => {
        session.off("connect", onConnect);
        reject(new ConnectError(`connect to ${this.authority}: ${err.message}`, Code.Unavailable));
      };
      session.once("connect", onConnect);
      session.once("error", onError);
    });
    this.current = pending;
    return pending;
  }

  async request(
    method: string,
    path: string,
    headers: http2.OutgoingHttpHeaders,
    options: Omit<http2.ClientSessionRequestOptions, "signal">,
  ): Promise<http2.ClientHttp2Stream> {
    if (this.closed) throw new ConnectError("provisioner client is closed", Code.Canceled);
    const session = await (this.current ?? this.connect());
    const stream = session.request(
      { ...headers, ":method": method, ":path": path, ":authority": new URL(this.authority).host },
      options,
    );
    const open = (this.openStreams.get(session) ?? 0) + 1;
    this.openStreams.set(session, open);
    if (open === 1) session.ref();
    stream.once("close", () => {
      const left = (this.openStreams.get(session) ?? 1) - 1;
      this.openStreams.set(session, left);
      if (left === 0 && !session.destroyed) session.unref();
    });
    return stream;
  }

  notifyResponseByteRead(): void {
    // No keep-alive pings: sessions run on loopback or a LAN, and a dead peer fails the stream.
  }

  close(): void {
    this.closed = true;
    this.current = undefined;
    // With an error, so streams still open fail (and their calls reject) instead of hanging.
    const reason = new ConnectError("provisioner client closed", Code.Canceled);
    for (const s of this.sessions) s.destroy(reason, http2.constants.NGHTTP2_CANCEL);
    this.sessions.clear();
  }
}
