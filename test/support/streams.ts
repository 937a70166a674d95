// Reading a child process's output until a line appears, without sleeping or polling.

/**
 * Reads `stream` until `found` accepts one of its lines, returns that line and keeps draining the
 * rest in the background (so the child never blocks on a full pipe). Rejects, with everything read,
 * if the stream ends first.
 */
export async function waitForLine(stream: ReadableStream<Uint8Array>, found: (line: string) => boolean): Promise<string> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let scanned = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`stream ended before the expected line; it said:\n${text}`);
    text += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = text.indexOf("\n", scanned)) !== -1) {
      const line = text.slice(scanned, end);
      scanned = end + 1;
      if (found(line)) {
        void drain(reader);
        return line;
      }
    }
  }
}

async function drain(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
  try {
    while (!(await reader.read()).done);
  } catch {
    // The child was killed; nothing more to read.
  }
}
