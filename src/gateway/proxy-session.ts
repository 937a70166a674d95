// One downstream MCP session on /mcp/:connectionId: mirrors the connection's upstream and forwards
// every request to it, deciding access per call with the caller's permissions (the same functions as
// everywhere). What is not permitted reads exactly like what does not exist.
import { ErrorCode, type JSONRPCRequest, type ServerCapabilities } from "@modelcontextprotocol/sdk/types.js";
import { mayCallConnectionTool, mayUseResourcesOf } from "../domain/access/permissions.ts";
import { TOOL_NAME } from "../domain/agents/tools.ts";
import { JsonRpcError } from "../errors.ts";
import type { Caller } from "../domain/access/caller.ts";
import type { ConnectionRuntime } from "./connection-runtime.ts";
import { accountListKey, accountScoped } from "./account-lists.ts";
import { checkedListResult } from "./discovery.ts";
import { DownstreamSession, type SessionOptions } from "./downstream-session.ts";
import type { Extra } from "./request-extra.ts";
import { methodCheck, methodNotFound, resourcesRefused } from "./methods.ts";
import { NeedsAuthorizationError } from "../domain/connections/oauth-types.ts";
import { VERSION } from "../version.ts";

export { asRpcError } from "./downstream-session.ts";

/** The capabilities a downstream client sees: the upstream's, as far as the gateway can carry them. */
export function mirrorCapabilities(upstream: ServerCapabilities): ServerCapabilities {
  const caps: ServerCapabilities = {};
  if (upstream.tools) caps.tools = { listChanged: true };
  if (upstream.resources) caps.resources = { listChanged: true, subscribe: upstream.resources.subscribe === true };
  if (upstream.prompts) caps.prompts = { listChanged: true };
  if (upstream.completions) caps.completions = {};
  const tasks = mirrorTasks(upstream.tasks);
  if (tasks) caps.tasks = tasks;
  // Logging is always offered: the gateway keeps each session's level itself.
  caps.logging = {};
  if (upstream.experimental) caps.experimental = upstream.experimental;
  return caps;
}

/**
 * The part of an upstream's `tasks` capability the gateway carries: listing (filtered to the
 * session's own tasks), cancelling, and task-augmented tools/call, the one request it records tasks
 * from. Anything else an upstream declares there is left out rather than promised unchecked.
 */
function mirrorTasks(upstream: ServerCapabilities["tasks"]): ServerCapabilities["tasks"] | undefined {
  if (!upstream) return undefined;
  const tasks: NonNullable<ServerCapabilities["tasks"]> = {};
  if (upstream.list) tasks.list = {};
  if (upstream.cancel) tasks.cancel = {};
  if (upstream.requests?.tools?.call) tasks.requests = { tools: { call: {} } };
  return tasks;
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

  /**
   * Connects (or reuses) the upstream, then builds the server that mirrors it. A caller without a token
   * for an OAuth connection still opens a session (so its client can show the tools and each call can
   * say where to connect): it mirrors discovery's upstream, or, when that has none either, offers what
   * any MCP server offers.
   */
  async open(options: SessionOptions): Promise<void> {
    const opened = await this.runtime.upstreamFor(this).catch(async (err: unknown) => {
      if (!(err instanceof NeedsAuthorizationError)) throw err;
      return this.runtime.upstreamFor(null).catch((again: unknown) => {
        if (again instanceof NeedsAuthorizationError) return null;
        throw again;
      });
    });
    if (opened) return this.build(opened.upstream.serverInfo, mirrorCapabilities(opened.upstream.capabilities), opened.upstream.instructions, options);
    const caps = mirrorCapabilities({ tools: {}, resources: {}, prompts: {} });
    this.build({ name: this.runtime.spec.slug, version: VERSION }, caps, undefined, options);
  }

  /**
   * A list whose upstream needs an authorization the caller lacks: what discovery found (checked the same
   * way), so the client shows what it would get once connected; the error when nothing was ever found.
   * A per-user connection's resources, templates and prompts are the account's that listed them
   * (account-lists.ts): a caller without a link of their own gets none of discovery's, an empty list.
   */
  private async listOrDiscovered(request: JSONRPCRequest, extra: Extra): Promise<Record<string, unknown>> {
    try {
      return await this.forwardList(request, extra);
    } catch (err) {
      if (!(err instanceof NeedsAuthorizationError)) throw err;
      const runtime = this.runtime;
      const own = accountListKey(request.method);
      if (own !== null && accountScoped(runtime.spec)) return { [own]: [] };
      const discovery = runtime.discovery.refreshedAt === null ? await (runtime.pendingRefresh() ?? runtime.refresh()) : runtime.discovery;
      if (discovery.refreshedAt === null) throw err;
      // The list's key in the answer is its key in discovery: tools, or one of the account lists.
      const key = own ?? "tools";
      return { [key]: discovery[key] };
    }
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
    // Deny what is not known: a method outside the table is -32601 and never reaches the upstream.
    const check = methodCheck(request.method);
    if (check === null) {
      this.refused(extra, "Method not served");
      throw methodNotFound();
    }
    if (check === "task") return this.tasks.serve(request, extra, (runtime, r, e) => this.forwardTo(runtime, r, e));
    if (check === "resources" && !this.mayUseResources()) {
      this.refused(extra, "No permission for resources, prompts and completions");
      return resourcesRefused(request.method, params);
    }
    switch (request.method) {
      case "tools/list": {
        const result = await this.listOrDiscovered(request, extra);
        const tools = result.tools as { name: string }[];
        return { ...result, tools: tools.filter((t) => this.mayCall(t.name)) };
      }
      case "tools/call": {
        const name = String(params.name ?? "");
        if (!this.mayCall(name)) {
          this.refused(extra, "Unknown tool, or no permission to call it");
          throw new JsonRpcError(ErrorCode.InvalidParams, `Unknown tool: ${name}`);
        }
        return this.tasks.created(request, await this.calling(extra, this.forward(request, extra)), this.runtime);
      }
      case "resources/list":
      case "resources/templates/list":
      case "prompts/list":
        return this.listOrDiscovered(request, extra);
      case "resources/read":
      case "prompts/get":
      case "completion/complete":
        return this.forward(request, extra);
      case "resources/subscribe":
      case "resources/unsubscribe":
        return this.subscription(this.runtime, request, extra, String(params.uri ?? ""));
      default:
        // A served method with no branch here (initialize, ping, logging/setLevel are the SDK Server's).
        this.refused(extra, "Method not served");
        throw methodNotFound();
    }
  }
}
