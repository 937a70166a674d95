// The authorization request (RFC 6749 §4.1.1 with PKCE and RFC 8707's resource), checked the same way
// when it arrives (GET /oauth/authorize) and when the consent form posts it back (never trusted).
// Three stages (authorize.ts runs them in its safe order): the client and redirect_uri (RFC 6749
// §4.1.2.1: failure is an error page, never a redirect to an unproven URI); the parameters (failure
// is sent back to the client, once the user is signed in); whether the agent or connection exists and
// is enabled (failure is an error page, so a client learns nothing of what exists).
import { getAgent } from "../../domain/agents/agents.ts";
import { listConnectionSummaries } from "../../domain/connections/connections.ts";
import { findClient, saveClientDocument } from "../../domain/oauth/clients.ts";
import { CODE_CHALLENGE } from "../../domain/oauth/pkce.ts";
import { redirectUriMatches } from "../../domain/oauth/redirect-uris.ts";
import { grantedScope } from "../../domain/oauth/scopes.ts";
import type { OAuthClient } from "../../domain/oauth/types.ts";
import { OAuthError, type OAuthErrorCode } from "../../errors.ts";
import type { AppDeps } from "../context.ts";
import type { Config } from "../../config/load.ts";
import { allowlistRefusal } from "./client-metadata.ts";
import { oauthTargetOf, type OAuthTarget } from "./resource-url.ts";

/** The agent or connection a resource URL names. */
export type ResolvedResource = { kind: "agent" | "connection"; id: string; slug: string; title: string; url: string };

/** A request whose client and redirect URI are proven: from here on, errors go back to the client. */
export type ClientPart = { client: OAuthClient; redirectUri: string; state: string | null };

/** A resource URL of the right form: `/mcp/agent/<ref>` or `/mcp/<ref>` under public_url. */
export type ResourceTarget = OAuthTarget & { url: string };

/** A request whose parameters are well-formed; the resource is not yet looked up. */
export type ParamsPart = ClientPart & { codeChallenge: string; target: ResourceTarget; scope: string };

/** A request checked whole: what the consent page shows and what approval binds into the code. */
export type CheckedRequest = ParamsPart & { resource: ResolvedResource };

/** A refusal to send back to the client's redirect URI (RFC 6749 §4.1.2.1). */
export type RedirectableError = { error: OAuthErrorCode; description: string };

/**
 * The client and its redirect URI, or an OAuthError for the error page. A metadata-document client is
 * served from its cached document while fresh, else fetched (SSRF-guarded by the fetcher) and saved.
 */
export async function checkClient(deps: AppDeps, params: Record<string, string | undefined>, now: Date, beforeFetch: () => void): Promise<ClientPart> {
  const clientId = params.client_id;
  if (!clientId) throw new OAuthError("invalid_request", "The request names no client (client_id is missing).");
  const client = await loadClient(deps, clientId, now, beforeFetch);
  const presented = params.redirect_uri;
  let redirectUri: string;
  if (presented === undefined || presented === "") {
    // RFC 6749 §3.1.2.3: it may be left out only when the client registered exactly one.
    if (client.redirectUris.length !== 1) throw new OAuthError("invalid_request", "redirect_uri is required: this client registered more than one.");
    redirectUri = client.redirectUris[0]!;
  } else {
    if (!redirectUriMatches(client.redirectUris, presented)) {
      throw new OAuthError("invalid_request", "The redirect_uri is not one this client registered, so Switchboard will not send you there.");
    }
    redirectUri = presented;
  }
  return { client, redirectUri, state: params.state ?? null };
}

/**
 * Why the settings refuse a metadata-document client now (documents off, or its host not on
 * oauth.client_metadata_hosts), or null. Asked on every use, cached or not, at the authorization and
 * the token endpoints: a narrowed setting applies at once, not when a cached document expires.
 */
export function documentClientRefusal(config: Config, clientId: string): string | null {
  if (!config.oauth.client_metadata_documents) return "This server does not accept client ID metadata documents (an https URL as client_id).";
  const refused = allowlistRefusal(config.oauth.client_metadata_hosts, clientId);
  return refused === null ? null : `The client's metadata document cannot be used: ${refused}`;
}

/** `beforeFetch` runs before a document is fetched (not for a cached one): it throws to refuse (a throttle). */
async function loadClient(deps: AppDeps, clientId: string, now: Date, beforeFetch: () => void): Promise<OAuthClient> {
  // Registered ids are "sbc_…", never URLs: any http(s) URL names a document, and the fetcher decides
  // (it refuses plain http unless a test's loopback fixture is allowed).
  if (/^https?:\/\//i.test(clientId)) {
    const refused = documentClientRefusal(deps.config, clientId);
    if (refused) throw new OAuthError("invalid_client", refused);
    const cached = await findClient(deps.db, clientId);
    if (cached && cached.kind === "cimd" && cached.cachedUntil !== null && cached.cachedUntil.getTime() > now.getTime()) return cached;
    beforeFetch();
    const fetched = await deps.oauth.fetchClientMetadata(clientId);
    if (!fetched.ok) throw new OAuthError("invalid_client", `The client's metadata document cannot be used: ${fetched.reason}`);
    return saveClientDocument(deps.db, clientId, fetched.metadata, new Date(now.getTime() + fetched.cacheForMs), now);
  }
  const client = await findClient(deps.db, clientId);
  // A document client is only ever named by its URL (which the branch above handles).
  if (!client || client.kind !== "dcr") throw new OAuthError("invalid_client", "Unknown client_id: the application is not registered here (it may have been removed).");
  return client;
}

/** The parameters of a request from a proven client: the request, or the error to send back. */
export function checkParams(publicUrl: string, params: Record<string, string | undefined>, part: ClientPart): ParamsPart | RedirectableError {
  const responseType = params.response_type;
  if (!responseType) return { error: "invalid_request", description: "response_type is required." };
  if (responseType !== "code") return { error: "unsupported_response_type", description: 'Only response_type "code" is supported.' };
  // OAuth 2.1 and MCP: PKCE with S256, always (a missing method would mean "plain").
  const codeChallenge = params.code_challenge;
  if (!codeChallenge || !CODE_CHALLENGE.test(codeChallenge)) return { error: "invalid_request", description: "code_challenge is required: 43 characters of base64url (PKCE S256)." };
  if (params.code_challenge_method !== "S256") return { error: "invalid_request", description: 'code_challenge_method must be "S256".' };
  const resourceUrl = params.resource;
  if (!resourceUrl) return { error: "invalid_target", description: "resource is required: the URL of the agent or connection (RFC 8707)." };
  const named = oauthTargetOf(publicUrl, resourceUrl);
  if (!named) return { error: "invalid_target", description: UNKNOWN_TARGET };
  const target = { ...named, url: resourceUrl };
  let scope: string;
  try {
    scope = grantedScope(params.scope);
  } catch (err) {
    if (err instanceof OAuthError) return { error: err.error, description: err.message };
    throw err;
  }
  return { ...part, codeChallenge, target, scope };
}

const UNKNOWN_TARGET = "resource must be the URL of an enabled agent (/mcp/agent/<id or slug>) or connection (/mcp/<id or slug>) of this server.";

/** The agent or connection the request names, for a signed-in user: the whole request, or invalid_target. */
export async function checkResource(deps: AppDeps, part: ParamsPart): Promise<CheckedRequest | RedirectableError> {
  const resource = await resolveResource(deps, part.target);
  return resource ? { ...part, resource } : { error: "invalid_target", description: UNKNOWN_TARGET };
}

/** The agent or connection of a target (by id or slug), existing and enabled, or null. */
async function resolveResource(deps: AppDeps, target: ResourceTarget): Promise<ResolvedResource | null> {
  if (target.kind === "agent") {
    const agent = await getAgent(deps.db, target.ref);
    return agent && agent.enabled ? { kind: "agent", id: agent.id, slug: agent.slug, title: agent.title, url: target.url } : null;
  }
  // The summaries read no secret; the consent page reads the details through CONNECTION_GET.
  const connection = (await listConnectionSummaries(deps.db)).find((c) => c.id === target.ref || c.slug === target.ref);
  return connection && connection.enabled ? { kind: "connection", id: connection.id, slug: connection.slug, title: connection.title, url: target.url } : null;
}

/** The redirect back to the client (RFC 6749 §4.1.2) with `iss` (RFC 9207) and the state it sent. */
export function redirectBack(redirectUri: string, issuer: string, state: string | null, params: Record<string, string>): string {
  const target = new URL(redirectUri);
  for (const [name, value] of Object.entries(params)) target.searchParams.set(name, value);
  if (state !== null) target.searchParams.set("state", state);
  target.searchParams.set("iss", issuer);
  return target.href;
}
