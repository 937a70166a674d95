// Switchboard as an OAuth client of its upstreams: starts an authorization (discovery, registration,
// PKCE, a stored single-use flow), finishes it at the callback (state, user, browser and issuer checked,
// code exchanged, "connected as" read) and disconnects (revocation, best effort). Never logs a token.
import { randomBytes } from "node:crypto";
import { buildDiscoveryUrls, exchangeAuthorization } from "@modelcontextprotocol/sdk/client/auth.js";
import type { OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";
import { connectPath, type OAuthSubject, type UpstreamOAuthStore, type UpstreamRegistration } from "../../../domain/connections/oauth-types.ts";
import type { OAuthMode } from "../../../domain/connections/spec.ts";
import { hmacToken } from "../../../domain/access/token-format.ts";
import { codeChallengeOf } from "../../../domain/oauth/pkce.ts";
import { AppError } from "../../../errors.ts";
import { sameSecret } from "../../../security/compare.ts";
import type { Logger } from "../../../logger.ts";
import type { AddressPolicy } from "../address-policy.ts";
import { accountOf, clientAuthentication, revoke, tokenEndpointMetadata, tokensFrom } from "./token-calls.ts";
import { boundedFetch, describeFailure, discoverAuthorizationServer, sanitizedError } from "./discovery.ts";
import { upstreamCallbackUrl } from "./client-metadata.ts";
import { registerAtServer } from "./registration.ts";
import type { AuthorizationCallback, AuthorizationResult, AuthorizationStart, UpstreamAuthorizer } from "./types.ts";

/** An authorization started and not finished within this long is refused (and swept). */
export const FLOW_TTL_MS = 10 * 60 * 1000;
const STATE_LABEL = "upstream-oauth-state:";

/** What the authorizer needs of a connection: null when it does not exist. `mode` null: not an OAuth connection. */
export type OAuthConnection = {
  id: string;
  title: string;
  url: string | null;
  mode: OAuthMode | null;
  clientId: string | null;
  clientSecret: string | null;
  scopes: string | null;
};

export type AuthorizerDeps = {
  store: UpstreamOAuthStore;
  connection: (id: string) => Promise<OAuthConnection | null>;
  /** The gateway's address policy (gateway.upstream_allow / upstream_deny): every URL obeys it. */
  policy: AddressPolicy;
  publicUrl: string;
  /** The server's token HMAC key: the flow is stored under an HMAC of its state, never the state. */
  hmacKey: Buffer;
  logger: Logger;
  now?: () => Date;
  /** The bounded, policy-checked fetch (tests may pass a narrower one). */
  fetchFn?: typeof fetch;
};

/** The stored form of a state value. */
export function stateHashOf(hmacKey: Buffer, state: string): string {
  return hmacToken(hmacKey, STATE_LABEL, state);
}

/** Where the admin returns: a path under /admin, nothing else (no open redirect through the flow). */
function safeReturnTo(returnTo: string, fallback: string): string {
  return /^\/admin(?:[/?#]|$)/.test(returnTo) && !/[\\\s]/.test(returnTo) && !returnTo.startsWith("//") ? returnTo : fallback;
}

/** The authorizer over the store, the connections and the address policy. */
export function createUpstreamAuthorizer(deps: AuthorizerDeps): UpstreamAuthorizer {
  const fetchFn = deps.fetchFn ?? boundedFetch(deps.policy);
  const now = deps.now ?? (() => new Date());

  /** The stored registration, or a fresh one (discovered, registered, stored). */
  async function registrationFor(c: OAuthConnection & { url: string }): Promise<UpstreamRegistration> {
    const stored = await deps.store.getRegistration(c.id);
    // Registered under another public URL (the server moved): its redirect URI, and a CIMD client id,
    // would send the browser back to the old address, so Switchboard registers again.
    if (stored && stored.redirectUri !== upstreamCallbackUrl(deps.publicUrl)) deps.logger.info("upstream oauth registration is for another public URL: registering again", { connection: c.id });
    else if (stored) {
      // A name may resolve elsewhere since: the browser is not sent to a denied address.
      await deps.policy.resolve(new URL(stored.authorizationEndpoint).hostname).catch((err: Error) => {
        throw new AppError("UPSTREAM_OAUTH_UNAVAILABLE", `The authorization endpoint may not be reached (gateway.upstream_allow / upstream_deny): ${err.message}`);
      });
      return stored;
    }
    const server = await discoverAuthorizationServer(c.url, { policy: deps.policy, fetchFn });
    const registration = await registerAtServer(
      { connectionId: c.id, clientId: c.clientId, clientSecret: c.clientSecret, scopes: c.scopes },
      server,
      { publicUrl: deps.publicUrl, fetchFn, now: now() },
    );
    await deps.store.saveRegistration(registration);
    deps.logger.info("upstream oauth registered", { connection: c.id, issuer: registration.issuer, method: registration.method });
    return registration;
  }

  /** Whether the server promised RFC 9207's `iss` on its redirects (then a missing one is refused). */
  async function issRequired(issuer: string): Promise<boolean> {
    for (const { url } of buildDiscoveryUrls(issuer)) {
      const response = await fetchFn(url, { headers: { accept: "application/json" } }).catch(() => null);
      if (!response || !response.ok) continue;
      const body = (await response.json().catch(() => null)) as { issuer?: unknown; authorization_response_iss_parameter_supported?: unknown } | null;
      if (body?.issuer === issuer) return body.authorization_response_iss_parameter_supported === true;
    }
    // Unknown: the server cannot be asked now. Refusing is the safe side of a mix-up attack.
    return true;
  }

  return {
    async start(s: AuthorizationStart): Promise<{ authorizationUrl: string }> {
      const c = await deps.connection(s.connectionId);
      if (!c) throw new AppError("CONNECTION_NOT_FOUND");
      if (!c.mode || !c.url) throw new AppError("UPSTREAM_OAUTH_NOT_OAUTH");
      // The subject must be the connection's kind: the shared account, or the signed-in user's own.
      if (c.mode === "shared" ? s.subject !== "shared" : s.subject !== s.userId) {
        throw new AppError("FORBIDDEN", c.mode === "shared" ? "This connection uses one shared account." : "You may connect only your own account.");
      }
      const registration = await registrationFor({ ...c, url: c.url });
      const state = randomBytes(32).toString("base64url");
      const codeVerifier = randomBytes(32).toString("base64url");
      const challenge = codeChallengeOf(codeVerifier);
      const at = now();
      await deps.store.createFlow(stateHashOf(deps.hmacKey, state), {
        connectionId: c.id,
        subject: s.subject,
        userId: s.userId,
        codeVerifier,
        bindingHash: s.bindingHash,
        returnTo: safeReturnTo(s.returnTo, connectPath(c.id, c.mode)),
        createdAt: at,
        expiresAt: new Date(at.getTime() + FLOW_TTL_MS),
      });
      const url = new URL(registration.authorizationEndpoint);
      url.searchParams.set("response_type", "code");
      url.searchParams.set("client_id", registration.clientId);
      url.searchParams.set("redirect_uri", registration.redirectUri);
      url.searchParams.set("code_challenge", challenge);
      url.searchParams.set("code_challenge_method", "S256");
      url.searchParams.set("state", state);
      // RFC 8707: the token is asked for this upstream only, as its metadata names it.
      url.searchParams.set("resource", registration.resource);
      const scopes = c.scopes ?? registration.scopes;
      if (scopes) url.searchParams.set("scope", scopes);
      return { authorizationUrl: url.href };
    },

    async finish(cb: AuthorizationCallback): Promise<AuthorizationResult> {
      const refuse = (message: string, connectionId: string | null = null, returnTo: string | null = null): AuthorizationResult => ({ ok: false, connectionId, message, returnTo });
      if (!cb.state) return refuse("The sign-in came back without its state: start again from Switchboard.");
      const flow = await deps.store.takeFlow(stateHashOf(deps.hmacKey, cb.state), now());
      if (!flow) return refuse("This sign-in is unknown, was already used, or took longer than 10 minutes: start again from Switchboard.");
      const back = (message: string) => refuse(message, flow.connectionId, flow.returnTo);
      // The flow belongs to the user and the browser that started it (login CSRF, a stolen callback URL).
      if (!sameSecret(flow.userId, cb.userId) || cb.bindingHash === null || !sameSecret(flow.bindingHash, cb.bindingHash)) {
        return back("This sign-in was started by another user or in another browser: start again from here.");
      }
      try {
        const registration = await deps.store.getRegistration(flow.connectionId);
        if (!registration) return back("The connection's OAuth settings changed during the sign-in: start again.");
        // RFC 9207: the answer must come from the server the flow was sent to (mix-up attacks).
        if (cb.iss !== null ? cb.iss !== registration.issuer : await issRequired(registration.issuer)) {
          return back(`The answer did not come from the authorization server this sign-in was sent to (${registration.issuer}).`);
        }
        if (cb.error !== null) return back(`The authorization server did not authorize Switchboard: ${sanitizedError(cb.error)}.`);
        if (!cb.code) return back("The authorization server sent no authorization code back.");
        let issued: OAuthTokens;
        try {
          issued = await exchangeAuthorization(registration.issuer, {
            metadata: tokenEndpointMetadata(registration),
            clientInformation: { client_id: registration.clientId },
            authorizationCode: cb.code,
            codeVerifier: flow.codeVerifier,
            redirectUri: registration.redirectUri,
            resource: registration.resource,
            addClientAuthentication: clientAuthentication(registration),
            fetchFn,
          });
        } catch (err) {
          return back(`The authorization server refused the code: ${describeFailure(err)}.`);
        }
        if (issued.token_type.toLowerCase() !== "bearer") return back(`The authorization server issued a ${sanitizedError(issued.token_type)} token, not a bearer token.`);
        const tokens = tokensFrom(issued, now().getTime());
        const account = await accountOf(registration, issued, fetchFn);
        await deps.store.saveLink({ connectionId: flow.connectionId, subject: flow.subject, tokens, account, connectedBy: flow.userId, now: now() });
        deps.logger.info("upstream oauth connected", { connection: flow.connectionId, subject: flow.subject, by: flow.userId });
        return { ok: true, connectionId: flow.connectionId, subject: flow.subject, account, returnTo: flow.returnTo };
      } catch (err) {
        deps.logger.warn("upstream oauth callback failed", { connection: flow.connectionId, error: describeFailure(err) });
        return back(`The sign-in could not be finished: ${describeFailure(err)}.`);
      }
    },

    async disconnect(connectionId: string, subject: OAuthSubject): Promise<boolean> {
      const [link, registration] = await Promise.all([deps.store.getLink(connectionId, subject), deps.store.getRegistration(connectionId)]);
      if (link && registration?.revocationEndpoint) {
        // Best effort: the link goes whatever the server says (RFC 7009 revokes the refresh token's grant too).
        for (const [token, hint] of [[link.tokens.refreshToken, "refresh_token"], [link.tokens.accessToken, "access_token"]] as const) {
          if (!token) continue;
          await revoke(registration, token, hint, fetchFn).catch((err: unknown) =>
            deps.logger.warn("upstream oauth revocation failed", { connection: connectionId, error: describeFailure(err) }),
          );
        }
      }
      return deps.store.deleteLink(connectionId, subject);
    },
  };
}
