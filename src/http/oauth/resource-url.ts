// Which agent or connection an OAuth resource (RFC 8707) names: the exact URL of its MCP endpoint.
// The one parser shared by the protected resource metadata, the authorization and token endpoints.

/** An endpoint OAuth tokens can be issued for, named as in its URL (an id or a slug). */
export type OAuthTarget = { kind: "agent" | "connection"; ref: string };

// Ids (agent_<uuid>, conn_<uuid>) and slugs (a-z 0-9 -): nothing that could add a segment or a query.
const REF = /^[A-Za-z0-9_-]{1,100}$/;

/**
 * The agent or connection at `path` ("/mcp/agent/<ref>" or "/mcp/<ref>"), or null for anything else:
 * the management endpoint (/mcp/self), the REST API, the key-only endpoints and any other path are
 * never OAuth resources.
 */
export function oauthTargetOfPath(path: string): OAuthTarget | null {
  const agent = /^\/mcp\/agent\/([^/]+)$/.exec(path);
  if (agent) return REF.test(agent[1]!) ? { kind: "agent", ref: agent[1]! } : null;
  const connection = /^\/mcp\/([^/]+)$/.exec(path);
  if (!connection || !REF.test(connection[1]!) || connection[1] === "self" || connection[1] === "agent") return null;
  return { kind: "connection", ref: connection[1]! };
}

/**
 * The target a resource URL names: exactly `<public_url>/mcp/agent/<ref>` or `<public_url>/mcp/<ref>`,
 * with no trailing slash, query or fragment (clients compare these strings exactly, so must we).
 */
export function oauthTargetOf(publicUrl: string, resourceUrl: string): OAuthTarget | null {
  if (!resourceUrl.startsWith(`${publicUrl}/`)) return null;
  return oauthTargetOfPath(resourceUrl.slice(publicUrl.length));
}
