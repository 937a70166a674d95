// The SDK's per-request context as the gateway's downstream sessions receive it. In a module of its own
// so the session, its direct answers and its task ledger share it without importing each other.
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { ServerNotification, ServerRequest } from "@modelcontextprotocol/sdk/types.js";

/** What a downstream request handler gets with the request: its signal, and the way back to the client. */
export type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;
