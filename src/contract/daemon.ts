// The daemon API contract beyond its protobuf service (src/gen/prewarm/daemon/v1): how a daemon authenticates.
// Shared by the daemon's client (src/provisionerd/api.ts) and the server's handler (src/server/daemon-api/).

/** The header carrying the daemons' pre-shared key. Never logged. */
export const PSK_HEADER = "prewarm-psk";
