// One live MCP client to one upstream server (http, sse or stdio), with the hooks the gateway needs:
// every notification and every server-to-client request the upstream sends is handed to the owner.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SseError } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport, StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import {
  ErrorCode,
  McpError,
  type ClientCapabilities,
  type ClientNotification,
  type ClientRequest,
  type Implementation,
  type JSONRPCMessage,
  type JSONRPCRequest,
  type MessageExtraInfo,
  type Notification,
  type Progress,
  type ServerCapabilities,
  type ServerNotification,
  type ServerRequest,
} from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { asError } from "../../errors.ts";
import { settle, type Waiter } from "../answered.ts";
import { VERSION } from "../../version.ts";
import { AddressDeniedError, DEFAULT_ADDRESS_POLICY, type AddressPolicy } from "./address-policy.ts";
import { checkedSend, exchange, poolFor, type HttpEndpoint } from "./http-exchange.ts";
import type { Http1Pool } from "./http1.ts";
import { authorizedFetch, createTransport, maxResponseBytes, StreamSwitch, upstreamHeaders } from "./transport.ts";
import { ResponseTooLargeError } from "./response-limit.ts";
import { LineRing, StdioProcessTransport } from "./stdio-process.ts";
import type { ConnectionSpec } from "../../domain/connections/spec.ts";

/** Results pass through untouched: the gateway forwards, it does not reinterpret. */
export const AnyResult = z.looseObject({});

/** Everything an upstream client may be asked for: used when one upstream serves several clients. */
export const ALL_CLIENT_CAPABILITIES: ClientCapabilities = { sampling: {}, elicitation: { form: {}, url: {} }, roots: { listChanged: true } };

export type UpstreamOptions = {
  stderr: LineRing;
  hooks: UpstreamHooks;
  /** Time to connect and initialise. */
  timeoutMs: number;
  /** Which addresses may be reached (default: the built-in deny list only). */
  policy?: AddressPolicy;
  /** The connection's shared socket pool (null: none); omitted, the upstream makes and closes its own. */
  pool?: Http1Pool | null;
  /** What the upstream is told this client can do (default: everything the gateway can route). */
  capabilities?: ClientCapabilities;
  /** Whether to open the GET stream at once (default true); see listen(). */
  listen?: boolean;
  /**
   * OAuth connections: the Authorization value for each request, asked for as it is sent (so a token
   * refreshed meanwhile is used, never one fixed at connect); given the value the upstream just answered
   * 401 to, it returns a fresh one, and the request is sent once more. It throws (NeedsAuthorizationError)
   * when the subject has no usable token: the request fails with that error.
   */
  authorization?: (rejected?: string) => Promise<string>;
};

export type UpstreamHooks = {
  onNotification: (notification: Notification) => void;
  onRequest: (request: JSONRPCRequest, extra: RequestHandlerExtra<ClientRequest, ClientNotification>) => Promise<Record<string, unknown>>;
  onClose: (error: Error | null) => void;
};

/**
 * True when an HTTP upstream forgot our session: 404, as the spec says, or 400, which some servers
 * (server-everything after a restart: "No valid session ID provided") answer instead. Either way the
 * gateway re-initialises and retries once; a 400 that was about the request itself comes back again.
 */
export function isUpstreamSessionGone(err: unknown): boolean {
  if (err instanceof StreamableHTTPError) return err.code === 404 || err.code === 400;
  // The legacy SSE transport reports a refused POST as a plain Error with the status in its text
  // (SDK 1.x): the upstream no longer knows the session the stream gave us (it restarted).
  return err instanceof Error && /^Error POSTing to endpoint \(HTTP (404|400)\)/.test(err.message);
}

/**
 * True when the upstream refused the request's authorization (HTTP 401 or 403), after the one retry
 * with a fresh token: for an OAuth connection that is about one account, not the upstream being down.
 */
export function isUpstreamRefusal(err: unknown): boolean {
  if (err instanceof StreamableHTTPError) return err.code === 401 || err.code === 403;
  if (err instanceof SseError) return err.code === 401 || err.code === 403;
  return err instanceof Error && /^Error POSTing to endpoint \(HTTP (401|403)\)/.test(err.message);
}

/**
 * A request whose upstream session went away with its event stream (legacy SSE: the session is the
 * stream). Its answer is lost; a request that changes nothing may be sent again on a new session.
 */
export class StreamLostError extends McpError {
  constructor() {
    super(ErrorCode.ConnectionClosed, "Connection closed: the upstream's event stream was lost");
  }
}

/** The message of an upstream error without the SDK's "MCP error <code>: " prefix (no doubled prefixes downstream). */
export function plainMessage(err: McpError): string {
  const prefix = `MCP error ${err.code}: `;
  return err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
}

/** The address refusal behind an error the SDK wrapped (its transports report a failed fetch as their own error), if any. */
function deniedCause(err: unknown): AddressDeniedError | null {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) if (e instanceof AddressDeniedError) return e;
  return null;
}

/** A request sent upstream and not yet answered. */
type Pending = Waiter & { controller: AbortController };

/**
 * The socket pool a connection's upstream sessions share (plain http without a proxy), or null. Its
 * owner closes it; an upstream session closing leaves it open for the others.
 */
export function sharedPool(spec: ConnectionSpec, policy: AddressPolicy = DEFAULT_ADDRESS_POLICY): Http1Pool | null {
  return spec.transport === "http" && spec.url ? poolFor(new URL(spec.url), maxResponseBytes(spec), policy) : null;
}

/** The endpoint the gateway POSTs requests to itself, for a Streamable HTTP connection. */
function httpEndpoint(spec: ConnectionSpec, transport: Transport, policy: AddressPolicy, pool: Http1Pool | null, authorization: HttpEndpoint["authorization"]): HttpEndpoint | null {
  if (!(transport instanceof StreamableHTTPClientTransport)) return null;
  const url = new URL(spec.url!);
  const session = () => ({ id: transport.sessionId, protocolVersion: transport.protocolVersion });
  const endpoint: HttpEndpoint = { url, pool, headers: upstreamHeaders(spec), session, send: checkedSend(policy), maxResponseBytes: maxResponseBytes(spec) };
  if (authorization) endpoint.authorization = authorization;
  return endpoint;
}

/**
 * A connected client to one upstream. The SDK's Client connects, initialises and receives what the
 * upstream sends on its own; the gateway's requests are sent and matched by the Upstream itself
 * (under string ids the SDK never uses), so a forwarded call costs one JSON parse, not the SDK's
 * validation of every message, and its progress and response are never lost or reordered.
 */
export class Upstream {
  readonly client: Client;
  private readonly transport: Transport;
  private readonly http: HttpEndpoint | null;
  private closedByUs = false;
  /** Whether this upstream session's GET stream is open (Streamable HTTP; see StreamSwitch). */
  private readonly stream: StreamSwitch;
  /** The legacy-SSE stream dropped: the upstream session (and the answers it would carry) is gone. */
  private streamLost = false;
  /** Whether the socket pool is this upstream's own (else the connection's runtime closes it). */
  private readonly ownsPool: boolean;
  private closed = false;
  private readonly pending = new Map<string, Pending>();
  private nextRequestId = 0;
  private readonly progressHandlers = new Map<string, (progress: Progress) => void>();
  private nextProgressToken = 0;
  /** The SDK's handler of what the upstream sends (notifications, its requests, its other responses). */
  private deliver: Transport["onmessage"];
  /** The last refusal of `authorization` (no usable token): what a failed connect reports, however the SDK wrapped it. */
  private authorizationFailure: unknown = null;

  private constructor(spec: ConnectionSpec, options: UpstreamOptions) {
    const policy = options.policy ?? DEFAULT_ADDRESS_POLICY;
    this.stream = new StreamSwitch(options.listen ?? true);
    this.client = new Client(
      { name: "switchboard", version: VERSION },
      // What this upstream session may ask of its client: the downstream client's own capabilities
      // when it serves one session, else everything (each request is routed to the client that
      // caused it, or refused).
      { capabilities: options.capabilities ?? ALL_CLIENT_CAPABILITIES },
    );
    const hooks = options.hooks;
    // What `authorization` throws is kept: the SDK's transports may wrap it (the SSE stream reports its own error).
    const authorization = options.authorization
      ? (rejected?: string) =>
          options.authorization!(rejected).then(
            (value) => ((this.authorizationFailure = null), value),
            (err: unknown) => {
              this.authorizationFailure = err;
              throw err;
            },
          )
      : undefined;
    this.client.fallbackNotificationHandler = async (n) => hooks.onNotification(n);
    this.client.fallbackRequestHandler = (request, extra) => hooks.onRequest(request, extra) as never;
    this.transport = createTransport(spec, options.stderr, policy, {
      onStreamTooLarge: () => this.streamTooLarge(maxResponseBytes(spec)),
      onStreamLost: () => {
        this.streamLost = true;
        void this.close();
      },
      stream: this.stream,
      authorization: authorization ? (inner) => authorizedFetch(inner, authorization) : undefined,
    });
    this.ownsPool = options.pool === undefined;
    this.http = httpEndpoint(spec, this.transport, policy, options.pool === undefined ? sharedPool(spec, policy) : options.pool, authorization);
    if (this.transport instanceof StdioProcessTransport) {
      const limit = maxResponseBytes(spec);
      this.transport.onoversize = (excerpt) => this.oversize(excerpt, limit);
    }
    this.client.onclose = () => {
      this.closed = true;
      for (const [id, pending] of this.pending) {
        this.pending.delete(id);
        pending.controller.abort();
        pending.reject(this.streamLost ? new StreamLostError() : new McpError(ErrorCode.ConnectionClosed, "Connection closed"));
      }
      if (this.ownsPool) this.http?.pool?.close();
      // The SDK closes a client whose initialize failed; for want of a token, that is no upstream failure.
      hooks.onClose(this.closedByUs || this.authorizationFailure !== null ? null : new Error("the upstream connection closed"));
    };
    this.client.onerror = () => {}; // transport errors surface as failed requests or a close
  }

  /**
   * Connects and initialises, or throws (after `timeoutMs`). An http or sse upstream is reached only
   * at addresses `policy` allows; a refusal throws an AddressDeniedError.
   */
  static async connect(spec: ConnectionSpec, options: UpstreamOptions): Promise<Upstream> {
    const upstream = new Upstream(spec, options);
    try {
      if (spec.transport !== "stdio") await (options.policy ?? DEFAULT_ADDRESS_POLICY).resolve(new URL(spec.url!).hostname);
      await upstream.client.connect(upstream.transport, { timeout: options.timeoutMs });
    } catch (err) {
      await upstream.close();
      throw deniedCause(err) ?? upstream.authorizationFailure ?? err;
    }
    upstream.deliver = upstream.transport.onmessage;
    upstream.transport.onmessage = (message, extra) => upstream.receive(message, extra);
    return upstream;
  }

  /**
   * Everything the upstream sends passes here first: responses to the gateway's requests and
   * progress for them are taken; the rest goes to the SDK's Client. (Progress is taken before the
   * SDK sees it because the SDK dispatches notifications a microtask late: a final progress read
   * together with the response would arrive after it.)
   */
  private receive(message: JSONRPCMessage, extra?: MessageExtraInfo): void {
    if (!("method" in message)) {
      const id = (message as { id?: unknown }).id;
      const pending = typeof id === "string" ? this.pending.get(id) : undefined;
      if (pending) {
        this.pending.delete(id as string);
        settle(pending, message, "upstream");
        return;
      }
    } else if (message.method === "notifications/progress" && !("id" in message)) {
      const { progressToken, ...progress } = (message.params ?? {}) as { progressToken?: unknown } & Progress;
      const handler = typeof progressToken === "string" ? this.progressHandlers.get(progressToken) : undefined;
      if (handler) return handler(progress);
    }
    this.deliver?.(message, extra);
  }

  /**
   * A stdio message over the limit was dropped: the request it answers (its id is found at either end
   * of the message) fails with the limit's error now rather than at its timeout.
   */
  private oversize(excerpt: string, limit: number): void {
    for (const [, id] of excerpt.matchAll(/"id"\s*:\s*"(switchboard-\d+)"/g)) {
      const pending = this.pending.get(id!);
      if (!pending) continue;
      this.pending.delete(id!);
      pending.reject(new ResponseTooLargeError(limit));
    }
  }

  /**
   * A legacy-SSE upstream sent an event over the limit, so its stream was cut: every request waiting
   * for an answer on it fails with the limit's error, and the upstream is closed (not failed), so the
   * next call connects afresh instead of using a stream whose upstream session is gone.
   */
  private streamTooLarge(limit: number): void {
    for (const [id, pending] of this.pending) {
      this.pending.delete(id);
      pending.reject(new ResponseTooLargeError(limit));
    }
    void this.close();
  }

  get capabilities(): ServerCapabilities {
    return this.client.getServerCapabilities() ?? {};
  }

  /**
   * The upstream's serverInfo as it gave it (title, description, websiteUrl and icons included, as far
   * as the SDK's schema carries them), so a connection's clients see what the upstream itself would show.
   */
  get serverInfo(): Implementation {
    const v = this.client.getServerVersion();
    return v ? { ...v } : { name: "unknown", version: "unknown" };
  }

  get instructions(): string | undefined {
    return this.client.getInstructions();
  }

  get pid(): number | null {
    return this.transport instanceof StdioProcessTransport ? this.transport.pid : null;
  }

  /**
   * Sends a request. It times out after `timeoutMs` without an answer or a progress report; when
   * `signal` aborts (the client cancelled) the upstream is sent notifications/cancelled.
   */
  async request(
    request: ClientRequest,
    options: { signal?: AbortSignal; timeoutMs: number; onprogress?: (progress: Progress) => void },
  ): Promise<Record<string, unknown>> {
    const controller = new AbortController();
    const abort = () => controller.abort(options.signal?.reason);
    if (options.signal?.aborted) abort();
    options.signal?.addEventListener("abort", abort, { once: true });
    let timedOut = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = true;
        controller.abort(new Error("timed out"));
      }, options.timeoutMs);
    };
    arm();
    let token: string | undefined;
    let sent = request;
    if (options.onprogress) {
      const onprogress = options.onprogress;
      token = `switchboard-${++this.nextProgressToken}`;
      this.progressHandlers.set(token, (progress) => {
        arm();
        onprogress(progress);
      });
      const params = (request.params ?? {}) as Record<string, unknown>;
      sent = { ...request, params: { ...params, _meta: { ...((params._meta as object | undefined) ?? {}), progressToken: token } } } as ClientRequest;
    }
    try {
      return await this.send(sent, controller);
    } catch (err) {
      if (timedOut) throw new McpError(ErrorCode.RequestTimeout, "Request timed out", { timeout: options.timeoutMs });
      throw err;
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", abort);
      if (token) this.progressHandlers.delete(token);
    }
  }

  /** Sends one request and waits for its response; aborting `controller` cancels it upstream. */
  private send(request: ClientRequest, controller: AbortController): Promise<Record<string, unknown>> {
    if (this.closed) return Promise.reject(new McpError(ErrorCode.ConnectionClosed, "Connection closed"));
    const { signal } = controller;
    // Cancelled before it was sent: nothing goes upstream, not even a cancellation.
    if (signal.aborted) return Promise.reject(asError(signal.reason));
    // A string id: the SDK's Client numbers its own requests, so the two never collide.
    const id = `switchboard-${++this.nextRequestId}`;
    const message = { jsonrpc: "2.0", id, method: request.method, params: request.params } as JSONRPCRequest;
    const { promise, resolve, reject } = Promise.withResolvers<Record<string, unknown>>();
    this.pending.set(id, { resolve, reject, controller });
    const fail = (err: unknown) => {
      if (this.pending.delete(id)) reject(asError(err));
    };
    const onAbort = () => {
      if (!this.pending.has(id)) return;
      fail(signal.reason);
      void this.notify({ method: "notifications/cancelled", params: { requestId: id, reason: String(signal.reason) } }).catch(() => {});
    };
    signal.addEventListener("abort", onAbort, { once: true });
    const sending = this.http ? exchange(this.http, message, (m) => this.receive(m), signal) : this.transport.send(message);
    sending.catch((err: unknown) => {
      // What the refused answer made the gateway hold (up to the limit) is garbage now: collect it
      // soon, rather than when the next allocations happen to ask, so refusals do not pile up.
      if (err instanceof ResponseTooLargeError) Bun.gc(false);
      fail(err);
    });
    return promise.finally(() => signal.removeEventListener("abort", onAbort));
  }

  /**
   * Opens or closes the upstream session's GET stream (Streamable HTTP only; other transports always
   * listen): opened while the downstream client holds its own, so what the server sends outside a
   * request has somewhere to go.
   */
  listen(on: boolean): void {
    if (!(this.transport instanceof StreamableHTTPClientTransport) || this.closed) return;
    if (!on) return this.stream.stop();
    if (this.stream.wanted) return;
    this.stream.wanted = true;
    void this.transport.resumeStream("").catch(() => {});
  }

  notify(notification: ClientNotification): Promise<void> {
    return this.client.notification(notification);
  }

  /**
   * Closes the client. With `terminate`, an HTTP upstream is first told the session is over (DELETE),
   * so what the session created there (subscriptions, simulated activity) stops too.
   */
  async close(options: { terminate?: boolean } = {}): Promise<void> {
    this.closedByUs = true;
    try {
      if (options.terminate && !this.closed && this.transport instanceof StreamableHTTPClientTransport && this.transport.sessionId) {
        await Promise.race([this.transport.terminateSession().catch(() => {}), Bun.sleep(2000)]);
      }
      await this.client.close();
    } catch {
      // closing a broken connection may fail; it is closed either way
    }
  }
}

export type { ServerNotification, ServerRequest };
