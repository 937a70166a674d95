// Finds an OAuth-protected upstream's authorization server: the upstream's 401 and its protected
// resource metadata (RFC 9728), then the server's metadata (RFC 8414, OpenID discovery), every fetch
// through the gateway's address policy and bounded, every endpoint checked before anyone is sent to it.
import { buildDiscoveryUrls, discoverOAuthProtectedResourceMetadata, extractWWWAuthenticateParams } from "@modelcontextprotocol/sdk/client/auth.js";
import { checkResourceAllowed } from "@modelcontextprotocol/sdk/shared/auth-utils.js";
import { OAuthMetadataSchema, type OAuthMetadata } from "@modelcontextprotocol/sdk/shared/auth.js";
import { OAuthError } from "@modelcontextprotocol/sdk/server/auth/errors.js";
import { LATEST_PROTOCOL_VERSION } from "@modelcontextprotocol/sdk/types.js";
import { AppError } from "../../../errors.ts";
import { AddressDeniedError, type AddressPolicy } from "../address-policy.ts";
import { readCapped, ResponseTooLargeError } from "../response-limit.ts";

/** Most bytes of one answer from an upstream's OAuth endpoints (metadata, registration, tokens, userinfo). */
export const OAUTH_MAX_RESPONSE_BYTES = 1024 * 1024;
/** Longest wait for one of those answers. */
export const OAUTH_TIMEOUT_MS = 10_000;

/** What discovery found: where to send people, what to ask tokens for, what scopes are on offer. */
export type DiscoveredServer = {
  /** The protected resource (RFC 8707 `resource`), as its metadata names it. */
  resource: string;
  issuer: string;
  metadata: OAuthMetadata;
  /** The scopes the resource's metadata lists, or the 401's `scope`, or null. */
  scopes: string | null;
};

/** A refusal of discovery, for the admin who clicked Authorize. */
export function unavailable(message: string): AppError {
  return new AppError("UPSTREAM_OAUTH_UNAVAILABLE", message);
}

/**
 * fetch through the address policy (every request and redirect hop checked), with a time limit and
 * the body read whole up to a size limit, so neither the SDK's parsers nor ours can be made to hold
 * or wait for more. A refusal by the policy is an UPSTREAM_OAUTH_UNAVAILABLE naming the address.
 */
export function boundedFetch(policy: AddressPolicy, limits: { maxBytes?: number; timeoutMs?: number; base?: typeof fetch } = {}): typeof fetch {
  const checked = policy.fetch(limits.base);
  const maxBytes = limits.maxBytes ?? OAUTH_MAX_RESPONSE_BYTES;
  const timeoutMs = limits.timeoutMs ?? OAUTH_TIMEOUT_MS;
  const bounded = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const signal = AbortSignal.timeout(timeoutMs);
    let response: Response;
    try {
      response = await checked(input, { ...init, signal });
    } catch (err) {
      if (err instanceof AddressDeniedError) throw unavailable(`${hostOf(input)} may not be reached (gateway.upstream_allow / upstream_deny): ${err.message}`);
      throw err;
    }
    let body: string | null;
    try {
      body = [101, 204, 205, 304].includes(response.status) ? null : await readCapped(response, maxBytes);
    } catch (err) {
      if (err instanceof ResponseTooLargeError) throw unavailable(`${hostOf(input)} answered more than ${maxBytes} bytes.`);
      throw err;
    }
    return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
  return bounded as typeof fetch;
}

function hostOf(input: string | URL | Request): string {
  try {
    return new URL(input instanceof Request ? input.url : String(input)).host;
  } catch {
    return "the server";
  }
}

/** An authorization server's error code as shown (the callback's `error`, a token endpoint's): an RFC 6749 error code's characters only, short. */
export function sanitizedError(error: string, unnamed = "an unnamed error"): string {
  return error.replace(/[^A-Za-z0-9_.-]/g, "").slice(0, 64) || unnamed;
}

/**
 * The text of an error for a person: never what the server wrote (an error_description, a body the
 * SDK quotes can hold anything), only the OAuth error code and status, or a fault of our own words.
 */
export function describeFailure(err: unknown): string {
  if (err instanceof AppError) return err.message;
  if (err instanceof OAuthError) {
    const status = /^HTTP (\d{3})\b/.exec(err.message)?.[1];
    const code = sanitizedError(String(err.errorCode ?? ""), "server_error");
    return status ? `${code} (HTTP ${status})` : code;
  }
  const name = (err as Error)?.name;
  if (name === "TimeoutError" || name === "AbortError") return `no answer within ${OAUTH_TIMEOUT_MS / 1000} s`;
  if (name === "ZodError" || name === "SyntaxError") return "its answer is not a valid OAuth response";
  if (err instanceof TypeError) return "it could not be reached";
  return "it failed";
}

/** Strips one trailing slash, so "https://as.example/" and "https://as.example" compare equal. */
function sameUrl(a: string, b: string): boolean {
  return a.replace(/\/$/, "") === b.replace(/\/$/, "");
}

/**
 * Asks the upstream, without credentials, to initialize: an OAuth-protected MCP server answers 401, its
 * WWW-Authenticate naming the protected resource metadata (or not, then the well-known URLs are tried).
 */
async function challenge(url: string, fetchFn: typeof fetch): Promise<{ resourceMetadataUrl?: URL; scope?: string }> {
  let response: Response;
  try {
    response = await fetchFn(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": LATEST_PROTOCOL_VERSION },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 0,
        method: "initialize",
        params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "switchboard", version: "discovery" } },
      }),
    });
  } catch (err) {
    throw unavailable(`The upstream could not be reached: ${describeFailure(err)}.`);
  }
  if (response.status !== 401) {
    throw unavailable(`The upstream answered ${response.status} to a request without credentials, not 401: it does not ask for an OAuth sign-in.`);
  }
  const { resourceMetadataUrl, scope } = extractWWWAuthenticateParams(response);
  return { resourceMetadataUrl, scope };
}

/** RFC 8414 then OpenID discovery (path-inserted and appended forms), keeping every field the server sent. */
async function serverMetadata(issuer: string, fetchFn: typeof fetch): Promise<OAuthMetadata> {
  for (const { url } of buildDiscoveryUrls(issuer)) {
    let response: Response;
    try {
      response = await fetchFn(url, { headers: { accept: "application/json", "mcp-protocol-version": LATEST_PROTOCOL_VERSION } });
    } catch (err) {
      throw unavailable(`The authorization server ${issuer} could not be reached: ${describeFailure(err)}.`);
    }
    // RFC 8414 §3.1: a 4xx (or a redirect, never followed off its origin) means "not here": try the next form.
    if (response.status >= 300 && response.status < 500) continue;
    if (!response.ok) throw unavailable(`The authorization server ${issuer} answered ${response.status} to its metadata request.`);
    const parsed = OAuthMetadataSchema.safeParse(await response.json().catch(() => null));
    if (!parsed.success) throw unavailable(`The authorization server ${issuer} published metadata that is not valid (RFC 8414).`);
    return parsed.data;
  }
  throw unavailable(`The authorization server ${issuer} publishes no metadata (RFC 8414 or OpenID discovery).`);
}

/**
 * Why a URL from the metadata may not be used, or null: not http(s), plain http for an https
 * upstream (tokens and codes would cross the network in clear), or a host the policy refuses. The
 * authorization endpoint is only visited by browsers, but is checked too: Switchboard must not be the
 * one sending its admins to an address the gateway's rules deny.
 */
async function endpointRefusal(name: string, value: string, upstream: URL, policy: AddressPolicy): Promise<string | null> {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `its ${name} is not a URL`;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return `its ${name} is not an http(s) URL`;
  if (upstream.protocol === "https:" && url.protocol !== "https:") return `its ${name} (${url.origin}) is plain http while the upstream is https`;
  try {
    await policy.resolve(url.hostname);
  } catch (err) {
    return `its ${name} (${url.host}) may not be reached (gateway.upstream_allow / upstream_deny): ${(err as Error).message}`;
  }
  return null;
}

/**
 * Discovers the authorization server of the MCP server at `url` and checks it before anything is
 * registered or anyone is redirected. Throws UPSTREAM_OAUTH_UNAVAILABLE with a reason for the admin.
 */
export async function discoverAuthorizationServer(url: string, options: { policy: AddressPolicy; fetchFn?: typeof fetch }): Promise<DiscoveredServer> {
  const fetchFn = options.fetchFn ?? boundedFetch(options.policy);
  const upstream = new URL(url);
  const hint = await challenge(url, fetchFn);
  let prm;
  try {
    prm = await discoverOAuthProtectedResourceMetadata(url, { resourceMetadataUrl: hint.resourceMetadataUrl }, fetchFn);
  } catch (err) {
    // The SDK's own words ("does not implement …", "HTTP 404 trying to load …") name no server text.
    const own = err instanceof Error && /^(Resource server does not implement|HTTP \d{3} trying)/.test(err.message) ? err.message.replace(/\.$/, "") : null;
    throw unavailable(`The upstream publishes no usable OAuth protected resource metadata (RFC 9728): ${own ?? describeFailure(err)}.`);
  }
  // RFC 9728 §3.3: metadata for another resource must not be used (an attacker's document naming its own server).
  if (!checkResourceAllowed({ requestedResource: url, configuredResource: prm.resource })) {
    throw unavailable(`The upstream's protected resource metadata is for ${prm.resource}, not for ${url}.`);
  }
  const issuer = prm.authorization_servers?.[0];
  if (!issuer) throw unavailable("The upstream's protected resource metadata names no authorization server.");
  const issuerRefusal = await endpointRefusal("authorization server", issuer, upstream, options.policy);
  if (issuerRefusal) throw unavailable(`The upstream's authorization server cannot be used: ${issuerRefusal}.`);
  const metadata = await serverMetadata(issuer, fetchFn);
  // RFC 8414 §3.3: the metadata must be the issuer's own, or another server could stand in for it.
  if (!sameUrl(metadata.issuer, issuer)) throw unavailable(`The authorization server's metadata names issuer ${metadata.issuer}, not ${issuer}.`);
  if (!metadata.code_challenge_methods_supported?.includes("S256")) {
    throw unavailable(`The authorization server ${issuer} does not support PKCE with S256 (code_challenge_methods_supported), which MCP requires.`);
  }
  if (!metadata.response_types_supported.includes("code")) throw unavailable(`The authorization server ${issuer} does not support the authorization code flow.`);
  const endpoints: [string, string | undefined][] = [
    ["authorization endpoint", metadata.authorization_endpoint],
    ["token endpoint", metadata.token_endpoint],
    ["registration endpoint", metadata.registration_endpoint],
    ["revocation endpoint", metadata.revocation_endpoint],
    ["userinfo endpoint", typeof metadata.userinfo_endpoint === "string" ? metadata.userinfo_endpoint : undefined],
  ];
  for (const [name, value] of endpoints) {
    if (value === undefined) continue;
    const why = await endpointRefusal(name, value, upstream, options.policy);
    if (why) throw unavailable(`The authorization server ${issuer} cannot be used: ${why}.`);
  }
  const scopes = prm.scopes_supported?.length ? prm.scopes_supported.join(" ") : (hint.scope ?? null);
  return { resource: prm.resource, issuer: metadata.issuer, metadata, scopes };
}
