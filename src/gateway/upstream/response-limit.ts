// The cap on what one upstream answer may make the gateway hold (gateway.max_response_size): the
// error a call fails with, a capped whole-body read, a per-event guard for event streams, and a fetch
// whose bodies are capped (for the SDK's transports, which read bodies the gateway never sees).
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";

/** The default of gateway.max_response_size, for specs built without a config (tests, tools). */
export const DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024;

/** "32 MiB", "64 KiB", "1000 B": the limit as a person reads it. */
export function formatBytes(bytes: number): string {
  for (const [unit, size] of [["GiB", 1024 ** 3], ["MiB", 1024 ** 2], ["KiB", 1024]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size} ${unit}`;
  }
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : `${bytes} B`;
}

/**
 * The upstream's answer (or one event of it) grew past the limit. An McpError, so the caller gets it
 * as a JSON-RPC error with this code and message, and the gateway does not mistake it for an
 * unreachable upstream (the connection stays usable; only this answer was refused).
 */
export class ResponseTooLargeError extends McpError {
  constructor(readonly limit: number) {
    super(ErrorCode.InternalError, `The upstream's answer exceeded gateway.max_response_size (${formatBytes(limit)})`, { max_response_size: limit });
    this.name = "ResponseTooLargeError";
  }
}

/** True when a Content-Length header already says the body is over `limit` (nothing need be read). */
function declaredTooLarge(response: Response, limit: number): boolean {
  const length = response.headers.get("content-length");
  return length !== null && /^\d+$/.test(length) && Number(length) > limit;
}

/**
 * Reads the whole body as text, or throws ResponseTooLargeError as soon as it passes `limit` bytes:
 * the rest is not read (the stream is cancelled, which closes the upstream's socket).
 */
export async function readCapped(response: Response, limit: number): Promise<string> {
  if (!response.body) return "";
  if (declaredTooLarge(response, limit)) {
    await response.body.cancel().catch(() => {});
    throw new ResponseTooLargeError(limit);
  }
  const reader = response.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw new ResponseTooLargeError(limit);
    }
    parts.push(value);
  }
  return Buffer.concat(parts).toString("utf8");
}

/**
 * Counts the bytes of the event-stream event being received (its lines, the unfinished line
 * included) and throws ResponseTooLargeError when one passes `limit`. A long-lived stream may carry any
 * number of events; what a parser must hold at once is one event, so that is what is bounded. It
 * works on raw bytes, so it sits in front of any parser (the gateway's, or the SDK's).
 */
export class EventSizeGuard {
  /** Bytes since the last blank line (the end of an event). */
  private size = 0;
  /** Whether the last byte seen ended a line, and whether that line was empty (or, for CR, which). */
  private atLineStart = true;
  private lastWasCr = false;

  constructor(readonly limit: number) {}

  /** Accounts for `chunk`; throws once the current event is over the limit. */
  check(chunk: Uint8Array): void {
    let size = this.size;
    let atLineStart = this.atLineStart;
    let lastWasCr = this.lastWasCr;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i]!;
      if (byte === 10 && lastWasCr) {
        // The LF of a CRLF: the line already ended at the CR.
        lastWasCr = false;
        continue;
      }
      lastWasCr = byte === 13;
      if (byte === 10 || byte === 13) {
        // A line break at the start of a line is a blank line: the event is over.
        if (atLineStart) size = 0;
        atLineStart = true;
        continue;
      }
      atLineStart = false;
      if (++size > this.limit) throw new ResponseTooLargeError(this.limit);
    }
    this.size = size;
    this.atLineStart = atLineStart;
    this.lastWasCr = lastWasCr;
  }
}

/** `body` with each chunk passed through `check` first; a throw errors the stream and cancels the source. */
function guardedBody(body: ReadableStream<Uint8Array>, check: (chunk: Uint8Array) => void, onExceeded?: (err: ResponseTooLargeError) => void): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await reader.read();
      if (done) return controller.close();
      try {
        check(value);
      } catch (err) {
        // Stop reading at once: the upstream's socket is closed, nothing more is buffered.
        void reader.cancel(err).catch(() => {});
        if (err instanceof ResponseTooLargeError) onExceeded?.(err);
        return controller.error(err);
      }
      controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

/**
 * A fetch whose response bodies are capped: an event stream per event (a stream may be long-lived),
 * anything else as a whole. Given to the SDK's transports, which read the initialize answer, the GET
 * stream and legacy-SSE streams themselves. `onExceeded` hears of a body cut short (the SDK's
 * transports report a broken stream only as a disconnect).
 */
export function cappedFetch(limit: number, options: { inner?: typeof fetch; onExceeded?: (err: ResponseTooLargeError) => void } = {}): typeof fetch {
  const inner = options.inner ?? fetch;
  const capped = async (input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]): Promise<Response> => {
    const response = await inner(input, init);
    if (!response.body) return response;
    const isStream = (response.headers.get("content-type") ?? "").toLowerCase().includes("text/event-stream");
    let check: (chunk: Uint8Array) => void;
    if (isStream) {
      const guard = new EventSizeGuard(limit);
      check = (chunk) => guard.check(chunk);
    } else {
      if (declaredTooLarge(response, limit)) {
        await response.body.cancel().catch(() => {});
        throw new ResponseTooLargeError(limit);
      }
      let size = 0;
      check = (chunk) => {
        size += chunk.byteLength;
        if (size > limit) throw new ResponseTooLargeError(limit);
      };
    }
    return new Response(guardedBody(response.body, check, options.onExceeded), { status: response.status, statusText: response.statusText, headers: response.headers });
  };
  return capped as typeof fetch;
}
