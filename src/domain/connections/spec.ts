// What a connection is, as the domain stores it and the gateway runs it: its transports and the spec
// with secrets decrypted. It lives in the domain, the lowest layer that builds it, so the domain's
// rules and queries never import the gateway.
export const TRANSPORTS = ["http", "sse", "stdio"] as const;
export type UpstreamTransport = (typeof TRANSPORTS)[number];

/**
 * How a connection authenticates to its upstream: "static" sends its own token and headers (if any);
 * "oauth" signs in at the upstream's authorization server (http and sse only) and sends the token got
 * there, refreshed as it expires.
 */
export const CONNECTION_AUTHS = ["static", "oauth"] as const;
export type ConnectionAuth = (typeof CONNECTION_AUTHS)[number];

/**
 * Whose OAuth token a call carries: "shared", one account an admin authorized for every caller (a bot
 * account, a team workspace); "per_user", the calling user's own (the key's owner, the OAuth grant's
 * user), never anyone else's.
 */
export const OAUTH_MODES = ["shared", "per_user"] as const;
export type OAuthMode = (typeof OAUTH_MODES)[number];

/** What the gateway needs to know of a connection's OAuth: the tokens themselves come from UpstreamCredentials. */
export type ConnectionOAuthSpec = { mode: OAuthMode };

/** Everything needed to reach one upstream MCP server, secrets decrypted. Never sent to a client whole. */
export type ConnectionSpec = {
  id: string;
  slug: string;
  title: string;
  description: string;
  transport: UpstreamTransport;
  enabled: boolean;
  /** http and sse */
  url: string | null;
  headers: Record<string, string>;
  /** Sent upstream as `Authorization: Bearer <token>` (http and sse). */
  token: string | null;
  /**
   * http and sse with auth = "oauth": every request carries the bearer token UpstreamCredentials gives
   * for its subject (the shared account, or the calling user); `token` is then null. Null: static auth.
   */
  oauth: ConnectionOAuthSpec | null;
  /** stdio */
  command: string | null;
  args: string[];
  cwd: string | null;
  env: Record<string, string>;
  /** stdio: one process for every session ("shared") or one per downstream session ("session"). */
  isolation: "shared" | "session";
  /** stdio with isolation "session": most processes at once for this connection. */
  maxProcesses: number;
  connectTimeoutMs: number;
  callTimeoutMs: number;
  /** gateway.max_response_size: most bytes of one upstream answer, stream event or stdio line (absent: 32 MiB). */
  maxResponseBytes?: number;
  /** Declared in switchboard.toml: shown read-only in the admin. */
  fromConfig: boolean;
  /** Usage records keep this connection's call arguments and results (capped, redacted); absent: false. */
  recordPayloads?: boolean;
};
