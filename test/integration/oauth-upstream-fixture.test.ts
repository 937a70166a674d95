// The OAuth upstream fixture (test/fixtures/oauth-upstream.ts) against real OAuth clients: the MCP SDK's
// auth() with an in-memory OAuthClientProvider, and its Client over Streamable HTTP with that provider.
// Registration by DCR, by a client ID metadata document (https) and as a pre-registered confidential
// client; discovery variants; refresh rotation, revocation and expiry mid-session.
import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { auth, discoverAuthorizationServerMetadata, extractWWWAuthenticateParams, refreshAuthorization } from "@modelcontextprotocol/sdk/client/auth.js";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InvalidGrantError } from "@modelcontextprotocol/sdk/server/auth/errors.js";
import { approveAuthorization, type OAuthUpstream, type OAuthUpstreamOptions, startOAuthUpstream } from "../fixtures/oauth-upstream.ts";
import { connectThroughSignIn, connectWith, MemoryOAuthProvider } from "../support/oauth-sdk.ts";

const REDIRECT = "http://127.0.0.1:9/callback";
const TLS_DIR = join(import.meta.dir, "../fixtures/tls");

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function upstreamWith(options: OAuthUpstreamOptions = {}): Promise<OAuthUpstream> {
  const upstream = await startOAuthUpstream(options);
  cleanups.push(() => upstream.close());
  return upstream;
}

const newProvider = (clientMetadataUrl?: string): MemoryOAuthProvider => new MemoryOAuthProvider({ redirectUri: REDIRECT, clientName: "Fixture test client", clientMetadataUrl });

/** auth() up to the redirect, the sign-in page approved as `username`, then auth() with the code. Returns the callback's query. */
async function authorize(upstream: OAuthUpstream, provider: MemoryOAuthProvider, username: string): Promise<URLSearchParams> {
  const asked = provider.nextAuthorizationUrl();
  expect(await auth(provider, { serverUrl: upstream.mcpUrl })).toBe("REDIRECT");
  const callback = new URL(await approveAuthorization(await asked, username));
  expect(`${callback.origin}${callback.pathname}`).toBe(REDIRECT);
  expect(callback.searchParams.get("iss")).toBe(upstream.issuer);
  const code = callback.searchParams.get("code");
  if (!code) throw new Error(`no code in ${callback.href}`);
  expect(await auth(provider, { serverUrl: upstream.mcpUrl, authorizationCode: code })).toBe("AUTHORIZED");
  return callback.searchParams;
}

async function connect(upstream: OAuthUpstream, provider: MemoryOAuthProvider): Promise<Client> {
  const { client } = await connectWith(upstream.mcpUrl, provider);
  cleanups.push(() => client.close());
  return client;
}

/** whoami's answer; its text and structured content agree. */
async function whoami(client: Client): Promise<string> {
  const result = await client.callTool({ name: "whoami", arguments: {} });
  const text = (result.content as { text: string }[])[0]?.text;
  expect(result.structuredContent).toEqual({ user: text });
  return text ?? "";
}

/** Serves a client ID metadata document over https (the SDK takes only https document URLs), with the fixture's localhost certificate. */
function serveMetadataDocument(document: (url: string) => Record<string, unknown>): string {
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    tls: { cert: readFileSync(join(TLS_DIR, "localhost.crt"), "utf8"), key: readFileSync(join(TLS_DIR, "localhost.key"), "utf8") },
    fetch: (req) => Response.json(document(`https://localhost:${new URL(req.url).port}/client.json`)),
  });
  cleanups.push(() => server.stop(true));
  return `https://localhost:${server.port}/client.json`;
}

describe("the full flow with the SDK's auth()", () => {
  test("dynamic registration: a public client registers, the user approves, whoami answers that user", async () => {
    const upstream = await upstreamWith({ cimd: false });
    const provider = newProvider();
    await authorize(upstream, provider, "alice");
    expect(provider.clientId).toStartWith("dcr_");
    expect(upstream.stats.registrations).toBe(1);
    expect(upstream.stats.metadataDocumentFetches).toBe(0);
    expect(upstream.stats.authorizationCodes).toBe(1);
    expect(upstream.stats.tokenRequests).toEqual({ authorization_code: 1, refresh_token: 0 });
    expect(provider.tokens()?.refresh_token).toBeString();
    expect(provider.tokens()?.scope).toBe("mcp:tools");
    const client = await connect(upstream, provider);
    expect(await whoami(client)).toBe("alice");
    expect((await client.callTool({ name: "echo", arguments: { text: "hi" } })).content).toEqual([{ type: "text", text: "hi" }]);
    expect(upstream.stats.toolCalls).toEqual([
      { tool: "whoami", user: "alice" },
      { tool: "echo", user: "alice" },
    ]);
    expect(upstream.stats.unauthorized).toBe(0);
  });

  test("client ID metadata document: the URL is the client_id, fetched at /authorize and /token, nothing registered", async () => {
    const documentUrl = serveMetadataDocument((url) => ({ client_id: url, client_name: "CIMD client", redirect_uris: [REDIRECT], token_endpoint_auth_method: "none" }));
    const upstream = await upstreamWith({ metadataDocumentCa: readFileSync(join(TLS_DIR, "localhost.crt"), "utf8") });
    const provider = newProvider(documentUrl);
    await authorize(upstream, provider, "carol");
    expect(provider.clientId).toBe(documentUrl);
    expect(upstream.stats.registrations).toBe(0);
    expect(upstream.stats.metadataDocumentFetches).toBe(2);
    expect(await whoami(await connect(upstream, provider))).toBe("carol");
  });

  test("client ID metadata document: a document naming another client_id is refused at the sign-in page", async () => {
    const documentUrl = serveMetadataDocument(() => ({ client_id: "https://elsewhere.example/client.json", redirect_uris: [REDIRECT] }));
    const upstream = await upstreamWith({ metadataDocumentCa: readFileSync(join(TLS_DIR, "localhost.crt"), "utf8") });
    const provider = newProvider(documentUrl);
    const asked = provider.nextAuthorizationUrl();
    expect(await auth(provider, { serverUrl: upstream.mcpUrl })).toBe("REDIRECT");
    await expect(approveAuthorization(await asked, "carol")).rejects.toThrow(/400.*names another client_id/);
    expect(upstream.stats.authorizationCodes).toBe(0);
  });

  for (const authMethod of ["client_secret_basic", "client_secret_post"] as const) {
    test(`pre-registered confidential client (${authMethod}): no registration, the secret authenticates`, async () => {
      const upstream = await upstreamWith({ cimd: false, dcr: false, clients: [{ id: "admin-entered", secret: "s3cret", redirectUris: [REDIRECT], authMethod }] });
      const provider = newProvider();
      provider.saveClientInformation({ client_id: "admin-entered", client_secret: "s3cret", token_endpoint_auth_method: authMethod });
      await authorize(upstream, provider, "dave");
      expect(upstream.stats.registrations).toBe(0);
      expect(await whoami(await connect(upstream, provider))).toBe("dave");
    });
  }

  test("the SDK Client's own 401 → discovery → sign-in → finishAuth sequence; two users get their own tokens", async () => {
    const upstream = await upstreamWith();
    const signIn = (username: string) => async (url: URL) => new URL(await approveAuthorization(url, username)).searchParams.get("code") ?? "";
    const alice = await connectThroughSignIn(upstream.mcpUrl, newProvider(), signIn("alice"));
    cleanups.push(() => alice.client.close());
    const bob = await connectThroughSignIn(upstream.mcpUrl, newProvider(), signIn("bob"));
    cleanups.push(() => bob.client.close());
    expect(await whoami(bob.client)).toBe("bob");
    expect(await whoami(alice.client)).toBe("alice");
    expect(upstream.stats.unauthorized).toBe(2);
    expect(upstream.stats.registrations).toBe(2);
  });
});

describe("discovery", () => {
  test("a request without a token is 401 with the challenge naming the resource metadata and scope", async () => {
    const upstream = await upstreamWith();
    const response = await fetch(upstream.mcpUrl, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(response.status).toBe(401);
    const metadataUrl = `${upstream.origin}/.well-known/oauth-protected-resource/mcp`;
    expect(response.headers.get("www-authenticate")).toBe(`Bearer error="invalid_token", resource_metadata="${metadataUrl}", scope="mcp:tools"`);
    expect(extractWWWAuthenticateParams(response)).toEqual({ resourceMetadataUrl: new URL(metadataUrl), scope: "mcp:tools", error: "invalid_token" });
    for (const url of [metadataUrl, `${upstream.origin}/.well-known/oauth-protected-resource`]) {
      expect(await (await fetch(url)).json()).toEqual({ resource: upstream.mcpUrl, authorization_servers: [upstream.issuer], scopes_supported: ["mcp:tools"], bearer_methods_supported: ["header"] });
    }
    expect(upstream.stats.unauthorized).toBe(1);
  });

  test("resourceMetadataInHeader: false: no resource_metadata in the challenge, and the SDK finds it at the well-known URL", async () => {
    const upstream = await upstreamWith({ resourceMetadataInHeader: false });
    const response = await fetch(upstream.mcpUrl, { method: "POST", body: "{}" });
    expect(response.headers.get("www-authenticate")).toBe('Bearer error="invalid_token", scope="mcp:tools"');
    const connected = await connectThroughSignIn(upstream.mcpUrl, newProvider(), async (url) => new URL(await approveAuthorization(url, "erin")).searchParams.get("code") ?? "");
    cleanups.push(() => connected.client.close());
    expect(await whoami(connected.client)).toBe("erin");
  });

  test("an authorization server on its own origin under an issuer path: RFC 8414 path insertion", async () => {
    const upstream = await upstreamWith({ separateAuthServer: { issuerPath: "/tenant" } });
    const issuer = new URL(upstream.issuer);
    expect(issuer.pathname).toBe("/tenant");
    expect(issuer.origin).not.toBe(upstream.origin);
    const metadata = await discoverAuthorizationServerMetadata(upstream.issuer);
    expect(metadata?.issuer).toBe(upstream.issuer);
    expect(metadata?.token_endpoint).toBe(`${upstream.issuer}/token`);
    expect((await fetch(`${issuer.origin}/.well-known/oauth-authorization-server/tenant`)).status).toBe(200);
    // Not at the root, and nothing of the authorization server on the MCP server's origin.
    expect((await fetch(`${issuer.origin}/.well-known/oauth-authorization-server`)).status).toBe(404);
    expect((await fetch(`${upstream.origin}/tenant/token`, { method: "POST" })).status).toBe(404);
    const provider = newProvider();
    await authorize(upstream, provider, "frank");
    expect(await whoami(await connect(upstream, provider))).toBe("frank");
  });

  test("openidOnly: only OpenID discovery (inserted and appended), which the SDK uses", async () => {
    const upstream = await upstreamWith({ openidOnly: true, separateAuthServer: { issuerPath: "/tenant" } });
    const { origin } = new URL(upstream.issuer);
    expect((await fetch(`${origin}/.well-known/oauth-authorization-server/tenant`)).status).toBe(404);
    for (const url of [`${origin}/.well-known/openid-configuration/tenant`, `${upstream.issuer}/.well-known/openid-configuration`]) {
      const document = (await (await fetch(url)).json()) as Record<string, unknown>;
      expect(document.issuer).toBe(upstream.issuer);
      expect(document.jwks_uri).toBe(`${upstream.issuer}/jwks`);
    }
    const metadata = await discoverAuthorizationServerMetadata(upstream.issuer);
    expect(metadata?.authorization_endpoint).toBe(`${upstream.issuer}/authorize`);
    expect(metadata && "userinfo_endpoint" in metadata ? metadata.userinfo_endpoint : null).toBe(`${upstream.issuer}/userinfo`);
    const provider = newProvider();
    await authorize(upstream, provider, "grace");
    expect(await whoami(await connect(upstream, provider))).toBe("grace");
  });

  test("the metadata follows the options: cimd, dcr, scopes, overrides", async () => {
    const fetchMetadata = async (upstream: OAuthUpstream): Promise<Record<string, unknown>> => (await (await fetch(`${upstream.origin}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    const full = await fetchMetadata(await upstreamWith());
    expect(full).toMatchObject({ response_types_supported: ["code"], code_challenge_methods_supported: ["S256"], client_id_metadata_document_supported: true, scopes_supported: ["mcp:tools"] });
    expect(full.token_endpoint_auth_methods_supported).toEqual(["none", "client_secret_basic", "client_secret_post"]);
    expect(full.registration_endpoint).toEndWith("/register");
    expect(full.revocation_endpoint).toEndWith("/revoke");
    const bare = await upstreamWith({ cimd: false, dcr: false, scopes: ["read", "write"], metadataOverrides: { token_endpoint: "http://10.0.0.1/token" } });
    const metadata = await fetchMetadata(bare);
    expect(metadata.client_id_metadata_document_supported).toBeUndefined();
    expect(metadata.registration_endpoint).toBeUndefined();
    expect(metadata.scopes_supported).toEqual(["read", "write"]);
    expect(metadata.token_endpoint).toBe("http://10.0.0.1/token");
    expect((await fetch(`${bare.origin}/register`, { method: "POST", body: "{}" })).status).toBe(404);
    const challenge = (await fetch(bare.mcpUrl, { method: "POST", body: "{}" })).headers.get("www-authenticate");
    expect(challenge).toEndWith('scope="read write"');
  });
});

describe("refresh, revocation and expiry", () => {
  const metadataOf = async (upstream: OAuthUpstream) => {
    const metadata = await discoverAuthorizationServerMetadata(upstream.issuer);
    if (!metadata) throw new Error("no metadata");
    return metadata;
  };

  test("refresh rotates: the new refresh token works, the old one is invalid_grant", async () => {
    const upstream = await upstreamWith();
    const provider = newProvider();
    await authorize(upstream, provider, "alice");
    const first = provider.tokens();
    const clientInformation = provider.clientInformation();
    if (!first?.refresh_token || !clientInformation) throw new Error("not authorized");
    const metadata = await metadataOf(upstream);
    const second = await refreshAuthorization(upstream.issuer, { metadata, clientInformation, refreshToken: first.refresh_token, resource: upstream.mcpUrl });
    expect(second.refresh_token).toBeString();
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect(second.access_token).not.toBe(first.access_token);
    await expect(refreshAuthorization(upstream.issuer, { metadata, clientInformation, refreshToken: first.refresh_token, resource: upstream.mcpUrl })).rejects.toBeInstanceOf(InvalidGrantError);
    const third = await refreshAuthorization(upstream.issuer, { metadata, clientInformation, refreshToken: second.refresh_token ?? "", resource: upstream.mcpUrl });
    expect(third.access_token).toBeString();
    expect(upstream.stats.tokenRequests).toEqual({ authorization_code: 1, refresh_token: 3 });
  });

  test("revokeRefreshTokens(user): that user's next refresh is invalid_grant, another user's still works", async () => {
    const upstream = await upstreamWith();
    const alice = newProvider();
    const bob = newProvider();
    await authorize(upstream, alice, "alice");
    await authorize(upstream, bob, "bob");
    upstream.revokeRefreshTokens("alice");
    const metadata = await metadataOf(upstream);
    const refresh = (provider: MemoryOAuthProvider) =>
      refreshAuthorization(upstream.issuer, { metadata, clientInformation: provider.clientInformation() ?? { client_id: "" }, refreshToken: provider.tokens()?.refresh_token ?? "", resource: upstream.mcpUrl });
    await expect(refresh(alice)).rejects.toBeInstanceOf(InvalidGrantError);
    expect((await refresh(bob)).access_token).toBeString();
    upstream.revokeRefreshTokens();
    await expect(refresh(bob)).rejects.toBeInstanceOf(InvalidGrantError);
  });

  test("expireAccessTokens: the next MCP request is 401, the SDK refreshes and the session goes on", async () => {
    const upstream = await upstreamWith();
    const provider = newProvider();
    await authorize(upstream, provider, "alice");
    const { client, transport } = await connectWith(upstream.mcpUrl, provider);
    cleanups.push(() => client.close());
    expect(await whoami(client)).toBe("alice");
    const sessionId = transport.sessionId;
    const stale = provider.tokens()?.access_token;
    upstream.expireAccessTokens();
    expect(await whoami(client)).toBe("alice");
    expect(transport.sessionId).toBe(sessionId);
    expect(upstream.stats.tokenRequests.refresh_token).toBe(1);
    expect(upstream.stats.unauthorized).toBeGreaterThanOrEqual(1);
    expect(provider.tokens()?.access_token).not.toBe(stale);
    // The expired token stays refused on every method, on the session it served.
    for (const method of ["POST", "GET", "DELETE"]) {
      const response = await fetch(upstream.mcpUrl, { method, headers: { authorization: `Bearer ${stale}`, "mcp-session-id": sessionId ?? "", "content-type": "application/json", accept: "application/json, text/event-stream" }, body: method === "POST" ? "{}" : undefined });
      expect(response.status).toBe(401);
    }
  });

  test("setAccessTtl changes expires_in of tokens issued from then on", async () => {
    const upstream = await upstreamWith({ accessTtlSec: 120 });
    const provider = newProvider();
    await authorize(upstream, provider, "alice");
    expect(provider.tokens()?.expires_in).toBe(120);
    upstream.setAccessTtl(5);
    const refreshed = await refreshAuthorization(upstream.issuer, { metadata: await metadataOf(upstream), clientInformation: provider.clientInformation() ?? { client_id: "" }, refreshToken: provider.tokens()?.refresh_token ?? "", resource: upstream.mcpUrl });
    await expect(refreshed.expires_in).toBe(5);
  });
});
