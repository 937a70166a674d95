// What every downstream MCP session of the gateway shares, whether it serves one connection or an
// agent over several: its SDK Server and Streamable HTTP transport, the key that owns it, its log
// level and subscriptions, and forwarding a request to a connection's upstream with progress,
// cancellation and server-to-client requests carried back to this client.
import { randomUUID } from "node:crypto";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import {
  ErrorCode,
  LoggingLevelSchema,
  McpError,
  SetLevelRequestSchema,
  type ClientCapabilities,
  type ClientRequest,
  type Implementation,
  type JSONRPCRequest,
  type LoggingLevel,
  type Notification,
  type ServerCapabilities,
  type ServerNotification,
  type ServerRequest,
} from "@modelcontextprotocol/sdk/types.js";
import { CapacityError, JsonRpcError } from "../errors.ts";
import type { Caller } from "../domain/access/caller.ts";
import type { AttachedSession, InflightCall } from "./attached-session.ts";
import type { ConnectionRuntime } from "./connection-runtime.ts";
import { clientRefusal, DirectAnswers } from "./direct-answer.ts";
import { RESUME_RETRY_MS } from "./event-store.ts";
import { redactFor } from "./redact.ts";
import type { Extra } from "./request-extra.ts";
import { otherSessionsTask, SessionTasks } from "./session-tasks.ts";
import { requestName, type SessionUsage, type UsageNote } from "./usage-capture.ts";
import type { ConnectionSpec } from "../domain/connections/spec.ts";
import { NeedsAuthorizationError } from "../domain/connections/oauth-types.ts";
import { RefreshFailedError } from "./upstream/oauth/credentials.ts";
import { AnyResult, isUpstreamRefusal, isUpstreamSessionGone, plainMessage, StreamLostError } from "./upstream/upstream.ts";

const LEVELS = LoggingLevelSchema.options;

export type SessionOptions = {
  onInitialized: (session: DownstreamSession) => void;
  onClosed: (session: DownstreamSession) => void;
  maxBodyBytes: number;
  /** The SSE `retry` clients are told in priming events, in ms (gateway setting; default RESUME_RETRY_MS). */
  resumeRetryMs?: number;
};

/**
 * Turns whatever the upstream threw into a JSON-RPC error that keeps its code, message and data. With
 * `spec`, the connection's own secrets are redacted from the message (an upstream may echo its request
 * headers), and a transport failure's text (an HTTP error body) is capped.
 */
export function asRpcError(err: unknown, spec?: ConnectionSpec): Error {
  if (err instanceof JsonRpcError) return err;
  if (err instanceof McpError) return new JsonRpcError(err.code, spec ? redactFor(spec, plainMessage(err), Infinity) : plainMessage(err), err.data);
  const message = err instanceof Error ? err.message : String(err);
  return new JsonRpcError(ErrorCode.InternalError, `Upstream error: ${spec ? redactFor(spec, message) : message}`);
}

export abstract class DownstreamSession implements AttachedSession {
  server!: Server;
  transport!: WebStandardStreamableHTTPServerTransport;
  readonly subscriptions = new Set<string>();
  id = "";
  lastActive = Date.now();
  /** What the client declared in its initialize (set before open, so its upstream sessions declare the same). */
  clientCapabilities: ClientCapabilities | undefined;
  logLevel: LoggingLevel | null = null;
  /** Open GET streams of this client (the SDK allows one; counted all the same). */
  private streams = 0;
  /** Where this session's requests are recorded (null: not recorded, as for the admin's "Try it"). */
  usage: SessionUsage | null = null;
  /** The client's address as first asked for a usage record (the address of the session's first recorded request). */
  clientAddress: string | null | undefined = undefined;
  /** The tasks this session created: only it may see or use them. */
  readonly tasks = new SessionTasks<ConnectionRuntime>();
  /** Requests being handled, so close() can let them answer first. */
  private readonly running = new Set<Promise<void>>();
  /** The reconnection delay told to this client (set from the gateway's setting when the session opens). */
  private resumeRetryMs = RESUME_RETRY_MS;
  /** The requests this session answers without the SDK's Server (see direct-answer.ts). */
  readonly direct = new DirectAnswers({
    sessionId: () => this.id,
    retryMs: () => this.resumeRetryMs,
    dispatch: (request, extra) => {
      this.lastActive = Date.now();
      return this.track(this.answer(request, extra));
    },
  });

  constructor(
    /** The key that opened the session; only it may use the session. */
    readonly keyId: string,
    /** Updated on every HTTP request, so permissions are decided as they are now. */
    public caller: Caller,
  ) {}

  /** The user this session acts for: the caller's user (it never changes within a session, since only its key may use it). */
  get userId(): string {
    return this.caller.user.id;
  }

  /** The connection or agent id this session serves. */
  abstract get targetId(): string;
  /** Prepares what the server mirrors (connecting upstreams as needed), then builds it. */
  abstract open(options: SessionOptions): Promise<void>;
  /** Authorizes and answers one request (everything but initialize, ping and logging/setLevel). */
  protected abstract handle(request: JSONRPCRequest, extra: Extra): Promise<Record<string, unknown>>;
  /** The runtimes this session has attached to. */
  abstract runtimes(): ConnectionRuntime[];

  protected build(info: Implementation, capabilities: ServerCapabilities, instructions: string | undefined, options: SessionOptions): void {
    // Strict: an upstream's sampling, elicitation or roots request is refused here when this client
    // did not declare the capability (the spec forbids sending it), instead of reaching a client that cannot answer.
    this.resumeRetryMs = options.resumeRetryMs ?? RESUME_RETRY_MS;
    this.server = new Server(info, { capabilities, instructions, enforceStrictCapabilities: true });
    this.server.fallbackRequestHandler = (request, extra) => {
      this.lastActive = Date.now();
      return this.track(this.answer(request, extra)) as never;
    };
    this.server.setRequestHandler(SetLevelRequestSchema, async (request) => {
      this.logLevel = request.params.level;
      // Each upstream session of this client gets its level; a shared one the most verbose any of its
      // sessions asked for, and each session still gets only what its own level admits.
      await Promise.all(this.runtimes().map((runtime) => runtime.levelChanged(this).catch(() => {})));
      return {};
    });
    this.server.fallbackNotificationHandler = async (n) => {
      if (n.method !== "notifications/roots/list_changed") return;
      // A shared upstream session was offered no roots (they would be every client's).
      for (const runtime of this.runtimes().filter((r) => !r.sharesUpstream)) {
        const { upstream } = await runtime.upstreamFor(this).catch(() => ({ upstream: null }));
        await upstream?.notify({ method: n.method }).catch(() => {});
      }
    };
    this.transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        this.id = id;
        options.onInitialized(this);
      },
      onsessionclosed: () => options.onClosed(this),
      maxRequestBodySize: options.maxBodyBytes,
      // Resumable streams: event ids, a priming event with `retry` (clients from 2025-11-25), and replay
      // on GET + Last-Event-ID, from the session's own bounded store (shared with the direct answers).
      eventStore: this.direct.events,
      retryInterval: this.resumeRetryMs,
    });
    this.transport.onclose = () => options.onClosed(this);
  }

  /** One request of this client, checked and guarded for tasks, then handled. */
  private async answer(request: JSONRPCRequest, extra: Extra): Promise<Record<string, unknown>> {
    try {
      this.tasks.checkRequest(request);
    } catch (err) {
      this.refused(extra, "Not this session's task");
      throw err;
    }
    try {
      return await this.handle(request, this.guarded(extra));
    } catch (err) {
      // Any request but a tool call (which answers a tool error, see calling()) gets the message as a JSON-RPC error.
      if (!(err instanceof NeedsAuthorizationError)) throw err;
      this.noteUsage(extra, { authorizationRequired: err.message });
      throw new JsonRpcError(ErrorCode.InvalidRequest, err.message, { connectUrl: err.connectUrl, reason: err.reason });
    } finally {
      // A cancelled request gets no answer: it is recorded now, as ended by the client.
      if (extra.signal.aborted) this.usage?.unanswered(request.id, "cancelled");
    }
  }

  /**
   * A tools/call, whose upstream may need an OAuth authorization the caller lacks: the answer is then a
   * tool error naming the page where they connect (a model reads tool errors; it never sees another's token).
   */
  protected async calling(extra: Extra, call: Promise<Record<string, unknown>>): Promise<Record<string, unknown>> {
    try {
      return await call;
    } catch (err) {
      if (!(err instanceof NeedsAuthorizationError)) throw err;
      this.noteUsage(extra, { authorizationRequired: err.message });
      return { content: [{ type: "text", text: err.message }], isError: true };
    }
  }

  /** Notes, for the usage record, what was decided about the request `extra` belongs to. */
  protected noteUsage(extra: Extra, note: UsageNote): void {
    this.usage?.note(extra.requestId, note);
  }

  /** Notes that the request was refused (no permission, unknown tool or method, a limit), and why. */
  protected refused(extra: Extra, reason: string): void {
    this.noteUsage(extra, { refused: reason });
  }

  /** `extra` through which nothing about another session's task, and no request this client cannot answer, reaches it. */
  private guarded(extra: Extra): Extra {
    return this.tasks.guard(extra, (request) => clientRefusal(request, this.server.getClientCapabilities()));
  }

  /** Whether this session created the task (a shared upstream's task status and requests go only to their owner). */
  ownsTask(taskId: string): boolean {
    return this.tasks.owns(taskId);
  }

  private track<T>(handling: Promise<T>): Promise<T> {
    const settled = handling.then(
      () => {},
      () => {},
    );
    this.running.add(settled);
    void settled.finally(() => this.running.delete(settled));
    return handling;
  }

  /** Whether a request of this session is being handled (the idle reaper leaves it alone). */
  get busy(): boolean {
    return this.running.size > 0;
  }

  get listening(): boolean {
    return this.streams > 0;
  }

  /**
   * Serves a GET (the client's stream of what the server sends outside requests) through the SDK's
   * transport. While it is open, this session's own upstream sessions keep theirs open too.
   */
  async serveStream(request: Request): Promise<Response> {
    const response = await this.transport.handleRequest(request);
    if (!response.ok || !response.body) return response;
    this.streams++;
    if (this.streams === 1) for (const runtime of this.runtimes()) runtime.listenFor(this);
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      this.streams--;
      if (this.streams === 0) for (const runtime of this.runtimes()) runtime.listenFor(this);
    };
    const reader = response.body.getReader();
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) {
            end();
            controller.close();
          } else controller.enqueue(value);
        } catch (err) {
          end();
          controller.error(err);
        }
      },
      cancel(reason) {
        end();
        return reader.cancel(reason);
      },
    });
    return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
  }

  wantsLogs(level: string): boolean {
    // A client that set no level is sent what a server sends by default: "info" and above.
    return LEVELS.indexOf(level as LoggingLevel) >= LEVELS.indexOf(this.logLevel ?? "info");
  }

  async notify(notification: Notification): Promise<void> {
    if (!this.tasks.mayReceive(notification)) return;
    await this.server.notification(notification as ServerNotification);
  }

  ask(request: JSONRPCRequest, signal: AbortSignal): Promise<Record<string, unknown>> {
    // The SDK's Server checks that the capability was declared, not the elicitation mode or whose task it is.
    const refused = this.tasks.mayReceive(request) ? clientRefusal(request, this.server.getClientCapabilities()) : otherSessionsTask();
    if (refused) return Promise.reject(refused);
    return this.server.request({ method: request.method, params: request.params } as ServerRequest, AnyResult, { signal });
  }

  /**
   * A session's own upstream session gets its subscriptions as they are; on a shared upstream the first
   * subscriber of a URI subscribes and the last one unsubscribes, and updates go to its subscribers only.
   */
  protected async subscription(runtime: ConnectionRuntime, request: JSONRPCRequest, extra: Extra, uri: string): Promise<Record<string, unknown>> {
    const others = [...runtime.sessions].some((s) => s !== this && s.subscriptions.has(uri));
    const sharedUpstream = runtime.sharesUpstream;
    if (request.method === "resources/subscribe") {
      if (!others || !sharedUpstream) await this.forwardTo(runtime, request, extra);
      this.subscriptions.add(uri);
    } else {
      this.subscriptions.delete(uri);
      if (!others || !sharedUpstream) await this.forwardTo(runtime, request, extra);
    }
    return {};
  }

  /** Sends the request upstream as this session's, mapping progress and cancellation both ways. */
  async forwardTo(runtime: ConnectionRuntime, request: JSONRPCRequest, extra: Extra, retried = false): Promise<Record<string, unknown>> {
    const { upstream, link } = await runtime.upstreamFor(this).catch((err: unknown) => {
      // Over the connection's process limit: refused for capacity, not failed.
      if (err instanceof CapacityError) this.refused(extra, err.message);
      throw err;
    });
    // Notifications for this request (progress, logs) must reach the client before its response,
    // which closes the request's stream: the response waits for them.
    const sending = new Set<Promise<void>>();
    const relay = (n: Notification): Promise<void> => {
      const sent = extra.sendNotification(n as ServerNotification).catch(() => {});
      sending.add(sent);
      void sent.finally(() => sending.delete(sent));
      return sent;
    };
    const call: InflightCall = {
      session: this,
      notify: relay,
      ask: (r, signal) => extra.sendRequest({ method: r.method, params: r.params } as ServerRequest, AnyResult, { signal }),
    };
    const params = { ...((request.params ?? {}) as Record<string, unknown>) };
    const meta = params._meta as Record<string, unknown> | undefined;
    const progressToken = meta?.progressToken;
    if (meta && "progressToken" in meta) {
      // The upstream gets a token of the gateway's own; its progress comes back under the client's token.
      const { progressToken: _dropped, ...rest } = meta;
      params._meta = rest;
    }
    // Which connection served a named request, and under what name (an agent's alias resolved).
    const name = requestName(request.method, params);
    if (name !== null) this.noteUsage(extra, { connectionId: runtime.spec.id, upstreamName: name });
    link.inflight.add(call);
    try {
      const result = await upstream.request({ method: request.method, params } as ClientRequest, {
        signal: extra.signal,
        timeoutMs: runtime.spec.callTimeoutMs,
        onprogress:
          progressToken === undefined
            ? undefined
            : (progress) => void relay({ method: "notifications/progress", params: { ...progress, progressToken } }),
      });
      await Promise.all(sending);
      return result;
    } catch (err) {
      if (err instanceof McpError && err.code === ErrorCode.RequestTimeout) this.noteUsage(extra, { timedOut: true });
      // This user's token is gone (disconnected, refresh refused): their error, not the upstream's failure.
      if (err instanceof NeedsAuthorizationError) {
        await runtime.authorizationLost(link, err);
        throw err;
      }
      // The connection was removed or changed under this call: say that, not how its upstream went away.
      if (runtime.isClosed) throw new JsonRpcError(ErrorCode.ConnectionClosed, "This connection was removed or changed.");
      // The upstream forgot the session (it restarted), or its stream dropped before a request that
      // changes nothing was answered: once more, on a session made anew. A tool call whose stream
      // dropped is not sent twice (it may have run).
      const lost = err instanceof StreamLostError && request.method !== "tools/call";
      if (!retried && (isUpstreamSessionGone(err) || lost)) {
        await runtime.dropUpstream(link);
        return this.forwardTo(runtime, request, extra, true);
      }
      // Not an MCP error and not a cancellation: the upstream itself is unreachable.
      // (An OAuth connection's 401 or 403 after a fresh token, or a refresh that failed for now, is about this account, not the upstream.)
      const refusedAccount = Boolean(runtime.spec.oauth) && (isUpstreamRefusal(err) || err instanceof RefreshFailedError);
      if (!(err instanceof McpError) && !(err instanceof JsonRpcError) && !extra.signal.aborted && runtime.spec.transport !== "stdio" && !refusedAccount) {
        await runtime.transportFailed(link, err);
      }
      throw asRpcError(err, runtime.spec);
    } finally {
      link.inflight.delete(call);
    }
  }

  /**
   * Ends the session. Requests still being handled answer first (for at most `drainMs`): a response
   * stream closed unanswered would leave its client waiting for its own timeout.
   */
  async close(drainMs = 2000): Promise<void> {
    if (this.running.size > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([Promise.all(this.running), new Promise((resolve) => (timer = setTimeout(resolve, drainMs)))]);
      clearTimeout(timer);
      // The SDK writes a handler's answer a few microtasks after the handler settles.
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    this.direct.close();
    this.tasks.clear();
    await this.transport?.close().catch(() => {});
    await this.server?.close().catch(() => {});
  }
}
