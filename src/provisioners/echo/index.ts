// The echo provisioner (replays responses from the template archive) and its archive builder.
export * from "./archive.js";
export { decodeEchoFile, type EchoEntry, EchoFileError, maxEchoDelayMs } from "./decode.js";
export { type EchoOperation, echoCandidateNames, echoTransitionName, selectEchoFiles } from "./naming.js";
export {
  createEchoProvisioner,
  type EchoProvisionerOptions,
  echoCanceledError,
  echoCompleteMissingError,
  echoProvisioner,
} from "./provisioner.js";
