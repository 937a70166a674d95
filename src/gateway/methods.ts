// The client-to-server methods the gateway serves, each with the permission check it needs. A method
// not in this table is refused with -32601 and never reaches an upstream: an upstream may implement
// methods the gateway has never heard of (or an extension), and forwarding them unchecked would let
// any key that reaches the endpoint use them on a session shared with other keys.
import { ErrorCode } from "@modelcontextprotocol/sdk/types.js";
import { JsonRpcError } from "../errors.ts";

/**
 * What a request must pass before it is answered:
 * - "session": nothing beyond reaching the endpoint (the route already checked the key may);
 * - "tool": the tool grant of the named tool (tools/list filters with the same decision);
 * - "resources": "*" on the connection or agent (resources, prompts, completion);
 * - "task": the task belongs to this session (see session-tasks.ts).
 */
export type MethodCheck = "session" | "tool" | "resources" | "task";

/**
 * Every request of MCP 2025-11-25 and the earlier versions the SDK negotiates (2025-06-18,
 * 2025-03-26, 2024-11-05, 2024-10-07): the union of the SDK's ClientRequestSchema. initialize, ping
 * and logging/setLevel are answered by the SDK's Server itself; they are listed so the table is the
 * whole surface.
 */
export const SERVED_METHODS: Readonly<Record<string, MethodCheck>> = Object.freeze({
  initialize: "session",
  ping: "session",
  "logging/setLevel": "session",
  "tools/list": "tool",
  "tools/call": "tool",
  "resources/list": "resources",
  "resources/templates/list": "resources",
  "resources/read": "resources",
  "resources/subscribe": "resources",
  "resources/unsubscribe": "resources",
  "prompts/list": "resources",
  "prompts/get": "resources",
  "completion/complete": "resources",
  "tasks/get": "task",
  "tasks/result": "task",
  "tasks/list": "task",
  "tasks/cancel": "task",
});

/** The check a method needs, or null when the gateway does not serve it. */
export function methodCheck(method: string): MethodCheck | null {
  return Object.hasOwn(SERVED_METHODS, method) ? SERVED_METHODS[method]! : null;
}

/** The answer to a method the gateway does not serve (JSON-RPC's, as the SDK's Protocol words it). */
export function methodNotFound(): JsonRpcError {
  return new JsonRpcError(ErrorCode.MethodNotFound, "Method not found");
}

/** Throws -32601 unless the gateway serves `method`; returns the check it needs. */
export function servedMethod(method: string): MethodCheck {
  const check = methodCheck(method);
  if (check === null) throw methodNotFound();
  return check;
}

/**
 * The answer to a "resources" method for a caller without "*" on the connection or agent: what a
 * server without resources or prompts would answer (empty lists, "not found"), so what is not
 * permitted reads exactly like what does not exist.
 */
export function resourcesRefused(method: string, params: Record<string, unknown>): Record<string, unknown> {
  switch (method) {
    case "resources/list":
      return { resources: [] };
    case "resources/templates/list":
      return { resourceTemplates: [] };
    case "prompts/list":
      return { prompts: [] };
    case "completion/complete":
      return { completion: { values: [], hasMore: false } };
    case "prompts/get":
      throw new JsonRpcError(ErrorCode.InvalidParams, `Unknown prompt: ${String(params.name ?? "")}`);
    default:
      // resources/read, subscribe, unsubscribe: the spec's "Resource not found".
      throw new JsonRpcError(-32002, "Resource not found", { uri: params.uri });
  }
}
