// One downstream MCP session on /mcp/:connectionId: an SDK Server over its own Streamable HTTP
// transport that forwards every request to the connection's upstream, deciding access per call with
// the caller's permissions (the same functions as everywhere), and carrying progress, cancellation,
// subscriptions, logging and server-to-client requests back to this client.
import { randomUUID } from "node:crypto";
import { StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import {
  ErrorCode,
  LoggingLevelSchema,
  McpError,
  SetLevelRequestSchema,
  type ClientRequest,
  type JSONRPCRequest,
  type LoggingLevel,
  type Notification,
  type ServerCapabilities,
  type ServerNotification,
  type ServerRequest,
} from "@modelcontextprotocol/sdk/types.js";
import { mayCallConnectionTool, mayUseResourcesOf } from "../domain/permissions.ts";
import { JsonRpcError } from "../errors.ts";
import type { Caller } from "../operations/registry.ts";
import type { AttachedSession, ConnectionRuntime, InflightCall } from "./connection-runtime.ts";
import { AnyResult, plainMessage, type Upstream } from "./upstream.ts";

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

const LEVELS = LoggingLevelSchema.options;

/** The capabilities a downstream client sees: the upstream's, as far as the gateway can carry them. */
function mirrorCapabilities(upstream: ServerCapabilities): ServerCapabilities {
  const caps: ServerCapabilities = {};
  if (upstream.tools) caps.tools = { listChanged: true };
  if (upstream.resources) caps.resources = { listChanged: true, subscribe: upstream.resources.subscribe === true };
  if (upstream.prompts) caps.prompts = { listChanged: true };
  if (upstream.completions) caps.completions = {};
  // Logging is always offered: the gateway keeps each session's level itself.
  caps.logging = {};
  if (upstream.experimental) caps.experimental = upstream.experimental;
  return caps;
}

/** Turns whatever the upstream threw into a JSON-RPC error that keeps its code, message and data. */
export function asRpcError(err: unknown): Error {
  if (err instanceof JsonRpcError) return err;
  if (err instanceof McpError) return new JsonRpcError(err.code, plainMessage(err), err.data);
  const message = err instanceof Error ? err.message : String(err);
  return new JsonRpcError(ErrorCode.InternalError, `Upstream error: ${message}`);
}

/** True when an HTTP upstream forgot our session (it answers 404): reconnect and retry once. */
function isUpstreamSessionGone(err: unknown): boolean {
  return err instanceof StreamableHTTPError && err.code === 404;
}

export type SessionOptions = {
  onInitialized: (session: ProxySession) => void;
  onClosed: (session: ProxySession) => void;
  maxBodyBytes: number;
};

export class ProxySession implements AttachedSession {
  server!: Server;
  transport!: WebStandardStreamableHTTPServerTransport;
  readonly subscriptions = new Set<string>();
  id = "";
  lastActive = Date.now();
  private logLevel: LoggingLevel | null = null;

  constructor(
    private readonly runtime: ConnectionRuntime,
    /** The key that opened the session; only it may use the session. */
    readonly keyId: string,
    /** Updated on every HTTP request, so permissions are decided as they are now. */
    public caller: Caller,
  ) {}

  /** Connects (or reuses) the upstream, then builds the server that mirrors it. */
  async open(options: SessionOptions): Promise<void> {
    const { upstream } = await this.runtime.upstreamFor(this);
    this.build(upstream, options);
  }

  private build(upstream: Upstream, options: SessionOptions): void {
    this.server = new Server(upstream.serverInfo, { capabilities: mirrorCapabilities(upstream.capabilities), instructions: upstream.instructions });
    this.server.fallbackRequestHandler = (request, extra) => this.handle(request, extra) as never;
    this.server.setRequestHandler(SetLevelRequestSchema, async (request, extra) => {
      this.logLevel = request.params.level;
      // Pass the level on so the upstream sends what was asked for; each session still gets only its own level.
      const { upstream } = await this.runtime.upstreamFor(this);
      if (upstream.capabilities.logging) await this.forward({ jsonrpc: "2.0", id: 0, method: "logging/setLevel", params: { level: request.params.level } }, extra).catch(() => {});
      return {};
    });
    this.server.fallbackNotificationHandler = async (n) => {
      if (n.method === "notifications/roots/list_changed") {
        const { upstream: u } = await this.runtime.upstreamFor(this);
        await u.notify({ method: n.method }).catch(() => {});
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
    });
    this.transport.onclose = () => options.onClosed(this);
  }

  get connectionId(): string {
    return this.runtime.spec.id;
  }

  wantsLogs(level: string): boolean {
    return this.logLevel !== null && LEVELS.indexOf(level as LoggingLevel) >= LEVELS.indexOf(this.logLevel);
  }

  async notify(notification: Notification): Promise<void> {
    await this.server.notification(notification as ServerNotification);
  }

  ask(request: JSONRPCRequest, signal: AbortSignal): Promise<Record<string, unknown>> {
    return this.server.request({ method: request.method, params: request.params } as ServerRequest, AnyResult, { signal });
  }

  private get permissions() {
    return this.caller.permissions;
  }

  private mayUseResources(): boolean {
    return mayUseResourcesOf(this.permissions, this.connectionId);
  }

  /** Authorizes, then forwards; what is not permitted reads exactly like what does not exist. */
  private async handle(request: JSONRPCRequest, extra: Extra): Promise<Record<string, unknown>> {
    this.lastActive = Date.now();
    const params = (request.params ?? {}) as Record<string, unknown>;
    switch (request.method) {
      case "tools/list": {
        const result = await this.forward(request, extra);
        const tools = (result.tools as { name: string }[] | undefined) ?? [];
        return { ...result, tools: tools.filter((t) => mayCallConnectionTool(this.permissions, this.connectionId, t.name)) };
      }
      case "tools/call": {
        const name = String(params.name ?? "");
        if (!mayCallConnectionTool(this.permissions, this.connectionId, name)) throw new JsonRpcError(ErrorCode.InvalidParams, `Unknown tool: ${name}`);
        return this.forward(request, extra);
      }
      case "resources/list":
        return this.mayUseResources() ? this.forward(request, extra) : { resources: [] };
      case "resources/templates/list":
        return this.mayUseResources() ? this.forward(request, extra) : { resourceTemplates: [] };
      case "prompts/list":
        return this.mayUseResources() ? this.forward(request, extra) : { prompts: [] };
      case "resources/read":
        if (!this.mayUseResources()) throw new JsonRpcError(-32002, "Resource not found", { uri: params.uri });
        return this.forward(request, extra);
      case "prompts/get":
        if (!this.mayUseResources()) throw new JsonRpcError(ErrorCode.InvalidParams, `Unknown prompt: ${String(params.name ?? "")}`);
        return this.forward(request, extra);
      case "completion/complete":
        if (!this.mayUseResources()) return { completion: { values: [], hasMore: false } };
        return this.forward(request, extra);
      case "resources/subscribe":
      case "resources/unsubscribe":
        if (!this.mayUseResources()) throw new JsonRpcError(-32002, "Resource not found", { uri: params.uri });
        return this.subscription(request, extra, String(params.uri ?? ""));
      default:
        return this.forward(request, extra);
    }
  }

  /** Subscriptions are shared upstream: the first subscriber subscribes, the last one unsubscribes. */
  private async subscription(request: JSONRPCRequest, extra: Extra, uri: string): Promise<Record<string, unknown>> {
    const others = [...this.runtime.sessions].some((s) => s !== this && s.subscriptions.has(uri));
    const sharedUpstream = !(this.runtime.spec.transport === "stdio" && this.runtime.spec.isolation === "session");
    if (request.method === "resources/subscribe") {
      if (!others || !sharedUpstream) await this.forward(request, extra);
      this.subscriptions.add(uri);
    } else {
      this.subscriptions.delete(uri);
      if (!others || !sharedUpstream) await this.forward(request, extra);
    }
    return {};
  }

  /** Sends the request upstream as this session's, mapping progress and cancellation both ways. */
  async forward(request: JSONRPCRequest, extra: Extra, retried = false): Promise<Record<string, unknown>> {
    const { upstream, link } = await this.runtime.upstreamFor(this);
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
    link.inflight.add(call);
    try {
      const result = await upstream.request({ method: request.method, params } as ClientRequest, {
        signal: extra.signal,
        timeoutMs: this.runtime.spec.callTimeoutMs,
        onprogress:
          progressToken === undefined
            ? undefined
            : (progress) => void relay({ method: "notifications/progress", params: { ...progress, progressToken } }),
      });
      await Promise.all(sending);
      return result;
    } catch (err) {
      if (!retried && isUpstreamSessionGone(err)) {
        await this.runtime.dropUpstream(link);
        return this.forward(request, extra, true);
      }
      throw asRpcError(err);
    } finally {
      link.inflight.delete(call);
    }
  }

  async close(): Promise<void> {
    await this.transport.close().catch(() => {});
    await this.server.close().catch(() => {});
  }
}
