// The stream plumbing of the proxy's hot path: the event-stream parser, gathering a complete SSE answer
// into one body, and batching log lines.
import { describe, expect, test } from "bun:test";
import { SseParser, type SseEvent } from "../../src/gateway/sse-parser.ts";
import { wholeWhenComplete } from "../../src/gateway/whole-response.ts";
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

function sse(chunks: string[], options: { closeAfter: boolean }): { response: Response; push: (text: string) => void; close: () => void; cancelled: () => unknown } {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let cancelReason: unknown = null;
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
      for (const chunk of chunks) c.enqueue(new TextEncoder().encode(chunk));
      if (options.closeAfter) c.close();
    },
    cancel(reason) {
      cancelReason = reason ?? "cancelled";
    },
  });
  return {
    response: new Response(stream, { status: 200, headers: { "content-type": "text/event-stream", "mcp-session-id": "s1" } }),
    push: (text) => controller.enqueue(new TextEncoder().encode(text)),
    close: () => controller.close(),
    cancelled: () => cancelReason,
  };
}

describe("wholeWhenComplete", () => {
  test("an answer complete at once becomes one body with the same status and headers", async () => {
    const { response } = sse(["event: message\ndata: 1\n\n", "event: message\ndata: 2\n\n"], { closeAfter: true });
    const whole = await wholeWhenComplete(response);
    expect(whole.status).toBe(200);
    expect(whole.headers.get("mcp-session-id")).toBe("s1");
    expect(whole.body).not.toBeNull();
    expect(await whole.text()).toBe("event: message\ndata: 1\n\nevent: message\ndata: 2\n\n");
  });

  test("an answer that goes on streams: what came first at once, the rest as it comes", async () => {
    const source = sse(["event: message\ndata: progress\n\n"], { closeAfter: false });
    const streamed = await wholeWhenComplete(source.response);
    const reader = streamed.body!.getReader();
    const decoder = new TextDecoder();
    expect(decoder.decode((await reader.read()).value)).toBe("event: message\ndata: progress\n\n");
    const next = reader.read();
    source.push("event: message\ndata: result\n\n");
    expect(decoder.decode((await next).value)).toBe("event: message\ndata: result\n\n");
    source.close();
    expect((await reader.read()).done).toBe(true);
  });

  test("the client going away cancels the source stream", async () => {
    const source = sse(["data: first\n\n"], { closeAfter: false });
    const streamed = await wholeWhenComplete(source.response);
    await streamed.body!.cancel("gone");
    expect(source.cancelled()).toBe("gone");
  });

  test("JSON and bodiless answers pass untouched", async () => {
    const json = new Response("{}", { headers: { "content-type": "application/json" } });
    expect(await wholeWhenComplete(json)).toBe(json);
    const accepted = new Response(null, { status: 202 });
    expect(await wholeWhenComplete(accepted)).toBe(accepted);
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
