// What a connection is, as the domain stores it and the gateway runs it: its transports and the spec
// with secrets decrypted. It lives in the domain, the lowest layer that builds it, so the domain's
// rules and queries never import the gateway.
export const TRANSPORTS = ["http", "sse", "stdio"] as const;
export type UpstreamTransport = (typeof TRANSPORTS)[number];

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
