// The gateway's HTTP/1.1 client for plain-http upstreams, and the exchange of one JSON-RPC request over
// it: bodies of every framing, kept-alive sockets, servers closing them, aborts, broken answers, and
// what an MCP upstream may answer (JSON, an event stream, an error status, HTML, an early end).
import { afterEach, describe, expect, test } from "bun:test";
import { StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ErrorCode, McpError, type JSONRPCMessage, type JSONRPCRequest } from "@modelcontextprotocol/sdk/types.js";
import { exchange, type HttpEndpoint } from "../../src/gateway/upstream/http-exchange.ts";
import { Http1Error, Http1Pool } from "../../src/gateway/upstream/http1.ts";
import { rejectionOf } from "../support/errors.ts";
import { within } from "../support/gateway-harness.ts";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/**
 * A raw TCP server: `answer` gets each request's bytes and the socket, to write whatever it likes.
 * `received` and `closed` resolve when the first request's bytes arrive and when its first socket
 * closes, so tests await those events instead of sleeping for them.
 */
function tcpServer(answer: (request: string, socket: import("bun").Socket<{ n: number }>) => void): {
  url: URL;
  connections: () => number;
  received: Promise<void>;
  closed: Promise<void>;
} {
  let connections = 0;
  const received = Promise.withResolvers<void>();
  const closed = Promise.withResolvers<void>();
  const server = Bun.listen<{ n: number }>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(socket) {
        connections++;
        socket.data = { n: 0 };
      },
      data(socket, data) {
        answer(data.toString(), socket);
        received.resolve();
      },
      close() {
        closed.resolve();
      },
    },
  });
  cleanups.push(() => server.stop(true));
  return { url: new URL(`http://127.0.0.1:${server.port}/mcp`), connections: () => connections, received: received.promise, closed: closed.promise };
}

/** A raw TCP server that never answers: `received` resolves with the first request's bytes, `closed` when that socket closes. */
function silentServer(onData: (socket: import("bun").Socket<undefined>) => void = () => {}): { url: URL; received: Promise<void>; closed: Promise<void> } {
  const received = Promise.withResolvers<void>();
  const closed = Promise.withResolvers<void>();
  const server = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(socket) {
        onData(socket);
        received.resolve();
      },
      close() {
        closed.resolve();
      },
    },
  });
  cleanups.push(() => server.stop(true));
  return { url: new URL(`http://127.0.0.1:${server.port}/`), received: received.promise, closed: closed.promise };
}

function httpServer(fetch: (req: Request) => Response | Promise<Response>): URL {
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, idleTimeout: 0, fetch });
  cleanups.push(() => server.stop(true));
  return new URL(`http://127.0.0.1:${server.port}/mcp?x=1`);
}

function pool(url: URL, maxBodyBytes?: number): Http1Pool {
  const p = new Http1Pool(url, { maxBodyBytes });
  cleanups.push(() => p.close());
  return p;
}

/** The error `promise` rejects with. */
const failure = async (promise: Promise<unknown>): Promise<Error> => (await rejectionOf(promise)) as Error;

const post = (p: Http1Pool, body = "{}", signal?: AbortSignal) => p.request("/mcp", { method: "POST", headers: { "content-type": "application/json" }, body, signal });

describe("Http1Pool", () => {
  test("sends the method, path, headers and body; reads a Content-Length answer; reuses one socket", async () => {
    const seen: { method: string; path: string; type: string | null; body: string }[] = [];
    const url = httpServer(async (req) => {
      const u = new URL(req.url);
      seen.push({ method: req.method, path: u.pathname + u.search, type: req.headers.get("content-type"), body: await req.text() });
      return new Response(`answer ${seen.length}`, { headers: { "x-answer": "yes" } });
    });
    const p = pool(url);
    for (let i = 1; i <= 3; i++) {
      const res = await p.request("/mcp?x=1", { method: "POST", headers: { "content-type": "application/json" }, body: `{"n":${i}}` });
      expect(res.status).toBe(200);
      expect(res.headers.get("x-answer")).toBe("yes");
      expect(await res.text()).toBe(`answer ${i}`);
    }
    expect(seen).toEqual([1, 2, 3].map((n) => ({ method: "POST", path: "/mcp?x=1", type: "application/json", body: `{"n":${n}}` })));
  });

  test("one socket serves sequential requests; concurrent ones open more", async () => {
    const server = tcpServer((_req, socket) => {
      socket.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    });
    const p = pool(server.url);
    for (let i = 0; i < 5; i++) expect(await (await post(p)).text()).toBe("ok");
    expect(server.connections()).toBe(1);
    await Promise.all([post(p), post(p), post(p)].map(async (r) => (await r).text()));
    expect(server.connections()).toBe(3);
  });

  test("at most maxSockets are open; further requests wait for a free one and are all answered", async () => {
    let open = 0;
    let most = 0;
    const server = Bun.listen<{ n: number }>({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        open() {
          most = Math.max(most, ++open);
        },
        close() {
          open--;
        },
        data(socket) {
          setTimeout(() => socket.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"), 10);
        },
      },
    });
    cleanups.push(() => server.stop(true));
    const p = new Http1Pool(new URL(`http://127.0.0.1:${server.port}/`), { maxSockets: 2 });
    cleanups.push(() => p.close());
    const answers = await Promise.all(Array.from({ length: 7 }, async () => (await post(p)).text()));
    expect(answers).toEqual(Array(7).fill("ok"));
    expect(most).toBe(2);
  });

  test("a request waiting for a socket fails when the pool closes", async () => {
    const server = tcpServer(() => {});
    const p = new Http1Pool(server.url, { maxSockets: 1 });
    const first = post(p);
    const second = post(p);
    // The first request is on the wire (and holds the one socket); the second waits for it.
    await server.received;
    p.close();
    expect((await failure(second)).message).toContain("pool is closed");
    expect((await failure(first)).message).toContain("pool is closed");
  });

  test("a chunked answer streams chunk by chunk, split anywhere, and ends at the last chunk", async () => {
    const parts: string[] = [];
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const server = tcpServer((_req, socket) => {
      socket.write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-type: text/event-stream\r\n\r\n5\r\nfirst\r\n");
      void released.then(() => {
        socket.write("7\r\n second\r");
        socket.write("\n0\r\n");
        socket.write("\r\n");
      });
    });
    const p = pool(server.url);
    const res = await post(p);
    const reader = res.body!.getReader();
    parts.push(new TextDecoder().decode((await reader.read()).value));
    release();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parts.push(new TextDecoder().decode(value));
    }
    expect(parts.join("")).toBe("first second");
    expect(parts[0]).toBe("first");
    // The socket went back to the pool.
    await post(p).catch(() => {});
    expect(server.connections()).toBe(1);
  });

  test("an answer without length is read until the server closes", async () => {
    const server = tcpServer((_req, socket) => {
      socket.write("HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nall of it");
      socket.end();
    });
    expect(await (await post(pool(server.url))).text()).toBe("all of it");
  });

  test("a kept-alive socket the server closed is replaced, and the request goes through", async () => {
    const server = tcpServer((_req, socket) => {
      socket.data.n++;
      socket.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
      // The server drops every connection right after its first answer (as an idle timeout would).
      socket.end();
    });
    const p = pool(server.url);
    expect(await (await post(p)).text()).toBe("ok");
    // Whether the pool has seen the close yet (the idle socket is dropped) or not (the reused socket
    // closes before any answer, and the request is retried), the next request must go through.
    await server.closed;
    expect(await (await post(p)).text()).toBe("ok");
    expect(server.connections()).toBe(2);
  });

  test("a server closing mid-answer fails the request with a clear error", async () => {
    const server = tcpServer((_req, socket) => {
      socket.write("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly some");
      setTimeout(() => socket.end(), 5);
    });
    const err = await failure(post(pool(server.url)));
    expect(err).toBeInstanceOf(Http1Error);
    expect(err.message).toContain("closed the connection before the answer was complete");
  });

  test("a chunked stream cut short errors the reader", async () => {
    const server = tcpServer((_req, socket) => {
      socket.write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n");
      setTimeout(() => socket.end(), 5);
    });
    const res = await post(pool(server.url));
    expect((await failure(res.text())).message).toContain("before the answer was complete");
  });

  test("an answer that is not HTTP fails, and so do malformed chunk sizes", async () => {
    const notHttp = tcpServer((_req, socket) => void socket.write("SSH-2.0-OpenSSH\r\n\r\n"));
    expect((await failure(post(pool(notHttp.url)))).message).toContain("did not answer in HTTP/1.x");
    const badChunks = tcpServer((_req, socket) => void socket.write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n"));
    const res = await post(pool(badChunks.url));
    expect((await failure(res.text())).message).toContain("malformed chunked body");
    // A chunk longer than its declared size.
    const overlong = tcpServer((_req, socket) => void socket.write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n"));
    expect((await failure((await post(pool(overlong.url))).text())).message).toContain("malformed chunked body");
  });

  test("aborting a request closes its socket and rejects with the reason", async () => {
    const server = silentServer();
    const controller = new AbortController();
    const pending = post(pool(server.url), "{}", controller.signal);
    // Aborted once the request is on the wire, while its answer is awaited.
    await server.received;
    controller.abort(new Error("client cancelled"));
    expect((await failure(pending)).message).toBe("client cancelled");
    await within(server.closed, 5_000, "the aborted request's socket closing");
  });

  test("aborting while the body still streams errors the stream and closes the socket", async () => {
    const server = silentServer((socket) => void socket.write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n"));
    const controller = new AbortController();
    const res = await post(pool(server.url), "{}", controller.signal);
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("first");
    const next = reader.read();
    controller.abort(new Error("client cancelled"));
    expect((await failure(next)).message).toBe("client cancelled");
    await within(server.closed, 5_000, "the aborted stream's socket closing");
  });

  test("a request given up while it waited for a socket leaves that socket free for the next", async () => {
    const server = tcpServer((_req, socket) => void setTimeout(() => socket.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"), 20));
    const p = new Http1Pool(server.url, { maxSockets: 1 });
    cleanups.push(() => p.close());
    const first = post(p);
    const controller = new AbortController();
    const waiting = post(p, "{}", controller.signal);
    controller.abort(new Error("gave up"));
    expect(await (await first).text()).toBe("ok");
    expect((await failure(waiting)).message).toBe("gave up");
    // The one socket was handed to the aborted request and straight back: the next request gets it.
    expect(await (await post(p)).text()).toBe("ok");
    expect(server.connections()).toBe(1);
  });

  test("header names and values that would split the request are refused", async () => {
    const server = tcpServer(() => {});
    const p = pool(server.url);
    await expect(p.request("/", { method: "POST", headers: { "x-a": "1\r\nx-injected: 1" } })).rejects.toThrow("Invalid header");
    await expect(p.request("/", { method: "POST", headers: { "x-a\nb": "1" } })).rejects.toThrow("Invalid header");
  });

  test("an unreachable origin rejects; a closed pool refuses", async () => {
    const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = server.port;
    server.stop(true);
    await expect(post(pool(new URL(`http://127.0.0.1:${port}/`)))).rejects.toThrow();
    const closedPool = new Http1Pool(new URL(`http://127.0.0.1:${port}/`));
    closedPool.close();
    await expect(post(closedPool)).rejects.toThrow("pool is closed");
  });

  test("only plain http", () => {
    expect(() => new Http1Pool(new URL("https://example.com/"))).toThrow("plain http only");
  });
});

const REQUEST: JSONRPCRequest = { jsonrpc: "2.0", id: "switchboard-1", method: "tools/call", params: { name: "echo" } };

function endpoint(url: URL, withPool: boolean, session = "upstream-session", maxResponseBytes = 32 * 1024 * 1024): HttpEndpoint {
  const p = withPool ? pool(url, maxResponseBytes) : null;
  return { url, pool: p, headers: { "x-conn": "yes" }, session: () => ({ id: session, protocolVersion: "2025-11-25" }), maxResponseBytes };
}

async function run(ep: HttpEndpoint): Promise<JSONRPCMessage[]> {
  const received: JSONRPCMessage[] = [];
  await exchange(ep, REQUEST, (m) => received.push(m), new AbortController().signal);
  return received;
}

for (const withPool of [true, false]) {
  describe(`exchange (${withPool ? "socket pool" : "fetch"})`, () => {
    test("sends the session, protocol version and connection headers; a JSON answer is delivered", async () => {
      let headers: Headers | null = null;
      const url = httpServer((req) => {
        headers = req.headers;
        return Response.json({ jsonrpc: "2.0", id: "switchboard-1", result: { ok: true } });
      });
      expect(await run(endpoint(url, withPool))).toEqual([{ jsonrpc: "2.0", id: "switchboard-1", result: { ok: true } }]);
      expect(headers!.get("mcp-session-id")).toBe("upstream-session");
      expect(headers!.get("mcp-protocol-version")).toBe("2025-11-25");
      expect(headers!.get("x-conn")).toBe("yes");
      expect(headers!.get("accept")).toBe("application/json, text/event-stream");
    });

    test("an event stream: notifications and requests in order, then the response", async () => {
      const url = httpServer(() => {
        const body = new ReadableStream({
          async start(c) {
            const send = (m: unknown) => c.enqueue(new TextEncoder().encode(`event: message\ndata: ${JSON.stringify(m)}\n\n`));
            send({ jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: "t", progress: 1 } });
            await Bun.sleep(10);
            send({ jsonrpc: "2.0", id: 5, method: "roots/list" });
            c.enqueue(new TextEncoder().encode("event: message\ndata: not json\n\n"));
            send({ jsonrpc: "2.0", id: "switchboard-1", result: { done: true } });
            c.close();
          },
        });
        return new Response(body, { headers: { "content-type": "text/event-stream" } });
      });
      const received = await run(endpoint(url, withPool));
      expect(received.map((m) => ("method" in m ? m.method : "response"))).toEqual(["notifications/progress", "roots/list", "response"]);
    });

    test("HTTP 404 is a StreamableHTTPError with code 404 (the upstream forgot the session)", async () => {
      const url = httpServer(() => new Response("Session not found", { status: 404 }));
      const err = await failure(run(endpoint(url, withPool)));
      expect(err).toBeInstanceOf(StreamableHTTPError);
      expect((err as StreamableHTTPError).code).toBe(404);
    });

    test("an HTML answer names the content type", async () => {
      const url = httpServer(() => new Response("<html>hi</html>", { headers: { "content-type": "text/html" } }));
      expect((await failure(run(endpoint(url, withPool)))).message).toContain("Unexpected content type: text/html");
    });

    test("a stream that ends without the response and cannot resume is a ConnectionClosed error", async () => {
      const url = httpServer(() => new Response("event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\"}\n\n", { headers: { "content-type": "text/event-stream" } }));
      const err = await failure(run(endpoint(url, withPool)));
      expect(err).toBeInstanceOf(McpError);
      expect((err as McpError).code).toBe(ErrorCode.ConnectionClosed);
    });

    test("a stream closed early with an event id is resumed with Last-Event-ID", async () => {
      let resumedFrom = null as string | null;
      const url = httpServer((req) => {
        if (req.method === "POST") return new Response("id: ev-1\nretry: 10\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\"}\n\n", { headers: { "content-type": "text/event-stream" } });
        resumedFrom = req.headers.get("last-event-id");
        return new Response('id: ev-2\ndata: {"jsonrpc":"2.0","id":"switchboard-1","result":{"resumed":true}}\n\n', { headers: { "content-type": "text/event-stream" } });
      });
      const received = await run(endpoint(url, withPool));
      expect(resumedFrom).toBe("ev-1");
      expect(received.at(-1)).toEqual({ jsonrpc: "2.0", id: "switchboard-1", result: { resumed: true } });
    });
  });
}

test("exchange: a redirect within the origin is followed through fetch", async () => {
  const url = httpServer((req) => {
    const u = new URL(req.url);
    if (u.pathname === "/mcp") return new Response(null, { status: 307, headers: { location: "/mcp/" } });
    return Response.json({ jsonrpc: "2.0", id: "switchboard-1", result: { at: u.pathname } });
  });
  const received = await run(endpoint(url, true));
  expect(received).toEqual([{ jsonrpc: "2.0", id: "switchboard-1", result: { at: "/mcp/" } }]);
});
