// What every server component gets: the store, the clock, a logger, and the URL workspaces reach the
// server at. Passed explicitly (no globals) so tests can build one with a fake clock.
import type { Clock } from "../clock.js";
import type { Logger } from "./logger.js";
import type { Store } from "./store/store.js";

export interface ClaimedPreset {
  templateName: string;
  presetName: string;
}

export interface ServerEvents {
  /** A prebuild-relevant change happened (claim, finished prebuild build, new active version). */
  reconcileSoon(reason: string): void;
  /** A claim build succeeded; `seconds` is its duration (Coder's claim duration). */
  claimBuilt(preset: ClaimedPreset, seconds: number): void;
  /** A claimed workspace became usable, `seconds` after the claim (what the person waited for). */
  claimUsable(preset: ClaimedPreset, seconds: number): void;
}

export interface ServerContext {
  store: Store;
  clock: Clock;
  logger: Logger;
  /** Base URL of this server as workspaces and agents reach it (CODER_AGENT_URL). */
  accessUrl: string;
  events: ServerEvents;
}
