// What the OAuth upstream fixture (test/fixtures/oauth-upstream.ts) must refuse, over raw HTTP so each
// fault is sent exactly: bad authorization requests (a page for a wrong client or redirect URI, never a
// redirect; an error redirect otherwise), token requests with a wrong verifier, resource, redirect URI,
// client or secret, a reused code, bad registrations and metadata documents, and MCP requests with a
// token for another resource, too few scopes, or another user's session. The other OAuth upstream fixture tests use the SDK's client.
import { afterEach, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { approveAuthorization, type OAuthUpstream, type OAuthUpstreamOptions, startOAuthUpstream } from "../fixtures/oauth-upstream.ts";

const REDIRECT = "http://127.0.0.1:9/callback";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function upstreamWith(options: OAuthUpstreamOptions = {}): Promise<OAuthUpstream> {
  const upstream = await startOAuthUpstream(options);
  cleanups.push(() => upstream.close());
  return upstream;
}

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

async function register(upstream: OAuthUpstream, body: Record<string, unknown> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${upstream.issuer}/register`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ redirect_uris: [REDIRECT], token_endpoint_auth_method: "none", ...body }) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function publicClient(upstream: OAuthUpstream): Promise<string> {
  return String((await register(upstream)).body.client_id);
}

/** An authorization URL; a null override leaves that parameter out. */
function authorizationUrl(upstream: OAuthUpstream, clientId: string, challenge: string, overrides: Record<string, string | null> = {}): URL {
  const url = new URL(`${upstream.issuer}/authorize`);
  const params: Record<string, string | null> = { response_type: "code", client_id: clientId, redirect_uri: REDIRECT, code_challenge: challenge, code_challenge_method: "S256", resource: upstream.mcpUrl, state: "st-1", ...overrides };
  for (const [key, value] of Object.entries(params)) if (value !== null) url.searchParams.set(key, value);
  return url;
}

/** A code approved as `username` for `clientId`, with its verifier. */
async function codeFor(upstream: OAuthUpstream, clientId: string, username = "alice", overrides: Record<string, string | null> = {}): Promise<{ code: string; verifier: string }> {
  const { verifier, challenge } = pkce();
  const location = new URL(await approveAuthorization(authorizationUrl(upstream, clientId, challenge, overrides), username));
  const code = location.searchParams.get("code");
  if (!code) throw new Error(`no code: ${location.href}`);
  return { code, verifier };
}

async function token(upstream: OAuthUpstream, params: Record<string, string>, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(`${upstream.issuer}/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body: new URLSearchParams(params) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown>, headers: response.headers };
}

const exchange = (upstream: OAuthUpstream, clientId: string, code: string, verifier: string, extra: Record<string, string> = {}) =>
  token(upstream, { grant_type: "authorization_code", client_id: clientId, code, code_verifier: verifier, redirect_uri: REDIRECT, resource: upstream.mcpUrl, ...extra });

/** Tokens for `username` through a fresh public client. */
async function tokensFor(upstream: OAuthUpstream, username: string, overrides: Record<string, string | null> = {}): Promise<{ clientId: string; access: string; refresh: string }> {
  const clientId = await publicClient(upstream);
  const { code, verifier } = await codeFor(upstream, clientId, username, overrides);
  const answer = await exchange(upstream, clientId, code, verifier, overrides.resource ? { resource: overrides.resource } : {});
  expect(answer.status).toBe(200);
  return { clientId, access: String(answer.body.access_token), refresh: String(answer.body.refresh_token) };
}

const basic = (id: string, secret: string): Record<string, string> => ({ authorization: `Basic ${btoa(`${id}:${secret}`)}` });

describe("/authorize", () => {
  test("an unknown client, a missing client_id or a redirect_uri the client did not register: a 400 page, never a redirect", async () => {
    const upstream = await upstreamWith();
    const clientId = await publicClient(upstream);
    const { challenge } = pkce();
    const cases = [
      authorizationUrl(upstream, "nobody", challenge),
      authorizationUrl(upstream, clientId, challenge, { client_id: null }),
      authorizationUrl(upstream, clientId, challenge, { redirect_uri: "http://evil.example/callback" }),
      authorizationUrl(upstream, clientId, challenge, { redirect_uri: `${REDIRECT}/more` }),
      authorizationUrl(upstream, clientId, challenge, { redirect_uri: null }),
    ];
    for (const url of cases) {
      const response = await fetch(url, { redirect: "manual" });
      expect(response.status).toBe(400);
      expect(response.headers.get("location")).toBeNull();
      expect(await response.text()).toContain("Authorization failed");
    }
    await expect(approveAuthorization(cases[0] ?? "", "alice")).rejects.toThrow(/400/);
    expect(upstream.stats.authorizationCodes).toBe(0);
  });

  test("other faults go back to the client as errors, with state and iss", async () => {
    const upstream = await upstreamWith({ scopes: ["mcp:tools"] });
    const clientId = await publicClient(upstream);
    const { challenge } = pkce();
    const cases: [Record<string, string | null>, string][] = [
      [{ response_type: "token" }, "unsupported_response_type"],
      [{ code_challenge: null }, "invalid_request"],
      [{ code_challenge_method: "plain" }, "invalid_request"],
      [{ code_challenge_method: null }, "invalid_request"],
      [{ code_challenge: "short" }, "invalid_request"],
      [{ resource: null }, "invalid_target"],
      [{ resource: `${upstream.origin}/other` }, "invalid_target"],
      [{ resource: `${upstream.mcpUrl}/` }, "invalid_target"],
      [{ scope: "mcp:tools admin" }, "invalid_scope"],
    ];
    for (const [overrides, error] of cases) {
      const response = await fetch(authorizationUrl(upstream, clientId, challenge, overrides), { redirect: "manual" });
      expect(response.status).toBe(302);
      const location = new URL(response.headers.get("location") ?? "");
      expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
      expect([location.searchParams.get("error"), location.searchParams.get("state"), location.searchParams.get("iss")]).toEqual([error, "st-1", upstream.issuer]);
      expect(location.searchParams.get("code")).toBeNull();
    }
    // Two resources: this server issues a token for one.
    const twice = authorizationUrl(upstream, clientId, challenge);
    twice.searchParams.append("resource", `${upstream.origin}/other`);
    expect(new URL((await fetch(twice, { redirect: "manual" })).headers.get("location") ?? "").searchParams.get("error")).toBe("invalid_target");
    expect(upstream.stats.authorizationCodes).toBe(0);
  });

  test("the sign-in page: its form, escaped client data, a bad username re-asked, Deny, and one answer per request", async () => {
    const upstream = await upstreamWith();
    const clientId = String((await register(upstream, { client_name: '<script>alert("x")</script>' })).body.client_id);
    const { challenge } = pkce();
    const page = await (await fetch(authorizationUrl(upstream, clientId, challenge))).text();
    expect(page).toContain("<title>Sign in to the fixture</title>");
    expect(page).toContain('<label for="username">Username</label>');
    expect(page).toContain('<input id="username" type="text" name="username"');
    expect(page).toContain('<button type="submit" name="decision" value="approve">Approve</button>');
    expect(page).toContain('<button type="submit" name="decision" value="deny">Deny</button>');
    expect(page).not.toContain("<script>");
    expect(page).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
    const requestId = /name="request_id" value="([^"]+)"/.exec(page)?.[1] ?? "";
    const post = (fields: Record<string, string>) => fetch(`${upstream.issuer}/authorize`, { method: "POST", body: new URLSearchParams({ request_id: requestId, ...fields }), redirect: "manual" });
    const bad = await post({ username: "not a name!", decision: "approve" });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('role="alert"');
    const approved = await post({ username: "alice", decision: "approve" });
    expect(approved.status).toBe(302);
    expect(new URL(approved.headers.get("location") ?? "").searchParams.get("code")).toStartWith("code_");
    expect((await post({ username: "mallory", decision: "approve" })).status).toBe(400);
    expect(upstream.stats.authorizationCodes).toBe(1);
    const denied = new URL(await approveAuthorization(authorizationUrl(upstream, clientId, challenge), "alice", { decision: "deny" }));
    expect([denied.searchParams.get("error"), denied.searchParams.get("state"), denied.searchParams.get("code")]).toEqual(["access_denied", "st-1", null]);
    expect(upstream.stats.authorizationCodes).toBe(1);
  });
});

describe("/token", () => {
  test("a wrong PKCE verifier is invalid_grant, and spends the code", async () => {
    const upstream = await upstreamWith();
    const clientId = await publicClient(upstream);
    const { code, verifier } = await codeFor(upstream, clientId);
    const wrong = await exchange(upstream, clientId, code, pkce().verifier);
    expect([wrong.status, wrong.body.error]).toEqual([400, "invalid_grant"]);
    expect(wrong.body.access_token).toBeUndefined();
    expect((await exchange(upstream, clientId, code, verifier)).body.error).toBe("invalid_grant");
    const other = await codeFor(upstream, clientId);
    expect((await exchange(upstream, clientId, other.code, "")).body.error).toBe("invalid_grant");
  });

  test("a reused code is invalid_grant", async () => {
    const upstream = await upstreamWith();
    const clientId = await publicClient(upstream);
    const { code, verifier } = await codeFor(upstream, clientId);
    expect((await exchange(upstream, clientId, code, verifier)).status).toBe(200);
    const again = await exchange(upstream, clientId, code, verifier);
    expect([again.status, again.body.error, again.body.access_token]).toEqual([400, "invalid_grant", undefined]);
    expect(upstream.stats.tokenRequests.authorization_code).toBe(2);
  });

  test("a resource or redirect_uri differing from the authorization request is refused", async () => {
    const upstream = await upstreamWith();
    const clientId = await publicClient(upstream);
    for (const [extra, error] of [
      [{ resource: `${upstream.origin}/other` }, "invalid_target"],
      [{ resource: "" }, "invalid_target"],
      [{ redirect_uri: "http://127.0.0.1:9/other" }, "invalid_grant"],
    ] as const) {
      const { code, verifier } = await codeFor(upstream, clientId);
      const answer = await exchange(upstream, clientId, code, verifier, extra);
      expect([answer.status, answer.body.error, answer.body.access_token]).toEqual([400, error, undefined]);
    }
  });

  test("an unknown client is invalid_client; a code issued to another client is invalid_grant", async () => {
    const upstream = await upstreamWith();
    const clientId = await publicClient(upstream);
    const otherId = await publicClient(upstream);
    const { code, verifier } = await codeFor(upstream, clientId);
    const unknown = await exchange(upstream, "nobody", code, verifier);
    expect([unknown.status, unknown.body.error]).toEqual([401, "invalid_client"]);
    const next = await codeFor(upstream, clientId);
    const stolen = await exchange(upstream, otherId, next.code, next.verifier);
    expect([stolen.status, stolen.body.error, stolen.body.access_token]).toEqual([400, "invalid_grant", undefined]);
  });

  test("a confidential client must authenticate with its own method and secret", async () => {
    const upstream = await upstreamWith({ clients: [{ id: "conf", secret: "right", redirectUris: [REDIRECT] }] });
    const attempts: [Record<string, string>, Record<string, string>, number, string][] = [
      [{}, basic("conf", "wrong"), 401, "invalid_client"],
      [{}, {}, 401, "invalid_client"],
      [{ client_secret: "right" }, {}, 401, "invalid_client"], // registered for client_secret_basic
      [{ client_secret: "right" }, basic("conf", "right"), 400, "invalid_request"], // two methods at once
      [{}, { authorization: "Basic !!!" }, 401, "invalid_client"],
    ];
    for (const [extra, headers, status, error] of attempts) {
      const { code, verifier } = await codeFor(upstream, "conf");
      const answer = await token(upstream, { grant_type: "authorization_code", client_id: "conf", code, code_verifier: verifier, redirect_uri: REDIRECT, resource: upstream.mcpUrl, ...extra }, headers);
      expect([answer.status, answer.body.error, answer.body.access_token]).toEqual([status, error, undefined]);
    }
    expect((await token(upstream, { grant_type: "authorization_code", code: "x", code_verifier: "y" }, basic("conf", "wrong"))).headers.get("www-authenticate")).toStartWith("Basic");
    const { code, verifier } = await codeFor(upstream, "conf");
    const ok = await token(upstream, { grant_type: "authorization_code", code, code_verifier: verifier, redirect_uri: REDIRECT, resource: upstream.mcpUrl }, basic("conf", "right"));
    expect(ok.status).toBe(200);
    expect(ok.headers.get("cache-control")).toBe("no-store");
  });

  test("unsupported grants, non-form bodies and repeated parameters are refused", async () => {
    const upstream = await upstreamWith();
    const clientId = await publicClient(upstream);
    expect((await token(upstream, { grant_type: "client_credentials", client_id: clientId })).body.error).toBe("unsupported_grant_type");
    const asJson = await fetch(`${upstream.issuer}/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ grant_type: "refresh_token" }) });
    expect([asJson.status, ((await asJson.json()) as { error: string }).error]).toEqual([400, "invalid_request"]);
    const { code, verifier } = await codeFor(upstream, clientId);
    const body = new URLSearchParams({ grant_type: "authorization_code", client_id: clientId, code, code_verifier: verifier, redirect_uri: REDIRECT, resource: upstream.mcpUrl });
    body.append("code", code);
    const repeated = await fetch(`${upstream.issuer}/token`, { method: "POST", body });
    expect([repeated.status, ((await repeated.json()) as { error: string }).error]).toEqual([400, "invalid_request"]);
  });

  test("refresh: another client's token is invalid_grant, another resource invalid_target, a wider scope invalid_scope", async () => {
    const upstream = await upstreamWith({ scopes: ["mcp:tools", "mcp:extra"] });
    const alice = await tokensFor(upstream, "alice", { scope: "mcp:tools" });
    const otherId = await publicClient(upstream);
    const refresh = (clientId: string, extra: Record<string, string> = {}) => token(upstream, { grant_type: "refresh_token", client_id: clientId, refresh_token: alice.refresh, ...extra });
    expect((await refresh(otherId)).body.error).toBe("invalid_grant");
    expect((await refresh(alice.clientId, { resource: `${upstream.origin}/other` })).body.error).toBe("invalid_target");
    expect((await refresh(alice.clientId, { scope: "mcp:tools mcp:extra" })).body.error).toBe("invalid_scope");
    // None of those spent it; without resource the grant keeps its own.
    const ok = await refresh(alice.clientId);
    expect([ok.status, ok.body.scope]).toEqual([200, "mcp:tools"]);
  });

  test("rotateRefreshTokens: false keeps the refresh token; issueRefreshTokens: false issues none", async () => {
    const steady = await upstreamWith({ rotateRefreshTokens: false });
    const alice = await tokensFor(steady, "alice");
    for (let i = 0; i < 2; i++) {
      const answer = await token(steady, { grant_type: "refresh_token", client_id: alice.clientId, refresh_token: alice.refresh });
      expect(answer.status).toBe(200);
      expect(answer.body.refresh_token).toBeUndefined();
    }
    const none = await upstreamWith({ issueRefreshTokens: false });
    const clientId = await publicClient(none);
    const { code, verifier } = await codeFor(none, clientId);
    const answer = await exchange(none, clientId, code, verifier);
    expect(answer.body.access_token).toBeString();
    expect(answer.body.refresh_token).toBeUndefined();
  });
});

describe("/register and client ID metadata documents", () => {
  test("registrations without acceptable redirect URIs or with unsupported metadata are refused and not counted", async () => {
    const upstream = await upstreamWith();
    const cases: [Record<string, unknown>, string][] = [
      [{ redirect_uris: undefined }, "invalid_redirect_uri"],
      [{ redirect_uris: [] }, "invalid_redirect_uri"],
      [{ redirect_uris: ["http://evil.example/callback"] }, "invalid_redirect_uri"],
      [{ redirect_uris: [`${REDIRECT}#frag`] }, "invalid_redirect_uri"],
      [{ redirect_uris: ["not a url"] }, "invalid_redirect_uri"],
      [{ token_endpoint_auth_method: "private_key_jwt" }, "invalid_client_metadata"],
      [{ grant_types: ["client_credentials"] }, "invalid_client_metadata"],
    ];
    for (const [body, error] of cases) {
      const answer = await register(upstream, body);
      expect([answer.status, answer.body.error, answer.body.client_id]).toEqual([400, error, undefined]);
    }
    const notJson = await fetch(`${upstream.issuer}/register`, { method: "POST", body: "{" });
    expect(notJson.status).toBe(400);
    expect(upstream.stats.registrations).toBe(0);
    // https anywhere and http on loopback are fine; a confidential registration gets a secret.
    const confidential = await register(upstream, { redirect_uris: ["https://app.example/cb", "http://localhost:8080/cb"], token_endpoint_auth_method: undefined });
    expect([confidential.status, confidential.body.token_endpoint_auth_method, typeof confidential.body.client_secret]).toEqual([201, "client_secret_basic", "string"]);
    expect((await register(upstream)).body.client_secret).toBeUndefined();
    expect(upstream.stats.registrations).toBe(2);
  });

  test("a metadata document must name itself, list the redirect URI, be a public client and be served; cimd: false takes none", async () => {
    const documents = new Map<string, Record<string, unknown>>();
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => (documents.has(new URL(req.url).pathname) ? Response.json(documents.get(new URL(req.url).pathname)) : new Response("no", { status: 404 })) });
    cleanups.push(() => server.stop(true));
    const at = (path: string): string => `http://127.0.0.1:${server.port}${path}`;
    documents.set("/good.json", { client_id: at("/good.json"), redirect_uris: [REDIRECT] });
    documents.set("/other-id.json", { client_id: at("/good.json"), redirect_uris: [REDIRECT] });
    documents.set("/other-redirect.json", { client_id: at("/other-redirect.json"), redirect_uris: ["http://127.0.0.1:9/elsewhere"] });
    documents.set("/confidential.json", { client_id: at("/confidential.json"), redirect_uris: [REDIRECT], token_endpoint_auth_method: "client_secret_basic" });
    const upstream = await upstreamWith();
    const { challenge } = pkce();
    for (const path of ["/other-id.json", "/other-redirect.json", "/confidential.json", "/missing.json"]) {
      const response = await fetch(authorizationUrl(upstream, at(path), challenge), { redirect: "manual" });
      expect([path, response.status, response.headers.get("location")]).toEqual([path, 400, null]);
    }
    expect(upstream.stats.metadataDocumentFetches).toBe(4);
    const { code, verifier } = await codeFor(upstream, at("/good.json"));
    expect((await exchange(upstream, at("/good.json"), code, verifier)).status).toBe(200);
    expect(upstream.stats.metadataDocumentFetches).toBe(6);
    const without = await upstreamWith({ cimd: false });
    expect((await fetch(authorizationUrl(without, at("/good.json"), challenge), { redirect: "manual" })).status).toBe(400);
    expect(without.stats.metadataDocumentFetches).toBe(0);
  });
});

/** Initializes an MCP session over raw HTTP with `token`. */
async function initialize(upstream: OAuthUpstream, token: string): Promise<{ status: number; sessionId: string | null; challenge: string | null }> {
  const response = await fetch(upstream.mcpUrl, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } }),
  });
  await response.body?.cancel();
  return { status: response.status, sessionId: response.headers.get("mcp-session-id"), challenge: response.headers.get("www-authenticate") };
}

/** A tools/call on a session over raw HTTP; the response's status and body text. */
async function callTool(upstream: OAuthUpstream, token: string, sessionId: string, name: string): Promise<{ status: number; text: string }> {
  const response = await fetch(upstream.mcpUrl, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "mcp-session-id": sessionId, "mcp-protocol-version": "2025-06-18", "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name, arguments: {} } }),
  });
  return { status: response.status, text: await response.text() };
}

describe("the MCP endpoint, /revoke and /userinfo", () => {
  test("garbage, other schemes and tokens issued for another resource are 401", async () => {
    const other = "http://127.0.0.1:1/other-mcp";
    const upstream = await upstreamWith({ otherResources: [other] });
    const elsewhere = await tokensFor(upstream, "alice", { resource: other });
    for (const bearer of ["garbage", elsewhere.refresh, ""]) expect((await initialize(upstream, bearer)).status).toBe(401);
    const basicScheme = await fetch(upstream.mcpUrl, { method: "POST", headers: basic("alice", "pw"), body: "{}" });
    expect(basicScheme.status).toBe(401);
    const refused = await initialize(upstream, elsewhere.access);
    expect(refused.status).toBe(401);
    expect(refused.challenge).toContain('error="invalid_token"');
    // The token itself is live: the authorization server still knows whose it is.
    expect((await fetch(`${upstream.issuer}/userinfo`, { headers: { authorization: `Bearer ${elsewhere.access}` } })).status).toBe(200);
    expect((await initialize(upstream, (await tokensFor(upstream, "alice")).access)).status).toBe(200);
    expect(upstream.stats.unauthorized).toBe(5);
  });

  test("a token without every required scope is 403 insufficient_scope", async () => {
    const upstream = await upstreamWith({ scopes: ["mcp:tools", "mcp:admin"] });
    const narrow = await tokensFor(upstream, "alice", { scope: "mcp:tools" });
    const refused = await initialize(upstream, narrow.access);
    expect(refused.status).toBe(403);
    expect(refused.challenge).toContain('error="insufficient_scope"');
    expect(refused.challenge).toContain('scope="mcp:tools mcp:admin"');
    expect((await initialize(upstream, (await tokensFor(upstream, "alice")).access)).status).toBe(200);
    // An empty scope is no scope: the default, every required one.
    expect((await initialize(upstream, (await tokensFor(upstream, "alice", { scope: "" })).access)).status).toBe(200);
  });

  test("a session belongs to the user whose token opened it: another user's token on it is 403", async () => {
    const upstream = await upstreamWith();
    const alice = await tokensFor(upstream, "alice");
    const bob = await tokensFor(upstream, "bob");
    const { sessionId } = await initialize(upstream, alice.access);
    if (!sessionId) throw new Error("no session");
    const hijack = await callTool(upstream, bob.access, sessionId, "whoami");
    expect(hijack.status).toBe(403);
    expect(hijack.text).not.toContain("alice");
    const own = await callTool(upstream, alice.access, sessionId, "whoami");
    expect(own.status).toBe(200);
    expect(own.text).toContain('"text":"alice"');
    expect(upstream.stats.toolCalls).toEqual([{ tool: "whoami", user: "alice" }]);
  });

  test("/revoke: a revoked refresh token takes its access tokens along; another client cannot revoke it", async () => {
    const upstream = await upstreamWith();
    const alice = await tokensFor(upstream, "alice");
    const intruder = await publicClient(upstream);
    const revoke = (clientId: string, value: string) => fetch(`${upstream.issuer}/revoke`, { method: "POST", body: new URLSearchParams({ client_id: clientId, token: value }) });
    expect((await revoke(intruder, alice.refresh)).status).toBe(200);
    expect((await initialize(upstream, alice.access)).status).toBe(200);
    expect((await revoke("nobody", alice.refresh)).status).toBe(401);
    expect((await revoke(alice.clientId, alice.refresh)).status).toBe(200);
    expect((await token(upstream, { grant_type: "refresh_token", client_id: alice.clientId, refresh_token: alice.refresh })).body.error).toBe("invalid_grant");
    expect((await initialize(upstream, alice.access)).status).toBe(401);
    expect(upstream.stats.revocations).toBe(2);
  });

  test("/userinfo names the token's user; no token or an expired one is 401", async () => {
    const upstream = await upstreamWith();
    const alice = await tokensFor(upstream, "alice");
    const ask = (bearer: string | null) => fetch(`${upstream.issuer}/userinfo`, { headers: bearer ? { authorization: `Bearer ${bearer}` } : {} });
    expect(await (await ask(alice.access)).json()).toEqual({ sub: "sub_alice", preferred_username: "alice", email: "alice@fixture.test" });
    expect((await ask(null)).status).toBe(401);
    upstream.expireAccessTokens();
    expect((await ask(alice.access)).status).toBe(401);
    // Tokens issued after the call live their normal life.
    expect((await ask((await tokensFor(upstream, "alice")).access)).status).toBe(200);
  });
});
