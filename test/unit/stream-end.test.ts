// watchEnd: a legacy SSE upstream's stream reports its own end (so a lost upstream session is given up
// at once), passes every byte and the error through unchanged, and a reader that cancels is no loss.
import { describe, expect, test } from "bun:test";
import { watchEnd } from "../../src/gateway/upstream/stream-end.ts";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

/** A body whose chunks are pushed by the test, which ends or fails it when it chooses. */
function source(): { response: Response; push: (text: string) => void; close: () => void; fail: (err: Error) => void } {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
  return {
    response: new Response(body, { status: 200, headers: { "content-type": "text/event-stream" } }),
    push: (text) => controller.enqueue(bytes(text)),
    close: () => controller.close(),
    fail: (err) => controller.error(err),
  };
}

describe("watchEnd", () => {
  test("every chunk passes in order, status and headers are kept, and the end is reported once, after the last chunk", async () => {
    const src = source();
    let ends = 0;
    const watched = watchEnd(src.response, () => void ends++);
    expect(watched.status).toBe(200);
    expect(watched.headers.get("content-type")).toBe("text/event-stream");
    const reader = watched.body!.getReader();
    src.push("event: endpoint\n");
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("event: endpoint\n");
    expect(ends).toBe(0);
    src.push("data: /message\n\n");
    src.close();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("data: /message\n\n");
    expect(ends).toBe(0);
    expect((await reader.read()).done).toBe(true);
    expect(ends).toBe(1);
    expect((await reader.read()).done).toBe(true);
    expect(ends).toBe(1);
  });

  test("a stream that fails mid-way passes the error on and is reported as ended", async () => {
    const src = source();
    let ends = 0;
    const reader = watchEnd(src.response, () => void ends++).body!.getReader();
    src.push("x");
    await reader.read();
    src.fail(new Error("connection reset"));
    await expect(reader.read()).rejects.toThrow("connection reset");
    expect(ends).toBe(1);
  });

  test("a reader that cancels the stream itself is not an end of the upstream's, and the source is cancelled too", async () => {
    let cancelled: unknown = null;
    const body = new ReadableStream<Uint8Array>({ pull: () => new Promise(() => {}), cancel: (reason) => void (cancelled = reason) });
    let ends = 0;
    const reader = watchEnd(new Response(body), () => void ends++).body!.getReader();
    await reader.cancel("closed by us");
    expect(cancelled).toBe("closed by us");
    expect(ends).toBe(0);
  });

  test("a response with no body is returned as it is, and nothing is reported", () => {
    let ends = 0;
    const empty = new Response(null, { status: 204 });
    expect(watchEnd(empty, () => void ends++)).toBe(empty);
    expect(ends).toBe(0);
  });
});
