// gateway.max_response_size below the gateway: the fetch path of an exchange (https, redirects and
// proxies take it), the capped fetch the SDK's transports read through, and the per-event guard of
// event streams (many small events pass, one large event or an endless line does not).
import { afterEach, describe, expect, test } from "bun:test";
import type { JSONRPCRequest } from "@modelcontextprotocol/sdk/types.js";
import { exchange, poolFor, type HttpEndpoint } from "../../src/gateway/upstream/http-exchange.ts";
import { cappedFetch, EventSizeGuard, formatBytes, ResponseTooLargeError } from "../../src/gateway/upstream/response-limit.ts";
import { startHostileUpstream } from "../fixtures/oversized-upstream.ts";
import { rejectionOf } from "../support/errors.ts";
import { waitUntil } from "../support/gateway-harness.ts";

const LIMIT = 64 * 1024;
const cleanups: (() => unknown)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

function fetchEndpoint(): HttpEndpoint {
  const upstream = startHostileUpstream();
  cleanups.push(upstream.stop);
  return { url: new URL(upstream.url), pool: null, headers: {}, session: () => ({ id: "hostile-session", protocolVersion: "2025-06-18" }), maxResponseBytes: LIMIT };
}

const call = (name: string, bytes: number): JSONRPCRequest => ({ jsonrpc: "2.0", id: "switchboard-1", method: "tools/call", params: { name, arguments: { bytes } } });

describe("exchange through fetch", () => {
  for (const tool of ["json-length", "json-chunked", "json-close", "sse-event", "sse-line"]) {
    test(`${tool}: over the limit it fails with ResponseTooLargeError; under it, the answer arrives`, async () => {
      const endpoint = fetchEndpoint();
      const received: unknown[] = [];
      await exchange(endpoint, call(tool === "sse-line" ? "sse-event" : tool, 100), (m) => received.push(m), new AbortController().signal);
      expect(received).toHaveLength(1);
      const err = await rejectionOf(exchange(endpoint, call(tool, 16 * 1024 * 1024), () => {}, new AbortController().signal));
      expect(err).toBeInstanceOf(ResponseTooLargeError);
      expect((err as Error).message).toContain("gateway.max_response_size (64 KiB)");
    });
  }
});

describe("exchange through the HTTP/1.1 pool", () => {
  test("an endless event-stream line: the call fails and the socket is closed, not read on", async () => {
    const upstream = startHostileUpstream();
    cleanups.push(upstream.stop);
    const url = new URL(upstream.url);
    const pool = poolFor(url, LIMIT)!;
    cleanups.push(() => pool.close());
    const endpoint: HttpEndpoint = { url, pool, headers: {}, session: () => ({ id: "hostile-session", protocolVersion: "2025-06-18" }), maxResponseBytes: LIMIT };
    const err = await rejectionOf(exchange(endpoint, call("sse-line", 0), () => {}, new AbortController().signal));
    expect(err).toBeInstanceOf(ResponseTooLargeError);
    // The upstream sees its socket closed (a half-close would leave it sending, and the gateway reading).
    await waitUntil(() => upstream.openSockets() === 0, "the upstream's socket to close", 5000);
  });
});

describe("cappedFetch (the SDK transports' reads)", () => {
  function serve(body: () => ReadableStream<Uint8Array> | string, type: string): string {
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(body(), { headers: { "content-type": type } }) });
    cleanups.push(() => server.stop(true));
    return `http://127.0.0.1:${server.port}/`;
  }
  const events = (count: number, size: number) => {
    let sent = 0;
    return new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ === count) return controller.close();
        controller.enqueue(new TextEncoder().encode(`event: message\r\ndata: ${"y".repeat(size)}\r\n\r\n`));
      },
    });
  };

  test("a JSON body over the limit errors its reader; one under it reads whole", async () => {
    const fetchCapped = cappedFetch(LIMIT);
    expect(await (await fetchCapped(serve(() => "z".repeat(LIMIT), "application/json"))).text()).toHaveLength(LIMIT);
    const err = await rejectionOf(fetchCapped(serve(() => "z".repeat(LIMIT + 1), "application/json")).then((r) => r.text()));
    expect(err).toBeInstanceOf(ResponseTooLargeError);
  });

  test("an event stream may carry far more than the limit in small events, but not one event over it", async () => {
    const fetchCapped = cappedFetch(LIMIT);
    const many = await (await fetchCapped(serve(() => events(100, 4096), "text/event-stream"))).text();
    expect(many.length).toBeGreaterThan(6 * LIMIT);
    const err = await rejectionOf(fetchCapped(serve(() => events(1, LIMIT + 10), "text/event-stream")).then((r) => r.text()));
    expect(err).toBeInstanceOf(ResponseTooLargeError);
  });
});

describe("EventSizeGuard", () => {
  const bytes = (text: string) => new TextEncoder().encode(text);

  test("a blank line ends an event, with LF, CRLF or CR line ends, split anywhere across chunks", () => {
    for (const eol of ["\n", "\r\n", "\r"]) {
      const guard = new EventSizeGuard(20);
      const stream = `data: ${"a".repeat(10)}${eol}${eol}`.repeat(10);
      for (let i = 0; i < stream.length; i += 3) guard.check(bytes(stream.slice(i, i + 3)));
    }
  });

  test("one event's lines together, or one line without an end, may not pass the limit", () => {
    const lines = new EventSizeGuard(20);
    lines.check(bytes("data: 0123456789\n"));
    expect(() => lines.check(bytes("data: 0123456789\n"))).toThrow(ResponseTooLargeError);
    const endless = new EventSizeGuard(20);
    for (let i = 0; i < 5; i++) endless.check(bytes("xxxx"));
    expect(() => endless.check(bytes("x"))).toThrow(ResponseTooLargeError);
  });

  test("the limit reads as a person writes it", () => {
    expect([formatBytes(32 * 1024 * 1024), formatBytes(64 * 1024), formatBytes(1000), formatBytes(1024 ** 3)]).toEqual(["32 MiB", "64 KiB", "1000 B", "1 GiB"]);
  });
});
