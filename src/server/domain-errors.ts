// The kinds of failure the domain (services, lookups, agent logic) reports, independent of any transport. A
// service throws a DomainError; the HTTP API (api/errors.ts + the error handler in api/app.ts) and the
// dashboard (web/index.ts) each turn the kind into a status code in one place. Messages are short and human,
// meant to be shown as they are ("template \"dev\" not found"); `field` names the input at fault, `detail`
// says more when a one-line message cannot.

export type DomainErrorKind =
  /** The thing asked for does not exist (or the caller may not know it exists). */
  | "not_found"
  /** The request contradicts the current state (a name taken, a build in progress, a refused transition). */
  | "conflict"
  /** The input is wrong; `field` names which part, when one does. */
  | "invalid"
  /** The caller is known but may not do this. */
  | "forbidden"
  /** An upload is larger than the configured limit. */
  | "too_large"
  /** Too many attempts (failed logins): wait `retryAfterSeconds` and try again. */
  | "throttled";

export interface DomainErrorInfo {
  /** The input at fault (a request field, a parameter name). */
  field?: string;
  /** More about the failure, when the message alone is not enough. */
  detail?: string;
  /** For "throttled": how long the caller must wait before trying again. */
  retryAfterSeconds?: number;
}

export class DomainError extends Error {
  override name = "DomainError";
  readonly field: string | undefined;
  readonly detail: string | undefined;
  readonly retryAfterSeconds: number | undefined;

  constructor(
    readonly kind: DomainErrorKind,
    message: string,
    info: DomainErrorInfo = {},
  ) {
    super(message);
    this.field = info.field;
    this.detail = info.detail;
    this.retryAfterSeconds = info.retryAfterSeconds;
  }
}

/** `what` is the subject: notFound(`template "dev"`) says `template "dev" not found`. */
export const notFound = (what: string, info?: DomainErrorInfo) =>
  new DomainError("not_found", `${what} not found`, info);
export const conflict = (message: string, info?: DomainErrorInfo) =>
  new DomainError("conflict", message, info);
export const invalid = (message: string, info?: DomainErrorInfo) => new DomainError("invalid", message, info);
export const forbidden = (message = "you are not allowed to do that") =>
  new DomainError("forbidden", message);
export const tooLarge = (message: string) => new DomainError("too_large", message);
export const throttled = (message: string, retryAfterSeconds: number) =>
  new DomainError("throttled", message, { retryAfterSeconds });
