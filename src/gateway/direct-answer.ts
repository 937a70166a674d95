// The proxy's hot path answers a session's requests without the SDK's Server: on an established
// session, a POST holding one request (other than the lifecycle ones the SDK's Server keeps) is
// dispatched straight to the session, and its answer written here as an event stream. The SDK's
// transport and Server validate every message with zod several times over and stream every answer in
// pieces; that was a third of the gateway's CPU per forwarded call. Everything else (initialize,
// ping, logging/setLevel, notifications, batches, the GET stream, DELETE, and every malformed request,
// which the SDK answers with its own errors) still goes through the SDK's transport. Every event written
// here has an id from the session's event store, so a client that lost the stream resumes it with GET +
// Last-Event-ID (`DirectAnswers.resume`), as it resumes the SDK transport's streams.
import { isJsonContentType } from "@modelcontextprotocol/sdk/shared/mediaType.js";
import { ErrorCode, McpError, SUPPORTED_PROTOCOL_VERSIONS, type ClientCapabilities, type JSONRPCRequest, type Notification } from "@modelcontextprotocol/sdk/types.js";
import { asError, JsonRpcError } from "../errors.ts";
import { settle, type Waiter } from "./answered.ts";
import type { Extra } from "./request-extra.ts";
import { RESUME_RETRY_MS, SessionEventStore, wantsPriming, type EventBufferLimits } from "./event-store.ts";

/** What a client must have declared to be sent each request (as the SDK's Server checks it). */
const CLIENT_CAPABILITY: Record<string, { capability: "sampling" | "elicitation" | "roots"; what: string }> = {
  "sampling/createMessage": { capability: "sampling", what: "sampling" },
  "elicitation/create": { capability: "elicitation", what: "elicitation" },
  "roots/list": { capability: "roots", what: "listing roots" },
};

/**
 * Why a request to the client must not be sent to it (null when it may): a capability the client did
 * not declare, or an elicitation mode it did not declare. SDK clients declare `elicitation: {}` or
 * `{ form: {} }` for form mode only; URL mode must be declared as `url` (spec 2025-11-25, elicitation).
 * The upstream gets -32602, as the SDK's own client answers a mode it does not support.
 */
export function clientRefusal(request: { method: string; params?: unknown }, capabilities: ClientCapabilities | undefined): Error | null {
  const needs = CLIENT_CAPABILITY[request.method];
  if (needs && !capabilities?.[needs.capability]) return new Error(`Client does not support ${needs.what} (required for ${request.method})`);
  if (request.method !== "elicitation/create") return null;
  const declared = capabilities?.elicitation as { form?: unknown; url?: unknown } | undefined;
  const mode = (request.params as { mode?: unknown } | undefined)?.mode ?? "form";
  const url = declared?.url !== undefined;
  const form = declared?.form !== undefined || !url;
  if (mode === "url" && !url) return new JsonRpcError(ErrorCode.InvalidParams, "Client does not support URL-mode elicitation requests");
  if (mode === "form" && !form) return new JsonRpcError(ErrorCode.InvalidParams, "Client does not support form-mode elicitation requests");
  if (mode !== "url" && mode !== "form") return new JsonRpcError(ErrorCode.InvalidParams, "Invalid elicitation mode");
  return null;
}

/** Requests the SDK's Server answers itself (the session's lifecycle), never dispatched directly. */
const SDK_METHODS = new Set(["initialize", "ping", "logging/setLevel"]);

/** Whether a POST's headers are as the SDK's transport requires them (otherwise it answers with its own error). */
export function directHeaders(req: Request): boolean {
  const accept = req.headers.get("accept") ?? "";
  if (!accept.includes("application/json") || !accept.includes("text/event-stream")) return false;
  if (!isJsonContentType(req.headers.get("content-type"))) return false;
  const version = req.headers.get("mcp-protocol-version");
  return version === null || SUPPORTED_PROTOCOL_VERSIONS.includes(version);
}

/** The request in `body` when it may be answered directly: a single, well-formed request the session dispatches. */
export function directRequest(body: unknown): JSONRPCRequest | null {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return null;
  const m = body as Record<string, unknown>;
  if (m.jsonrpc !== "2.0" || typeof m.method !== "string" || SDK_METHODS.has(m.method)) return null;
  if (typeof m.id !== "string" && !(typeof m.id === "number" && Number.isInteger(m.id))) return null;
  if (m.params !== undefined && (typeof m.params !== "object" || m.params === null || Array.isArray(m.params))) return null;
  return body as JSONRPCRequest;
}

/** The JSON-RPC error a failed request answers with (as the SDK's Protocol words it). */
export function errorBody(err: unknown): { code: number; message: string; data?: unknown } {
  const e = (err ?? {}) as { code?: unknown; message?: unknown; data?: unknown };
  const code = typeof e.code === "number" && Number.isSafeInteger(e.code) ? e.code : ErrorCode.InternalError;
  const message = typeof e.message === "string" && e.message !== "" ? e.message : "Internal error";
  return e.data === undefined ? { code, message } : { code, message, data: e.data };
}

const encoder = new TextEncoder();

/** A JSON-RPC error response that is not about any request (transport-level). */
export function rpcErrorResponse(status: number, code: number, message: string, headers?: Record<string, string>): Response {
  return Response.json({ jsonrpc: "2.0", error: { code, message }, id: null }, { status, headers });
}

/** One message event, with the id the session's event store gave it. */
function event(id: string, text: string): string {
  return `event: message\nid: ${id}\ndata: ${text}\n\n`;
}

/** The stream ids of directly answered requests start so; the SDK's are UUIDs and "_GET_stream". */
const DIRECT_STREAM = "direct-";

/** Where a reply's events go besides the client: the session's event store, under this stream's id. */
export type ReplyStream = {
  store: SessionEventStore;
  streamId: string;
  /** Whether to open with a priming event (the client's protocol version accepts one). */
  prime: boolean;
  /** The priming event's `retry`, in ms. */
  retryMs: number;
};

/**
 * One request's answer as an event stream. An answer that is over at once (the usual case: just the
 * response) is sent as one body of known length; the first message sent before the end (progress, a
 * log, a request to the client) turns it into a stream that carries the rest as it comes. Every event
 * carries an id and is kept in the session's event store as written, so a client whose connection
 * dropped resumes with GET + Last-Event-ID (`resume`) and gets the rest exactly once, in order.
 */
export class SseReply {
  readonly response: Promise<Response>;
  private respond!: (response: Response) => void;
  private responded = false;
  private stream: ReadableStreamDefaultController<Uint8Array> | null = null;
  private ended = false;

  constructor(
    private readonly headers: Record<string, string>,
    private readonly out: ReplyStream,
  ) {
    this.response = new Promise((resolve) => (this.respond = resolve));
  }

  /** Whether the client is connected and can be written to (not after the end, nor while its connection is gone). */
  get open(): boolean {
    return !this.ended && (!this.responded || this.stream !== null);
  }

  /** Whether anything was written yet (the first event, or the whole answer): before, no id of this stream exists. */
  get started(): boolean {
    return this.responded;
  }

  /** Whether the answer has ended (its last event, if any, is written or stored). */
  get over(): boolean {
    return this.ended;
  }

  /** Sends a message ahead of the end (a notification, or a request to the client). */
  send(message: unknown): void {
    if (this.ended) return;
    if (!this.responded) {
      this.responded = true;
      const first = encoder.encode(this.priming() + this.stored(message));
      let mine: ReadableStreamDefaultController<Uint8Array>;
      const body = new ReadableStream<Uint8Array>({
        start: (controller) => {
          mine = controller;
          this.stream = controller;
          controller.enqueue(first);
        },
        cancel: () => this.lost(mine),
      });
      this.respond(new Response(body, { status: 200, headers: this.headers }));
      return;
    }
    // Kept even while the client is away: a resume replays it.
    const chunk = this.stored(message);
    this.stream?.enqueue(encoder.encode(chunk));
  }

  /** Ends the answer with `last` (null for none: a cancelled request gets no response). */
  end(last: unknown): void {
    if (this.ended) return;
    this.ended = true;
    if (!this.responded) {
      this.responded = true;
      // A cancelled request that sent nothing gets an empty body: no priming event, which would have the
      // client reconnect to a stream that never answers.
      const body = last === null ? "" : this.priming() + this.stored(last, true);
      this.respond(new Response(body, { status: 200, headers: this.headers }));
      return;
    }
    const chunk = last === null ? "" : this.stored(last, true);
    if (this.stream) {
      if (chunk) this.stream.enqueue(encoder.encode(chunk));
      this.stream.close();
      this.stream = null;
    }
  }

  /**
   * The client came back (GET + Last-Event-ID) with `missed` still to get: a new stream carries them,
   * then the rest as it comes (or ends at once if the answer is over). A connection still open for this
   * answer is closed first: each message goes out on one connection only.
   */
  resume(missed: { id: string; text: string }[]): Response {
    const previous = this.stream;
    this.stream = null;
    try {
      previous?.close();
    } catch {
      // already gone
    }
    const replayed = encoder.encode(missed.map((e) => event(e.id, e.text)).join(""));
    let mine: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        mine = controller;
        if (replayed.length > 0) controller.enqueue(replayed);
        if (this.ended) controller.close();
        else this.stream = controller;
      },
      cancel: () => this.lost(mine),
    });
    return new Response(body, { status: 200, headers: this.headers });
  }

  /** The client's connection went away: what follows is only stored (the request itself goes on, as the spec asks). */
  private lost(connection: ReadableStreamDefaultController<Uint8Array>): void {
    // A connection already replaced by a resume leaves its successor alone.
    if (this.stream === connection) this.stream = null;
  }

  /** The event for `message`, its id taken from (and its text kept in) the session's event store. */
  private stored(message: unknown, answer = false): string {
    const text = JSON.stringify(message);
    if (answer) this.out.store.onAnswer?.(message as { id?: unknown }, text);
    return event(this.out.store.append(this.out.streamId, text), text);
  }

  /** The priming event (an id and empty data, with the reconnection delay), for clients that accept one. */
  private priming(): string {
    if (!this.out.prime) return "";
    return `id: ${this.out.store.append(this.out.streamId, null)}\nretry: ${this.out.retryMs}\ndata: \n\n`;
  }
}

export type DirectAnswersOptions = {
  sessionId: () => string;
  /** The reconnection delay (SSE `retry`, ms) priming events tell the client; default RESUME_RETRY_MS. */
  retryMs?: () => number;
  /** The caps of the session's event store (defaults: DEFAULT_EVENT_BUFFER). */
  eventBuffer?: EventBufferLimits;
  /** Authorizes and answers one request: the session's handler. */
  dispatch: (request: JSONRPCRequest, extra: Extra) => Promise<Record<string, unknown>>;
};

/** A session's direct answers: the requests running, and the requests to the client awaiting its response. */
export class DirectAnswers {
  /** Requests running, by id (the client's notifications/cancelled aborts them). */
  private readonly running = new Map<string | number, AbortController>();
  /** Requests to the client sent on an answer's stream, awaiting its response, by id. */
  private readonly asked = new Map<string, Waiter>();
  private nextAsk = 0;
  /** The session's event store: ids and replay for these answers' streams and for the SDK transport's. */
  readonly events: SessionEventStore;
  /** Answers still being written, by stream id (a resume attaches to them). */
  private readonly replies = new Map<string, SseReply>();
  private nextStream = 0;

  constructor(private readonly options: DirectAnswersOptions) {
    this.events = new SessionEventStore(options.eventBuffer);
  }

  /**
   * Answers one request: progress, logs and requests to the client go out on the answer's own stream.
   * `protocolVersion` is the request's MCP-Protocol-Version header: priming events only from 2025-11-25.
   */
  answer(request: JSONRPCRequest, protocolVersion?: string | null): Promise<Response> {
    const controller = new AbortController();
    const id = request.id;
    this.running.set(id, controller);
    const sessionId = this.options.sessionId();
    const streamId = DIRECT_STREAM + ++this.nextStream;
    this.events.openStream(streamId);
    const reply = new SseReply(this.headers(sessionId), { store: this.events, streamId, prime: wantsPriming(protocolVersion), retryMs: this.options.retryMs?.() ?? RESUME_RETRY_MS });
    this.replies.set(streamId, reply);
    const extra = {
      signal: controller.signal,
      requestId: id,
      sessionId,
      _meta: (request.params as { _meta?: unknown } | undefined)?._meta,
      sendNotification: async (n: Notification) => reply.send({ jsonrpc: "2.0", method: n.method, params: n.params }),
      sendRequest: (r: { method: string; params?: unknown }, _schema: unknown, options?: { signal?: AbortSignal }) => this.ask(reply, r, options?.signal),
    } as unknown as Extra;
    void this.options
      .dispatch(request, extra)
      .then(
        (result) => reply.end(controller.signal.aborted ? null : { jsonrpc: "2.0", id, result }),
        (err: unknown) => reply.end(controller.signal.aborted ? null : { jsonrpc: "2.0", id, error: errorBody(err) }),
      )
      .finally(() => {
        if (this.running.get(id) === controller) this.running.delete(id);
        this.replies.delete(streamId);
        this.events.endStream(streamId);
      });
    return reply.response;
  }

  private headers(sessionId: string): Record<string, string> {
    return { "content-type": "text/event-stream", "cache-control": "no-cache", "mcp-session-id": sessionId };
  }

  /**
   * A GET with Last-Event-ID naming a stream answered here: what followed that event on it, then (if
   * the answer is still being written) the rest as it comes. Null for any other request, which the SDK's
   * transport serves (its own streams' resumes, and the errors for bad headers). The caller has checked
   * that the session is the caller's own (its key), so one session never reads another's events.
   */
  resume(request: Request): Response | null {
    if (request.method !== "GET") return null;
    const lastEventId = request.headers.get("last-event-id");
    if (lastEventId === null || !lastEventId.startsWith(DIRECT_STREAM)) return null;
    if (!(request.headers.get("accept") ?? "").includes("text/event-stream")) return null;
    const version = request.headers.get("mcp-protocol-version");
    if (version !== null && !SUPPORTED_PROTOCOL_VERSIONS.includes(version)) return null;
    const replay = this.events.replayAfter(lastEventId);
    const live = replay ? this.replies.get(replay.streamId) : undefined;
    // Unknown here (made up, another session's, or older than what the buffer still holds), or naming
    // a call that has written nothing yet (so no id of its stream was ever given): nothing is replayed.
    if (!replay || (live && !live.started)) return rpcErrorResponse(400, -32000, "Bad Request: unknown or expired Last-Event-ID; nothing to resume");
    if (live && !live.over) return live.resume(replay.events);
    // Over, and the client has it all: an empty stream would only have it reconnect again.
    if (replay.events.length === 0) return rpcErrorResponse(400, -32000, "Bad Request: this stream has ended; nothing to resume");
    const text = replay.events.map((e) => event(e.id, e.text)).join("");
    return new Response(text, { status: 200, headers: this.headers(this.options.sessionId()) });
  }

  /** A request to the client on an answer's stream (sampling, elicitation, roots); whether the client declared it was checked by the session's guard (DownstreamSession.guarded). */
  private ask(reply: SseReply, request: { method: string; params?: unknown }, signal: AbortSignal | undefined): Promise<Record<string, unknown>> {
    if (!reply.open) return Promise.reject(new McpError(ErrorCode.ConnectionClosed, "The client's answer stream has closed"));
    if (signal?.aborted) return Promise.reject(asError(signal.reason));
    const id = `switchboard-${++this.nextAsk}`;
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        if (!this.asked.delete(id)) return;
        reply.send({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: id, reason: String(signal?.reason) } });
        reject(asError(signal?.reason));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      const settled = () => signal?.removeEventListener("abort", onAbort);
      this.asked.set(id, {
        resolve: (result) => (settled(), resolve(result)),
        reject: (err) => (settled(), reject(err)),
      });
      reply.send({ jsonrpc: "2.0", id, method: request.method, params: request.params });
    });
  }

  /** Takes what the client sends for these answers (responses to their requests, cancellations of them); returns the rest. */
  takeFromClient(messages: unknown[]): unknown[] {
    return messages.filter((m) => !this.take(m));
  }

  private take(value: unknown): boolean {
    if (typeof value !== "object" || value === null) return false;
    const m = value as { id?: unknown; method?: unknown; params?: { requestId?: unknown; reason?: unknown }; result?: unknown; error?: { code?: unknown; message?: unknown; data?: unknown } };
    if (m.method === undefined && typeof m.id === "string") {
      const asked = this.asked.get(m.id);
      if (!asked) return false;
      this.asked.delete(m.id);
      settle(asked, m, "client");
      return true;
    }
    if (m.method === "notifications/cancelled") {
      const id = m.params?.requestId;
      const running = typeof id === "string" || typeof id === "number" ? this.running.get(id) : undefined;
      if (!running) return false;
      running.abort(m.params?.reason ?? "cancelled by the client");
      return true;
    }
    return false;
  }

  /** The session ended: running requests are aborted, requests to the client fail, its event store is freed. */
  close(): void {
    this.events.clear();
    for (const controller of this.running.values()) controller.abort(new Error("the session closed"));
    for (const asked of this.asked.values()) asked.reject(new McpError(ErrorCode.ConnectionClosed, "Connection closed"));
    this.asked.clear();
  }
}
