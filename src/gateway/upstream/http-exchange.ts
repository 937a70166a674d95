// One JSON-RPC request to a Streamable HTTP upstream, POSTed and read by the gateway itself: the SDK's
// client transport would pipe the body through two stream transformers and validate every message
// with zod, which cost more than everything else the gateway does for a call. The SDK's transport
// still owns the upstream session (initialize, the GET stream, notifications the gateway sends).
// Every message read here (progress, logs, server-to-client requests, the response) goes to
// `receive`, as the SDK's transport would deliver it.
import { StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { mediaTypeEssence } from "@modelcontextprotocol/sdk/shared/mediaType.js";
import { fetchWithinOrigin } from "@modelcontextprotocol/sdk/shared/transport.js";
import { ErrorCode, McpError, type JSONRPCMessage, type JSONRPCRequest } from "@modelcontextprotocol/sdk/types.js";
import { AddressPolicy, DEFAULT_ADDRESS_POLICY } from "./address-policy.ts";
import { Http1Pool } from "./http1.ts";
import { EventSizeGuard, readCapped } from "./response-limit.ts";
import { SseParser } from "./sse-parser.ts";

export type HttpEndpoint = {
  url: URL;
  /** Kept-alive sockets to a plain-http upstream (null: every request goes through fetch). */
  pool: Http1Pool | null;
  /** The connection's own headers (and its bearer token). */
  headers: Record<string, string>;
  /** The upstream session and protocol version, as negotiated by the SDK's transport. */
  session: () => { id: string | undefined; protocolVersion: string | undefined };
  /** fetch with every request's host checked by the address policy, following redirects within the origin (default: the built-in policy). */
  send?: typeof fetch;
  /** gateway.max_response_size: the most one answer (or one event of a stream) may hold. */
  maxResponseBytes: number;
  /**
   * OAuth connections: the Authorization value each request carries, asked for at that moment (it is
   * refreshed as it expires); given the value the upstream just answered 401 to, a fresh one. Absent:
   * `headers` say it all (static connections pay nothing more).
   */
  authorization?: (rejected?: string) => Promise<string>;
};

/** How often a response stream that ends unanswered is resumed with Last-Event-ID (as the SDK's client does). */
const MAX_RESUMES = 2;
const DEFAULT_RESUME_DELAY_MS = 1000;

/** The fetch of an endpoint: each hop's host checked by `policy`, redirects followed only within the origin. */
export function checkedSend(policy: AddressPolicy): typeof fetch {
  return fetchWithinOrigin(policy.fetch()) as typeof fetch;
}

const DEFAULT_SEND = checkedSend(DEFAULT_ADDRESS_POLICY);

/**
 * The socket pool for `url`, when the gateway may speak to it directly: plain http, and no HTTP
 * proxy set in the environment (fetch honours one; the pool does not). Its sockets go to addresses
 * `policy` resolved and checked, and no answer is read past `maxResponseBytes`.
 */
export function poolFor(url: URL, maxResponseBytes: number, policy: AddressPolicy = DEFAULT_ADDRESS_POLICY): Http1Pool | null {
  const proxied = ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"].some((name) => process.env[name]);
  return url.protocol === "http:" && !proxied ? new Http1Pool(url, { addressOf: (hostname) => policy.resolve(hostname), maxBodyBytes: maxResponseBytes }) : null;
}

/**
 * Sends with the current Authorization `value` gives; an answer of 401 is sent once more with the value
 * given for the refused one (refreshed), and whatever that gets is the answer. Every OAuth request to an
 * upstream goes through here (the gateway's own POSTs, and the SDK transport's fetch: authorizedFetch).
 */
export async function sendAuthorized(value: (rejected?: string) => Promise<string>, send: (authorization: string) => Promise<Response>): Promise<Response> {
  const first = await value();
  const response = await send(first);
  if (response.status !== 401) return response;
  await response.body?.cancel().catch(() => {});
  return send(await value(first));
}

/** Sends with the endpoint's Authorization (sendAuthorized), set on `headers`. */
function authorized(endpoint: HttpEndpoint, headers: Record<string, string>, send: (headers: Record<string, string>) => Promise<Response>): Promise<Response> {
  return sendAuthorized(endpoint.authorization!, (authorization) => {
    headers.authorization = authorization;
    return send(headers);
  });
}

/** POSTs through the pool when there is one; a redirect (or no pool) goes through fetch, which follows it within the origin. */
async function post(endpoint: HttpEndpoint, headers: Record<string, string>, body: string, signal: AbortSignal): Promise<Response> {
  if (endpoint.pool) {
    const response = await endpoint.pool.request(endpoint.url.pathname + endpoint.url.search, { method: "POST", headers, body, signal });
    if (response.status < 300 || response.status >= 400) return response;
    await response.body?.cancel().catch(() => {});
  }
  return (endpoint.send ?? DEFAULT_SEND)(endpoint.url, { method: "POST", headers, body, signal });
}

function headersFor(endpoint: HttpEndpoint, accept: string): Record<string, string> {
  const headers: Record<string, string> = { ...endpoint.headers, accept };
  const { id, protocolVersion } = endpoint.session();
  if (id) headers["mcp-session-id"] = id;
  if (protocolVersion) headers["mcp-protocol-version"] = protocolVersion;
  return headers;
}

function isMessage(value: unknown): value is JSONRPCMessage {
  return typeof value === "object" && value !== null && !Array.isArray(value) && (value as { jsonrpc?: unknown }).jsonrpc === "2.0";
}

/**
 * POSTs `request` and hands every message of the answer to `receive`, until the response to it has
 * been handed over. Throws what the SDK's transport would: a StreamableHTTPError for an HTTP error
 * status (404: the upstream forgot the session) or an unexpected content type.
 */
export async function exchange(endpoint: HttpEndpoint, request: JSONRPCRequest, receive: (message: JSONRPCMessage) => void, signal: AbortSignal): Promise<void> {
  const headers = headersFor(endpoint, "application/json, text/event-stream");
  headers["content-type"] = "application/json";
  const body = JSON.stringify(request);
  const response = endpoint.authorization ? await authorized(endpoint, headers, (h) => post(endpoint, h, body, signal)) : await post(endpoint, headers, body, signal);
  if (!response.ok) {
    const text = await readCapped(response, endpoint.maxResponseBytes).catch(() => null);
    throw new StreamableHTTPError(response.status, `Error POSTing to endpoint: ${text}`);
  }
  let answered = false;
  const deliver = (value: unknown): void => {
    if (!isMessage(value)) return;
    if (!("method" in value) && (value as { id?: unknown }).id === request.id) answered = true;
    receive(value);
  };
  const type = mediaTypeEssence(response.headers.get("content-type"));
  if (type === "application/json") {
    // Bounded: a hostile upstream's endless answer fails the call instead of filling the gateway's memory.
    const body: unknown = JSON.parse(await readCapped(response, endpoint.maxResponseBytes));
    for (const message of Array.isArray(body) ? body : [body]) deliver(message);
  } else if (type === "text/event-stream") {
    const parser = new SseParser((event) => {
      if (event.event !== "message") return;
      let message: unknown;
      try {
        message = JSON.parse(event.data);
      } catch {
        return; // not JSON-RPC: skipped, as the SDK's transport does
      }
      deliver(message);
    });
    // A body of known length is already complete (the upstream answered before it began sending):
    // read it whole. Otherwise it streams, and each event is handled as it arrives.
    const guard = new EventSizeGuard(endpoint.maxResponseBytes);
    if (response.headers.has("content-length")) parser.feed(await readCapped(response, endpoint.maxResponseBytes));
    else await readEvents(response, parser, guard, () => answered);
    for (let resumes = 0; !answered && parser.lastEventId !== undefined && resumes < MAX_RESUMES && !signal.aborted; resumes++) {
      // The upstream closed the stream early (SSE polling): pick it up where it stopped.
      await Bun.sleep(parser.retry ?? DEFAULT_RESUME_DELAY_MS);
      const get = (headers: Record<string, string>) => (endpoint.send ?? DEFAULT_SEND)(endpoint.url, { method: "GET", headers, signal });
      const resumeHeaders = { ...headersFor(endpoint, "text/event-stream"), "last-event-id": parser.lastEventId };
      const resumed = endpoint.authorization ? await authorized(endpoint, resumeHeaders, get) : await get(resumeHeaders);
      if (!resumed.ok || mediaTypeEssence(resumed.headers.get("content-type")) !== "text/event-stream") {
        await resumed.body?.cancel().catch(() => {});
        break;
      }
      await readEvents(resumed, parser, guard, () => answered);
    }
  } else {
    await response.body?.cancel().catch(() => {});
    throw new StreamableHTTPError(-1, `Unexpected content type: ${response.headers.get("content-type")}`);
  }
  if (!answered) throw new McpError(ErrorCode.ConnectionClosed, "The upstream ended its answer without a response to the request");
}

/**
 * Feeds the body to the parser until it ends or `done()` holds. The guard sees the bytes first: an
 * event (or a line without an end) past the limit throws, and the stream is cancelled unread.
 */
async function readEvents(response: Response, parser: SseParser, guard: EventSizeGuard, done: () => boolean): Promise<void> {
  if (!response.body) return;
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const { value, done: ended } = await reader.read();
      if (ended) break;
      guard.check(value);
      parser.feed(decoder.decode(value, { stream: true }));
      if (done()) break;
    }
  } finally {
    // Answered: the upstream should close the stream now; do not wait for it.
    void reader.cancel().catch(() => {});
  }
}
