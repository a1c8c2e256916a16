// Entry point of the test provider process, as terraform starts it (through go-plugin's client):
// 1. check the magic cookie terraform sets (TF_PLUGIN_MAGIC_COOKIE), so the program refuses to run by hand;
// 2. AutoMTLS: terraform passes its client certificate in PLUGIN_CLIENT_CERT; we create our own key and
//    certificate, serve TLS that admits only a client presenting exactly that certificate, and announce
//    ours. (go-plugin verifies the client against that certificate as a CA; we compare it byte for byte,
//    which is stricter and spares building node's root certificate store — ~100 ms of every start.)
// 3. serve gRPC (HTTP/2) on 127.0.0.1: tfplugin6.Provider plus go-plugin's controller (Shutdown ends the
//    process), stdio and broker streams, and the health service;
// 4. print the handshake line `1|6|tcp|127.0.0.1:PORT|grpc|<base64 DER certificate>` on stdout — the only
//    thing ever written to stdout (logs go to stderr, which terraform records in its own debug log).
// Like go-plugin servers it ignores SIGINT (terraform forwards Ctrl-C to the process group and then still
// talks to the provider), and it exits when terraform goes away (reparented), so it is never left behind.
import { X509Certificate } from "node:crypto";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { selfSignedCertificate } from "./cert.js";
import { Health, HealthCheckResponse_ServingStatus } from "./gen/grpc/health/v1/health_pb.js";
import { GRPCBroker, GRPCController, GRPCStdio } from "./gen/plugin/go_plugin_pb.js";
import { Provider } from "./gen/tfplugin6/tfplugin6_pb.js";
import { providerService } from "./provider.js";

const magicCookieKey = "TF_PLUGIN_MAGIC_COOKIE";
const magicCookieValue = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
const coreProtocolVersion = 1;
const pluginProtocolVersion = 6;

function log(message: string): void {
  process.stderr.write(`[coder test provider] ${message}\n`);
}

// Nothing but the handshake may reach stdout.
console.log = console.error;

if (process.env[magicCookieKey] !== magicCookieValue) {
  process.stderr.write(
    "This binary is a plugin. These are not meant to be executed directly.\n" +
      "Please execute the program that consumes these plugins, which will\n" +
      "load any plugins automatically\n",
  );
  process.exit(1);
}

const offered = (process.env.PLUGIN_PROTOCOL_VERSIONS ?? "").split(",").filter(Boolean);
if (offered.length > 0 && !offered.includes(String(pluginProtocolVersion))) {
  // go-plugin still answers with its own version and lets the client report the mismatch.
  log(
    `terraform offers plugin protocols ${offered.join(",")}; this provider speaks only ${pluginProtocolVersion}`,
  );
}

let shuttingDown = false;
const sessions = new Set<http2.ServerHttp2Session>();
const stopped = new AbortController();

function exitSoon(): void {
  shuttingDown = true;
  stopped.abort();
  // Exit once terraform has closed its connection (so the Shutdown response is delivered); at the latest
  // after a moment, as go-plugin's client kills plugins that linger for 2 s.
  if (sessions.size === 0) setImmediate(() => process.exit(0));
  setTimeout(() => process.exit(0), 500).unref();
}

const handler = connectNodeAdapter({
  // Never compress: terraform's gRPC client may not have a decompressor registered.
  acceptCompression: [],
  routes(router) {
    router.service(Provider, providerService({ env: process.env }));
    router.service(GRPCController, {
      shutdown() {
        exitSoon();
        return {};
      },
    });
    router.service(GRPCStdio, {
      // Our output goes to stderr directly; the stream stays open (and silent) until shutdown.
      async *streamStdio(_req, context) {
        await new Promise<void>((resolve) => {
          if (stopped.signal.aborted || context.signal.aborted) return resolve();
          stopped.signal.addEventListener("abort", () => resolve(), { once: true });
          context.signal.addEventListener("abort", () => resolve(), { once: true });
        });
        yield* [];
      },
    });
    router.service(GRPCBroker, {
      // Terraform providers never dial back through the broker; accept the stream and drain it.
      async *startStream(requests) {
        for await (const _ of requests) {
          // nothing to broker
        }
        yield* [];
      },
    });
    router.service(Health, {
      check() {
        return { status: HealthCheckResponse_ServingStatus.SERVING };
      },
    });
  },
});

const clientCertPem = process.env.PLUGIN_CLIENT_CERT;
let clientCert: Buffer | undefined;
let serverCertB64 = "";
let server: http2.Http2Server | http2.Http2SecureServer;
if (clientCertPem) {
  clientCert = new X509Certificate(clientCertPem).raw;
  const cert = selfSignedCertificate();
  serverCertB64 = cert.certDer.toString("base64").replace(/=+$/, ""); // Go's RawStdEncoding: no padding
  server = http2.createSecureServer(
    {
      key: cert.keyPem,
      cert: cert.certPem,
      // An explicit empty CA list: no root store is built (a given `ca`, or none, makes node load its
      // bundled roots). The client certificate is checked on each session instead (see "session").
      ca: [],
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: "TLSv1.2",
      ALPNProtocols: ["h2"],
    },
    handler,
  );
} else {
  // TF_DISABLE_PLUGIN_TLS: plaintext HTTP/2.
  server = http2.createServer(handler);
}

server.on("session", (session: http2.ServerHttp2Session) => {
  if (clientCert) {
    // TLS has proven the peer holds the key of the certificate it sent; admit only terraform's.
    const peer = (session.socket as TLSSocket).getPeerX509Certificate?.();
    if (!peer?.raw.equals(clientCert)) {
      log("TLS: refused a client that did not present terraform's certificate");
      session.destroy();
      return;
    }
  }
  sessions.add(session);
  session.on("close", () => {
    sessions.delete(session);
    if (shuttingDown && sessions.size === 0) process.exit(0);
  });
});
server.on("tlsClientError", (err) => log(`TLS: ${err.message}`));

function listen(port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once("error", onError);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

async function start(): Promise<void> {
  const min = Number(process.env.PLUGIN_MIN_PORT || 0);
  const max = Number(process.env.PLUGIN_MAX_PORT || 0);
  let address: AddressInfo | undefined;
  if (min > 0 && max >= min) {
    for (let port = min; port <= max && !address; port++) {
      address = await listen(port).catch(() => undefined);
    }
    if (!address) throw new Error(`couldn't bind plugin TCP listener in ${min}-${max}`);
  } else {
    address = await listen(0);
  }
  const line = [
    coreProtocolVersion,
    pluginProtocolVersion,
    "tcp",
    `127.0.0.1:${address.port}`,
    "grpc",
    serverCertB64,
  ];
  process.stdout.write(`${line.join("|")}\n`);
}

process.on("SIGINT", () => {
  // ignored, as go-plugin servers do: terraform decides when we stop (GRPCController.Shutdown)
});

const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(0);
}, 1000).unref();

start().catch((err: unknown) => {
  log(`plugin init error: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
