// `prewarm version`: the client's version and the server's (GET /api/v1/buildinfo: version, Node.js version,
// database). The client's line comes first and always prints, so a version report survives an unreachable
// server; the command then fails with the reason.
import { routes } from "../../contract/api.js";
import { version } from "../../version.js";
import { type ApiOptions, commandContext } from "../client.js";
import { printData, renderFields } from "../output.js";

export async function printVersions(options: ApiOptions): Promise<void> {
  const { client, format } = await commandContext(options);
  const local = { version, nodeVersion: process.version };
  let server: Awaited<ReturnType<typeof client.call<typeof routes.buildInfo>>> | undefined;
  let failure: unknown;
  try {
    server = await client.call(routes.buildInfo);
  } catch (err) {
    failure = err;
  }
  if (format !== "table") {
    printData(format, { client: local, server: server ? { url: client.url, ...server } : null });
  } else {
    const fields: [string, string][] = [["Client", `${local.version} (Node.js ${local.nodeVersion})`]];
    if (server) {
      fields.push([
        "Server",
        `${server.version} (Node.js ${server.nodeVersion}, ${server.database}) at ${client.url}`,
      ]);
    }
    process.stdout.write(renderFields(fields));
  }
  if (failure) throw failure;
}
