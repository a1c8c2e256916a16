// `prewarm provisioner serve` as a real child process: readiness line, serving echo over TCP and unix
// sockets, flags wired through, graceful exit on signals, one-line errors.
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { buildEchoArchive, echoLog } from "../../../src/provisioners/echo/index.js";
import { connectProvisioner } from "../../../src/provisionersdk/index.js";
import { runCli, startCli, stopChild } from "../../support/cli.js";

const ready = /listening on (\S+)\n/;
const serveArgs = (...extra: string[]) => ["provisioner", "serve", "--type", "echo", ...extra];

/** Starts the CLI, runs `body` with the address it printed, and always stops the process. */
async function withServer<T>(
  args: string[],
  body: (address: string, child: Awaited<ReturnType<typeof startCli>>) => Promise<T>,
) {
  const started = await startCli(args, ready);
  try {
    return await body(started.match[1]!, started);
  } finally {
    await stopChild(started.child, "SIGKILL");
  }
}

async function parseOnce(address: string, archive = buildEchoArchive({ readme: "# hi" })) {
  const client = connectProvisioner(address);
  try {
    const session = await client.openSession({ templateSourceArchive: archive });
    const parse = await session.parse();
    await session.close();
    return parse;
  } finally {
    client.close();
  }
}

describe("prewarm provisioner serve", () => {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    test(`GIVEN a serving echo provisioner WHEN it gets ${signal} THEN it exits with code 0`, async () => {
      await withServer(serveArgs("--listen", "127.0.0.1:0"), async (address, { child }) => {
        assert.equal((await parseOnce(address)).error, "", "it serves before the signal");
        assert.deepEqual(await stopChild(child, signal), { code: 0, signal: null });
      });
    });
  }

  test("GIVEN --listen unix:/path WHEN a client connects over the socket THEN the session works", async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "prewarm-serve-unix-"));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const socket = `unix:${join(dir, "echo.sock")}`;
    await withServer(serveArgs("--listen", socket), async (address) => {
      assert.equal(address, socket);
      assert.equal(new TextDecoder().decode((await parseOnce(address)).readme), "# hi");
    });
  });

  test("GIVEN --max-archive-bytes 64 WHEN an archive with a bigger file arrives THEN the session is refused", async () => {
    await withServer(serveArgs("--max-archive-bytes", "64"), async (address) => {
      const archive = buildEchoArchive({ extraFiles: { "big.txt": "x".repeat(1000) } });
      await assert.rejects(parseOnce(address, archive));
      assert.equal((await parseOnce(address)).error, "", "a small archive still works");
    });
  });

  test("GIVEN a Plan waiting for cancel WHEN SIGTERM arrives with a short --shutdown-timeout THEN the process still exits 0", async () => {
    await withServer(serveArgs("--shutdown-timeout", "200ms"), async (address, { child, output }) => {
      const client = connectProvisioner(address);
      let logged: () => void = () => undefined;
      const sawLog = new Promise<void>((r) => {
        logged = r;
      });
      const session = await client.openSession(
        { templateSourceArchive: buildEchoArchive({ plan: [echoLog("waiting")] }) },
        { onLog: () => logged() },
      );
      const plan = session.plan({}).then(
        (complete) => complete.error,
        (err: Error) => `rejected: ${err.message}`,
      );
      await sawLog;
      assert.deepEqual(await stopChild(child, "SIGTERM"), { code: 0, signal: null });
      assert.match(await plan, /canceled|rejected/);
      assert.match(output(), /waiting up to 200ms for 1 session/);
      client.close();
    });
  });

  test("GIVEN --work-dir WHEN an echo session runs THEN nothing is written there (echo reads its archive in memory)", async (t) => {
    const workDir = await mkdtemp(join(tmpdir(), "prewarm-serve-workdir-"));
    t.after(() => rm(workDir, { recursive: true, force: true }));
    await withServer(serveArgs("--work-dir", workDir), async (address, { child }) => {
      const client = connectProvisioner(address);
      let logged: () => void = () => undefined;
      const sawLog = new Promise<void>((r) => {
        logged = r;
      });
      const session = await client.openSession(
        { templateSourceArchive: buildEchoArchive({ plan: [echoLog("waiting")] }) },
        { onLog: () => logged() },
      );
      const plan = session.plan({});
      await sawLog;
      assert.deepEqual(await readdir(workDir), [], "no session directory, even while the Plan runs");
      session.cancel();
      assert.equal((await plan).error, "canceled");
      await session.close();
      client.close();
      assert.deepEqual(await stopChild(child, "SIGTERM"), { code: 0, signal: null });
      assert.deepEqual(await readdir(workDir), []);
    });
  });

  test("GIVEN a port already in use WHEN serving on it THEN a one-line error and a non-zero exit", async (t) => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    t.after(() => blocker.close());
    const port = (blocker.address() as { port: number }).port;
    const result = await runCli(serveArgs("--listen", `127.0.0.1:${port}`), { timeoutMs: 30_000 });
    assert.notEqual(result.code, 0);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /^prewarm: listen on 127\.0\.0\.1:\d+: address already in use\n$/);
  });

  const badFlags = [
    {
      name: "an unknown --type",
      args: ["provisioner", "serve", "--type", "nope"],
      want: /unknown provisioner type "nope" \(known: [^)]*\becho\b/,
    },
    {
      name: "a malformed --listen",
      args: serveArgs("--listen", "no-port"),
      want: /--listen: invalid address/,
    },
    { name: "a port out of range", args: serveArgs("--listen", "127.0.0.1:70000"), want: /--listen: / },
    {
      name: "a zero --max-archive-bytes",
      args: serveArgs("--max-archive-bytes", "0"),
      want: /--max-archive-bytes: expected a positive whole number/,
    },
    {
      name: "a bad --shutdown-timeout",
      args: serveArgs("--shutdown-timeout", "soon"),
      want: /--shutdown-timeout: invalid duration/,
    },
  ];
  for (const c of badFlags) {
    test(`GIVEN ${c.name} WHEN serving THEN one line on stderr and a non-zero exit`, async () => {
      const result = await runCli(c.args, { timeoutMs: 30_000 });
      assert.notEqual(result.code, 0);
      assert.equal(result.stdout, "");
      assert.match(result.stderr, /^prewarm: [^\n]*\n$/);
      assert.match(result.stderr, c.want);
    });
  }

  test("GIVEN no --type WHEN serving THEN commander names the missing option and exits non-zero", async () => {
    const result = await runCli(["provisioner", "serve"], { timeoutMs: 30_000 });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /required option '--type <type>'/);
  });
});
