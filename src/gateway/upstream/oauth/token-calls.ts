// What every call to an upstream's authorization server shares (its metadata as registered, client
// authentication as registered: one path for the exchange, the refresh and revocation), "connected as"
// (userinfo, else the id_token's claims) and revocation (RFC 7009).
import type { AddClientAuthentication } from "@modelcontextprotocol/sdk/client/auth.js";
import type { OAuthMetadata, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";
import type { UpstreamRegistration, UpstreamTokens } from "../../../domain/connections/oauth-types.ts";

/** RFC 6749 §2.3.1: the id and secret are form-encoded before they are joined for Basic. */
function formEncoded(value: string): string {
  return encodeURIComponent(value).replace(/%20/g, "+");
}

/** Authenticates a token-endpoint request the way the client was registered (never guessed per call). */
export function clientAuthentication(r: Pick<UpstreamRegistration, "clientId" | "clientSecret" | "tokenEndpointAuthMethod">): AddClientAuthentication {
  return (headers, params) => {
    if (r.tokenEndpointAuthMethod === "client_secret_basic" && r.clientSecret) {
      headers.set("Authorization", `Basic ${btoa(`${formEncoded(r.clientId)}:${formEncoded(r.clientSecret)}`)}`);
      return;
    }
    params.set("client_id", r.clientId);
    if (r.tokenEndpointAuthMethod === "client_secret_post" && r.clientSecret) params.set("client_secret", r.clientSecret);
  };
}

/** The metadata the SDK's token calls need, from a stored registration: nothing is discovered again after registering. */
export function tokenEndpointMetadata(r: Pick<UpstreamRegistration, "issuer" | "authorizationEndpoint" | "tokenEndpoint">): OAuthMetadata {
  return { issuer: r.issuer, authorization_endpoint: r.authorizationEndpoint, token_endpoint: r.tokenEndpoint, response_types_supported: ["code"] };
}

/**
 * The tokens of a token-endpoint answer issued at `issuedAt` (expires_in counts from then). On a refresh,
 * `previous` fills what the answer may leave out: the refresh token stays valid and the scope the same
 * when none is returned (RFC 6749 §5.1, §6).
 */
export function tokensFrom(issued: OAuthTokens, issuedAt: number, previous: Pick<UpstreamTokens, "refreshToken" | "scope"> = { refreshToken: null, scope: null }): UpstreamTokens {
  return {
    accessToken: issued.access_token,
    refreshToken: issued.refresh_token ?? previous.refreshToken,
    expiresAt: typeof issued.expires_in === "number" && Number.isFinite(issued.expires_in) ? new Date(issuedAt + issued.expires_in * 1000) : null,
    scope: issued.scope ?? previous.scope,
  };
}

/** A name as shown ("connected as …"): printable, short. */
function label(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const clean = value.replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069]/g, "").trim().slice(0, 200);
  return clean || null;
}

function nameIn(claims: Record<string, unknown> | null): string | null {
  if (!claims) return null;
  return label(claims.preferred_username) ?? label(claims.email) ?? label(claims.sub);
}

/**
 * Who the tokens belong to, as the server names them: its userinfo endpoint (OpenID Connect), else the
 * claims of the id_token it issued with them, else null. Only a label for people: the id_token came
 * straight from the token endpoint over the checked fetch, and nothing is decided on it, so its
 * signature is not checked.
 */
export async function accountOf(r: Pick<UpstreamRegistration, "userinfoEndpoint">, tokens: OAuthTokens, fetchFn: typeof fetch): Promise<string | null> {
  if (r.userinfoEndpoint) {
    try {
      const response = await fetchFn(r.userinfoEndpoint, { headers: { authorization: `Bearer ${tokens.access_token}`, accept: "application/json" } });
      if (response.ok) {
        const name = nameIn((await response.json()) as Record<string, unknown>);
        if (name) return name;
      }
    } catch {
      // No label is no failure: the tokens work all the same.
    }
  }
  if (tokens.id_token) {
    const payload = tokens.id_token.split(".")[1];
    try {
      return payload ? nameIn(JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  }
  return null;
}

/** Revokes one token at the server's revocation endpoint (RFC 7009); throws when it is refused or unreachable. */
export async function revoke(
  r: Pick<UpstreamRegistration, "revocationEndpoint" | "clientId" | "clientSecret" | "tokenEndpointAuthMethod">,
  token: string,
  hint: "refresh_token" | "access_token",
  fetchFn: typeof fetch,
): Promise<void> {
  if (!r.revocationEndpoint) return;
  const headers = new Headers({ "content-type": "application/x-www-form-urlencoded", accept: "application/json" });
  const params = new URLSearchParams({ token, token_type_hint: hint });
  await clientAuthentication(r)(headers, params, r.revocationEndpoint);
  const response = await fetchFn(r.revocationEndpoint, { method: "POST", headers, body: params });
  if (!response.ok) throw new Error(`the revocation endpoint answered ${response.status}`);
}
