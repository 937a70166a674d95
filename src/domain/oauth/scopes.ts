// The scopes Switchboard's authorization server grants: "mcp" (use the agent or connection the token is
// for) and "offline_access" (ChatGPT asks for it before it expects a refresh token; refresh tokens are
// issued either way). Pure functions.
import { OAuthError } from "../../errors.ts";

export const SCOPES_SUPPORTED = ["mcp", "offline_access"] as const;
export const DEFAULT_SCOPE = "mcp";

/**
 * The scope to grant for a requested one (RFC 6749 §3.3, space-separated): unknown scopes are
 * `invalid_scope`; "mcp" is always included (a token without it would reach nothing, and a request
 * without scope gets it), "offline_access" when asked for. Written in SCOPES_SUPPORTED order.
 */
export function grantedScope(requested: string | null | undefined): string {
  const asked = new Set((requested ?? "").split(" ").filter((s) => s !== ""));
  for (const s of asked) {
    if (!(SCOPES_SUPPORTED as readonly string[]).includes(s)) {
      throw new OAuthError("invalid_scope", `Unknown scope ${JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}…` : s)}; supported: ${SCOPES_SUPPORTED.join(", ")}.`);
    }
  }
  return SCOPES_SUPPORTED.filter((s) => s === DEFAULT_SCOPE || asked.has(s)).join(" ");
}

/** The scope of a refreshed access token: `requested` (parsed as above) may only narrow `granted` (RFC 6749 §6). */
export function narrowedScope(granted: string, requested: string | null): string {
  if (requested === null) return granted;
  const scope = grantedScope(requested);
  const have = new Set(granted.split(" "));
  const extra = scope.split(" ").filter((s) => !have.has(s));
  if (extra.length > 0) throw new OAuthError("invalid_scope", `The refresh may only narrow the granted scope "${granted}"; it asked for ${extra.join(", ")} too.`);
  return scope;
}
