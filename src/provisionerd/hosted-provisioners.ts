// In-process provisioners: `prewarm server` serves each available provisioner type on a private unix socket
// with the same gRPC `serve()` an external provisioner uses, and its daemons connect to it like to any
// other. One code path, so what the demo exercises is what production runs.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { loadProvisioner, type ProvisionerTypeOptions } from "../provisioners/registry.js";
import { connectProvisioner, type ProvisionerClient, serve } from "../provisionersdk/index.js";

export interface HostedProvisioners {
  clients: Record<string, ProvisionerClient>;
  types: string[];
  close(): Promise<void>;
}

export async function hostProvisioners(options: {
  types: string[];
  runDirectory: string;
  /** External provisioners by type: a gRPC address (`host:port` or `unix:/path`). */
  external?: Record<string, string>;
  /** Settings of the provisioner types (e.g. terraform's exit timeout). */
  options?: ProvisionerTypeOptions;
}): Promise<HostedProvisioners> {
  mkdirSync(options.runDirectory, { recursive: true, mode: 0o700 });
  const servers: Array<{ close(o?: { deadlineMs?: number }): Promise<void> }> = [];
  const clients: Record<string, ProvisionerClient> = {};
  try {
    for (const type of options.types) {
      if (options.external?.[type]) continue;
      const server = await serve(await loadProvisioner(type, options.options), {
        listen: `unix:${join(options.runDirectory, `${type}.sock`)}`,
        workDirectory: join(options.runDirectory, `${type}-sessions`),
      });
      servers.push(server);
      clients[type] = connectProvisioner(server.address);
    }
    for (const [type, address] of Object.entries(options.external ?? {})) {
      clients[type] = connectProvisioner(address);
    }
  } catch (err) {
    await Promise.all(servers.map((s) => s.close({ deadlineMs: 0 })));
    throw err;
  }
  return {
    clients,
    types: Object.keys(clients),
    async close() {
      for (const client of Object.values(clients)) client.close();
      await Promise.all(servers.map((s) => s.close({ deadlineMs: 5_000 })));
    },
  };
}
