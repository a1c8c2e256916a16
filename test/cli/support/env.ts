// A per-test environment for running the CLI: a temporary XDG_CONFIG_HOME (so no test reads or writes the
// real ~/.config) and no inherited PREWARM_* variables.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import { FakeApi } from "./fake-api.js";

export interface CliEnv {
  configHome: string;
  env: NodeJS.ProcessEnv;
  cleanup(): Promise<void>;
}

export async function cliEnv(extra: NodeJS.ProcessEnv = {}): Promise<CliEnv> {
  const configHome = await mkdtemp(join(tmpdir(), "prewarm-cli-"));
  return {
    configHome,
    env: {
      XDG_CONFIG_HOME: configHome,
      PREWARM_URL: undefined,
      PREWARM_TOKEN: undefined,
      NO_COLOR: "1",
      FORCE_COLOR: undefined,
      ...extra,
    },
    cleanup: () => rm(configHome, { recursive: true, force: true }),
  };
}

/**
 * Starts a fake API before the suite's tests and a CLI environment pointed at it (with token "t"); both
 * are torn down after. Read `fake` and `ctx` inside tests (they are set by the `before` hook).
 */
export function fakeApiSuite(extra: NodeJS.ProcessEnv = {}): { fake: FakeApi; ctx: CliEnv } {
  const suite = {} as { fake: FakeApi; ctx: CliEnv };
  before(async () => {
    suite.fake = await FakeApi.start();
    suite.ctx = await cliEnv({ PREWARM_URL: suite.fake.url, PREWARM_TOKEN: "t", ...extra });
  });
  after(async () => {
    await suite.fake.close();
    await suite.ctx.cleanup();
  });
  return suite;
}
