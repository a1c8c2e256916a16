// Loopback ports for tests that start servers on a port they choose (a restart on the same port, a daemon
// told the URL before the server exists).
import { createServer } from "node:net";

/** A TCP port on 127.0.0.1 that was free a moment ago (another process may still take it: callers retry). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}
