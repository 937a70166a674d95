// POST /oauth/token (RFC 6749 §3.2): the authorization_code grant (with the PKCE verifier) and the
// refresh_token grant (rotation with reuse detection, in the domain), for public clients.
import type { Context } from "hono";
import { Hono } from "hono";
import { exchangeCode, refreshTokens } from "../../domain/oauth/authorizations.ts";
import { findClient } from "../../domain/oauth/clients.ts";
import { isCodeVerifier } from "../../domain/oauth/pkce.ts";
import type { OAuthClient, TokenSet } from "../../domain/oauth/types.ts";
import { OAuthError } from "../../errors.ts";
import type { AppDeps, AppEnv } from "../context.ts";
import { readOAuthParams, requiredParam } from "./body.ts";
import { documentClientRefusal } from "./request.ts";

export function tokenRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const lifetimes = { accessTtlMs: deps.config.oauth.access_token_ttl, refreshTtlMs: deps.config.oauth.refresh_token_ttl };

  app.post("/", async (c) => {
    const params = await readOAuthParams(c);
    const client = await knownClient(deps, params.client_id);
    const grantType = requiredParam(params, "grant_type");
    let tokens: TokenSet;
    if (grantType === "authorization_code") {
      const codeVerifier = requiredParam(params, "code_verifier");
      if (!isCodeVerifier(codeVerifier)) throw new OAuthError("invalid_request", "code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636).");
      tokens = await exchangeCode(
        deps.db,
        deps.keys.tokenHmac,
        {
          code: requiredParam(params, "code"),
          clientId: client.id,
          // RFC 6749 §4.1.3 wants it repeated when the authorization request had it. The code does not
          // remember whether it did, so a client with exactly one registered URI may leave it out here
          // either way; a URI given must equal the code's, and PKCE binds the code to its requester.
          redirectUri: params.redirect_uri || soleRedirectUri(client),
          codeVerifier,
          resourceUrl: params.resource || null,
        },
        lifetimes,
      );
    } else if (grantType === "refresh_token") {
      tokens = await refreshTokens(
        deps.db,
        deps.keys.tokenHmac,
        { refreshToken: requiredParam(params, "refresh_token"), clientId: client.id, resourceUrl: params.resource || null, scope: params.scope || null },
        lifetimes,
      );
    } else {
      throw new OAuthError("unsupported_grant_type", 'grant_type must be "authorization_code" or "refresh_token".');
    }
    return tokenResponse(c, tokens);
  });

  return app;
}

/** The client the request names; unknown or deleted is `invalid_client` (401), so a client registers again. */
async function knownClient(deps: AppDeps, clientId: string | undefined): Promise<OAuthClient> {
  if (!clientId) throw new OAuthError("invalid_client", "client_id is required (public clients identify themselves with it).");
  const client = await findClient(deps.db, clientId);
  if (!client) throw new OAuthError("invalid_client", "Unknown client_id: the application is not registered here (it may have been removed).");
  // A document client the settings no longer accept gets no more tokens, refresh included.
  const refused = client.kind === "cimd" ? documentClientRefusal(deps.config, client.id) : null;
  if (refused) throw new OAuthError("invalid_client", refused);
  return client;
}

function soleRedirectUri(client: OAuthClient): string {
  if (client.redirectUris.length !== 1) throw new OAuthError("invalid_request", "The parameter redirect_uri is required.");
  return client.redirectUris[0]!;
}

/** RFC 6749 §5.1: the tokens as JSON, never cached. */
function tokenResponse(c: Context<AppEnv>, tokens: TokenSet): Response {
  c.header("Cache-Control", "no-store");
  c.header("Pragma", "no-cache");
  return c.json({ access_token: tokens.accessToken, token_type: "Bearer", expires_in: tokens.expiresIn, refresh_token: tokens.refreshToken, scope: tokens.scope });
}
