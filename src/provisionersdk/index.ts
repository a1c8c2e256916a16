// Public API of the provisioner SDK: serve a provisioner, drive one, and build/extract template archives.
export { type Address, AddressError, formatAddress, parseAddress } from "./address.js";
export {
  ArchiveError,
  type ArchiveLimits,
  createTar,
  DEFAULT_ARCHIVE_LIMITS,
  extractArchive,
  planExtraction,
  SYNC_WRITE_MAX,
  type TarEntryType,
  type TarInput,
} from "./archive.js";
export {
  type ConnectOptions,
  connectProvisioner,
  type ProvisionerClient,
  type SessionClient,
  type SessionHandlers,
} from "./client.js";
export { ProvisionerProtocolError, SessionUsageError } from "./errors.js";
export { LogLevelError, parseLogLevel } from "./log-level.js";
export {
  DEFAULT_SHUTDOWN_DEADLINE_MS,
  type ProvisionerServer,
  type ServeLogger,
  type ServeLogLevel,
  type ServeOptions,
  serve,
} from "./serve.js";
export type { AnyProvisioner, InMemoryProvisioner, InMemorySession, Provisioner, Session } from "./types.js";
