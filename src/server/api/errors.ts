// How errors leave over HTTP. Domain errors (../domain-errors.ts) map to a status by their kind, here and
// nowhere else; ApiError is for what only HTTP knows (401: no or bad credentials). The error handler in
// app.ts turns both into the one error body every route uses: { message, detail?, field? }. The dashboard's
// error handler (web/index.ts) reads the same table.
import { DomainError, type DomainErrorKind } from "../domain-errors.js";
import { storageFault } from "../store/errors.js";

/** Seconds a client is told to wait when the database cannot serve (Retry-After). */
export const STORAGE_RETRY_AFTER_SECONDS = 5;

export type ErrorBody = { message: string; detail?: string; field?: string };

/** The status code of each domain error kind (the contract's 400/403/404/409/413/429). */
export const STATUS_OF_KIND: Record<DomainErrorKind, number> = {
  invalid: 400,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  throttled: 429,
};

/** An HTTP-only failure: the status is the transport's business, not the domain's. */
export class ApiError extends Error {
  override name = "ApiError";

  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

export const unauthorized = (
  message = "authentication required: pass a token as `Authorization: Bearer …`",
) => new ApiError(401, message);

/**
 * Status and body for a DomainError, an ApiError or a storage fault (503/507 with the reason and
 * `retryAfterSeconds` for the Retry-After header: nothing was half-written, the request may be retried);
 * undefined for anything else (the handler decides).
 */
export function httpError(
  error: unknown,
): { status: number; body: ErrorBody; retryAfterSeconds?: number } | undefined {
  if (error instanceof DomainError) {
    const body: ErrorBody = { message: error.message };
    if (error.detail !== undefined) body.detail = error.detail;
    if (error.field !== undefined) body.field = error.field;
    const status = STATUS_OF_KIND[error.kind];
    return error.retryAfterSeconds === undefined
      ? { status, body }
      : { status, body, retryAfterSeconds: error.retryAfterSeconds };
  }
  if (error instanceof ApiError) return { status: error.statusCode, body: { message: error.message } };
  const fault = storageFault(error);
  if (fault)
    return {
      status: fault.status,
      body: { message: `storage unavailable: ${fault.reason}; retry later` },
      retryAfterSeconds: STORAGE_RETRY_AFTER_SECONDS,
    };
  return undefined;
}
