// A request the gateway sent, settled by the JSON-RPC response that answers it: the same way whether
// an upstream answered the gateway or a client answered an upstream's request on its behalf.
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";

export type Waiter = { resolve: (result: Record<string, unknown>) => void; reject: (err: Error) => void };

type Response = { result?: unknown; error?: { code?: unknown; message?: unknown; data?: unknown } };

/** Resolves with the result (an object), or rejects with an McpError carrying the error's code, message and data. */
export function settle(waiter: Waiter, response: Response, who: "upstream" | "client"): void {
  const { result, error } = response;
  if (error !== undefined) {
    waiter.reject(new McpError(typeof error.code === "number" ? error.code : ErrorCode.InternalError, String(error.message ?? "error"), error.data));
  } else if (typeof result === "object" && result !== null && !Array.isArray(result)) {
    waiter.resolve(result as Record<string, unknown>);
  } else {
    // A client's bad answer is its request's fault; an upstream's is an internal error to the client.
    waiter.reject(new McpError(who === "client" ? ErrorCode.InvalidRequest : ErrorCode.InternalError, `The ${who} answered with a result that is not an object`));
  }
}
