// Listen/dial addresses: "127.0.0.1:0", "localhost:7000", "[::1]:7000", "unix:/path/to.sock".

export type Address = { kind: "tcp"; host: string; port: number } | { kind: "unix"; path: string };

export class AddressError extends Error {
  override name = "AddressError";
}

export function parseAddress(address: string): Address {
  if (address.startsWith("unix:")) {
    const path = address.slice("unix:".length).replace(/^\/\/(?=\/)/, ""); // also accept unix:///abs/path
    if (path === "") throw new AddressError(`invalid address "${address}": unix socket path is empty`);
    return { kind: "unix", path };
  }
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d+)$/.exec(address);
  if (!m) throw new AddressError(`invalid address "${address}" (want HOST:PORT, [IPv6]:PORT or unix:/path)`);
  const host = m[1] ?? m[2] ?? "";
  const port = Number(m[3]);
  if (!Number.isInteger(port) || port > 65535)
    throw new AddressError(`invalid address "${address}": bad port`);
  return { kind: "tcp", host: host === "" ? "0.0.0.0" : host, port };
}

export function formatAddress(address: Address): string {
  if (address.kind === "unix") return `unix:${address.path}`;
  return address.host.includes(":") ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
