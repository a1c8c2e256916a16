// Named fixtures for queue tests: a user, a file, and jobs enqueued at chosen instants.
import { enqueueJob } from "../../../src/server/jobs/queue.js";
import { UNTAGGED } from "../../../src/server/jobs/tags.js";
import { PREBUILDS_USER_ID } from "../../../src/server/prebuilds/system-user.js";
import { insertFile } from "../../../src/server/store/files.js";
import type { ProvisionerJob } from "../../../src/server/store/jobs.js";
import type { Store } from "../../../src/server/store/store.js";
import { insertUser } from "../../../src/server/store/users.js";

export const T0 = new Date("2026-01-05T10:00:00.000Z");
export const at = (offsetMs: number): Date => new Date(T0.getTime() + offsetMs);

export interface QueueFixture {
  store: Store;
  humanId: string;
  fileId: string;
  enqueue(options?: {
    createdAt?: Date;
    prebuild?: boolean;
    provisioner?: string;
    tags?: Record<string, string>;
  }): Promise<ProvisionerJob>;
}

export async function queueFixture(store: Store): Promise<QueueFixture> {
  const human = await insertUser(store.db, { username: "alice", role: "member", now: T0 });
  const file = await insertFile(store.db, { data: Buffer.from("archive"), createdBy: human.id, now: T0 });
  return {
    store,
    humanId: human.id,
    fileId: file.id,
    enqueue: (options = {}) =>
      enqueueJob(store.db, {
        type: "workspace_build",
        input: { workspaceBuildId: "b" },
        provisioner: options.provisioner ?? "echo",
        fileId: file.id,
        tags: options.tags,
        initiatorId: options.prebuild ? PREBUILDS_USER_ID : human.id,
        now: options.createdAt ?? T0,
      }),
  };
}

export const echoDaemon = (daemonId: string, now: Date = T0) => ({
  daemonId,
  provisionerTypes: ["echo"],
  tags: { ...UNTAGGED },
  now,
});
