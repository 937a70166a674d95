// One downstream session's usage records: a request is begun when its HTTP POST arrives, noted by the
// session as it decides (refused, timed out, which connection and upstream name served it), and
// recorded when its answer is written (the text already serialised for the client gives the size), or
// when it ends unanswered (cancelled, or the transport refused its POST). Built to cost next to nothing
// per request: no awaits, no serialising beyond what the answer already was, and nothing of the
// arguments kept unless opted in.
import { ErrorCode } from "@modelcontextprotocol/sdk/types.js";
import type { ErrorCode as AppErrorCode } from "../errors.ts";
import type { Actor, Outcome, UsageRecord, UsageSink } from "../domain/monitoring/types.ts";
import { MAX_ERROR_TEXT, redact } from "./redact.ts";

export type UsageTarget = { kind: "connection" | "agent"; id: string | null; slug: string | null };

/** What is masked in what is kept (error messages always, payloads when opted in). */
export type Redaction = {
  /** The connection's (an agent's: its connections') secret values, in every encoded form (redact.ts). */
  secrets: readonly string[];
  /** monitoring.redact_patterns, compiled (global). */
  patterns: readonly RegExp[];
};

/** How the session keeps text: what to mask, and, for a connection or agent that opted in, the payload cap. */
export type UsagePolicy = Redaction & {
  /** Most bytes of JSON kept of the arguments and of the result; null: no payload is kept at all. */
  payloadMaxBytes: number | null;
};

/** `text` with the secrets and patterns masked. */
export function masked(text: string, redaction: Redaction): string {
  let out = redact(text, redaction.secrets, Infinity);
  for (const pattern of redaction.patterns) out = out.replace(pattern, "[redacted]");
  return out;
}

/**
 * What a session learns about a request while handling it. `authorizationRequired`: the upstream needs an
 * OAuth token the caller has not got (the message shown to them); recorded as an error with that code.
 */
export type UsageNote = { refused?: string; timedOut?: boolean; connectionId?: string; upstreamName?: string | null; authorizationRequired?: string };

/** The usage error code of a call whose caller has not connected (or must reconnect) the upstream account. */
export const AUTHORIZATION_REQUIRED_CODE = "UPSTREAM_AUTHORIZATION_REQUIRED" satisfies AppErrorCode;

type RequestId = string | number;

type Pending = {
  at: Date;
  started: number;
  method: string;
  name: string | null;
  upstreamName: string | null;
  connectionId: string | null;
  actor: Actor;
  address: string | null;
  requestBytes: number;
  refused: string | null;
  timedOut: boolean;
  authorizationRequired: string | null;
  args: unknown;
};

/** The name a request is about, as the caller named it: a tool or prompt, a resource URI, a task. */
export function requestName(method: string, params: Record<string, unknown> | undefined): string | null {
  if (!params) return null;
  switch (method) {
    case "tools/call":
    case "prompts/get":
      return typeof params.name === "string" ? params.name : null;
    case "resources/read":
    case "resources/subscribe":
    case "resources/unsubscribe":
      return typeof params.uri === "string" ? params.uri : null;
    case "completion/complete": {
      const ref = params.ref as { name?: unknown; uri?: unknown } | undefined;
      const name = ref?.name ?? ref?.uri;
      return typeof name === "string" ? name : null;
    }
    case "tasks/get":
    case "tasks/result":
    case "tasks/cancel":
      return typeof params.taskId === "string" ? params.taskId : null;
    default:
      return null;
  }
}

/** `value` as JSON with secrets and patterns masked, cut to `maxBytes` (then `truncated`). */
export function payloadText(value: unknown, redaction: Redaction, maxBytes: number): { text: string; truncated: boolean } {
  let text: string;
  try {
    text = JSON.stringify(value ?? null);
  } catch {
    text = '"[not serialisable]"';
  }
  text = masked(text, redaction);
  // Cut after masking: a cut through a secret would leave its first half unmasked.
  if (Buffer.byteLength(text) <= maxBytes) return { text, truncated: false };
  return { text: Buffer.from(text).subarray(0, maxBytes).toString().replace(/\uFFFD$/, ""), truncated: true };
}

/** Most characters of a request's name (tool, prompt, resource URI, task id) and method kept. */
export const MAX_NAME_LENGTH = 512;
const MAX_METHOD_LENGTH = 100;

const UNANSWERED = {
  cancelled: "Cancelled",
  closed: "The session closed before the request was answered",
  replaced: "Another request with the same id arrived before this one was answered",
} as const;

/** The usage recording of one downstream session (or of one request refused before any session). */
export class SessionUsage {
  private readonly pending = new Map<RequestId, Pending>();
  /** clientInfo of the session's initialize. */
  client: { name: string | null; version: string | null } = { name: null, version: null };

  constructor(
    private readonly sink: UsageSink,
    private readonly target: UsageTarget,
    private readonly sessionId: () => string,
    /** Replaced when the connection or agent changes (an agent's sessions outlive its changes). */
    public policy: UsagePolicy,
  ) {}

  /** A request of the client arrives (an HTTP POST's message with a method and an id). */
  begin(message: { id: RequestId; method: string; params?: unknown }, requestBytes: number, actor: Actor, address: string | null): void {
    const params = message.params as Record<string, unknown> | undefined;
    // The method and the name are the client's text: bounded before they are kept, queued and written
    // into a row and its roll-ups (a 200 KB tool name refused is still a row).
    const name = requestName(message.method, params)?.slice(0, MAX_NAME_LENGTH) ?? null;
    // A request id used again while the first is pending: the first is recorded now, not overwritten.
    if (this.pending.has(message.id)) this.unanswered(message.id, "replaced");
    this.pending.set(message.id, {
      at: new Date(),
      started: performance.now(),
      method: message.method.slice(0, MAX_METHOD_LENGTH),
      name,
      // On a connection the name goes upstream as it is; an agent notes what it resolved.
      upstreamName: this.target.kind === "connection" ? name : null,
      connectionId: this.target.kind === "connection" ? this.target.id : null,
      actor,
      address,
      requestBytes,
      refused: null,
      timedOut: false,
      authorizationRequired: null,
      args: this.policy.payloadMaxBytes !== null ? (message.method === "tools/call" || message.method === "prompts/get" ? params?.arguments : params) : undefined,
    });
  }

  /** What the session decided about request `id` (nothing happens for a request not begun here). */
  note(id: RequestId, note: UsageNote): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    if (note.refused !== undefined) {
      pending.refused = note.refused;
      pending.upstreamName = null;
    }
    if (note.timedOut) pending.timedOut = true;
    if (note.authorizationRequired !== undefined) pending.authorizationRequired = note.authorizationRequired;
    if (note.connectionId !== undefined) pending.connectionId = note.connectionId;
    if (note.upstreamName !== undefined && pending.refused === null) pending.upstreamName = note.upstreamName;
  }

  /** The answer to a request, as written to the client (`text` is its JSON). */
  answered(message: { id?: unknown; result?: unknown; error?: unknown }, text: string): void {
    const id = message.id as RequestId;
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    const error = message.error as { code?: unknown; message?: unknown } | undefined;
    const result = message.result as { isError?: unknown } | undefined;
    let outcome: Outcome = "ok";
    let code: string | null = null;
    let text_: string | null = null;
    if (pending.authorizationRequired !== null) {
      // A tool error or a JSON-RPC error alike: the call failed for want of the caller's authorization.
      outcome = "error";
      code = AUTHORIZATION_REQUIRED_CODE;
      text_ = pending.authorizationRequired;
    } else if (error !== undefined) {
      code = String(error.code);
      text_ = String(error.message ?? "");
      outcome = pending.refused !== null ? "refused" : pending.timedOut || error.code === ErrorCode.RequestTimeout ? "timeout" : "error";
    } else if (pending.refused !== null) {
      outcome = "refused";
      text_ = pending.refused;
    } else if (result?.isError === true) outcome = "tool_error";
    this.emit(pending, outcome, code, text_, Buffer.byteLength(text), error === undefined ? message.result : message.error);
  }

  /** Request `id` ended with no answer (the client cancelled it, the session closed under it, or another request took its id). */
  unanswered(id: RequestId, why: "cancelled" | "closed" | "replaced"): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    const outcome: Outcome = why === "cancelled" ? "timeout" : "error";
    this.emit(pending, outcome, null, UNANSWERED[why], 0, undefined);
  }

  /**
   * The transport refused the POST that carried `ids` before any of them ran (an HTTP error: a missing
   * "jsonrpc", an Accept without event streams, a bad protocol version): each is recorded now, as the
   * error it got, rather than left pending (holding its text) until the session ends.
   */
  rejected(ids: readonly RequestId[], status: number): void {
    for (const id of ids) {
      const pending = this.pending.get(id);
      if (!pending) continue;
      this.pending.delete(id);
      this.emit(pending, "error", `HTTP ${status}`, "The request was refused before it ran (not a valid MCP request over HTTP)", 0, undefined);
    }
  }

  /** The session is gone: what it never answered is recorded as such. */
  close(): void {
    for (const id of [...this.pending.keys()]) this.unanswered(id, "closed");
  }

  private emit(pending: Pending, outcome: Outcome, errorCode: string | null, errorMessage: string | null, responseBytes: number, result: unknown): void {
    let payload: UsageRecord["payload"] = null;
    const max = this.policy.payloadMaxBytes;
    if (max !== null) {
      const args = payloadText(pending.args, this.policy, max);
      const answer = result === undefined ? null : payloadText(result, this.policy, max);
      payload = { arguments: args.text, ...(answer ? { result: answer.text } : {}), truncated: args.truncated || (answer?.truncated ?? false) };
    }
    const record: UsageRecord = {
      at: pending.at,
      durationMs: Math.max(0, Math.round(performance.now() - pending.started)),
      face: "mcp",
      target: { kind: this.target.kind, id: this.target.id, slug: this.target.slug },
      method: pending.method,
      name: pending.name,
      upstreamName: pending.upstreamName,
      connectionId: pending.connectionId,
      outcome,
      errorCode,
      errorMessage: errorMessage === null ? null : redact(masked(errorMessage, this.policy), [], MAX_ERROR_TEXT),
      actor: pending.actor,
      sessionId: this.sessionId() || null,
      client: this.client,
      address: pending.address,
      requestBytes: pending.requestBytes,
      responseBytes,
      payload,
    };
    try {
      this.sink.record(record);
    } catch {
      // A sink never throws by contract; a broken one must still never fail the client's request.
    }
  }
}
