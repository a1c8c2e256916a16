// The daemon API contract beyond its protobuf service (src/gen/prewarm/daemon/v1): how a daemon authenticates
// and which error codes mean "this job is not yours any more". Shared by the daemon's client
// (src/provisionerd/) and the server's handler (src/server/daemon-api/).
import { Code } from "@connectrpc/connect";

/** The header carrying the daemons' pre-shared key. Never logged. */
export const PSK_HEADER = "prewarm-psk";

/**
 * The codes UpdateJob, CompleteJob and FailJob answer with when the job is no longer the calling daemon's:
 * NotFound — no such job; FailedPrecondition — it has finished (completed, failed, reaped, canceled while
 * pending), is not running yet, or runs on another daemon. A daemon that gets one stops working on the job.
 */
export const LOST_JOB_CODES: readonly Code[] = [Code.NotFound, Code.FailedPrecondition];
