// serve(): listening (TCP, IPv6, unix socket, TLS), graceful shutdown with a deadline.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { once } from "node:events";
import { link, mkdtemp, readFile, rename, rm, stat } from "node:fs/promises";
import { createServer, connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Code } from "@connectrpc/connect";
import {
  AddressError,
  connectProvisioner,
  createTar,
  type ProvisionerClient,
  ProvisionerProtocolError,
  parseAddress,
  serve,
} from "../../src/provisionersdk/index.js";
import { commandWorks, skipUnless } from "../support/requirements.js";
import { FakeProvisioner, returns, startServer, type TestServer, waitsForCancel } from "./fixtures.js";

const TIMEOUT = { timeout: 30_000 };

const ipv6 = await new Promise<boolean>((resolve) => {
  const s = createServer();
  s.once("error", () => resolve(false));
  s.listen(0, "::1", () => s.close(() => resolve(true)));
});

describe("addresses", () => {
  const valid = [
    { input: "127.0.0.1:0", expected: { kind: "tcp", host: "127.0.0.1", port: 0 } },
    { input: "localhost:7000", expected: { kind: "tcp", host: "localhost", port: 7000 } },
    { input: "[::1]:7000", expected: { kind: "tcp", host: "::1", port: 7000 } },
    { input: ":7000", expected: { kind: "tcp", host: "0.0.0.0", port: 7000 } },
    { input: "unix:/run/p.sock", expected: { kind: "unix", path: "/run/p.sock" } },
    { input: "unix:///run/p.sock", expected: { kind: "unix", path: "/run/p.sock" } },
    { input: "unix:rel.sock", expected: { kind: "unix", path: "rel.sock" } },
  ];
  for (const c of valid) {
    test(`GIVEN "${c.input}" THEN it parses`, () => {
      assert.deepEqual(parseAddress(c.input), c.expected);
    });
  }
  for (const bad of ["127.0.0.1", "::1:7000", "host:99999", "unix:", "host:port"]) {
    test(`GIVEN "${bad}" THEN it is refused with a message`, () => {
      assert.throws(() => parseAddress(bad), AddressError);
    });
  }
});

/** Runs `body` while `path` is hard-linked aside, then puts it back (Node unlinks a socket file on close). */
async function linkAside(path: string, body: () => Promise<void>): Promise<void> {
  await link(path, `${path}.keep`);
  await body();
  await rename(`${path}.keep`, path);
}

describe("listening", TIMEOUT, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "prewarm-serve-test-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function roundTrip(
    address: string,
    options?: Parameters<typeof connectProvisioner>[1],
  ): Promise<string> {
    const client = connectProvisioner(address, options);
    try {
      const session = await client.openSession({
        templateSourceArchive: createTar([{ path: "README.md", data: "ok" }]),
      });
      const parsed = await session.parse();
      await session.close();
      return new TextDecoder().decode(parsed.readme);
    } finally {
      client.close();
    }
  }

  test("GIVEN port 0 THEN the actual port is reported and reachable", async () => {
    const server = await serve(new FakeProvisioner(), { listen: "127.0.0.1:0" });
    try {
      assert.match(server.address, /^127\.0\.0\.1:\d+$/);
      assert.notEqual(server.address, "127.0.0.1:0");
      assert.equal(await roundTrip(server.address), "ok");
    } finally {
      await server.close();
    }
  });

  test("GIVEN an IPv6 loopback address THEN the address is bracketed and reachable", {
    skip: ipv6 ? false : "no IPv6 loopback",
  }, async () => {
    const server = await serve(new FakeProvisioner(), { listen: "[::1]:0" });
    try {
      assert.match(server.address, /^\[::1\]:\d+$/);
      assert.equal(await roundTrip(server.address), "ok");
    } finally {
      await server.close();
    }
  });

  test("GIVEN a unix socket address THEN sessions work over it and the socket is private", async () => {
    const path = join(dir, "prov.sock");
    const server = await serve(new FakeProvisioner(), { listen: `unix:${path}` });
    try {
      assert.equal(server.address, `unix:${path}`);
      assert.equal((await stat(path)).mode & 0o777, 0o600);
      assert.equal(await roundTrip(server.address), "ok");
    } finally {
      await server.close();
    }
  });

  test("GIVEN a socket file left by a dead server THEN serve() replaces it; GIVEN a live one THEN it refuses", async () => {
    const path = join(dir, "stale.sock");
    // A listening socket whose server is gone without unlinking it: what kill -9 leaves behind.
    const dead = createServer();
    await new Promise<void>((resolve) => dead.listen(path, resolve));
    await linkAside(path, async () => {
      await new Promise<void>((resolve) => dead.close(() => resolve()));
    });
    assert.ok((await stat(path)).isSocket(), "GIVEN: a stale socket file exists");

    const server = await serve(new FakeProvisioner(), { listen: `unix:${path}` });
    try {
      assert.equal(await roundTrip(server.address), "ok");
      await assert.rejects(serve(new FakeProvisioner(), { listen: `unix:${path}` }), /EADDRINUSE/);
    } finally {
      await server.close();
    }
  });

  test("GIVEN a peer that does not speak HTTP/2 THEN only its connection fails and the server keeps serving", async () => {
    const server = await serve(new FakeProvisioner(), { listen: "127.0.0.1:0" });
    try {
      const [host, port] = [server.address.split(":")[0], Number(server.address.split(":")[1])];
      const garbage = netConnect({ host, port });
      garbage.end("GET / HTTP/1.1\r\nHost: x\r\n\r\nthis is not http/2\r\n");
      garbage.resume();
      await once(garbage, "close");
      assert.equal(await roundTrip(server.address), "ok");
    } finally {
      await server.close();
    }
  });

  test("GIVEN a port in use THEN serve() fails saying where", async () => {
    const first = await serve(new FakeProvisioner(), { listen: "127.0.0.1:0" });
    try {
      await assert.rejects(serve(new FakeProvisioner(), { listen: first.address }), (err: Error) => {
        assert.ok(err.message.includes(`listen on ${first.address}`), err.message);
        assert.match(err.message, /EADDRINUSE/);
        return true;
      });
    } finally {
      await first.close();
    }
  });

  const hasOpenssl = commandWorks("openssl", ["version"]);
  test("GIVEN a TLS certificate THEN a client trusting it completes a session", {
    skip: skipUnless(hasOpenssl, "openssl not on PATH"),
  }, async () => {
    const keyPath = join(dir, "key.pem");
    const certPath = join(dir, "cert.pem");
    const r = spawnSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        keyPath,
        "-out",
        certPath,
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=IP:127.0.0.1,DNS:localhost",
      ],
      { encoding: "utf8" },
    );
    assert.equal(r.status, 0, r.stderr);
    const cert = await readFile(certPath);
    const server = await serve(new FakeProvisioner(), {
      listen: "127.0.0.1:0",
      tls: { cert, key: await readFile(keyPath) },
    });
    try {
      assert.equal(await roundTrip(server.address, { tls: { ca: cert } }), "ok");
      // Without trusting the certificate the connection is refused.
      await assert.rejects(roundTrip(server.address, { tls: {} }), ProvisionerProtocolError);
      // A plaintext client cannot talk to a TLS server.
      await assert.rejects(roundTrip(server.address), ProvisionerProtocolError);
    } finally {
      await server.close();
    }
  });
});

/** A test server and a client for it, both cleaned up after `body`. */
async function withServer(body: (t: TestServer, client: ProvisionerClient) => Promise<void>): Promise<void> {
  const t = await startServer();
  const client = connectProvisioner(t.server.address);
  try {
    await body(t, client);
  } finally {
    client.close();
    await t.stop();
  }
}

const isUnavailable = (err: unknown) =>
  err instanceof ProvisionerProtocolError && err.code === Code.Unavailable;

describe("graceful shutdown", TIMEOUT, () => {
  test("GIVEN a running request WHEN close() is called THEN new sessions are refused and the running one finishes", () =>
    withServer(async (t, client) => {
      let release!: () => void;
      const released = new Promise<void>((r) => {
        release = r;
      });
      t.fake.behaviour.plan = async () => {
        await released;
        return { error: "" };
      };
      const session = await client.openSession({});
      const started = t.fake.nextCall();
      const plan = session.plan({});
      const call = await started;

      const closed = t.server.close({ deadlineMs: 20_000 });
      const refused = connectProvisioner(t.server.address);
      const late = await refused.openSession({});
      await assert.rejects(late.parse(), isUnavailable);
      refused.close();
      assert.equal(t.server.activeSessions(), 1);

      release();
      assert.equal((await plan).error, "");
      assert.equal(call.signal.aborted, false, "finished within the deadline: not cancelled");
      await session.close();
      await closed;
      assert.equal(t.server.activeSessions(), 0);
    }));

  test("GIVEN a request that outlives the deadline THEN it is cancelled, its Complete sent, and the directory removed", () =>
    withServer(async (t, client) => {
      t.fake.behaviour.apply = waitsForCancel;
      t.fake.behaviour.plan = returns();
      const session = await client.openSession({
        templateSourceArchive: createTar([{ path: "x", data: "" }]),
      });
      await session.plan({});
      const started = t.fake.nextCall();
      const apply = session.apply({});
      const call = await started;

      await t.server.close({ deadlineMs: 50 });

      assert.ok(call.signal.aborted);
      assert.equal((await apply).error, "canceled");
      await assert.rejects(session.close(), isUnavailable);
      assert.deepEqual(await t.sessionDirs(), []);
      assert.equal(t.server.activeSessions(), 0);
    }));

  test("GIVEN an idle open session THEN close() ends it at the deadline", () =>
    withServer(async (t, client) => {
      const session = await client.openSession({});
      await session.parse();
      await t.server.close({ deadlineMs: 50 });
      await assert.rejects(session.parse(), isUnavailable);
      assert.deepEqual(await t.sessionDirs(), []);
    }));

  test("GIVEN no work directory option THEN a private temp directory is used and removed on close", async () => {
    const fake = new FakeProvisioner();
    let seen = "";
    fake.behaviour.parse = async (call) => {
      seen = call.session.workDirectory;
      return {};
    };
    const server = await serve(fake, { listen: "127.0.0.1:0" });
    const client = connectProvisioner(server.address);
    const session = await client.openSession({});
    await session.parse();
    await session.close();
    client.close();
    await server.close();
    assert.ok(seen.startsWith(tmpdir()), seen);
    await assert.rejects(stat(join(seen, "..")), { code: "ENOENT" });
  });
});
