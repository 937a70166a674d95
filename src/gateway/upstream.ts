// One live MCP client to one upstream server (http, sse or stdio), with the hooks the gateway needs:
// every notification and every server-to-client request the upstream sends is handed to the owner.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import {
  McpError,
  type ClientNotification,
  type ClientRequest,
  type JSONRPCRequest,
  type Notification,
  type Progress,
  type ServerCapabilities,
  type ServerNotification,
  type ServerRequest,
} from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { VERSION } from "../version.ts";
import { LineRing, StdioProcessTransport } from "./stdio-process.ts";
import type { ConnectionSpec } from "./types.ts";

/** Results pass through untouched: the gateway forwards, it does not reinterpret. */
export const AnyResult = z.looseObject({});

export type UpstreamHooks = {
  onNotification: (notification: Notification) => void;
  onRequest: (request: JSONRPCRequest, extra: RequestHandlerExtra<ClientRequest, ClientNotification>) => Promise<Record<string, unknown>>;
  onClose: (error: Error | null) => void;
};

const MAX_STDIO_MESSAGE = 64 * 1024 * 1024;

function createTransport(spec: ConnectionSpec, stderr: LineRing): Transport {
  if (spec.transport === "stdio") {
    return new StdioProcessTransport({ command: spec.command!, args: spec.args, cwd: spec.cwd, env: spec.env, stderr, maxMessageBytes: MAX_STDIO_MESSAGE });
  }
  const headers: Record<string, string> = { ...spec.headers };
  if (spec.token) headers.Authorization = `Bearer ${spec.token}`;
  const url = new URL(spec.url!);
  if (spec.transport === "sse") {
    return new SSEClientTransport(url, {
      requestInit: { headers },
      // The SSE GET is made by EventSource-like code that takes headers separately.
      eventSourceInit: { fetch: (input, init) => fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), ...headers } }) },
    });
  }
  return new StreamableHTTPClientTransport(url, { requestInit: { headers } });
}

/** The message of an upstream error without the SDK's "MCP error <code>: " prefix (no doubled prefixes downstream). */
export function plainMessage(err: McpError): string {
  const prefix = `MCP error ${err.code}: `;
  return err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
}

/** A connected client to one upstream. */
export class Upstream {
  readonly client: Client;
  private readonly transport: Transport;
  private closedByUs = false;

  private constructor(spec: ConnectionSpec, stderr: LineRing, hooks: UpstreamHooks) {
    this.client = new Client(
      { name: "switchboard", version: VERSION },
      // Declared so upstreams may ask; each request is routed to the client that caused it, or refused.
      { capabilities: { sampling: {}, elicitation: { form: {}, url: {} }, roots: { listChanged: true } } },
    );
    this.client.fallbackNotificationHandler = async (n) => hooks.onNotification(n);
    this.client.fallbackRequestHandler = (request, extra) => hooks.onRequest(request, extra) as never;
    this.transport = createTransport(spec, stderr);
    this.client.onclose = () => hooks.onClose(this.closedByUs ? null : new Error("the upstream connection closed"));
    this.client.onerror = () => {}; // transport errors surface as failed requests or a close
  }

  /** Connects and initialises, or throws (after `timeoutMs`). */
  static async connect(spec: ConnectionSpec, stderr: LineRing, hooks: UpstreamHooks, timeoutMs: number): Promise<Upstream> {
    const upstream = new Upstream(spec, stderr, hooks);
    try {
      await upstream.client.connect(upstream.transport, { timeout: timeoutMs });
    } catch (err) {
      await upstream.close();
      throw err;
    }
    return upstream;
  }

  get capabilities(): ServerCapabilities {
    return this.client.getServerCapabilities() ?? {};
  }

  get serverInfo(): { name: string; version: string } {
    const v = this.client.getServerVersion();
    return { name: v?.name ?? "unknown", version: v?.version ?? "unknown" };
  }

  get instructions(): string | undefined {
    return this.client.getInstructions();
  }

  get pid(): number | null {
    return this.transport instanceof StdioProcessTransport ? this.transport.pid : null;
  }

  request(
    request: ClientRequest,
    options: { signal?: AbortSignal; timeoutMs: number; onprogress?: (progress: Progress) => void },
  ): Promise<Record<string, unknown>> {
    return this.client.request(request, AnyResult, {
      signal: options.signal,
      timeout: options.timeoutMs,
      resetTimeoutOnProgress: options.onprogress !== undefined,
      onprogress: options.onprogress,
    });
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
