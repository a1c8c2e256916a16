// The standard gRPC services beside the provisioner on `provisioner serve` (serve.ts): health checking
// (grpc.health.v1: SERVING for the server and the provisioner service until shutdown begins, then NOT_SERVING)
// and server reflection (grpc.reflection.v1: list_services, file_by_filename and file_containing_symbol over
// the generated descriptors, each file with its transitive dependencies), so load balancers, Kubernetes gRPC
// probes and grpcurl work against it without a copy of the .proto files.
import { create, createRegistry, type DescFile, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import {
  file_grpc_health_v1_health,
  Health,
  type HealthCheckRequest,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "../gen/grpc/health/v1/health_pb.js";
import {
  file_grpc_reflection_v1_reflection,
  ServerReflection,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
  ServerReflectionResponseSchema,
} from "../gen/grpc/reflection/v1/reflection_pb.js";
import { file_provisioner_provisioner, Provisioner } from "../gen/provisioner/provisioner_pb.js";

/** The files whose services are served; reflection answers for them and everything they import. */
const servedFiles: DescFile[] = [
  file_provisioner_provisioner,
  file_grpc_health_v1_health,
  file_grpc_reflection_v1_reflection,
];
const serviceNames = [Provisioner.typeName, Health.typeName, ServerReflection.typeName];

/** The server's serving state as health reports it; `stopping` resolves when shutdown begins. */
export interface HealthState {
  serving(): boolean;
  stopping: Promise<void>;
}

function withDependencies(file: DescFile): DescFile[] {
  const out = new Map<string, DescFile>();
  const visit = (f: DescFile) => {
    if (out.has(f.proto.name)) return;
    out.set(f.proto.name, f);
    for (const dep of f.dependencies) visit(dep);
  };
  visit(file);
  return [...out.values()];
}

const filesByName = new Map(servedFiles.flatMap(withDependencies).map((f) => [f.proto.name, f]));
const registry = createRegistry(...filesByName.values());

/** The file defining a symbol: a message, enum, extension or service, or a method ("pkg.Service.Method"). */
function fileOfSymbol(symbol: string): DescFile | undefined {
  const found = registry.get(symbol);
  if (found) return found.file;
  const parent = symbol.slice(0, symbol.lastIndexOf("."));
  const service = registry.getService(parent);
  return service?.methods.some((m) => m.name === symbol.slice(parent.length + 1)) ? service.file : undefined;
}

function reflect(request: ServerReflectionRequest): ServerReflectionResponse["messageResponse"] {
  const failure = (code: Code, message: string): ServerReflectionResponse["messageResponse"] => ({
    case: "errorResponse",
    value: { $typeName: "grpc.reflection.v1.ErrorResponse", errorCode: code, errorMessage: message },
  });
  const files = (file: DescFile | undefined, what: string): ServerReflectionResponse["messageResponse"] =>
    file
      ? {
          case: "fileDescriptorResponse",
          value: {
            $typeName: "grpc.reflection.v1.FileDescriptorResponse",
            fileDescriptorProto: withDependencies(file).map((f) =>
              toBinary(FileDescriptorProtoSchema, f.proto),
            ),
          },
        }
      : failure(Code.NotFound, `${what} not found`);
  const asked = request.messageRequest;
  switch (asked.case) {
    case "listServices":
      return {
        case: "listServicesResponse",
        value: {
          $typeName: "grpc.reflection.v1.ListServiceResponse",
          service: serviceNames.map((name) => ({ $typeName: "grpc.reflection.v1.ServiceResponse", name })),
        },
      };
    case "fileByFilename":
      return files(filesByName.get(asked.value), `file ${asked.value}`);
    case "fileContainingSymbol":
      return files(fileOfSymbol(asked.value), `symbol ${asked.value}`);
    default:
      // No extensions are defined by the served files.
      return failure(Code.Unimplemented, `${asked.case ?? "an empty request"} is not supported`);
  }
}

export function registerStandardServices(router: ConnectRouter, state: HealthState): void {
  const statusOf = (service: string): ServingStatus | undefined => {
    if (service !== "" && !serviceNames.includes(service)) return undefined;
    return state.serving() ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
  };
  const answer = (status: ServingStatus) => create(HealthCheckResponseSchema, { status });

  router.service(Health, {
    check(request: HealthCheckRequest) {
      const status = statusOf(request.service);
      if (status === undefined) throw new ConnectError(`unknown service ${request.service}`, Code.NotFound);
      return answer(status);
    },
    async *watch(request: HealthCheckRequest, ctx: HandlerContext) {
      const status = statusOf(request.service);
      yield answer(status ?? ServingStatus.SERVICE_UNKNOWN);
      // The served services never change, so the only change is to NOT_SERVING at shutdown (an unknown
      // service stays unknown, and its call stays open as the protocol asks); the call then ends so that
      // shutdown does not wait for watchers.
      const aborted = new Promise<"aborted">((resolve) =>
        ctx.signal.addEventListener("abort", () => resolve("aborted"), { once: true }),
      );
      const ended = await Promise.race([state.stopping.then(() => "stopping" as const), aborted]);
      if (ended === "stopping" && status === ServingStatus.SERVING) yield answer(ServingStatus.NOT_SERVING);
    },
  });

  router.service(ServerReflection, {
    async *serverReflectionInfo(requests: AsyncIterable<ServerReflectionRequest>) {
      for await (const request of requests) {
        yield create(ServerReflectionResponseSchema, {
          validHost: request.host,
          originalRequest: request,
          messageResponse: reflect(request),
        });
      }
    },
  });
}
