// The stream plumbing of the proxy's hot path: the event-stream parser, the answers written for requests
// dispatched directly (and which requests those are), and batching log lines.
import { describe, expect, test } from "bun:test";
import { SseParser, type SseEvent } from "../../src/gateway/upstream/sse-parser.ts";
import { directHeaders, directRequest, errorBody, SseReply } from "../../src/gateway/direct-answer.ts";
import { batchedLines } from "../../src/logger.ts";

function parse(...chunks: string[]): { events: SseEvent[]; parser: SseParser } {
  const events: SseEvent[] = [];
  const parser = new SseParser((e) => events.push(e));
  for (const chunk of chunks) parser.feed(chunk);
  return { events, parser };
}

describe("SseParser", () => {
  test("events split anywhere, with LF, CRLF or CR line ends, come out whole", () => {
    const text = 'event: message\ndata: {"a":1}\n\nid: 7\r\ndata: two\r\n\r\ndata: three\r\r';
    const whole = parse(text).events;
    expect(whole.map((e) => e.data)).toEqual(['{"a":1}', "two", "three"]);
    // Every split point, including between the CR and LF of one line break.
    for (let i = 1; i < text.length; i++) {
      expect(parse(text.slice(0, i), text.slice(i)).events).toEqual(whole);
    }
    // One character at a time.
    expect(parse(...text.split("")).events).toEqual(whole);
  });

  test("data lines join with LF; comments, unknown fields and data-less events are skipped", () => {
    const { events } = parse(": keepalive\n\nfoo: bar\nevent: ping\n\ndata: a\ndata:b\ndata\n\n");
    expect(events).toEqual([{ event: "message", data: "a\nb\n", id: undefined, retry: undefined }]);
  });

  test("the event type, the last event id and the retry delay are kept", () => {
    const { events, parser } = parse("event: custom\nid: 1\nretry: 250\ndata: x\n\ndata: y\n\n");
    expect(events[0]).toEqual({ event: "custom", data: "x", id: "1", retry: 250 });
    expect(events[1]).toEqual({ event: "message", data: "y", id: "1", retry: 250 });
    expect(parser.lastEventId).toBe("1");
  });

  test("an event cut off before its blank line is not dispatched", () => {
    expect(parse("data: partial\n").events).toEqual([]);
  });

  test("a 5 MB line arriving in 64 KiB chunks comes out whole", () => {
    const big = "x".repeat(5 * 1024 * 1024);
    const text = `data: ${big}\n\n`;
    const chunks: string[] = [];
    for (let i = 0; i < text.length; i += 65536) chunks.push(text.slice(i, i + 65536));
    const { events } = parse(...chunks);
    expect(events.length).toBe(1);
    expect(events[0]!.data === big).toBe(true);
  });
});

const SSE_HEADERS = { "content-type": "text/event-stream", "mcp-session-id": "s1" };

describe("SseReply", () => {
  test("an answer that ends at once is one body of known length, with the headers given", async () => {
    const reply = new SseReply(SSE_HEADERS);
    reply.end({ jsonrpc: "2.0", id: 1, result: {} });
    const response = await reply.response;
    expect(response.headers.get("mcp-session-id")).toBe("s1");
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    expect(await response.text()).toBe('event: message\ndata: {"jsonrpc":"2.0","id":1,"result":{}}\n\n');
  });

  test("a message before the end turns it into a stream that carries the rest as it comes", async () => {
    const reply = new SseReply(SSE_HEADERS);
    reply.send({ jsonrpc: "2.0", method: "notifications/progress", params: { progress: 1 } });
    const reader = (await reply.response).body!.getReader();
    const decoder = new TextDecoder();
    expect(decoder.decode((await reader.read()).value)).toContain('"notifications/progress"');
    const next = reader.read();
    reply.end({ jsonrpc: "2.0", id: 1, result: { done: true } });
    expect(decoder.decode((await next).value)).toContain('"done":true');
    expect((await reader.read()).done).toBe(true);
  });

  test("a cancelled request ends with no response; nothing is written after the end or after the client left", async () => {
    const cancelled = new SseReply(SSE_HEADERS);
    cancelled.end(null);
    cancelled.send({ jsonrpc: "2.0", method: "late" });
    expect(await (await cancelled.response).text()).toBe("");

    const left = new SseReply(SSE_HEADERS);
    left.send({ jsonrpc: "2.0", method: "first" });
    await (await left.response).body!.cancel();
    expect(left.open).toBe(false);
    left.send({ jsonrpc: "2.0", method: "second" });
    left.end({ jsonrpc: "2.0", id: 1, result: {} });
  });
});

describe("which POSTs are answered directly", () => {
  const post = (headers: Record<string, string>) => new Request("http://localhost/mcp/x", { method: "POST", headers });
  const good = { accept: "application/json, text/event-stream", "content-type": "application/json", "mcp-protocol-version": "2025-06-18" };

  test("headers as the SDK's transport requires them; anything else is left to it (and its errors)", () => {
    expect(directHeaders(post(good))).toBe(true);
    expect(directHeaders(post({ ...good, "content-type": "application/json; charset=utf-8" }))).toBe(true);
    const { "mcp-protocol-version": _v, ...noVersion } = good;
    expect(directHeaders(post(noVersion))).toBe(true);
    expect(directHeaders(post({ ...good, accept: "application/json" }))).toBe(false);
    expect(directHeaders(post({ ...good, "content-type": "text/plain" }))).toBe(false);
    expect(directHeaders(post({ ...good, "mcp-protocol-version": "1999-01-01" }))).toBe(false);
  });

  test("one well-formed request that the session dispatches; not lifecycle requests, batches, notifications or malformed ones", () => {
    const call = { jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "echo" } };
    expect(directRequest(call)).toEqual(call as never);
    expect(directRequest({ jsonrpc: "2.0", id: "a", method: "resources/list" })).not.toBeNull();
    for (const method of ["initialize", "ping", "logging/setLevel"]) expect(directRequest({ ...call, method })).toBeNull();
    expect(directRequest([call])).toBeNull();
    expect(directRequest({ jsonrpc: "2.0", method: "notifications/initialized" })).toBeNull();
    expect(directRequest({ ...call, jsonrpc: "1.0" })).toBeNull();
    expect(directRequest({ ...call, id: 1.5 })).toBeNull();
    expect(directRequest({ ...call, id: null })).toBeNull();
    expect(directRequest({ ...call, params: [1] })).toBeNull();
    expect(directRequest("tools/call")).toBeNull();
  });

  test("errors answer with their code, message and data, or as internal errors", () => {
    expect(errorBody({ code: -32042, message: "no", data: { why: 1 } })).toEqual({ code: -32042, message: "no", data: { why: 1 } });
    expect(errorBody(new Error("boom"))).toEqual({ code: -32603, message: "boom" });
    expect(errorBody("weird")).toEqual({ code: -32603, message: "Internal error" });
  });
});

describe("batchedLines", () => {
  test("lines written in one turn of the event loop go out in one write, in order", async () => {
    const writes: string[] = [];
    const lines = batchedLines((text) => writes.push(text));
    lines.write("a");
    lines.write("b");
    expect(writes).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toEqual(["a\nb\n"]);
    lines.write("c");
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toEqual(["a\nb\n", "c\n"]);
  });

  test("flush writes what waits at once, and nothing twice", async () => {
    const writes: string[] = [];
    const lines = batchedLines((text) => writes.push(text));
    lines.write("last words");
    lines.flush();
    expect(writes).toEqual(["last words\n"]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(writes).toEqual(["last words\n"]);
  });
});
