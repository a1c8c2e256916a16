// Errors the client surfaces.
import { Code, ConnectError } from "@connectrpc/connect";

/** The provisioner ended the Session with a gRPC error (or the transport failed). `code` is the gRPC status. */
export class ProvisionerProtocolError extends Error {
  override name = "ProvisionerProtocolError";
  constructor(
    readonly code: Code,
    message: string,
  ) {
    super(message);
  }

  static from(err: unknown): ProvisionerProtocolError {
    if (err instanceof ProvisionerProtocolError) return err;
    const ce = ConnectError.from(err);
    return new ProvisionerProtocolError(ce.code, `provisioner session: ${ce.rawMessage} (${Code[ce.code]})`);
  }
}

/** The client was used wrongly: a call while another runs, or a call after the session was closed. */
export class SessionUsageError extends Error {
  override name = "SessionUsageError";
}
