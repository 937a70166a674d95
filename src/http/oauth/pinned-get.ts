// One GET to addresses that were already resolved and checked, never to the name again: a DNS answer
// that changes between the check and the connection (rebinding) cannot move the socket. Over https
// the TLS handshake still names the host (SNI) and the certificate is verified against the host, not
// the address. No redirect is followed, nothing is kept alive, and the body is counted as it arrives.
import type { ClientRequest, IncomingHttpHeaders, IncomingMessage, RequestOptions } from "node:http";
import http from "node:http";
import https from "node:https";
import type { LookupAddress } from "node:dns";
import { isIP, type LookupFunction } from "node:net";
import { asError } from "../../errors.ts";

/** The body passed the byte cap; the connection was dropped before reading more. */
export class BodyTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`the answer is larger than ${maxBytes} bytes`);
    this.name = "BodyTooLargeError";
  }
}

/** An answer whose status and headers arrived; its body is read (or dropped) on demand. */
export type PinnedAnswer = {
  status: number;
  headers: IncomingHttpHeaders;
  /** The whole body, at most `maxBytes` (counted while reading, whatever Content-Length said). */
  body: () => Promise<Buffer>;
  /** Drops the connection without reading the body. */
  discard: () => void;
};

export type PinnedGetOptions = {
  /** Ends the exchange wherever it is (connect, TLS, headers or body): the caller's deadline. */
  signal: AbortSignal;
  maxBytes: number;
  headers: Record<string, string>;
  /** Trusted certificate authorities instead of the system's, for tests with their own certificate. */
  ca?: string;
};

/**
 * Sends `GET url` to one of `addresses` (tried in order, as a client would), each already checked by
 * the caller. The URL's host is used only for the Host header, SNI and the certificate check.
 */
export function pinnedGet(url: URL, addresses: readonly string[], options: PinnedGetOptions): Promise<PinnedAnswer> {
  return new Promise<PinnedAnswer>((resolve, reject) => {
    if (options.signal.aborted) return reject(asError(options.signal.reason));
    if (addresses.length === 0) return reject(new Error(`no address to connect to for ${url.host}`));
    const hostname = url.hostname.replace(/^\[|\]$/g, "");
    const pinned: LookupAddress[] = addresses.map((address) => ({ address, family: isIP(address) === 6 ? 6 : 4 }));
    // node:http resolves the host through `lookup`; answering with the checked addresses is the pin.
    const lookup = ((_host: string, lookupOptions: { all?: boolean }, callback: (...args: unknown[]) => void): void => {
      if (lookupOptions.all) callback(null, pinned);
      else callback(null, pinned[0]!.address, pinned[0]!.family);
    }) as LookupFunction;
    const request: RequestOptions = {
      hostname,
      port: url.port === "" ? undefined : Number(url.port),
      path: `${url.pathname}${url.search}`,
      method: "GET",
      headers: options.headers,
      agent: false,
      lookup,
    };
    let req: ClientRequest;
    const onAbort = (): void => {
      req.destroy(asError(options.signal.reason));
    };
    const stopListening = (): void => options.signal.removeEventListener("abort", onAbort);
    const respond = (res: IncomingMessage): void => {
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        body: () => readBody(req, res, options, stopListening),
        discard: () => {
          stopListening();
          res.destroy();
          req.destroy();
        },
      });
    };
    if (url.protocol === "https:") {
      // SNI carries a name only; the certificate is checked against `hostname` either way.
      req = https.request({ ...request, servername: isIP(hostname) === 0 ? hostname : undefined, ca: options.ca }, respond);
    } else {
      req = http.request(request, respond);
    }
    req.on("error", (err) => {
      stopListening();
      reject(err);
    });
    options.signal.addEventListener("abort", onAbort, { once: true });
    req.end();
  });
}

/** Gathers the body up to the cap; the deadline and the cap both end the connection at once. */
function readBody(req: ClientRequest, res: IncomingMessage, options: PinnedGetOptions, stopListening: () => void): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let settled = false;
    const settle = (err: Error | null): void => {
      if (settled) return;
      settled = true;
      stopListening();
      options.signal.removeEventListener("abort", onAbort);
      if (err) {
        res.destroy();
        req.destroy();
        reject(err);
      } else {
        resolve(Buffer.concat(chunks));
      }
    };
    const onAbort = (): void => settle(asError(options.signal.reason));
    if (options.signal.aborted) return onAbort();
    options.signal.addEventListener("abort", onAbort, { once: true });
    res.on("data", (chunk: Buffer) => {
      received += chunk.length;
      if (received > options.maxBytes) return settle(new BodyTooLargeError(options.maxBytes));
      chunks.push(chunk);
    });
    res.on("end", () => settle(null));
    res.on("error", (err) => settle(err));
    res.on("close", () => settle(new Error("the connection closed before the answer was complete")));
  });
}
