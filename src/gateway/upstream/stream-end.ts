// Tells when a response body stops: it ended, or failed mid-way. A legacy SSE upstream's session is its
// event stream, so the gateway must know at once when that stream is gone, not when EventSource next
// tries to reconnect (3 s later by default, or whatever `retry` the upstream chose).
/**
 * `response` with a body that reports its own end to `onEnd` (once, after the last chunk or the error
 * has been passed on). Status and headers are kept; a response with no body is returned as it is.
 */
export function watchEnd(response: Response, onEnd: () => void): Response {
  if (!response.body) return response;
  const reader = response.body.getReader();
  let ended = false;
  const end = (): void => {
    if (ended) return;
    ended = true;
    onEnd();
  };
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (err) {
        controller.error(err);
        end();
        return;
      }
      if (chunk.done) {
        controller.close();
        end();
        return;
      }
      controller.enqueue(chunk.value);
    },
    // The reader (here, EventSource) gave up on the stream itself: nothing was lost upstream.
    cancel: (reason) => reader.cancel(reason),
  });
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
}
