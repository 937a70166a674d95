// One downstream MCP session on /mcp/:connectionId: mirrors the connection's upstream and forwards
// every request to it, deciding access per call with the caller's permissions (the same functions as
// everywhere). What is not permitted reads exactly like what does not exist.
import { ErrorCode, type JSONRPCRequest, type ServerCapabilities } from "@modelcontextprotocol/sdk/types.js";
import { mayCallConnectionTool, mayUseResourcesOf } from "../domain/access/permissions.ts";
import { TOOL_NAME } from "../domain/agents/tools.ts";
import { JsonRpcError } from "../errors.ts";
import type { Caller } from "../operations/registry.ts";
import type { ConnectionRuntime } from "./connection-runtime.ts";
import { checkedListResult } from "./discovery.ts";
import { DownstreamSession, type Extra, type SessionOptions } from "./downstream-session.ts";

export { asRpcError } from "./downstream-session.ts";

/** The capabilities a downstream client sees: the upstream's, as far as the gateway can carry them. */
export function mirrorCapabilities(upstream: ServerCapabilities): ServerCapabilities {
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

export class ProxySession extends DownstreamSession {
  constructor(
    private readonly runtime: ConnectionRuntime,
    keyId: string,
    caller: Caller,
  ) {
    super(keyId, caller);
  }

  get targetId(): string {
    return this.runtime.spec.id;
  }

  get connectionId(): string {
    return this.runtime.spec.id;
  }

  runtimes(): ConnectionRuntime[] {
    return [this.runtime];
  }

  /** Connects (or reuses) the upstream, then builds the server that mirrors it. */
  async open(options: SessionOptions): Promise<void> {
    const { upstream } = await this.runtime.upstreamFor(this);
    this.build(upstream.serverInfo, mirrorCapabilities(upstream.capabilities), upstream.instructions, options);
  }

  private mayUseResources(): boolean {
    return mayUseResourcesOf(this.caller.permissions, this.connectionId);
  }

  /**
   * A list request forwarded, with only well-formed entries in its answer: the same rule as discovery,
   * so a client never sees an entry the admin could not show or a key could not grant.
   */
  private async forwardList(request: JSONRPCRequest, extra: Extra): Promise<Record<string, unknown>> {
    return checkedListResult(request.method, await this.forward(request, extra));
  }

  /** A tool a key may call here: a valid MCP tool name (so "*" is never a tool) that the key is granted. */
  private mayCall(name: string): boolean {
    return TOOL_NAME.test(name) && mayCallConnectionTool(this.caller.permissions, this.connectionId, name);
  }

  /** The request, forwarded to this session's connection. */
  forward(request: JSONRPCRequest, extra: Extra): Promise<Record<string, unknown>> {
    return this.forwardTo(this.runtime, request, extra);
  }

  protected async handle(request: JSONRPCRequest, extra: Extra): Promise<Record<string, unknown>> {
    const params = (request.params ?? {}) as Record<string, unknown>;
    switch (request.method) {
      case "tools/list": {
        const result = await this.forwardList(request, extra);
        const tools = result.tools as { name: string }[];
        return { ...result, tools: tools.filter((t) => this.mayCall(t.name)) };
      }
      case "tools/call": {
        const name = String(params.name ?? "");
        if (!this.mayCall(name)) throw new JsonRpcError(ErrorCode.InvalidParams, `Unknown tool: ${name}`);
        return this.forward(request, extra);
      }
      case "resources/list":
        return this.mayUseResources() ? this.forwardList(request, extra) : { resources: [] };
      case "resources/templates/list":
        return this.mayUseResources() ? this.forwardList(request, extra) : { resourceTemplates: [] };
      case "prompts/list":
        return this.mayUseResources() ? this.forwardList(request, extra) : { prompts: [] };
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
        return this.subscription(this.runtime, request, extra, String(params.uri ?? ""));
      default:
        return this.forward(request, extra);
    }
  }
}
