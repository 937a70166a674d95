// One live MCP client to one upstream server (http, sse or stdio), with the hooks the gateway needs:
// every notification and every server-to-client request the upstream sends is handed to the owner.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import {
  ErrorCode,
  McpError,
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
import { cappedFetch, DEFAULT_MAX_RESPONSE_BYTES, ResponseTooLargeError } from "./response-limit.ts";
import { LineRing, StdioProcessTransport } from "./stdio-process.ts";
import type { ConnectionSpec } from "../types.ts";

/** Results pass through untouched: the gateway forwards, it does not reinterpret. */
export const AnyResult = z.looseObject({});

export type UpstreamHooks = {
  onNotification: (notification: Notification) => void;
  onRequest: (request: JSONRPCRequest, extra: RequestHandlerExtra<ClientRequest, ClientNotification>) => Promise<Record<string, unknown>>;
  onClose: (error: Error | null) => void;
};

/** gateway.max_response_size for this connection: one answer, one event, one stdio line. */
function maxResponseBytes(spec: ConnectionSpec): number {
  return spec.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
}

/** What every request to an HTTP upstream carries: the connection's headers and its bearer token. */
function upstreamHeaders(spec: ConnectionSpec): Record<string, string> {
  const headers: Record<string, string> = { ...spec.headers };
  if (spec.token) headers.Authorization = `Bearer ${spec.token}`;
  return headers;
}

/**
 * The transport for `spec`. `onStreamTooLarge` hears of a legacy-SSE stream cut for an event over the
 * limit: the responses it would have carried are lost with it.
 */
function createTransport(spec: ConnectionSpec, stderr: LineRing, policy: AddressPolicy, onStreamTooLarge: () => void): Transport {
  if (spec.transport === "stdio") {
    return new StdioProcessTransport({ command: spec.command!, args: spec.args, cwd: spec.cwd, env: spec.env, stderr, maxMessageBytes: maxResponseBytes(spec) });
  }
  const headers = upstreamHeaders(spec);
  const url = new URL(spec.url!);
  // Every request the SDK makes (initialize, the GET stream, each redirect hop) has its host checked
  // first, and what its transports read themselves is capped: per event on a stream, whole otherwise.
  const checked = policy.fetch();
  const capped = cappedFetch(maxResponseBytes(spec), { inner: checked });
  if (spec.transport === "sse") {
    const stream = cappedFetch(maxResponseBytes(spec), { inner: checked, onExceeded: onStreamTooLarge });
    return new SSEClientTransport(url, {
      requestInit: { headers },
      fetch: capped,
      // The SSE GET is made by EventSource-like code that takes headers separately.
      eventSourceInit: { fetch: (input, init) => stream(input, { ...init, headers: { ...(init?.headers as Record<string, string>), ...headers } }) },
    });
  }
  return new StreamableHTTPClientTransport(url, { requestInit: { headers }, fetch: capped });
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

/** The endpoint the gateway POSTs requests to itself, for a Streamable HTTP connection. */
function httpEndpoint(spec: ConnectionSpec, transport: Transport, policy: AddressPolicy): HttpEndpoint | null {
  if (!(transport instanceof StreamableHTTPClientTransport)) return null;
  const url = new URL(spec.url!);
  const session = () => ({ id: transport.sessionId, protocolVersion: transport.protocolVersion });
  const limit = maxResponseBytes(spec);
  return { url, pool: poolFor(url, limit, policy), headers: upstreamHeaders(spec), session, send: checkedSend(policy), maxResponseBytes: limit };
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
  private closed = false;
  private readonly pending = new Map<string, Pending>();
  private nextRequestId = 0;
  private readonly progressHandlers = new Map<string, (progress: Progress) => void>();
  private nextProgressToken = 0;
  /** The SDK's handler of what the upstream sends (notifications, its requests, its other responses). */
  private deliver: Transport["onmessage"];

  private constructor(spec: ConnectionSpec, stderr: LineRing, hooks: UpstreamHooks, policy: AddressPolicy) {
    this.client = new Client(
      { name: "switchboard", version: VERSION },
      // Declared so upstreams may ask; each request is routed to the client that caused it, or refused.
      { capabilities: { sampling: {}, elicitation: { form: {}, url: {} }, roots: { listChanged: true } } },
    );
    this.client.fallbackNotificationHandler = async (n) => hooks.onNotification(n);
    this.client.fallbackRequestHandler = (request, extra) => hooks.onRequest(request, extra) as never;
    this.transport = createTransport(spec, stderr, policy, () => this.streamTooLarge(maxResponseBytes(spec)));
    this.http = httpEndpoint(spec, this.transport, policy);
    if (this.transport instanceof StdioProcessTransport) {
      const limit = maxResponseBytes(spec);
      this.transport.onoversize = (excerpt) => this.oversize(excerpt, limit);
    }
    this.client.onclose = () => {
      this.closed = true;
      for (const [id, pending] of this.pending) {
        this.pending.delete(id);
        pending.controller.abort();
        pending.reject(new McpError(ErrorCode.ConnectionClosed, "Connection closed"));
      }
      this.http?.pool?.close();
      hooks.onClose(this.closedByUs ? null : new Error("the upstream connection closed"));
    };
    this.client.onerror = () => {}; // transport errors surface as failed requests or a close
  }

  /**
   * Connects and initialises, or throws (after `timeoutMs`). An http or sse upstream is reached only
   * at addresses `policy` allows; a refusal throws an AddressDeniedError.
   */
  static async connect(spec: ConnectionSpec, stderr: LineRing, hooks: UpstreamHooks, timeoutMs: number, policy: AddressPolicy = DEFAULT_ADDRESS_POLICY): Promise<Upstream> {
    const upstream = new Upstream(spec, stderr, hooks, policy);
    try {
      if (spec.transport !== "stdio") await policy.resolve(new URL(spec.url!).hostname);
      await upstream.client.connect(upstream.transport, { timeout: timeoutMs });
    } catch (err) {
      await upstream.close();
      throw deniedCause(err) ?? err;
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

  notify(notification: ClientNotification): Promise<void> {
    return this.client.notification(notification);
  }

  async close(): Promise<void> {
    this.closedByUs = true;
    try {
      await this.client.close();
    } catch {
      // closing a broken connection may fail; it is closed either way
    }
  }
}

export type { ServerNotification, ServerRequest };
