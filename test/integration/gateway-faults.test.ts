// Bad input and faults on the gateway's proxy path: upstreams that cannot be reached, speak HTML, hang,
// crash mid-call, write garbage or huge answers; connections removed, changed or shut down under
// running calls. Each gives the caller a clear JSON-RPC error in time, other connections go on
// serving, and no process is left behind.
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ErrorCode } from "@modelcontextprotocol/sdk/types.js";
import type { ConnectionSpec } from "../../src/domain/connections/spec.ts";
import { rejectionOf } from "../support/errors.ts";
import {
  FIXTURE,
  GatewayHarness,
  httpSpec,
  isAlive,
  makeCaller,
  PROTOCOL_VERSION,
  startHttpFixture,
  stdioSpec,
  textOf,
  waitUntil,
  whoami,
  within,
  type HttpFixture,
  type RpcError,
} from "../support/gateway-harness.ts";
import { waitForLine } from "../support/streams.ts";
import { useTempDirs } from "../support/temp-dir.ts";

const MAIN = join(import.meta.dir, "../../src/main.ts");
const tempDir = useTempDirs();

/** The pids whose parent is `pid` (from /proc). */
function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((task) => readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").split(" ").filter(Boolean).map(Number));
  } catch {
    return [];
  }
}

// Every wait inside has its own, shorter deadline; this only keeps a stuck test from hanging.
setDefaultTimeout(30_000);

const caller = makeCaller({ "*": ["*"] });
const INITIALIZE = {
  jsonrpc: "2.0",
  id: 0,
  method: "initialize",
  params: { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "faults", version: "1" } },
};

let harness: GatewayHarness | null = null;
const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  await harness?.close();
  harness = null;
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A gateway over `faulty` and a healthy stdio connection, to show the fault stays where it is. */
function start(...faulty: ConnectionSpec[]): { h: GatewayHarness; healthy: ConnectionSpec } {
  const healthy = stdioSpec();
  harness = new GatewayHarness([...faulty, healthy]);
  return { h: harness, healthy };
}

async function stillServes(h: GatewayHarness, spec: ConnectionSpec): Promise<void> {
  const client = await h.connect(spec.id);
  expect(textOf(await client.callTool({ name: "echo", arguments: { text: "fine" } }))).toBe("fine");
}

/** Initializes a session on `spec` with a raw request; returns the status, the error and the time it took. */
async function initialize(h: GatewayHarness, spec: ConnectionSpec): Promise<{ status: number; error: RpcError; ms: number; session: string | null }> {
  const started = Date.now();
  const res = await h.post(spec.id, caller, INITIALIZE);
  const ms = Date.now() - started;
  const body = (await res.json()) as { error: RpcError };
  return { status: res.status, error: body.error, ms, session: res.headers.get("mcp-session-id") };
}

/** A local HTTP server answering with `fetch`, stopped after the test. */
function serve(fetch: (req: Request) => Response | Promise<Response>): string {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, idleTimeout: 0, fetch });
  cleanups.push(() => server.stop(true));
  return `127.0.0.1:${server.port}`;
}

async function httpFixture(): Promise<HttpFixture> {
  const fixture = await startHttpFixture();
  cleanups.push(() => fixture.stop());
  return fixture;
}

describe("upstreams that cannot be used", () => {
  test("a stdio command that does not exist: 502 naming the command, and test() says so", async () => {
    const command = "/nonexistent/switchboard-no-such-command";
    const spec = stdioSpec({ command });
    const { h, healthy } = start(spec);
    const { status, error, session } = await initialize(h, spec);
    expect(status).toBe(502);
    expect(session).toBeNull();
    expect(error.message).toContain(`command not found: ${command}`);
    expect(await h.gateway.status(spec.id)).toMatchObject({ state: "error", lastError: `command not found: ${command}` });
    expect(h.gateway.sessionCount).toBe(0);

    const result = await h.gateway.test(spec);
    expect(result).toMatchObject({ ok: false, server: null, tools: 0 });
    expect(result.error).toContain(`command not found: ${command}`);
    await stillServes(h, healthy);
  });

  test("an unreachable URL: 502 within connectTimeoutMs + 2 s", async () => {
    const closed = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
    const port = closed.port;
    closed.stop(true);
    const spec = httpSpec(`http://127.0.0.1:${port}/mcp`, { connectTimeoutMs: 1000 });
    const { h, healthy } = start(spec);
    const { status, error, ms } = await initialize(h, spec);
    expect(status).toBe(502);
    expect(ms).toBeLessThan(1000 + 2000);
    expect(error.message).toStartWith("Cannot reach the upstream: ");
    expect(error.message).toContain("ECONNREFUSED");

    const result = await h.gateway.test(spec);
    expect(result.ok).toBe(false);
    expect(result.error).toContain("ECONNREFUSED");
    await stillServes(h, healthy);
  });

  test("a TLS error: 502 saying the handshake failed", async () => {
    const plain = serve(() => new Response("plain http"));
    const spec = httpSpec(`https://${plain}/mcp`, { connectTimeoutMs: 1000 });
    const { h, healthy } = start(spec);
    const { status, error, ms } = await initialize(h, spec);
    expect(status).toBe(502);
    expect(ms).toBeLessThan(1000 + 2000);
    expect(error.message).toContain("TLS");
    expect((await h.gateway.test(spec)).error).toContain("TLS");
    await stillServes(h, healthy);
  });

  test("an upstream answering HTML: 502 naming the content type", async () => {
    const html = serve(() => new Response("<html><body>Welcome to nginx!</body></html>", { headers: { "content-type": "text/html" } }));
    const spec = httpSpec(`http://${html}/mcp`, { connectTimeoutMs: 1000 });
    const { h, healthy } = start(spec);
    const { status, error } = await initialize(h, spec);
    expect(status).toBe(502);
    expect(error.message).toContain("text/html");
    expect(error.message).not.toContain("nginx");
    const result = await h.gateway.test(spec);
    expect(result).toMatchObject({ ok: false, server: null });
    expect(result.error).toContain("text/html");
    await stillServes(h, healthy);
  });

  test("an upstream that accepts the connection and never answers: error within connectTimeoutMs + 2 s", async () => {
    const hung = serve(() => new Promise<Response>(() => {}));
    // A short timeout: the test waits it out twice (the session's connect, then test()).
    const connectTimeoutMs = 250;
    const spec = httpSpec(`http://${hung}/mcp`, { connectTimeoutMs });
    const { h, healthy } = start(spec);
    const { status, error, ms } = await initialize(h, spec);
    expect(status).toBe(502);
    expect(ms).toBeLessThan(connectTimeoutMs + 2000);
    expect(error.message).toContain("timed out");

    const started = Date.now();
    const result = await h.gateway.test(spec);
    expect(Date.now() - started).toBeLessThan(connectTimeoutMs + 2000);
    expect(result.ok).toBe(false);
    expect(result.error).toContain("timed out");
    await stillServes(h, healthy);
  });
});

describe("upstreams that fail mid-call", () => {
  test("a stdio server that exits mid-call: a clear error, then a restarted process after the backoff", async () => {
    const spec = stdioSpec({ callTimeoutMs: 5000 });
    const { h, healthy } = start(spec);
    const client = await h.connect(spec.id);
    const before = await whoami(client);
    const started = Date.now();
    const err = (await rejectionOf(client.callTool({ name: "crash", arguments: {} }))) as RpcError;
    expect(Date.now() - started).toBeLessThan(5000 + 2000);
    expect(err.code).toBe(ErrorCode.ConnectionClosed);
    expect(err.message).toContain("Connection closed");
    expect(h.gateway.stderr(spec.id)).toContain("[switchboard] process exited (code 3)");

    // Calls in the backoff fail clearly; then the same session is served by a new process.
    const after = await waitUntil(() => whoami(client), "the crashed upstream to be restarted", 10_000);
    expect(after.pid).not.toBe(before.pid);
    expect(isAlive(before.pid)).toBe(false);
    expect((await h.gateway.status(spec.id)).state).toBe("connected");
    expect(textOf(await client.callTool({ name: "echo", arguments: { text: "back" } }))).toBe("back");
    await stillServes(h, healthy);
  });

  test("an HTTP server that dies mid-call: a clear error at once, and other connections go on", async () => {
    const fixture = await httpFixture();
    const spec = httpSpec(fixture.url, { callTimeoutMs: 5000 });
    const { h, healthy } = start(spec);
    const client = await h.connect(spec.id);
    const started = Date.now();
    const err = (await rejectionOf(client.callTool({ name: "crash", arguments: {} }))) as RpcError;
    expect(Date.now() - started).toBeLessThan(5000 + 2000);
    expect(err.code).toBe(ErrorCode.InternalError);
    expect(err.message).toContain("Upstream error: ");
    const again = (await rejectionOf(client.callTool({ name: "echo", arguments: { text: "x" } }))) as RpcError;
    // The upstream is marked down until its backoff passes (naming why), or the reconnect is refused: either way, said plainly.
    expect(again.code).toBe(ErrorCode.InternalError);
    expect(again.message).toMatch(/The upstream is unavailable \(the upstream closed the connection before the answer was complete\)|ECONNREFUSED|ECONNRESET/);
    await stillServes(h, healthy);
  });

  test("an HTTP server that restarts (forgetting the session) is re-initialised transparently", async () => {
    const first = await startHttpFixture();
    const spec = httpSpec(first.url);
    const { h } = start(spec);
    const client = await h.connect(spec.id);
    const before = await whoami(client);
    await first.stop();
    const port = new URL(first.url).port;
    const second = Bun.spawn([process.execPath, FIXTURE, "--http", "--port", port], { stdout: "pipe", stderr: "ignore" });
    cleanups.push(async () => {
      second.kill("SIGKILL");
      await second.exited;
    });
    await waitForLine(second.stdout, (l) => l.startsWith("listening "));
    const after = await whoami(client);
    expect(after.pid).toBe(second.pid);
    expect(after.pid).not.toBe(before.pid);
  });

  test("a stdio server writing garbage to stdout: the call succeeds and the ring notes the line", async () => {
    const spec = stdioSpec();
    const { h } = start(spec);
    const client = await h.connect(spec.id);
    const before = await whoami(client);
    expect(await client.callTool({ name: "garbage", arguments: {} })).toEqual({ content: [{ type: "text", text: "after garbage" }] });
    const noted = h.gateway.stderr(spec.id).filter((l) => l.startsWith("[switchboard] ignored a stdout line that is not JSON-RPC"));
    expect(noted).toHaveLength(1);
    expect((await whoami(client)).pid).toBe(before.pid);
  });

  for (const transport of ["stdio", "http"] as const) {
    // Just under gateway.max_response_size (set here to 4 MiB; the default's own test is below), both
    // transports deliver a result of many reads whole: the limit counts the message, not each read.
    test(`a result just under the configured limit over ${transport} arrives whole, and the next call works`, async () => {
      const limits = { callTimeoutMs: 15_000, maxResponseBytes: 4 * 1024 * 1024 };
      const spec = transport === "stdio" ? stdioSpec(limits) : httpSpec((await httpFixture()).url, limits);
      const { h, healthy } = start(spec);
      const client = await h.connect(spec.id);
      const bytes = 4 * 1024 * 1024 - 16 * 1024;
      const started = Date.now();
      const result = await client.callTool({ name: "big", arguments: { bytes } }, undefined, { timeout: 30_000 });
      expect(Date.now() - started).toBeLessThan(15_000 + 2000);
      const text = textOf(result);
      expect(text.length).toBe(bytes);
      expect(text.replaceAll("x", "")).toBe("");
      expect(textOf(await client.callTool({ name: "echo", arguments: { text: "small again" } }))).toBe("small again");
      await stillServes(h, healthy);
    });
  }

  test("a stdio message over the default 32 MiB limit: the limit's error, not a hang, and the same server serves on", async () => {
    const spec = stdioSpec({ callTimeoutMs: 20_000 });
    const { h } = start(spec);
    const client = await h.connect(spec.id);
    const before = await whoami(client);
    const err = (await rejectionOf(client.callTool({ name: "big", arguments: { bytes: 33 * 1024 * 1024 } }, undefined, { timeout: 30_000 }))) as RpcError;
    expect(err.code).toBe(ErrorCode.InternalError);
    expect(err.message).toContain("gateway.max_response_size (32 MiB)");
    expect(h.gateway.stderr(spec.id).some((l) => l.includes(`more than ${32 * 1024 * 1024} bytes`))).toBe(true);
    expect((await whoami(client)).pid).toBe(before.pid);
  });
});

describe("connections changed under running calls", () => {
  for (const transport of ["stdio", "http"] as const) {
    test(`removing a ${transport} connection fails its running call at once and ends its sessions`, async () => {
      const spec = transport === "stdio" ? stdioSpec() : httpSpec((await httpFixture()).url);
      const { h, healthy } = start(spec);
      const client = await h.connect(spec.id);
      const { pid } = await whoami(client);
      let started!: () => void;
      const inUpstream = new Promise<void>((resolve) => (started = resolve));
      const call = rejectionOf(client.callTool({ name: "slow", arguments: { ms: 5000, steps: 50 } }, undefined, { onprogress: () => started() }));
      await within(inUpstream, 5000, "the slow call reaching the upstream");
      const removing = Date.now();
      await h.remove(spec.id);
      const err = (await within(call, 2000, "the running call to fail")) as RpcError;
      expect(Date.now() - removing).toBeLessThan(2000);
      expect(err.code).toBe(ErrorCode.ConnectionClosed);
      expect(err.message).toBe("MCP error -32000: This connection was removed or changed.");
      if (transport === "stdio") expect(isAlive(pid)).toBe(false);
      expect(h.gateway.sessionCount).toBe(0);
      expect(await h.gateway.runtime(spec.id)).toBeNull();
      await stillServes(h, healthy);
    });
  }

  test("apply with a changed spec restarts the upstream with the new spec; old sessions end", async () => {
    const spec = stdioSpec({ env: { SB_VERSION_ONE: "1" } });
    const { h } = start(spec);
    const client = await h.connect(spec.id);
    const before = await whoami(client);
    expect(before.env).toContain("SB_VERSION_ONE");

    await h.apply({ ...spec, env: { SB_VERSION_TWO: "2" } });
    await waitUntil(() => !isAlive(before.pid), "the old process to end", 5000);
    // The old session is gone (its client must initialise again): HTTP 404.
    const stale = (await rejectionOf(client.callTool({ name: "echo", arguments: { text: "x" } }))) as RpcError;
    expect(stale.code).toBe(404);
    const fresh = await h.connect(spec.id);
    const after = await whoami(fresh);
    expect(after.pid).not.toBe(before.pid);
    expect(after.env).toEqual(["PATH", "SB_VERSION_TWO", "SWITCHBOARD_PROCESS_TAG"]);
  });

  test("apply disabling a connection refuses new sessions and stops its process", async () => {
    const spec = stdioSpec();
    const { h } = start(spec);
    const { pid } = await whoami(await h.connect(spec.id));
    await h.apply({ ...spec, enabled: false });
    await waitUntil(() => !isAlive(pid), "the process to end", 5000);
    const { status, error } = await initialize(h, spec);
    expect(status).toBe(502);
    expect(error.message).toContain("disabled");
    expect((await h.gateway.status(spec.id)).state).toBe("disabled");
  });

  test("closing the gateway kills every stdio process group, helpers included", async () => {
    // The server starts a helper in its own group and tells its pid on stderr.
    const withHelper = stdioSpec({
      command: "/bin/sh",
      args: ["-c", 'sleep 600 & echo "helper $!" >&2; exec "$0" "$1"', process.execPath, FIXTURE],
    });
    const isolated = stdioSpec({ isolation: "session" });
    harness = new GatewayHarness([withHelper, isolated]);
    const h = harness;
    const pids = [
      (await whoami(await h.connect(withHelper.id))).pid,
      (await whoami(await h.connect(isolated.id))).pid,
      (await whoami(await h.connect(isolated.id))).pid,
    ];
    const helperLine = await waitUntil(() => h.gateway.stderr(withHelper.id).find((l) => l.startsWith("helper ")), "the helper's pid on stderr", 5000);
    pids.push(Number(helperLine.slice("helper ".length)));
    expect(new Set(pids).size).toBe(4);
    for (const pid of pids) expect(isAlive(pid)).toBe(true);

    await h.gateway.close();
    harness = null;
    await waitUntil(() => pids.every((pid) => !isAlive(pid)), `every process (${pids.join(", ")}) to end`, 5000);
  });

  // Linux with util-linux's setpriv (Debian has it): the kernel ends the server with its gateway.
  test.skipIf(!["/usr/bin/setpriv", "/bin/setpriv"].some((p) => existsSync(p)))(
    "a gateway killed with SIGKILL takes its stdio servers with it, even one that ignores the end of stdin",
    async () => {
      const dir = tempDir();
      const config = join(dir, "switchboard.toml");
      writeFileSync(
        config,
        `[server]\nlisten = "127.0.0.1:0"\n[database]\npath = "db.sqlite"\n` +
          `[[connections]]\nslug = "stubborn"\ncommand = ${JSON.stringify(process.execPath)}\nargs = [${JSON.stringify(FIXTURE)}]\nenv = { FIXTURE_IGNORE_EOF = "1" }\n`,
      );
      const gateway = Bun.spawn([process.execPath, MAIN, "serve", "--config", config], { cwd: dir, stdin: "ignore", stdout: "ignore", stderr: "ignore" });
      cleanups.push(() => gateway.kill("SIGKILL"));
      // Discovery at start runs the server: wait for it to be the gateway's child.
      const server = await waitUntil(() => childrenOf(gateway.pid)[0], "the stdio server to start", 15_000);
      expect(isAlive(server)).toBe(true);
      gateway.kill("SIGKILL");
      await gateway.exited;
      await waitUntil(() => !isAlive(server), `the stdio server (pid ${server}) to end`, 5000);
    },
  );

  test("closing a session of an isolated connection with DELETE ends its process group", async () => {
    const spec = stdioSpec({
      isolation: "session",
      command: "/bin/sh",
      args: ["-c", 'sleep 600 & echo "helper $!" >&2; exec "$0" "$1"', process.execPath, FIXTURE],
    });
    const { h } = start(spec);
    const client = await h.connect(spec.id);
    const { pid } = await whoami(client);
    const helperLine = await waitUntil(() => h.gateway.stderr(spec.id).find((l) => l.startsWith("helper ")), "the helper's pid on stderr", 5000);
    const helper = Number(helperLine.slice("helper ".length));
    await (client.transport as StreamableHTTPClientTransport).terminateSession();
    await waitUntil(() => !isAlive(pid) && !isAlive(helper), "the session's process group to end", 5000);
    expect(h.gateway.sessionCount).toBe(0);
  });
});
