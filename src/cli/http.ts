// The CLI's HTTP transport: one request over node:http or node:https, its reply read as JSON or streamed as
// chunks (SSE). Not `fetch`: its first call loads undici and compiles undici's WebAssembly HTTP parser,
// which measured as the largest single cost of a short command such as `prewarm list` — node:http parses
// with the native llhttp already in the binary.
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";

export interface HttpRequest {
  method: string;
  headers: Record<string, string>;
  body?: string | Uint8Array;
  signal?: AbortSignal;
}

/** A reply whose headers have arrived; the body is read once, with json() or by iterating `body`. */
export interface HttpReply {
  status: number;
  statusText: string;
  ok: boolean;
  body: AsyncIterable<Uint8Array>;
  json(): Promise<unknown>;
}

/**
 * Sends one request. Rejects when no reply arrives at all (refused, DNS, TLS: the error carries the errno
 * `code`), or with an AbortError when `signal` fires.
 */
export function send(url: string, init: HttpRequest): Promise<HttpReply> {
  const target = new URL(url);
  const request = target.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      target,
      {
        method: init.method,
        headers:
          init.body === undefined
            ? init.headers
            : { ...init.headers, "content-length": String(Buffer.byteLength(init.body)) },
        // A fresh connection per request, closed after it: a CLI makes a handful, and an idle keep-alive
        // socket must not keep the process from exiting.
        agent: false,
        ...(init.signal ? { signal: init.signal } : {}),
      },
      (res) => resolve(reply(res)),
    );
    req.on("error", reject);
    req.end(init.body);
  });
}

function reply(res: IncomingMessage): HttpReply {
  const status = res.statusCode ?? 0;
  return {
    status,
    statusText: res.statusMessage ?? "",
    ok: status >= 200 && status < 300,
    body: res,
    async json() {
      const chunks: Buffer[] = [];
      for await (const chunk of res) chunks.push(chunk as Buffer);
      return JSON.parse(Buffer.concat(chunks).toString("utf8"));
    },
  };
}
