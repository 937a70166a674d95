// A POST's event-stream answer is usually over as soon as it starts: the response event, then the
// end of the stream, in the same turn. Sent as the SDK hands it over, that costs the headers, a chunk
// and the end of the stream as separate writes; gathered here first, it goes out as one body of known
// length. An answer that goes on (progress, a server-to-client request) streams on as it comes.

/** Resolves on the next microtask turn: a read that is not ready by then is still waiting. */
const NOT_YET = Symbol("not yet");

export async function wholeWhenComplete(response: Response): Promise<Response> {
  if (!response.body || !(response.headers.get("content-type") ?? "").startsWith("text/event-stream")) return response;
  const reader = response.body.getReader();
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  let next = reader.read();
  for (;;) {
    const read = chunks.length === 0 ? await next : await Promise.race([next, Promise.resolve(NOT_YET)]);
    if (read === NOT_YET) break;
    if (read.done) return new Response(concat(chunks), { status: response.status, headers: response.headers });
    chunks.push(read.value);
    next = reader.read();
  }
  // The stream goes on: send what was read, then the rest as it comes.
  let waiting: typeof next | null = next;
  const rest = new ReadableStream<Uint8Array<ArrayBuffer>>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
    },
    async pull(controller) {
      const read = await (waiting ?? reader.read());
      waiting = null;
      if (read.done) controller.close();
      else controller.enqueue(read.value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  return new Response(rest, { status: response.status, headers: response.headers });
}

function concat(chunks: Uint8Array<ArrayBuffer>[]): Uint8Array<ArrayBuffer> {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
