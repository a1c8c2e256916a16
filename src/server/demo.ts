// The demo behind `npm start`: pushes the echo demo template (once per data directory: an identical active
// version is reused) and waits for its import, so the reconciler starts filling the pool.

import type { RunningServer } from "./server.js";
import { getFileMeta, sha256Hex } from "./store/files.js";
import { getJob } from "./store/jobs.js";
import { listPresets, type Preset } from "./store/presets.js";
import { getTemplateByName, getTemplateVersion } from "./store/templates.js";
import { getUserByUsername } from "./store/users.js";
import { createTemplateVersion, uploadTemplateFile } from "./templates/service.js";

export async function pushDemoTemplate(
  server: RunningServer,
  name: string,
  archive: Uint8Array,
): Promise<Preset[]> {
  const { ctx } = server;
  const db = ctx.store.db;
  const admin = await getUserByUsername(db, "admin");
  if (!admin) throw new Error("demo: the dev admin user is missing");
  const existing = await getTemplateByName(db, name);
  const active = existing?.activeVersionId
    ? await getTemplateVersion(db, existing.activeVersionId)
    : undefined;
  const file = await getFileMeta(db, { hash: sha256Hex(archive) });
  if (active && file && active.fileId === file.id) {
    return listPresets(db, { versionIds: [active.id] });
  }
  const settings = { maxArchiveBytes: 10 * 1024 * 1024, provisionerTypes: ["echo"] };
  const { hash } = await uploadTemplateFile(ctx, admin, archive, settings);
  const { version } = await createTemplateVersion(
    ctx,
    admin,
    name,
    { fileHash: hash, provisioner: "echo", activate: true },
    settings,
  );
  for (let waited = 0; ; waited += 100) {
    const job = await getJob(db, version.jobId);
    if (job?.status === "succeeded") break;
    if (job && ["failed", "canceled"].includes(job.status))
      throw new Error(`demo: import of ${name} ${job.status}: ${job.error}`);
    if (waited > 60_000) throw new Error(`demo: import of ${name} did not finish within a minute`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return listPresets(db, { versionIds: [version.id] });
}
