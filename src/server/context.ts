// What every server component gets: the store, the clock, a logger, and the URL workspaces reach the
// server at. Passed explicitly (no globals) so tests can build one with a fake clock.
import type { Clock } from "../clock.js";
import type { Logger } from "./logger.js";
import type { Store } from "./store/store.js";

export interface ServerEvents {
  /** A prebuild-relevant change happened (claim, finished prebuild build, new active version). */
  reconcileSoon(reason: string): void;
}

export interface ServerContext {
  store: Store;
  clock: Clock;
  logger: Logger;
  /** Base URL of this server as workspaces and agents reach it (CODER_AGENT_URL). */
  accessUrl: string;
  events: ServerEvents;
}
