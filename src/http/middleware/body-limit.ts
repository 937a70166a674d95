// Refuses request bodies larger than server.max_body_size with 413, before anything reads them.
// A declared Content-Length is checked at once; a chunked body is read here, up to the limit.
import type { MiddlewareHandler } from "hono";
import { AppError } from "../../errors.ts";

/** Bun's own error when a body passes Bun.serve's maxRequestBodySize while it is being read. */
const BUN_BODY_TOO_LARGE = /maxRequestBodySize/;

export function limitBody(maxBytes: number): MiddlewareHandler {
  const tooLarge = () => new AppError("PAYLOAD_TOO_LARGE", `The request body is larger than ${maxBytes} bytes.`);
  return async (c, next) => {
    const raw = c.req.raw;
    if (!raw.body) return next();
    const length = raw.headers.get("content-length");
    if (length !== null && !raw.headers.has("transfer-encoding")) {
      if (Number.parseInt(length, 10) > maxBytes) throw tooLarge();
      return next();
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    const reader = raw.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > maxBytes) throw tooLarge();
        chunks.push(value);
      }
    } catch (err) {
      // Bun may stop the stream at its own limit before ours is reached; that is the same 413. Any
      // other failure to read the body is the client's (it went away mid-body): a 400, not a 500.
      if (err instanceof AppError) throw err;
      if (err instanceof Error && BUN_BODY_TOO_LARGE.test(err.message)) throw tooLarge();
      throw new AppError("BAD_REQUEST", "The request body could not be read.", { cause: err });
    } finally {
      reader.releaseLock();
    }
    c.req.raw = new Request(raw, { body: Buffer.concat(chunks, size) });
    return next();
  };
}
