// /mcp/self: the management operations as MCP tools over Streamable HTTP (stateless, JSON responses).
// Each request gets its own SDK Server bound to the caller, so tools/list and tools/call decide with
// the same permissions: a tool that is not listed cannot be called.
import { Hono } from "hono";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, type CallToolResult, type Tool } from "@modelcontextprotocol/sdk/types.js";
import { AppError, JsonRpcError } from "../../errors.ts";
import { OPERATIONS, OPERATIONS_BY_NAME } from "../../operations/index.ts";
import type { Caller } from "../../domain/access/caller.ts";
import { jsonSchemaOf, mayRun, runOperation, type Operation, type Origin } from "../../operations/registry.ts";
import { VERSION } from "../../version.ts";
import { requestOrigin } from "../client-ip.ts";
import type { AppDeps, AppEnv } from "../context.ts";
import { requireBearer } from "../middleware/bearer.ts";

/**
 * The server's instructions for one caller, named from the registry so they cannot go stale: exactly
 * the tools this credential may call, like tools/list (no hint of the others).
 */
export function selfInstructions(allowed: readonly Operation[]): string {
  const names = allowed.map((op) => op.name);
  return (
    "Management tools of this Switchboard MCP gateway. " +
    (names.length > 0 ? `This credential may call: ${names.join(", ")}.` : "This credential may call none of them.")
  );
}

/** Tool descriptors are computed once: the schemas do not change while the server runs. */
const TOOLS: ReadonlyMap<string, Tool> = new Map(
  OPERATIONS.map((op): [string, Tool] => [
    op.name,
    {
      name: op.name,
      title: op.title,
      description: op.description,
      inputSchema: jsonSchemaOf(op.input, "input") as Tool["inputSchema"],
      outputSchema: jsonSchemaOf(op.output, "output") as Tool["outputSchema"],
      annotations: { title: op.title, readOnlyHint: op.readOnly, destructiveHint: op.destructive ?? false, openWorldHint: false },
    },
  ]),
);

function toolError(message: string): CallToolResult {
  return { isError: true, content: [{ type: "text", text: message }] };
}

/** An MCP server for one caller and one request. */
export function createSelfServer(deps: AppDeps, caller: Caller, origin: Origin): Server {
  // What this caller may run, decided once: the instructions and tools/list name the same set.
  const allowed = OPERATIONS.filter((op) => mayRun(caller, op));
  const server = new Server({ name: "switchboard-self", title: "Switchboard management", version: VERSION }, { capabilities: { tools: {} }, instructions: selfInstructions(allowed) });
  server.setRequestHandler(ListToolsRequestSchema, () => ({
    tools: allowed.map((op) => TOOLS.get(op.name)!),
  }));
  server.setRequestHandler(CallToolRequestSchema, async (request): Promise<CallToolResult> => {
    const op: Operation | undefined = OPERATIONS_BY_NAME.get(request.params.name);
    const ctx = { deps, caller, now: new Date(), origin };
    // Not permitted reads exactly like not existing: no hint of what else is there. It is still run
    // through the registry, which refuses it there and so records the attempt (a usage row, and an
    // audit row for a change) as the same refusal through REST is.
    if (op && !mayRun(caller, op)) await runOperation(op, ctx, request.params.arguments ?? {}).catch(() => undefined);
    if (!op || !mayRun(caller, op)) throw new JsonRpcError(ErrorCode.InvalidParams, `Unknown tool: ${request.params.name}`);
    try {
      const output = await runOperation(op, ctx, request.params.arguments ?? {});
      return { content: [{ type: "text", text: JSON.stringify(output, null, 2) }], structuredContent: output };
    } catch (err) {
      // BUSY is a refusal like the others (capacity, not a fault): the caller is told to retry.
      if (err instanceof AppError && (err.status < 500 || err.code === "BUSY")) return toolError(`${err.code}: ${err.message}`);
      deps.logger.error("management tool failed", { tool: op.name, error: err });
      return toolError("INTERNAL: Something went wrong on our side.");
    }
  });
  return server;
}

/** Answers one MCP request for an authenticated caller (stateless: a server and transport per request). */
export async function serveSelf(deps: AppDeps, caller: Caller, request: Request, origin: Origin): Promise<Response> {
  // A key with no management permission at all has no business here.
  if (!OPERATIONS.some((op) => mayRun(caller, op))) throw new AppError("FORBIDDEN", "This key has no management permissions.");
  const server = createSelfServer(deps, caller, origin);
  const transport = new WebStandardStreamableHTTPServerTransport({
    sessionIdGenerator: undefined,
    enableJsonResponse: true,
    maxRequestBodySize: deps.config.server.max_body_size,
  });
  await server.connect(transport);
  try {
    return await transport.handleRequest(request);
  } finally {
    void server.close();
  }
}

export function mcpSelfRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use("*", requireBearer(deps));
  // Stateless: no standalone stream to GET and no session to DELETE, so 405 as the MCP spec asks. A 200
  // stream that ends at once makes SDK clients reconnect it every second for as long as they stay connected.
  app.on(["GET", "DELETE"], "/", (c) => {
    c.header("Allow", "POST");
    throw new AppError("METHOD_NOT_ALLOWED", "This endpoint is stateless: send JSON-RPC requests with POST.");
  });
  app.all("/", (c) => serveSelf(deps, c.get("caller"), c.req.raw, requestOrigin(c, deps.config.server.trusted_proxies, "mcp")));
  return app;
}
