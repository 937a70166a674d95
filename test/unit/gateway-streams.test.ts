// The stream plumbing of the proxy's hot path: the event-stream parser, the answers written for requests
// dispatched directly (and which requests those are), and batching log lines.
import { describe, expect, test } from "bun:test";
import { SseParser, type SseEvent } from "../../src/gateway/upstream/sse-parser.ts";
import { DirectAnswers, directHeaders, directRequest, errorBody, SseReply } from "../../src/gateway/direct-answer.ts";
import { RESUME_RETRY_MS, SessionEventStore, streamOfEventId } from "../../src/gateway/event-store.ts";
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

/** A reply on stream "direct-1" of a fresh event store. */
function newReply(prime = false): { reply: SseReply; store: SessionEventStore } {
  const store = new SessionEventStore();
  store.openStream("direct-1");
  return { reply: new SseReply(SSE_HEADERS, { store, streamId: "direct-1", prime, retryMs: RESUME_RETRY_MS }), store };
}

describe("SseReply", () => {
  test("an answer that ends at once is one body of known length, with the headers given and an event id", async () => {
    const { reply } = newReply();
    reply.end({ jsonrpc: "2.0", id: 1, result: {} });
    const response = await reply.response;
    expect(response.headers.get("mcp-session-id")).toBe("s1");
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    expect(await response.text()).toBe('event: message\nid: direct-1_1\ndata: {"jsonrpc":"2.0","id":1,"result":{}}\n\n');
  });

  test("clients from 2025-11-25 get a priming event first: an id, the retry delay, empty data", async () => {
    const { reply } = newReply(true);
    reply.end({ jsonrpc: "2.0", id: 1, result: {} });
    expect(await (await reply.response).text()).toBe(`id: direct-1_1\nretry: ${RESUME_RETRY_MS}\ndata: \n\nevent: message\nid: direct-1_2\ndata: {"jsonrpc":"2.0","id":1,"result":{}}\n\n`);
  });

  test("a message before the end turns it into a stream that carries the rest as it comes", async () => {
    const { reply } = newReply();
    reply.send({ jsonrpc: "2.0", method: "notifications/progress", params: { progress: 1 } });
    const reader = (await reply.response).body!.getReader();
    const decoder = new TextDecoder();
    expect(decoder.decode((await reader.read()).value)).toContain('"notifications/progress"');
    const next = reader.read();
    reply.end({ jsonrpc: "2.0", id: 1, result: { done: true } });
    expect(decoder.decode((await next).value)).toContain('"done":true');
    expect((await reader.read()).done).toBe(true);
  });

  test("a cancelled request ends with no response (and no priming event); nothing is written after the end or after the client left", async () => {
    const cancelled = newReply(true).reply;
    cancelled.end(null);
    cancelled.send({ jsonrpc: "2.0", method: "late" });
    expect(await (await cancelled.response).text()).toBe("");

    const { reply: left, store } = newReply();
    left.send({ jsonrpc: "2.0", method: "first" });
    await (await left.response).body!.cancel();
    expect(left.open).toBe(false);
    left.send({ jsonrpc: "2.0", method: "second" });
    left.end({ jsonrpc: "2.0", id: 1, result: {} });
    // Kept for a resume: what followed the first event.
    expect(store.replayAfter("direct-1_1")!.events.map((e) => e.text)).toEqual(['{"jsonrpc":"2.0","method":"second"}', '{"jsonrpc":"2.0","id":1,"result":{}}']);
  });

  test("a resume replays what was missed, then carries the rest on the new stream only", async () => {
    const { reply, store } = newReply();
    reply.send({ jsonrpc: "2.0", method: "one" });
    const first = (await reply.response).body!;
    await first.cancel();
    reply.send({ jsonrpc: "2.0", method: "two" });
    const resumed = reply.resume(store.replayAfter("direct-1_1")!.events);
    expect(reply.open).toBe(true);
    reply.send({ jsonrpc: "2.0", method: "three" });
    reply.end({ jsonrpc: "2.0", id: 1, result: {} });
    const text = await resumed.text();
    expect(text).toBe(
      'event: message\nid: direct-1_2\ndata: {"jsonrpc":"2.0","method":"two"}\n\n' +
        'event: message\nid: direct-1_3\ndata: {"jsonrpc":"2.0","method":"three"}\n\n' +
        'event: message\nid: direct-1_4\ndata: {"jsonrpc":"2.0","id":1,"result":{}}\n\n',
    );
  });
});

describe("SessionEventStore", () => {
  test("ids name their stream and count up; a replay gives that stream's events after the id, in order, never another stream's", () => {
    const store = new SessionEventStore();
    expect(store.append("a", null)).toBe("a_1");
    expect(store.append("_GET_stream", '{"n":1}')).toBe("_GET_stream_2");
    expect(store.append("a", '{"n":2}')).toBe("a_3");
    expect(store.append("a", '{"n":3}')).toBe("a_4");
    expect(streamOfEventId("_GET_stream_2")).toBe("_GET_stream");
    expect(store.replayAfter("a_1")).toEqual({ streamId: "a", events: [{ id: "a_3", text: '{"n":2}' }, { id: "a_4", text: '{"n":3}' }] });
    expect(store.replayAfter("a_4")).toEqual({ streamId: "a", events: [] });
    expect(store.replayAfter("_GET_stream_2")).toEqual({ streamId: "_GET_stream", events: [] });
  });

  test("ids it never gave replay nothing: other streams, future or malformed numbers, no separator", () => {
    const store = new SessionEventStore();
    store.append("a", '{"n":1}');
    for (const id of ["b_1", "a_2", "a_99", "a_", "a_01", "a_-1", "a_1e3", "a", "", "_1", "a_1_1"]) expect(store.replayAfter(id)).toBeNull();
  });

  test("past its caps it drops the oldest events; a resume from before a dropped event is refused, not replayed with a hole", () => {
    const store = new SessionEventStore({ maxEvents: 3, maxBytes: 1 << 20 });
    for (let i = 1; i <= 5; i++) store.append(i % 2 ? "a" : "b", `{"n":${i}}`);
    expect(store.size).toBe(3);
    // a: 1, 3, 5 (1 dropped); b: 2 (dropped), 4.
    expect(store.replayAfter("a_1")).toEqual({ streamId: "a", events: [{ id: "a_3", text: '{"n":3}' }, { id: "a_5", text: '{"n":5}' }] });
    expect(store.replayAfter("b_2")).toEqual({ streamId: "b", events: [{ id: "b_4", text: '{"n":4}' }] });
    store.append("a", '{"n":6}');
    // a_3 is dropped now: from a_1 the replay would skip it.
    expect(store.replayAfter("a_1")).toBeNull();
    expect(store.replayAfter("a_3")!.events.map((e) => e.id)).toEqual(["a_5", "a_6"]);
  });

  test("the byte cap holds whatever the events, and an event larger than it is not kept (resumes across it are refused)", () => {
    const store = new SessionEventStore({ maxEvents: 1000, maxBytes: 2000 });
    for (let i = 0; i < 100; i++) {
      store.append("a", JSON.stringify({ text: "x".repeat(300) }));
      expect(store.byteSize).toBeLessThanOrEqual(2000);
    }
    expect(store.size).toBeGreaterThan(0);
    expect(store.size).toBeLessThan(10);
    const before = store.append("a", '{"small":1}');
    store.append("a", JSON.stringify({ text: "y".repeat(5000) }));
    expect(store.byteSize).toBeLessThanOrEqual(2000);
    expect(store.replayAfter(before)).toBeNull();
  });

  test("a stream whose events were all dropped is forgotten unless it is still open; one still open stays resumable", () => {
    const store = new SessionEventStore({ maxEvents: 2, maxBytes: 1 << 20 });
    store.openStream("live");
    const primed = store.append("live", null);
    store.append("done", '{"n":1}');
    store.append("other", '{"n":2}');
    store.append("other", '{"n":3}');
    expect(store.replayAfter("done_2")).toBeNull();
    // The priming event was dropped, but nothing of "live" after it: an exact (empty) replay.
    expect(store.replayAfter(primed)).toEqual({ streamId: "live", events: [] });
    store.endStream("live");
    expect(store.replayAfter(primed)).toBeNull();
  });

  test("clear frees everything", () => {
    const store = new SessionEventStore();
    const id = store.append("a", '{"n":1}');
    store.clear();
    expect(store.size).toBe(0);
    expect(store.byteSize).toBe(0);
    expect(store.replayAfter(id)).toBeNull();
  });

  test("the SDK's priming event ({}) gets an id but is never replayed", async () => {
    const store = new SessionEventStore();
    const priming = await store.storeEvent("s", {} as never);
    const before = await store.storeEvent("s", { jsonrpc: "2.0", method: "a" });
    await store.storeEvent("s", { jsonrpc: "2.0", method: "b" });
    expect(await store.getStreamIdForEventId(priming)).toBe("s");
    expect(await store.getStreamIdForEventId("t_1")).toBeUndefined();
    const sent: [string, unknown][] = [];
    expect(await store.replayEventsAfter(priming, { send: async (id, m) => void sent.push([id, m]) })).toBe("s");
    expect(sent).toEqual([
      [before, { jsonrpc: "2.0", method: "a" }],
      ["s_3", { jsonrpc: "2.0", method: "b" }],
    ]);
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

describe("DirectAnswers.resume", () => {
  test("an id on a call's stream that has written nothing yet is refused, not attached (the GET would hang)", async () => {
    let finish!: (result: Record<string, unknown>) => void;
    const answers = new DirectAnswers({
      sessionId: () => "s1",
      dispatch: () => new Promise((resolve) => (finish = resolve)),
    });
    // Another stream's event gives the session a sequence number, so "direct-1_1" names a plausible id.
    answers.events.append("other", JSON.stringify({ jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: "x" } }));
    const call = answers.answer({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "slow" } });
    const resumed = answers.resume(new Request("http://localhost/mcp/x", { method: "GET", headers: { accept: "text/event-stream", "last-event-id": "direct-1_1" } }));
    expect(resumed?.status).toBe(400);
    expect(await resumed?.text()).toContain("unknown or expired Last-Event-ID");
    // The call itself is untouched: it answers on its own POST.
    finish({ content: [] });
    expect(await (await call).text()).toContain('"result"');
  });
});
