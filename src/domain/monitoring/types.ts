// The shapes of monitoring: one usage record per MCP request to a connection or agent and per
// management operation, and one audit record per change through any face. Shared by the recorder and
// queries (domain), the capture points (gateway, operations registry), the pages and the operations.

/** How a request ended. */
export type Outcome =
  /** Answered with a result (for tools/call: not isError). */
  | "ok"
  /** tools/call answered with isError: true (the tool ran and failed). */
  | "tool_error"
  /** A JSON-RPC error (upstream or gateway), or an operation's AppError other than a refusal. */
  | "error"
  /** Refused before it ran: no permission, unknown tool, method not served, over a capacity limit. */
  | "refused"
  /** No answer within the call timeout, or cancelled. */
  | "timeout";

export const OUTCOMES: readonly Outcome[] = ["ok", "tool_error", "error", "refused", "timeout"];

/** Which face a request came through. */
export type Face = "mcp" | "api" | "admin" | "cli" | "config";

export const FACES = ["mcp", "api", "admin", "cli", "config"] as const satisfies readonly Face[];

/** The named windows the usage and audit logs can be read over, back from now, in ms. */
export const RANGES = { "1h": 3_600_000, "24h": 86_400_000, "7d": 7 * 86_400_000, "30d": 30 * 86_400_000 } as const;
export type RangeName = keyof typeof RANGES;
export const RANGE_NAMES = Object.keys(RANGES) as [RangeName, ...RangeName[]];

/** Who made a request or a change. */
export type Actor = {
  /** The user (null for the config file at start). */
  userId: string | null;
  /** "api_key", "oauth" (credentialId is the grant), "session" (signed in to the admin), "host" (the CLI), "config". */
  credentialKind: "api_key" | "oauth" | "session" | "host" | "config";
  /** The key id or OAuth grant id; null for a session, the host and the config. */
  credentialId: string | null;
};

/** One MCP request to a connection or agent, or one management operation, as recorded. */
export type UsageRecord = {
  at: Date;
  durationMs: number;
  face: Face;
  /** What was called: a connection, an agent, or the management API ("self", id and slug null). */
  target: { kind: "connection" | "agent" | "self"; id: string | null; slug: string | null };
  /** The JSON-RPC method ("tools/call", "resources/read", "prompts/get", "tools/list", …) or "operation". */
  method: string;
  /** The tool, resource URI, prompt or operation name as the caller named it (exposed name); null for lists. */
  name: string | null;
  /** The same as the upstream names it (an agent's alias resolved); null when not forwarded. */
  upstreamName: string | null;
  /** The connection that served it (for an agent call, the one behind the tool). */
  connectionId: string | null;
  outcome: Outcome;
  /** JSON-RPC error code, or an AppError code for operations; null when ok. */
  errorCode: string | null;
  /** A short, redacted error message (at most 500 characters); null when ok. */
  errorMessage: string | null;
  actor: Actor;
  /** The downstream MCP session id, if any. */
  sessionId: string | null;
  /** clientInfo of the session's initialize, if any. */
  client: { name: string | null; version: string | null };
  /** The client's address (after trusted proxies). */
  address: string | null;
  requestBytes: number;
  responseBytes: number;
  /** Arguments and result, only when the connection or agent opted in: capped and redacted. */
  payload: { arguments?: unknown; result?: unknown; truncated?: boolean } | null;
};

/** Where capture points hand records: never blocks the request, never throws. */
export interface UsageSink {
  record(record: UsageRecord): void;
}

/** One change through any face, as recorded in the audit log. */
export type AuditRecord = {
  at: Date;
  face: Face;
  actor: Actor;
  /** The operation ("CONNECTION_UPDATE", …) or event ("CONFIG_APPLY", "OAUTH_APPROVE", "SIGN_IN"…). */
  action: string;
  /** The id of what changed (a connection, agent, key, user, grant, client), if one. */
  targetId: string | null;
  address: string | null;
  /** The change itself (the operation's input, the config's diff), with every secret value masked. */
  change: unknown;
  outcome: "ok" | "refused" | "error";
};

/** Where changes are written, at once (an audit row is part of what happened); never throws. */
export interface AuditSink {
  record(record: AuditRecord): void;
  /**
   * Resolves once every row recorded so far is written (or its failure logged); never rejects. A row
   * may be written a moment after record() returns (on PostgreSQL, or while another request's SQLite
   * transaction is open): a change awaits this before it answers, so nothing is answered unrecorded.
   */
  settled?(): Promise<void>;
}
