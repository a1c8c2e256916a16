// The installed test coder provider as a go-plugin process, driven the way terraform's plugin client drives
// it but from node (no terraform needed): the magic cookie, the handshake line, AutoMTLS (only terraform's
// client certificate is admitted), gRPC calls over HTTP/2, SIGINT ignored, and Shutdown ending the process.
import assert from "node:assert/strict";
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { once } from "node:events";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { selfSignedCertificate } from "../../support/terraform-provider-coder/cert.js";
import {
  Health,
  HealthCheckResponse_ServingStatus,
} from "../../support/terraform-provider-coder/gen/grpc/health/v1/health_pb.js";
import { GRPCController } from "../../support/terraform-provider-coder/gen/plugin/go_plugin_pb.js";
import { Provider } from "../../support/terraform-provider-coder/gen/tfplugin6/tfplugin6_pb.js";
import { installCoderProvider } from "./coder-provider-fixtures.js";
import { TempDirs } from "./runtime-fixtures.js";

const temp = new TempDirs();
const children: ChildProcessWithoutNullStreams[] = [];
after(async () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  await temp.cleanup();
});

const cookie = { TF_PLUGIN_MAGIC_COOKIE: "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2" };
let executable = "";
before(async () => {
  const dir = await temp.make("coder-provider-plugin");
  await installCoderProvider(dir);
  const platform = `${process.platform === "win32" ? "windows" : process.platform}_${process.arch === "x64" ? "amd64" : process.arch}`;
  executable = join(
    dir,
    "mirror/registry.terraform.io/coder/coder/2.13.0",
    platform,
    "terraform-provider-coder_v2.13.0",
  );
});

interface Started {
  child: ChildProcessWithoutNullStreams;
  line: string;
  exited: Promise<number | null>;
  stderr: () => string;
}

function startPlugin(env: Record<string, string>): Promise<Started> {
  const child = spawn(executable, [], { env: { PATH: process.env.PATH ?? "", ...env } });
  children.push(child);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      const nl = out.indexOf("\n");
      if (nl >= 0) resolve({ child, line: out.slice(0, nl), exited, stderr: () => stderr });
    });
    child.once("exit", (code) => reject(new Error(`plugin exited with ${code} before the handshake`)));
  });
}

/** A gRPC client authenticated with `client` that trusts the certificate from the handshake line. */
function clientFor(line: string, client: ReturnType<typeof selfSignedCertificate>) {
  const [, , , address, , certB64] = line.split("|");
  const serverCert = new X509Certificate(Buffer.from(certB64!, "base64"));
  return createGrpcTransport({
    baseUrl: `https://${address}`,
    nodeOptions: {
      ca: serverCert.toString(),
      cert: client.certPem,
      key: client.keyPem,
      servername: "localhost",
    },
  });
}

describe("test coder provider as a go-plugin process", () => {
  test("GIVEN no magic cookie WHEN started THEN it refuses, as go-plugin plugins do", async () => {
    const child = spawn(executable, [], { env: { PATH: process.env.PATH ?? "" } });
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const code = await new Promise((resolve) => child.once("exit", resolve));
    assert.equal(code, 1);
    assert.match(stderr, /This binary is a plugin/);
  });

  test("GIVEN terraform's client certificate WHEN started THEN the handshake announces protocol 6 on TCP with our certificate", async () => {
    const terraformCert = selfSignedCertificate();
    const { line, child, exited } = await startPlugin({
      ...cookie,
      PLUGIN_CLIENT_CERT: terraformCert.certPem,
      PLUGIN_PROTOCOL_VERSIONS: "5,6",
    });
    const parts = line.split("|");
    assert.deepEqual(parts.slice(0, 3), ["1", "6", "tcp"]);
    assert.match(parts[3]!, /^127\.0\.0\.1:\d+$/);
    assert.equal(parts[4], "grpc");
    assert.doesNotMatch(parts[5]!, /=/, "base64 without padding (Go's RawStdEncoding)");
    const serverCert = new X509Certificate(Buffer.from(parts[5]!, "base64"));
    assert.equal(serverCert.subjectAltName, "DNS:localhost");

    const transport = clientFor(line, terraformCert);
    const health = await createClient(Health, transport).check({ service: "plugin" });
    assert.equal(health.status, HealthCheckResponse_ServingStatus.SERVING);

    // SIGINT is ignored: terraform forwards Ctrl-C to its process group and still talks to the provider.
    child.kill("SIGINT");
    const schema = await createClient(Provider, transport).getProviderSchema({});
    assert.ok(schema.resourceSchemas.coder_agent);
    assert.ok(schema.dataSourceSchemas.coder_workspace_preset);
    assert.equal(schema.serverCapabilities?.getProviderSchemaOptional, true);

    await createClient(GRPCController, transport).shutdown({});
    assert.equal(await exited, 0, "Shutdown ends the plugin process");
  });

  test("GIVEN a client with another certificate WHEN it calls THEN it is refused", async () => {
    const terraformCert = selfSignedCertificate();
    const { child, line, stderr } = await startPlugin({
      ...cookie,
      PLUGIN_CLIENT_CERT: terraformCert.certPem,
    });
    const intruder = selfSignedCertificate();
    await assert.rejects(createClient(Health, clientFor(line, intruder)).check({ service: "plugin" }));
    // The client sees the refusal before the plugin's log line reaches us: wait for the line (or the test timeout).
    const refused = /refused a client that did not present terraform's certificate/;
    while (!refused.test(stderr())) await once(child.stderr, "data");
  });
});
