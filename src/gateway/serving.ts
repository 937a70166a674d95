// The running gateway as one object: the control the operations use (connections and agents), the
// serving face the /mcp routes use, and its lifecycle. The server builds one and passes it everywhere.
import type { Caller } from "../domain/access/caller.ts";
import type { AgentSpec } from "../domain/agents/tools.ts";
import type { ConnectionRuntime } from "./connection-runtime.ts";
import type { ManagedGateway } from "./types.ts";

/**
 * What a request to /mcp named, for a record of it: a connection or an agent, or null id and slug when
 * none such exists (the caller's text is never kept: it would name what does not exist, and fill the
 * metrics' labels and the roll-ups with whatever a caller typed).
 */
export type McpTarget = { kind: "connection" | "agent"; id: string | null; slug: string | null };

/**
 * The client's address, asked only when a usage record needs it: reading a request's peer address costs
 * several microseconds on the hot path, so it is not read when nothing is recorded, and a session reads
 * it once (its first recorded request's address stands for the session).
 */
export type AddressOf = () => string | null;

/** A caller that came with an API key: the only kind the /mcp endpoints serve. */
export type KeyCaller = Caller & { key: { id: string } };

/** What the routes that proxy MCP ask of the gateway: find the target, then serve the request to it. */
export interface McpServing {
  /** The live runtime of a connection by id or slug (null when there is no such connection). */
  runtime(idOrSlug: string): Promise<ConnectionRuntime | null>;
  /** An agent's spec by id or slug (null when there is no such agent). */
  agent(idOrSlug: string): Promise<AgentSpec | null>;
  /** Serves one request of /mcp/:connection from the client at `address`; the route has already checked the key may reach it. */
  handle(request: Request, runtime: ConnectionRuntime, caller: KeyCaller, address: AddressOf): Promise<Response>;
  /** Serves one request of /mcp/agent/:agent from the client at `address`; the route has already checked the key may reach it. */
  handleAgent(request: Request, agent: AgentSpec, caller: KeyCaller, address: AddressOf): Promise<Response>;
  /** Whether this replica holds the downstream session (absent: a gateway that holds none, the tests' fake). */
  holds?(sessionId: string): boolean;
  /** Records a request the route refused (403: no grant on the target at all), outcome "refused". */
  refused(request: Request, target: McpTarget, caller: Caller, address: AddressOf, reason: string): Promise<void>;
}

/** The whole running gateway: what the operations, the /mcp routes and the server's start and stop need. */
export interface RunningGateway extends ManagedGateway, McpServing {
  /** Starts discovering these connections in the background (at start-up); resolves once each has its runtime. */
  discoverAll(ids: string[]): Promise<void>;
  /** Downstream MCP sessions open now (/metrics, the dashboard). */
  readonly sessionCount: number;
  /** Stdio server processes running or starting now, over every connection (/metrics). */
  readonly stdioProcessCount: number;
  /** Closes every session, client and process (at shutdown). */
  close(): Promise<void>;
}
