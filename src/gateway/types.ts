// The contract between connections (domain, operations, admin) and the gateway that runs them.
import type { Prompt, Resource, ResourceTemplate, Tool } from "@modelcontextprotocol/sdk/types.js";
import type { ConnectionSpec } from "../domain/connections/spec.ts";

/**
 * "needs_authorization": an OAuth connection's discovery has no usable token (shared: not authorized yet,
 * or its authorization was revoked; per-user: no admin has connected an account). Not a failure: no backoff.
 */
export type ConnectionState = "disabled" | "idle" | "connecting" | "connected" | "error" | "needs_authorization";

export type ConnectionStatus = { state: ConnectionState; lastError: string | null; since: Date | null };

export type ConnectionTestResult = {
  ok: boolean;
  latency_ms: number;
  server: { name: string; version: string } | null;
  tools: number;
  resources: number;
  prompts: number;
  error?: string;
};

/** What a connection offers, as last discovered. */
export type Discovery = {
  tools: Tool[];
  resources: Resource[];
  resourceTemplates: ResourceTemplate[];
  prompts: Prompt[];
  refreshedAt: Date | null;
  error: string | null;
  /** What the last discovery dropped as malformed, and why (bounded; empty when all was well). */
  warnings: string[];
  /**
   * What the upstream keeps per client session (logging levels, resource subscriptions, tasks): exact
   * per client only when each client has an upstream session of its own (not a shared stdio process).
   */
  perSession: string[];
};

/** A connection never discovered. */
export const NO_DISCOVERY: Discovery = { tools: [], resources: [], resourceTemplates: [], prompts: [], refreshedAt: null, error: null, warnings: [], perSession: [] };

/** What the rest of Switchboard may ask of the gateway about connections. */
export interface GatewayControl {
  /**
   * Connects with a fresh client (not the pooled one), lists what it offers, disconnects. Bounded:
   * throws AppError BUSY at capacity. The server's stderr is in the error only `withStderr` (admins).
   */
  test(spec: ConnectionSpec, options?: { withStderr?: boolean }): Promise<ConnectionTestResult>;
  status(id: string): Promise<ConnectionStatus>;
  /** Open downstream MCP sessions (of /mcp/:connection and /mcp/agent/:agent): the dashboard's figure. */
  readonly sessionCount: number;
  /** The cached discovery (empty until first connected or refreshed). */
  discovery(id: string): Discovery;
  /** Asks the upstream again and updates the cache. */
  refresh(id: string): Promise<Discovery>;
  /** The last lines a stdio server wrote to stderr (bounded ring), oldest first. */
  stderr(id: string): string[];
  /** A connection was created or changed: drop clients, sessions and processes built on the old spec. */
  apply(spec: ConnectionSpec): Promise<void>;
  /** A connection was deleted: close its sessions and clients, kill its processes. */
  remove(id: string): Promise<void>;
  /** Every live replica's state of a connection (several replicas only; absent or null on one). */
  replicaStates?(id: string): Promise<ReplicaConnectionState[] | null>;
}

/** One replica's state of a connection: stdio processes run per replica, so each has its own. */
export type ReplicaConnectionState = { replica_id: string; url: string; state: string; error: string | null; updated_at: string };

/** What the rest of Switchboard may ask of the gateway about agents (served at /mcp/agent/:id). */
export interface AgentControl {
  /** An agent was created or changed: its open sessions see the new selection (and get list_changed). */
  agentApplied(agentId: string): Promise<void>;
  /** An agent was deleted: its sessions are closed. */
  agentRemoved(agentId: string): Promise<void>;
  /** Per connection of the agent, the last failure to reach it while listing (null when fine). */
  agentHealth(agentId: string): Promise<{ connectionId: string; error: string | null; at: Date | null }[]>;
  /**
   * Calls a tool of the agent by its exposed name, as `caller` (the admin's "Try it"), with the same
   * permission decision as the endpoint. Returns the MCP CallToolResult, or throws a JsonRpcError.
   */
  callAgentTool(agentId: string, caller: import("../domain/access/caller.ts").Caller, name: string, args: Record<string, unknown>): Promise<Record<string, unknown>>;
}

/** What the management operations may ask of the gateway: one object for its connections and its agents. */
export type ManagedGateway = GatewayControl & AgentControl;
