// Errors the API maps to status codes. Services throw these; the Fastify error handler turns them into the
// one error body every route uses: { message, detail?, field? }.

export type ErrorBody = { message: string; detail?: string; field?: string };

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly extra: { detail?: string; field?: string } = {},
  ) {
    super(message);
    this.name = "ApiError";
  }

  body(): ErrorBody {
    return { message: this.message, ...this.extra };
  }
}

export const badRequest = (message: string, extra?: { detail?: string; field?: string }) =>
  new ApiError(400, message, extra);
export const unauthorized = (
  message = "authentication required: pass a token as `Authorization: Bearer …`",
) => new ApiError(401, message);
export const forbidden = (message = "you are not allowed to do that") => new ApiError(403, message);
export const notFound = (what: string) => new ApiError(404, `${what} not found`);
export const conflict = (message: string, detail?: string) => new ApiError(409, message, { detail });
export const payloadTooLarge = (message: string) => new ApiError(413, message);
