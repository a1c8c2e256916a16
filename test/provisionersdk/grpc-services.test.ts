// gRPC health (grpc.health.v1) and reflection (grpc.reflection.v1) on a real provisioner server (serve()),
// called over HTTP/2 gRPC: statuses while serving and at shutdown, the service list, and the descriptors
// reflection hands out (decoded as google.protobuf.FileDescriptorProto).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { create, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  Health,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "../../src/gen/grpc/health/v1/health_pb.js";
import {
  ServerReflection,
  type ServerReflectionRequest,
  ServerReflectionRequestSchema,
  type ServerReflectionResponse,
} from "../../src/gen/grpc/reflection/v1/reflection_pb.js";
import { AsyncQueue } from "../../src/provisionersdk/async-queue.js";
import { startServer, type TestServer } from "./fixtures.js";

describe("gRPC health and reflection on serve()", { timeout: 60_000 }, () => {
  let server: TestServer;
  let transport: ReturnType<typeof createGrpcTransport>;

  before(async () => {
    server = await startServer();
    transport = createGrpcTransport({ baseUrl: `http://${server.server.address}` });
  });
  after(() => server.stop());

  /** One reflection stream, several requests on it, answers in order. */
  async function reflect(
    ...requests: Array<ServerReflectionRequest["messageRequest"]>
  ): Promise<ServerReflectionResponse[]> {
    const queue = new AsyncQueue<ServerReflectionRequest>();
    for (const messageRequest of requests) {
      queue.push(create(ServerReflectionRequestSchema, { host: "localhost", messageRequest }));
    }
    queue.end();
    const out: ServerReflectionResponse[] = [];
    for await (const r of createClient(ServerReflection, transport).serverReflectionInfo(queue)) out.push(r);
    return out;
  }

  const fileNames = (r: ServerReflectionResponse | undefined) => {
    assert.equal(r?.messageResponse.case, "fileDescriptorResponse", JSON.stringify(r?.messageResponse));
    return (r.messageResponse.value as { fileDescriptorProto: Uint8Array[] }).fileDescriptorProto.map((b) =>
      fromBinary(FileDescriptorProtoSchema, b),
    );
  };

  test("GIVEN a serving provisioner THEN Check answers SERVING for the server and its services, NOT_FOUND otherwise", async () => {
    const health = createClient(Health, transport);
    assert.equal((await health.check({ service: "" })).status, ServingStatus.SERVING);
    assert.equal((await health.check({ service: "provisioner.Provisioner" })).status, ServingStatus.SERVING);
    await assert.rejects(
      health.check({ service: "nope.Nope" }),
      (err) => err instanceof ConnectError && err.code === Code.NotFound,
    );
  });

  test("GIVEN reflection THEN it lists the services and hands out the provisioner's file with its dependencies", async () => {
    const [list, bySymbol, byMethod, byFile, unknown] = await reflect(
      { case: "listServices", value: "" },
      { case: "fileContainingSymbol", value: "provisioner.Provisioner" },
      { case: "fileContainingSymbol", value: "provisioner.Provisioner.Session" },
      { case: "fileByFilename", value: "grpc/health/v1/health.proto" },
      { case: "fileContainingSymbol", value: "no.Such" },
    );
    assert.equal(list?.messageResponse.case, "listServicesResponse");
    assert.deepEqual(
      (list.messageResponse.value as { service: Array<{ name: string }> }).service.map((s) => s.name).sort(),
      ["grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "provisioner.Provisioner"],
    );
    const files = fileNames(bySymbol);
    assert.equal(files[0]?.name, "provisioner/provisioner.proto");
    assert.equal(files[0]?.package, "provisioner");
    assert.deepEqual(
      files[0]?.service.map((s) => [s.name, s.method.map((m) => m.name)]),
      [["Provisioner", ["Session"]]],
    );
    for (const dep of files[0]?.dependency ?? []) {
      assert.ok(
        files.some((f) => f.name === dep),
        `dependency ${dep} is sent along`,
      );
    }
    assert.equal(fileNames(byMethod)[0]?.name, "provisioner/provisioner.proto");
    assert.equal(fileNames(byFile)[0]?.package, "grpc.health.v1");
    assert.equal(unknown?.messageResponse.case, "errorResponse");
    assert.equal((unknown.messageResponse.value as { errorCode: number }).errorCode, Code.NotFound);
  });

  test("GIVEN Watch calls WHEN the server shuts down THEN the served one reports NOT_SERVING and both end", async () => {
    const health = createClient(Health, transport);
    const watch = health.watch({ service: "" })[Symbol.asyncIterator]();
    const unknown = health.watch({ service: "nope.Nope" })[Symbol.asyncIterator]();
    assert.equal((await watch.next()).value?.status, ServingStatus.SERVING);
    assert.equal((await unknown.next()).value?.status, ServingStatus.SERVICE_UNKNOWN);
    const closing = server.server.close({ deadlineMs: 5_000 });
    assert.equal((await watch.next()).value?.status, ServingStatus.NOT_SERVING);
    assert.equal((await watch.next()).done, true);
    assert.equal((await unknown.next()).done, true);
    await closing;
  });
});
