// The proxy's hot path answers a session's requests without the SDK's Server: on an established
// session, a POST holding one request (other than the lifecycle ones the SDK's Server keeps) is
// dispatched straight to the session, and its answer written here as an event stream. The SDK's
// transport and Server validate every message with zod several times over and stream every answer in
// pieces; that was a third of the gateway's CPU per forwarded call. Everything else (initialize,
// ping, logging/setLevel, notifications, batches, the GET stream, DELETE, and every malformed request,
// which the SDK answers with its own errors) still goes through the SDK's transport.
import { isJsonContentType } from "@modelcontextprotocol/sdk/shared/mediaType.js";
import { ErrorCode, SUPPORTED_PROTOCOL_VERSIONS, type JSONRPCRequest } from "@modelcontextprotocol/sdk/types.js";

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

function event(message: unknown): string {
  return `event: message\ndata: ${JSON.stringify(message)}\n\n`;
}

/**
 * One request's answer as an event stream. An answer that is over at once (the usual case: just the
 * response) is sent as one body of known length; the first message sent before the end (progress, a
 * log, a request to the client) turns it into a stream that carries the rest as it comes.
 */
export class SseReply {
  readonly response: Promise<Response>;
  private respond!: (response: Response) => void;
  private stream: ReadableStreamDefaultController<Uint8Array> | null = null;
  private ended = false;

  constructor(private readonly headers: Record<string, string>) {
    this.response = new Promise((resolve) => (this.respond = resolve));
  }

  /** Whether the client can still be written to. */
  get open(): boolean {
    return !this.ended;
  }

  /** Sends a message ahead of the end (a notification, or a request to the client). */
  send(message: unknown): void {
    if (this.ended) return;
    const bytes = encoder.encode(event(message));
    if (this.stream) {
      this.stream.enqueue(bytes);
      return;
    }
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.stream = controller;
        controller.enqueue(bytes);
      },
      // The client went away: nothing more is written (the request itself goes on, as the spec asks).
      cancel: () => {
        this.ended = true;
        this.stream = null;
      },
    });
    this.respond(new Response(body, { status: 200, headers: this.headers }));
  }

  /** Ends the answer with `last` (null for none: a cancelled request gets no response). */
  end(last: unknown): void {
    if (this.ended) return;
    this.ended = true;
    if (this.stream) {
      if (last !== null) this.stream.enqueue(encoder.encode(event(last)));
      this.stream.close();
      this.stream = null;
    } else {
      this.respond(new Response(last === null ? "" : event(last), { status: 200, headers: this.headers }));
    }
  }
}
