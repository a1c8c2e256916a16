// `--base-path /prewarm`: the server answers under a path prefix (behind a proxy that forwards
// https://example.com/prewarm/… unchanged). Incoming URLs lose the prefix before routing, so no route knows
// about it; outgoing absolute paths gain it: redirects (Location) and the dashboard's links, forms, scripts and
// htmx/log-stream URLs in HTML pages, rewritten here in one place so the pages keep writing plain "/…" paths.
// The probes and /metrics also answer without the prefix: kubelets and scrapers talk to the pod directly.
import type { FastifyInstance } from "fastify";

/** "/prewarm/" → "/prewarm", "" or "/" → "" (no base path); anything not starting with "/" is refused. */
export function normalizeBasePath(text: string | undefined): string {
  const trimmed = (text ?? "").trim().replace(/\/+$/, "");
  if (trimmed === "") return "";
  if (!trimmed.startsWith("/") || /[?#\s]/.test(trimmed)) {
    throw new Error(`--base-path must be a path like /prewarm, got "${text}"`);
  }
  return trimmed;
}

const UNPREFIXED = new Set(["/healthz", "/readyz", "/metrics"]);
/** Where a URL outside the base path goes: no route has this prefix, so it answers 404. */
const OUTSIDE = "/__outside-base-path";

/** Fastify's `rewriteUrl`: strips the base path. */
export function stripBasePath(basePath: string, url: string): string {
  if (url === basePath || url.startsWith(`${basePath}/`) || url.startsWith(`${basePath}?`)) {
    const rest = url.slice(basePath.length);
    return rest.startsWith("/") ? rest : `/${rest}`;
  }
  if (UNPREFIXED.has(url.split("?")[0] ?? "")) return url;
  return `${OUTSIDE}${url}`;
}

const ATTRIBUTE = /\b(href|src|action|hx-get|hx-post|hx-put|hx-patch|hx-delete|data-log-stream)="\/(?!\/)/g;

/** `Path=/login` → `Path=/prewarm/login` in a Set-Cookie value. */
function prefixCookiePath(cookie: string, basePath: string): string {
  return cookie.replace(/;\s*Path=(\/[^;]*)/i, (_m, path: string) => `; Path=${basePath}${path}`);
}

/** The base path in front of every absolute path an answer points at. */
export function prefixAnswers(app: FastifyInstance, basePath: string): void {
  // Cookies are serialized by @fastify/cookie's own onSend hook inside the dashboard's plugin, after any hook
  // registered here, so their Path is rewritten where the headers are written.
  app.addHook("onRequest", async (_request, reply) => {
    const raw = reply.raw;
    const writeHead = raw.writeHead.bind(raw) as (...args: unknown[]) => typeof raw;
    raw.writeHead = ((...args: unknown[]) => {
      const cookies = raw.getHeader("set-cookie");
      if (Array.isArray(cookies))
        raw.setHeader(
          "set-cookie",
          cookies.map((c) => prefixCookiePath(c, basePath)),
        );
      else if (typeof cookies === "string") raw.setHeader("set-cookie", prefixCookiePath(cookies, basePath));
      for (const headers of args.filter(
        (a): a is Record<string, unknown> => typeof a === "object" && a !== null,
      )) {
        const value = headers["set-cookie"] ?? headers["Set-Cookie"];
        const key = "set-cookie" in headers ? "set-cookie" : "Set-Cookie";
        if (Array.isArray(value)) headers[key] = value.map((c) => prefixCookiePath(String(c), basePath));
        else if (typeof value === "string") headers[key] = prefixCookiePath(value, basePath);
      }
      return writeHead(...args);
    }) as typeof raw.writeHead;
  });
  app.addHook("onSend", async (_request, reply, payload) => {
    const location = reply.getHeader("location");
    if (typeof location === "string" && location.startsWith("/") && !location.startsWith("//")) {
      reply.header("location", `${basePath}${location}`);
    }
    const type = String(reply.getHeader("content-type") ?? "");
    if (typeof payload === "string" && type.startsWith("text/html")) {
      return payload.replace(ATTRIBUTE, (_m, attribute: string) => `${attribute}="${basePath}/`);
    }
    return payload;
  });
}
