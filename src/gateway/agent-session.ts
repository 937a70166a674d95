// One downstream MCP session on /mcp/agent/:agentId: a virtual server over the agent's connections.
// Lists come from the discovery caches (no upstream is asked on every list, and a failing one only
// leaves its part out), but a per-user connection's resources and prompts from the caller's own session;
// calls are routed by exposed name back to (connection, upstream name), by URI for resources and by
// exposed name for prompts; every decision uses the permission functions.
import { ErrorCode, type Implementation, type JSONRPCRequest, type Notification, type Prompt, type Resource, type ResourceTemplate, type Tool } from "@modelcontextprotocol/sdk/types.js";
import { exposeTools, matchesUriPattern, PREFIX_SEPARATOR, promptSelected, TOOL_NAME, type AgentConnectionSelection, type AgentSpec, type ExposedTool } from "../domain/agents/tools.ts";
import { mayCallAgentTool, mayUseResourcesOf } from "../domain/access/permissions.ts";
import { JsonRpcError } from "../errors.ts";
import type { Caller } from "../domain/access/caller.ts";
import { VERSION } from "../version.ts";
import type { ConnectionRuntime } from "./connection-runtime.ts";
import { DownstreamSession, type SessionOptions } from "./downstream-session.ts";
import type { Extra } from "./request-extra.ts";
import { methodNotFound, servedMethod } from "./methods.ts";
import { everyPage } from "./discovery.ts";
import { listFor, type AccountLists } from "./account-lists.ts";

/** How long a list waits for a connection never discovered before leaving it out. */
const FIRST_DISCOVERY_WAIT_MS = 3000;
const PAGE_SIZE = 500;
const RESOURCES_REFUSED = "No permission for resources, prompts and completions";

export type AgentRuntimes = {
  /** The live runtime of a connection (null when it no longer exists). */
  runtime: (connectionId: string) => ConnectionRuntime | null;
  /** Notes a connection that could not be listed, for the agent's page. */
  reportFailure: (agentId: string, connectionId: string, error: string | null) => void;
};

type ExposedPrompt = { exposed: string; selection: AgentConnectionSelection; runtime: ConnectionRuntime; prompt: Prompt };

function page<T>(items: T[], cursor: unknown): { items: T[]; nextCursor?: string } {
  const start = typeof cursor === "string" ? Number.parseInt(cursor, 10) : 0;
  if (!Number.isInteger(start) || start < 0 || start > items.length) throw new JsonRpcError(ErrorCode.InvalidParams, "Invalid cursor");
  const end = start + PAGE_SIZE;
  return end < items.length ? { items: items.slice(start, end), nextCursor: String(end) } : { items: items.slice(start) };
}

/**
 * What an agent answers for a tool it does not expose to this caller: what the SDK's McpServer (and
 * so server-everything, the conformance fixture and most upstreams) answers for a tool it does not
 * have, a tool error result carrying the -32602 text, so a client sees the same through an agent as
 * through the connection. The spec's own example is a JSON-RPC error; the SDK, and with it the
 * conformance suite's verdicts, answer with a result (README: "Unknown tools").
 */
export function unknownToolResult(name: string): Record<string, unknown> {
  return { content: [{ type: "text", text: `MCP error ${ErrorCode.InvalidParams}: Tool ${name} not found` }], isError: true };
}

/** Likewise for a prompt: the SDK's McpServer error, word for word as it goes on the wire. */
export function unknownPromptError(name: string): JsonRpcError {
  return new JsonRpcError(ErrorCode.InvalidParams, `MCP error ${ErrorCode.InvalidParams}: Prompt ${name} not found`);
}

export class AgentSession extends DownstreamSession {
  constructor(
    public spec: AgentSpec,
    private readonly live: AgentRuntimes,
    keyId: string,
    caller: Caller,
  ) {
    super(keyId, caller);
  }

  get targetId(): string {
    return this.spec.id;
  }

  /** The runtimes of the agent's connections, with this session attached (for notifications). */
  runtimes(): ConnectionRuntime[] {
    return this.spec.connections.map((s) => this.runtimeOf(s.connectionId)).filter((r): r is ConnectionRuntime => r !== null);
  }

  private runtimeOf(connectionId: string): ConnectionRuntime | null {
    const runtime = this.live.runtime(connectionId);
    if (runtime && !runtime.sessions.has(this)) runtime.attach(this);
    return runtime;
  }

  async open(options: SessionOptions): Promise<void> {
    // No upstream is needed to initialise: each is reached when first used, so a down one does not block the agent.
    const capabilities = { tools: { listChanged: true }, resources: { listChanged: true, subscribe: true }, prompts: { listChanged: true }, completions: {}, logging: {} };
    this.build(this.serverInfo(), capabilities, this.spec.instructions || undefined, options);
  }

  /** The agent's own serverInfo: it is a server of its own, not any one of its upstreams. */
  serverInfo(): Implementation {
    const info: Implementation = { name: this.spec.slug, version: VERSION };
    if (this.spec.title) info.title = this.spec.title;
    if (this.spec.description) info.description = this.spec.description;
    return info;
  }

  /** Waits for discovery in progress (after list_changed) and, briefly, for connections never discovered. */
  private async settle(): Promise<ConnectionRuntime[]> {
    const runtimes = this.runtimes();
    await Promise.all(
      runtimes.map(async (runtime) => {
        if (!runtime.spec.enabled) return;
        const pending = runtime.discovery.refreshedAt === null ? runtime.refresh() : runtime.pendingRefresh();
        if (pending) await Promise.race([pending, Bun.sleep(FIRST_DISCOVERY_WAIT_MS)]);
        this.live.reportFailure(this.spec.id, runtime.spec.id, runtime.discovery.refreshedAt === null ? (runtime.discovery.error ?? "not reachable yet") : runtime.discovery.error);
      }),
    );
    return runtimes;
  }

  /**
   * The agent's tools now, from the discovery caches: computed again only when the agent or a
   * connection's discovery changed (each refresh makes a new discovery object), so a call costs a
   * map lookup, not a pass over every tool of every connection.
   */
  private exposed(): { list: { exposed: ExposedTool; tool: Tool }[]; byName: Map<string, ExposedTool> } {
    const runtimes = this.runtimes();
    const key = [this.spec, ...runtimes.flatMap((r) => [r.spec, r.discovery])];
    if (this.memo && this.memo.key.length === key.length && this.memo.key.every((k, i) => k === key[i])) return this.memo.value;
    const byId = new Map(runtimes.map((r) => [r.spec.id, r]));
    // An exposed name outside MCP's rule (a prefixed name past 128 characters) is neither listed nor callable.
    const tools = exposeTools(this.spec, {
      slugOf: (id) => byId.get(id)?.spec.slug ?? null,
      toolsOf: (id) => byId.get(id)?.discovery.tools ?? [],
    }).tools.filter((t) => !t.missing && TOOL_NAME.test(t.exposed));
    const upstreamByName = new Map(runtimes.map((r) => [r.spec.id, new Map(r.discovery.tools.map((t) => [t.name, t]))]));
    const list = tools.map((exposed) => {
      const upstream = upstreamByName.get(exposed.connectionId)!.get(exposed.upstream)!;
      return { exposed, tool: { ...upstream, name: exposed.exposed, description: exposed.description ?? upstream.description } };
    });
    const value = { list, byName: new Map(tools.map((t) => [t.exposed, t])) };
    this.memo = { key, value };
    return value;
  }

  private memo: { key: unknown[]; value: ReturnType<AgentSession["exposed"]> } | null = null;

  /** The agent's tools now, from the discovery caches. */
  exposedTools(): ExposedTool[] {
    return this.exposed().list.map((e) => e.exposed);
  }

  private mayCall(tool: ExposedTool): boolean {
    return mayCallAgentTool(this.caller.permissions, this.spec.id, tool.exposed, tool.connectionId, tool.upstream);
  }

  private mayUseResources(): boolean {
    return mayUseResourcesOf(this.caller.permissions, this.spec.id);
  }

  private selectionOf(connectionId: string): AgentConnectionSelection | undefined {
    return this.spec.connections.find((s) => s.connectionId === connectionId);
  }

  /** Per connection, the upstream names this client's own upstream session offers (see offeredBy). */
  private readonly offered = new Map<string, Promise<Set<string> | null>>();

  /**
   * The tools this client's own upstream session of `runtime` lists (every page): what the upstream
   * offers a client with this client's capabilities (a server may list a sampling tool only to clients
   * that can sample). Null when the connection shares one upstream session among its clients, or could
   * not be asked: then the discovery cache is the list. Asked again after the client's own
   * list_changed.
   */
  private offeredBy(runtime: ConnectionRuntime, extra: Extra): Promise<Set<string> | null> {
    if (runtime.sharesUpstream) return Promise.resolve(null);
    const id = runtime.spec.id;
    const known = this.offered.get(id);
    if (known) return known;
    const asked = (async () => {
      const tools = await everyPage("tools/list", "tools", (params) => this.forwardTo(runtime, { jsonrpc: "2.0", id: 0, method: "tools/list", params }, extra));
      const names = new Set<string>();
      for (const t of tools) if (t !== null && typeof t === "object" && typeof (t as { name?: unknown }).name === "string") names.add((t as { name: string }).name);
      return names;
    })().catch(() => {
      this.offered.delete(id);
      return null;
    });
    this.offered.set(id, asked);
    return asked;
  }

  /** Whether this client's own upstream session offers `tool` (true when that cannot be known). */
  private async offers(tool: ExposedTool, extra: Extra): Promise<boolean> {
    const runtime = this.runtimeOf(tool.connectionId);
    if (!runtime) return false;
    const names = await this.offeredBy(runtime, extra);
    return names === null || names.has(tool.upstream);
  }

  override async notify(notification: Notification): Promise<void> {
    if (notification.method === "notifications/tools/list_changed") this.offered.clear();
    await super.notify(notification);
  }

  private async listTools(cursor: unknown, extra: Extra): Promise<Record<string, unknown>> {
    await this.settle();
    const granted = this.exposed().list.filter((e) => this.mayCall(e.exposed));
    const offered = await Promise.all(granted.map((e) => this.offers(e.exposed, extra)));
    const tools: Tool[] = granted.filter((_, i) => offered[i]).map((e) => e.tool);
    const { items, nextCursor } = page(tools, cursor);
    return nextCursor ? { tools: items, nextCursor } : { tools: items };
  }

  /** Calls a tool by its exposed name (the endpoint's tools/call, and the admin's "Try it"). */
  async callTool(name: string, args: unknown, extra: Extra, meta?: unknown, task?: unknown): Promise<Record<string, unknown>> {
    let tool = this.exposed().byName.get(name);
    if (!tool) tool = (await this.settle(), this.exposed().byName.get(name));
    // A tool the key may not call reads exactly like one the agent does not have.
    if (!tool || !this.mayCall(tool) || !(await this.offers(tool, extra))) {
      this.refused(extra, "Unknown tool, or no permission to call it");
      return unknownToolResult(name);
    }
    const runtime = this.runtimeOf(tool.connectionId)!;
    const params: Record<string, unknown> = { name: tool.upstream, arguments: args ?? {} };
    if (meta !== undefined) params._meta = meta;
    // A task-augmented call: the task is the upstream's, owned by this session, on this connection.
    if (task !== undefined) params.task = task;
    const request: JSONRPCRequest = { jsonrpc: "2.0", id: 0, method: "tools/call", params };
    // Each tool uses its own connection's mode, with this session's user: a missing link is a tool error.
    return this.tasks.created(request, await this.calling(extra, this.forwardTo(runtime, request, extra)), runtime);
  }

  private resourceRuntimes(): { runtime: ConnectionRuntime; selection: AgentConnectionSelection }[] {
    return this.runtimes()
      .map((runtime) => ({ runtime, selection: this.selectionOf(runtime.spec.id)! }))
      .filter(({ selection }) => selection && selection.resources !== "none");
  }

  /**
   * A connection's `key` list as this caller sees it: discovery's, or a per-user connection's as the
   * caller's own upstream session lists it (none without a link): never what an admin's account listed.
   */
  private listOf<K extends keyof AccountLists>(runtime: ConnectionRuntime, key: K, extra: Extra): Promise<AccountLists[K]> {
    return listFor(runtime, key, (request) => this.forwardTo(runtime, request, extra));
  }

  /** The connection serving a URI: the one that lists it, else the first whose selection admits it. */
  private runtimeForUri(uri: string): ConnectionRuntime {
    const candidates = this.resourceRuntimes().filter(({ selection }) => matchesUriPattern(uri, selection.resources));
    const listed = candidates.find(({ runtime }) => runtime.discovery.resources.some((r) => r.uri === uri));
    const chosen = listed ?? candidates[0];
    if (!chosen) throw new JsonRpcError(-32002, "Resource not found", { uri });
    return chosen.runtime;
  }

  private async prompts(extra: Extra): Promise<ExposedPrompt[]> {
    await this.settle();
    const seen = new Set<string>();
    const out: ExposedPrompt[] = [];
    const runtimes = this.runtimes().filter((runtime) => this.selectionOf(runtime.spec.id));
    const lists = await Promise.all(runtimes.map((runtime) => this.listOf(runtime, "prompts", extra)));
    for (const [i, runtime] of runtimes.entries()) {
      const selection = this.selectionOf(runtime.spec.id)!;
      for (const prompt of lists[i]!) {
        if (!promptSelected(prompt.name, selection.prompts)) continue;
        const exposed = this.spec.prefixTools ? `${runtime.spec.slug}${PREFIX_SEPARATOR}${prompt.name}` : prompt.name;
        if (seen.has(exposed)) continue; // the first connection keeps a shared name
        seen.add(exposed);
        out.push({ exposed, selection, runtime, prompt });
      }
    }
    return out;
  }

  /** `answer`, for a caller refused resources (what an agent without them would answer), noted as refused. */
  private refusedWith(extra: Extra, answer: Record<string, unknown>): Record<string, unknown> {
    this.refused(extra, RESOURCES_REFUSED);
    return answer;
  }

  protected async handle(request: JSONRPCRequest, extra: Extra): Promise<Record<string, unknown>> {
    const params = (request.params ?? {}) as Record<string, unknown>;
    switch (request.method) {
      case "tools/list":
        return this.listTools(params.cursor, extra);
      case "tools/call":
        // A request without a tool name fails CallToolRequest's schema: a protocol error, as the SDK's Server gives.
        if (typeof params.name !== "string") throw new JsonRpcError(ErrorCode.InvalidParams, "Invalid tools/call request: params.name must be a string");
        return this.callTool(params.name, params.arguments, extra, params._meta, params.task);
      case "resources/list": {
        if (!this.mayUseResources()) return this.refusedWith(extra, { resources: [] });
        await this.settle();
        const chosen = this.resourceRuntimes();
        const lists = await Promise.all(chosen.map(({ runtime }) => this.listOf(runtime, "resources", extra)));
        const resources: Resource[] = chosen.flatMap(({ selection }, i) => lists[i]!.filter((r) => matchesUriPattern(r.uri, selection.resources)));
        const { items, nextCursor } = page(resources, params.cursor);
        return nextCursor ? { resources: items, nextCursor } : { resources: items };
      }
      case "resources/templates/list": {
        if (!this.mayUseResources()) return this.refusedWith(extra, { resourceTemplates: [] });
        await this.settle();
        const chosen = this.resourceRuntimes();
        const lists = await Promise.all(chosen.map(({ runtime }) => this.listOf(runtime, "resourceTemplates", extra)));
        const templates: ResourceTemplate[] = chosen.flatMap(({ selection }, i) =>
          selection.resources === "all" ? lists[i]! : lists[i]!.filter((t) => matchesUriPattern(t.uriTemplate, selection.resources)),
        );
        const { items, nextCursor } = page(templates, params.cursor);
        return nextCursor ? { resourceTemplates: items, nextCursor } : { resourceTemplates: items };
      }
      case "resources/read":
      case "resources/subscribe":
      case "resources/unsubscribe": {
        const uri = String(params.uri ?? "");
        if (!this.mayUseResources()) {
          this.refused(extra, RESOURCES_REFUSED);
          throw new JsonRpcError(-32002, "Resource not found", { uri });
        }
        const runtime = this.runtimeForUri(uri);
        return request.method === "resources/read" ? this.forwardTo(runtime, request, extra) : this.subscription(runtime, request, extra, uri);
      }
      case "prompts/list": {
        if (!this.mayUseResources()) return this.refusedWith(extra, { prompts: [] });
        const prompts = (await this.prompts(extra)).map((p) => ({ ...p.prompt, name: p.exposed }));
        const { items, nextCursor } = page(prompts, params.cursor);
        return nextCursor ? { prompts: items, nextCursor } : { prompts: items };
      }
      case "prompts/get": {
        const name = String(params.name ?? "");
        const found = this.mayUseResources() ? (await this.prompts(extra)).find((p) => p.exposed === name) : undefined;
        if (!found) {
          this.refused(extra, "Unknown prompt, or no permission to get it");
          throw unknownPromptError(name);
        }
        return this.forwardTo(found.runtime, { ...request, params: { ...params, name: found.prompt.name } }, extra);
      }
      case "completion/complete": {
        if (!this.mayUseResources()) return this.refusedWith(extra, { completion: { values: [], hasMore: false } });
        const ref = (params.ref ?? {}) as { type?: string; name?: string; uri?: string };
        if (ref.type === "ref/prompt") {
          const found = (await this.prompts(extra)).find((p) => p.exposed === ref.name);
          if (!found) {
            this.refused(extra, "Unknown prompt, or no permission to get it");
            throw unknownPromptError(String(ref.name ?? ""));
          }
          return this.forwardTo(found.runtime, { ...request, params: { ...params, ref: { ...ref, name: found.prompt.name } } }, extra);
        }
        return this.forwardTo(this.runtimeForUri(String(ref.uri ?? "")), request, extra);
      }
      case "tasks/get":
      case "tasks/result":
      case "tasks/list":
      case "tasks/cancel":
        // Only this session's tasks, each on the connection it was created on (session-tasks.ts).
        return this.tasks.serve(request, extra, (runtime, r, e) => this.forwardTo(runtime, r, e));
      default:
        // Deny what is not known (methods.ts): -32601, and no upstream ever sees it.
        this.refused(extra, "Method not served");
        servedMethod(request.method);
        throw methodNotFound();
    }
  }
}
