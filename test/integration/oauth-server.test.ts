// The authorization server's endpoints through app.request(): registration, the authorization request
// (sign-in, consent, approve or deny), the token and revocation endpoints, and every refusal among them
// (an error page where the client is not proven, an OAuth error sent back or answered otherwise, never a 500).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { createAgent, newAgentFields, updateAgent } from "../../src/domain/agents/agents.ts";
import { createConnection, newConnectionFields } from "../../src/domain/connections/connections.ts";
import { deleteClient, saveClientDocument } from "../../src/domain/oauth/clients.ts";
import { METADATA_FETCHES_PER_WINDOW } from "../../src/http/oauth/authorize.ts";
import type { User } from "../../src/domain/access/users.ts";
import { agentStore } from "../../src/operations/agents.ts";
import { connectionStore } from "../../src/operations/connections.ts";
import { createTestApp, PUBLIC_URL, useFresh, type ConfigOverrides, type TestApp } from "../support/app.ts";
import { discoveryOf, FakeGateway } from "../support/connection-harness.ts";
import { PASSWORD } from "../support/users.ts";

const CALLBACK = "http://127.0.0.1/callback";
const CALLBACK_ON_PORT = "http://127.0.0.1:43123/callback";
const SAME_ORIGIN = { "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "same-origin" };

type Ctx = TestApp & { agentId: string; agentUrl: string; connectionId: string; connectionUrl: string; admin: User; member: User; adminCookie: string; memberCookie: string };

const harness = useFresh(async (overrides: ConfigOverrides = {}) => {
  const gateway = new FakeGateway();
  const t = await createTestApp({ overrides, gateway, allowLoopbackClientMetadata: true });
  const connection = await createConnection(connectionStore(t.deps), newConnectionFields({ slug: "files", transport: "http", url: "https://files.example.com/mcp" }));
  gateway.discoveries.set(connection.id, discoveryOf({ read_file: "Read a file", write_file: "Write a file" }));
  const agent = await createAgent(
    agentStore(t.deps),
    newAgentFields({ slug: "helper", title: "Helper", connections: [{ connectionId: connection.id, tools: [{ name: "read_file" }], resources: "none", prompts: "none" }] }),
  );
  return Object.assign(t, { agentId: agent.id, agentUrl: `${PUBLIC_URL}/mcp/agent/helper`, connectionId: connection.id, connectionUrl: `${PUBLIC_URL}/mcp/files` });
});

async function setup(overrides: ConfigOverrides = {}): Promise<Ctx> {
  const t = await harness(overrides);
  const admin = await t.createUser("admin@example.com", "admin");
  const member = await t.createUser("member@example.com", "member");
  return Object.assign(t, { admin, member, adminCookie: await t.cookieFor(admin), memberCookie: await t.cookieFor(member) });
}

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

function json(body: unknown, headers: Record<string, string> = {}): RequestInit {
  return { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) };
}

function formPost(fields: Record<string, string>, headers: Record<string, string> = {}): RequestInit {
  return { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body: new URLSearchParams(fields).toString() };
}

async function register(t: TestApp, body: Record<string, unknown> = { redirect_uris: [CALLBACK], client_name: "Test client" }): Promise<string> {
  const res = await t.request("/oauth/register", json(body));
  expect(res.status).toBe(201);
  return ((await res.json()) as { client_id: string }).client_id;
}

function authorizeQuery(fields: Record<string, string | undefined>): string {
  return `/oauth/authorize?${new URLSearchParams(Object.entries(fields).filter((e): e is [string, string] => e[1] !== undefined)).toString()}`;
}

/** A complete, valid authorization request for `clientId`, with any field replaced or removed. */
function request(ctx: Ctx, clientId: string, challenge: string, change: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return { response_type: "code", client_id: clientId, redirect_uri: CALLBACK_ON_PORT, code_challenge: challenge, code_challenge_method: "S256", state: "st-123", resource: ctx.agentUrl, scope: "mcp", ...change };
}

const ENTITIES: Record<string, string> = { "&amp;": "&", "&quot;": '"', "&#39;": "'", "&lt;": "<", "&gt;": ">" };

/** The consent form's hidden fields, as the browser would post them back. */
function hiddenFields(html: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"\/?>/g)) {
    if (m[1] === "next") continue;
    fields[m[1]!] = m[2]!.replace(/&(amp|quot|#39|lt|gt);/g, (e) => ENTITIES[e]!);
  }
  return fields;
}

/** Approves (or denies) a request through the consent page as the user of `cookie`; returns the redirect. */
async function decide(ctx: Ctx, cookie: string, fields: Record<string, string | undefined>, decision: "approve" | "deny" = "approve"): Promise<URL> {
  const page = await ctx.request(authorizeQuery(fields), { headers: { cookie } });
  expect(page.status).toBe(200);
  const res = await ctx.request("/oauth/authorize", formPost({ ...hiddenFields(await page.text()), decision }, { ...SAME_ORIGIN, cookie }));
  expect(res.status).toBe(303);
  return new URL(res.headers.get("location")!);
}

type Tokens = { access_token: string; refresh_token: string; token_type: string; expires_in: number; scope: string };

async function token(ctx: Ctx, fields: Record<string, string>): Promise<Response> {
  return ctx.request("/oauth/token", formPost(fields));
}

/** Register, approve as `cookie`'s user, exchange: the tokens and what was used to get them. */
async function obtain(ctx: Ctx, cookie = ctx.adminCookie): Promise<{ clientId: string; tokens: Tokens }> {
  const clientId = await register(ctx);
  const { verifier, challenge } = pkce();
  const back = await decide(ctx, cookie, request(ctx, clientId, challenge));
  const res = await token(ctx, { grant_type: "authorization_code", code: back.searchParams.get("code")!, redirect_uri: CALLBACK_ON_PORT, client_id: clientId, code_verifier: verifier, resource: ctx.agentUrl });
  expect(res.status).toBe(200);
  return { clientId, tokens: (await res.json()) as Tokens };
}

async function oauthError(res: Response): Promise<{ error: string; error_description: string }> {
  expect(res.headers.get("content-type")).toContain("application/json");
  expect(res.headers.get("cache-control")).toBe("no-store");
  return (await res.json()) as { error: string; error_description: string };
}

describe("the whole flow", () => {
  test("register → sign-in redirect → sign in → consent → approve → code → tokens → refresh", async () => {
    const ctx = await setup();
    const clientId = await register(ctx);
    expect(clientId).toMatch(/^sbc_/);
    const { verifier, challenge } = pkce();
    const start = authorizeQuery(request(ctx, clientId, challenge));

    // Signed out: to the sign-in page, which comes back to exactly this request.
    const toLogin = await ctx.request(start);
    expect(toLogin.status).toBe(303);
    const login = new URL(toLogin.headers.get("location")!, PUBLIC_URL);
    expect(login.pathname).toBe("/admin/login");
    expect(login.searchParams.get("next")).toBe(start);
    const signedIn = await ctx.request("/admin/login", formPost({ email: "member@example.com", password: PASSWORD, next: login.searchParams.get("next")! }));
    expect(signedIn.status).toBe(303);
    expect(signedIn.headers.get("location")).toBe(start);
    const cookie = signedIn.headers.getSetCookie().map((l) => l.split(";", 1)[0]!).find((p) => p.startsWith("sb_session="))!;

    // The consent page: who asks, for what, where it goes back, who is signed in; strict headers.
    const page = await ctx.request(start, { headers: { cookie } });
    expect(page.status).toBe(200);
    const html = await page.text();
    for (const shown of ["Test client", "not verified", "Helper", "helper", "read_file", "127.0.0.1:43123", "member@example.com", "Approve", "Deny"]) expect(html).toContain(shown);
    expect(html).not.toContain("write_file"); // the connection offers it, the agent does not expose it
    const csp = page.headers.get("content-security-policy")!;
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("form-action 'self' http://127.0.0.1:43123");
    expect(page.headers.get("x-frame-options")).toBe("DENY");
    expect(page.headers.get("cache-control")).toBe("no-store");

    const approve = await ctx.request("/oauth/authorize", formPost({ ...hiddenFields(html), decision: "approve" }, { ...SAME_ORIGIN, cookie }));
    expect(approve.status).toBe(303);
    const back = new URL(approve.headers.get("location")!);
    expect(`${back.origin}${back.pathname}`).toBe(CALLBACK_ON_PORT);
    expect(back.searchParams.get("state")).toBe("st-123");
    expect(back.searchParams.get("iss")).toBe(PUBLIC_URL);
    const code = back.searchParams.get("code")!;
    expect(code).toMatch(/^mcp_ac_/);

    const exchanged = await token(ctx, { grant_type: "authorization_code", code, redirect_uri: CALLBACK_ON_PORT, client_id: clientId, code_verifier: verifier, resource: ctx.agentUrl });
    expect(exchanged.status).toBe(200);
    expect(exchanged.headers.get("cache-control")).toBe("no-store");
    expect(exchanged.headers.get("pragma")).toBe("no-cache");
    const tokens = (await exchanged.json()) as Tokens;
    expect(tokens).toMatchObject({ token_type: "Bearer", expires_in: 3600, scope: "mcp" });
    expect(tokens.access_token).toMatch(/^mcp_at_/);
    expect(tokens.refresh_token).toMatch(/^mcp_rt_/);
    const access = await ctx.deps.oauth.verifyAccessToken(tokens.access_token);
    expect(access).toMatchObject({ resource: ctx.agentId, clientId, permissions: { [ctx.agentId]: ["*"] } });
    expect(access!.user.id).toBe(ctx.member.id);

    const refreshed = await token(ctx, { grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: clientId });
    expect(refreshed.status).toBe(200);
    const next = (await refreshed.json()) as Tokens;
    expect(next.refresh_token).not.toBe(tokens.refresh_token);
    expect((await ctx.deps.oauth.verifyAccessToken(next.access_token))?.resource).toBe(ctx.agentId);
  });

  test("a connection's URL is a resource too; the page lists the connection's tools", async () => {
    const ctx = await setup();
    const clientId = await register(ctx);
    const { challenge } = pkce();
    const page = await ctx.request(authorizeQuery(request(ctx, clientId, challenge, { resource: ctx.connectionUrl })), { headers: { cookie: ctx.adminCookie } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain("read_file");
    expect(html).toContain("write_file");
  });

  test("deny sends access_denied back with the state, and issues no code", async () => {
    const ctx = await setup();
    const clientId = await register(ctx);
    const back = await decide(ctx, ctx.adminCookie, request(ctx, clientId, pkce().challenge), "deny");
    expect(back.searchParams.get("error")).toBe("access_denied");
    expect(back.searchParams.get("state")).toBe("st-123");
    expect(back.searchParams.get("iss")).toBe(PUBLIC_URL);
    expect(back.searchParams.has("code")).toBe(false);
  });

  test("a request without scope gets mcp; offline_access is kept; redirect_uri may be left out with one registered URI", async () => {
    const ctx = await setup();
    const clientId = await register(ctx);
    const { verifier, challenge } = pkce();
    const back = await decide(ctx, ctx.adminCookie, request(ctx, clientId, challenge, { scope: "offline_access", redirect_uri: undefined }));
    expect(`${back.origin}${back.pathname}`).toBe(CALLBACK);
    const res = await token(ctx, { grant_type: "authorization_code", code: back.searchParams.get("code")!, client_id: clientId, code_verifier: verifier });
    expect(res.status).toBe(200);
    expect(((await res.json()) as Tokens).scope).toBe("mcp offline_access");
  });

  test("a state and client name full of markup round-trip escaped: the page runs none of it", async () => {
    const ctx = await setup();
    const clientId = await register(ctx, { redirect_uris: [CALLBACK], client_name: '<script>alert(1)</script>"' });
    const state = `"><script>alert(2)</script>&x='y`;
    const fields = request(ctx, clientId, pkce().challenge, { state });
    const html = await (await ctx.request(authorizeQuery(fields), { headers: { cookie: ctx.adminCookie } })).text();
    expect(html).not.toContain("<script>alert");
    const back = await decide(ctx, ctx.adminCookie, fields);
    expect(back.searchParams.get("state")).toBe(state);
  });

  test("the token endpoint also takes JSON", async () => {
    const ctx = await setup();
    const clientId = await register(ctx);
    const { verifier, challenge } = pkce();
    const back = await decide(ctx, ctx.adminCookie, request(ctx, clientId, challenge));
    const res = await ctx.request("/oauth/token", json({ grant_type: "authorization_code", code: back.searchParams.get("code"), redirect_uri: CALLBACK_ON_PORT, client_id: clientId, code_verifier: verifier }));
    expect(res.status).toBe(200);
  });
});

describe("the token endpoint refuses", () => {
  test("a wrong PKCE verifier (invalid_grant), and the code is then spent", async () => {
    const ctx = await setup();
    const clientId = await register(ctx);
    const { verifier, challenge } = pkce();
    const code = (await decide(ctx, ctx.adminCookie, request(ctx, clientId, challenge))).searchParams.get("code")!;
    const wrong = await token(ctx, { grant_type: "authorization_code", code, redirect_uri: CALLBACK_ON_PORT, client_id: clientId, code_verifier: pkce().verifier });
    expect(wrong.status).toBe(400);
    expect((await oauthError(wrong)).error).toBe("invalid_grant");
    const right = await token(ctx, { grant_type: "authorization_code", code, redirect_uri: CALLBACK_ON_PORT, client_id: clientId, code_verifier: verifier });
    expect((await oauthError(right)).error).toBe("invalid_grant");
  });

  test("a malformed verifier is invalid_request", async () => {
    const ctx = await setup();
    const clientId = await register(ctx);
    const res = await token(ctx, { grant_type: "authorization_code", code: "mcp_ac_x", redirect_uri: CALLBACK, client_id: clientId, code_verifier: "short" });
    expect((await oauthError(res)).error).toBe("invalid_request");
  });

  test("a replayed code (invalid_grant), and the tokens of its first use stop", async () => {
    const ctx = await setup();
    const clientId = await register(ctx);
    const { verifier, challenge } = pkce();
    const code = (await decide(ctx, ctx.adminCookie, request(ctx, clientId, challenge))).searchParams.get("code")!;
    const fields = { grant_type: "authorization_code", code, redirect_uri: CALLBACK_ON_PORT, client_id: clientId, code_verifier: verifier };
    const first = (await (await token(ctx, fields)).json()) as Tokens;
    expect(await ctx.deps.oauth.verifyAccessToken(first.access_token)).not.toBeNull();
    const again = await token(ctx, fields);
    expect(again.status).toBe(400);
    expect((await oauthError(again)).error).toBe("invalid_grant");
    expect(await ctx.deps.oauth.verifyAccessToken(first.access_token)).toBeNull();
  });

  test("a code presented by another client, or with another redirect URI", async () => {
    const ctx = await setup();
    const clientId = await register(ctx);
    const other = await register(ctx);
    const { verifier, challenge } = pkce();
    const code = (await decide(ctx, ctx.adminCookie, request(ctx, clientId, challenge))).searchParams.get("code")!;
    const byOther = await token(ctx, { grant_type: "authorization_code", code, redirect_uri: CALLBACK_ON_PORT, client_id: other, code_verifier: verifier });
    expect((await oauthError(byOther)).error).toBe("invalid_grant");
    const code2 = (await decide(ctx, ctx.adminCookie, request(ctx, clientId, challenge))).searchParams.get("code")!;
    const elsewhere = await token(ctx, { grant_type: "authorization_code", code: code2, redirect_uri: "http://127.0.0.1:9/other", client_id: clientId, code_verifier: verifier });
    expect((await oauthError(elsewhere)).error).toBe("invalid_grant");
  });

  test("a replayed refresh token revokes the family: the newest access token stops too", async () => {
    const ctx = await setup();
    const { clientId, tokens } = await obtain(ctx);
    const rotated = (await (await token(ctx, { grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: clientId })).json()) as Tokens;
    expect(await ctx.deps.oauth.verifyAccessToken(rotated.access_token)).not.toBeNull();
    const replay = await token(ctx, { grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: clientId });
    expect(replay.status).toBe(400);
    expect((await oauthError(replay)).error).toBe("invalid_grant");
    expect(await ctx.deps.oauth.verifyAccessToken(rotated.access_token)).toBeNull();
    const newest = await token(ctx, { grant_type: "refresh_token", refresh_token: rotated.refresh_token, client_id: clientId });
    expect((await oauthError(newest)).error).toBe("invalid_grant");
  });

  test("a refresh token presented by another client", async () => {
    const ctx = await setup();
    const { tokens } = await obtain(ctx);
    const other = await register(ctx);
    const res = await token(ctx, { grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: other });
    expect((await oauthError(res)).error).toBe("invalid_grant");
  });

  test("a deleted client: 401 invalid_client with WWW-Authenticate (the client registers again)", async () => {
    const ctx = await setup();
    const { clientId, tokens } = await obtain(ctx);
    await deleteClient(ctx.deps.db, clientId);
    const res = await token(ctx, { grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: clientId });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe('Bearer error="invalid_client"');
    expect((await oauthError(res)).error).toBe("invalid_client");
    expect(await ctx.deps.oauth.verifyAccessToken(tokens.access_token)).toBeNull();
  });

  const rows: { name: string; fields: (clientId: string) => Record<string, string>; status: number; error: string }[] = [
    { name: "no client_id", fields: () => ({ grant_type: "refresh_token", refresh_token: "mcp_rt_x" }), status: 401, error: "invalid_client" },
    { name: "an unknown client_id", fields: () => ({ grant_type: "refresh_token", refresh_token: "mcp_rt_x", client_id: "sbc_nobody" }), status: 401, error: "invalid_client" },
    { name: "no grant_type", fields: (id) => ({ client_id: id }), status: 400, error: "invalid_request" },
    { name: "the password grant", fields: (id) => ({ grant_type: "password", username: "a", password: "b", client_id: id }), status: 400, error: "unsupported_grant_type" },
    { name: "client_credentials", fields: (id) => ({ grant_type: "client_credentials", client_id: id }), status: 400, error: "unsupported_grant_type" },
    { name: "no code", fields: (id) => ({ grant_type: "authorization_code", client_id: id, code_verifier: "a".repeat(43), redirect_uri: CALLBACK }), status: 400, error: "invalid_request" },
    { name: "an unknown code", fields: (id) => ({ grant_type: "authorization_code", code: "mcp_ac_nothing", client_id: id, code_verifier: "a".repeat(43), redirect_uri: CALLBACK }), status: 400, error: "invalid_grant" },
    { name: "no refresh_token", fields: (id) => ({ grant_type: "refresh_token", client_id: id }), status: 400, error: "invalid_request" },
    { name: "an unknown refresh token", fields: (id) => ({ grant_type: "refresh_token", refresh_token: "garbage", client_id: id }), status: 400, error: "invalid_grant" },
  ];
  for (const row of rows) {
    test(`${row.name}: ${row.status} ${row.error}`, async () => {
      const ctx = await setup();
      const clientId = await register(ctx);
      const res = await token(ctx, row.fields(clientId));
      expect(res.status).toBe(row.status);
      expect((await oauthError(res)).error).toBe(row.error);
    });
  }

  test("a repeated parameter", async () => {
    const ctx = await setup();
    const clientId = await register(ctx);
    const res = await ctx.request("/oauth/token", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: `grant_type=refresh_token&client_id=${clientId}&refresh_token=a&refresh_token=b` });
    expect(res.status).toBe(400);
    expect((await oauthError(res)).error).toBe("invalid_request");
  });
});

describe("the authorization endpoint", () => {
  test("an unknown client or a foreign redirect URI: an error page, never a redirect", async () => {
    const ctx = await setup();
    const clientId = await register(ctx);
    const { challenge } = pkce();
    for (const change of [
      { client_id: "sbc_unknown" },
      { client_id: undefined },
      { redirect_uri: "https://evil.example/callback" },
      { redirect_uri: "http://127.0.0.1:43123/other" },
      { redirect_uri: "http://localhost.evil.example/callback" },
    ]) {
      for (const cookie of [undefined, ctx.adminCookie]) {
        const res = await ctx.request(authorizeQuery(request(ctx, clientId, challenge, change)), { headers: cookie ? { cookie } : {} });
        expect(res.status).toBe(400);
        expect(res.headers.get("location")).toBeNull();
        expect(res.headers.get("content-type")).toContain("text/html");
        expect(res.headers.get("x-frame-options")).toBe("DENY");
        expect(await res.text()).not.toContain("evil.example");
      }
    }
  });

  test("a client that registered several URIs must name one", async () => {
    const ctx = await setup();
    const clientId = await register(ctx, { redirect_uris: [CALLBACK, "https://app.example.com/cb"] });
    const res = await ctx.request(authorizeQuery(request(ctx, clientId, pkce().challenge, { redirect_uri: undefined })));
    expect(res.status).toBe(400);
    expect(res.headers.get("location")).toBeNull();
  });

  const sentBack: { name: string; change: (ctx: Ctx) => Record<string, string | undefined>; error: string }[] = [
    { name: "response_type token", change: () => ({ response_type: "token" }), error: "unsupported_response_type" },
    { name: "no response_type", change: () => ({ response_type: undefined }), error: "invalid_request" },
    { name: "no code_challenge", change: () => ({ code_challenge: undefined }), error: "invalid_request" },
    { name: "a short code_challenge", change: () => ({ code_challenge: "abc" }), error: "invalid_request" },
    { name: "method plain", change: () => ({ code_challenge_method: "plain" }), error: "invalid_request" },
    { name: "no method (plain by default)", change: () => ({ code_challenge_method: undefined }), error: "invalid_request" },
    { name: "no resource", change: () => ({ resource: undefined }), error: "invalid_target" },
    { name: "/mcp/self", change: () => ({ resource: `${PUBLIC_URL}/mcp/self` }), error: "invalid_target" },
    { name: "/api/v1", change: () => ({ resource: `${PUBLIC_URL}/api/v1` }), error: "invalid_target" },
    { name: "a trailing slash", change: (ctx) => ({ resource: `${ctx.agentUrl}/` }), error: "invalid_target" },
    { name: "a query", change: (ctx) => ({ resource: `${ctx.agentUrl}?x=1` }), error: "invalid_target" },
    { name: "another origin", change: () => ({ resource: "https://elsewhere.example/mcp/agent/helper" }), error: "invalid_target" },
    { name: "an unknown scope", change: () => ({ scope: "mcp admin" }), error: "invalid_scope" },
  ];
  for (const row of sentBack) {
    test(`${row.name}: ${row.error} sent back with state and iss`, async () => {
      const ctx = await setup();
      const clientId = await register(ctx);
      const res = await ctx.request(authorizeQuery(request(ctx, clientId, pkce().challenge, row.change(ctx))), { headers: { cookie: ctx.adminCookie } });
      expect(res.status).toBe(303);
      const back = new URL(res.headers.get("location")!);
      expect(`${back.origin}${back.pathname}`).toBe(CALLBACK_ON_PORT);
      expect(back.searchParams.get("error")).toBe(row.error);
      expect(back.searchParams.get("error_description")).toBeTruthy();
      expect(back.searchParams.get("state")).toBe("st-123");
      expect(back.searchParams.get("iss")).toBe(PUBLIC_URL);
      expect(back.searchParams.has("code")).toBe(false);
    });
  }

  test("signed out, nothing goes back to the client before the user signs in (RFC 9700 §4.11.2): no bounce off this host", async () => {
    const ctx = await setup();
    const clientId = await register(ctx, { redirect_uris: ["https://evil.example/phish"] });
    const broken: Record<string, string | undefined>[] = [
      { response_type: undefined },
      { code_challenge: undefined },
      { resource: `${PUBLIC_URL}/mcp/self` },
      { resource: `${PUBLIC_URL}/mcp/agent/nobody` },
      { scope: "admin" },
      {},
    ];
    for (const change of broken) {
      const res = await ctx.request(authorizeQuery(request(ctx, clientId, pkce().challenge, { redirect_uri: "https://evil.example/phish", ...change })));
      expect(res.status).toBe(303);
      expect(res.headers.get("location")!.startsWith("/admin/login?next=")).toBe(true);
    }
  });

  test("an unknown or disabled agent or connection is an error page, never sent back: a client cannot tell it from a real one", async () => {
    const ctx = await setup();
    const clientId = await register(ctx);
    const real = await ctx.request(authorizeQuery(request(ctx, clientId, pkce().challenge)), { headers: { cookie: ctx.memberCookie } });
    expect(real.status).toBe(200);
    expect(real.headers.get("location")).toBeNull();
    for (const resource of [`${PUBLIC_URL}/mcp/agent/nobody`, `${PUBLIC_URL}/mcp/nothing`]) {
      const res = await ctx.request(authorizeQuery(request(ctx, clientId, pkce().challenge, { resource })), { headers: { cookie: ctx.memberCookie } });
      expect(res.status).toBe(400);
      expect(res.headers.get("location")).toBeNull();
      expect(await res.text()).toContain("invalid_target");
    }
    await updateAgent(agentStore(ctx.deps), ctx.agentId, { enabled: false });
    const disabled = await ctx.request(authorizeQuery(request(ctx, clientId, pkce().challenge)), { headers: { cookie: ctx.adminCookie } });
    expect(disabled.status).toBe(400);
    expect(disabled.headers.get("location")).toBeNull();
  });

  test("an agent disabled between the consent page and the approval: an error page, no code", async () => {
    const ctx = await setup();
    const clientId = await register(ctx);
    const page = await ctx.request(authorizeQuery(request(ctx, clientId, pkce().challenge)), { headers: { cookie: ctx.adminCookie } });
    const fields = { ...hiddenFields(await page.text()), decision: "approve" };
    await updateAgent(agentStore(ctx.deps), ctx.agentId, { enabled: false });
    const res = await ctx.request("/oauth/authorize", formPost(fields, { ...SAME_ORIGIN, cookie: ctx.adminCookie }));
    expect(res.status).toBe(400);
    expect(res.headers.get("location")).toBeNull();
    expect(await res.text()).toContain("invalid_target");
  });

  test("the agent's id names it as well as its slug", async () => {
    const ctx = await setup();
    const clientId = await register(ctx);
    const res = await ctx.request(authorizeQuery(request(ctx, clientId, pkce().challenge, { resource: `${PUBLIC_URL}/mcp/agent/${ctx.agentId}` })), { headers: { cookie: ctx.adminCookie } });
    expect(res.status).toBe(200);
  });

  test("the decision needs a session: without one nothing is issued", async () => {
    const ctx = await setup();
    const clientId = await register(ctx);
    const page = await ctx.request(authorizeQuery(request(ctx, clientId, pkce().challenge)), { headers: { cookie: ctx.adminCookie } });
    const fields = { ...hiddenFields(await page.text()), decision: "approve" };
    const res = await ctx.request("/oauth/authorize", formPost(fields, SAME_ORIGIN));
    expect(res.status).toBe(401);
    expect(res.headers.get("location")).toBeNull();
    expect(await res.text()).not.toContain("mcp_ac_");
  });

  test("the decision from a foreign origin is refused (CSRF)", async () => {
    const ctx = await setup();
    const clientId = await register(ctx);
    const page = await ctx.request(authorizeQuery(request(ctx, clientId, pkce().challenge)), { headers: { cookie: ctx.adminCookie } });
    const fields = { ...hiddenFields(await page.text()), decision: "approve" };
    for (const headers of [{ "sec-fetch-site": "cross-site" }, { origin: "https://evil.example" }] as Record<string, string>[]) {
      const res = await ctx.request("/oauth/authorize", formPost(fields, { ...headers, cookie: ctx.adminCookie }));
      expect(res.status).toBe(403);
      expect(res.headers.get("location")).toBeNull();
    }
  });

  test("the posted fields are checked again: a swapped redirect URI or resource is refused", async () => {
    const ctx = await setup();
    const clientId = await register(ctx);
    const page = await ctx.request(authorizeQuery(request(ctx, clientId, pkce().challenge)), { headers: { cookie: ctx.adminCookie } });
    const fields = { ...hiddenFields(await page.text()), decision: "approve" };
    const swapped = await ctx.request("/oauth/authorize", formPost({ ...fields, redirect_uri: "https://evil.example/cb" }, { ...SAME_ORIGIN, cookie: ctx.adminCookie }));
    expect(swapped.status).toBe(400);
    expect(swapped.headers.get("location")).toBeNull();
    const self = await ctx.request("/oauth/authorize", formPost({ ...fields, resource: `${PUBLIC_URL}/mcp/self` }, { ...SAME_ORIGIN, cookie: ctx.adminCookie }));
    expect(self.status).toBe(303);
    const back = new URL(self.headers.get("location")!);
    expect(back.searchParams.get("error")).toBe("invalid_target");
    expect(back.searchParams.has("code")).toBe(false);
  });

  test("a member may approve: the token is bound to the member and the agent", async () => {
    const ctx = await setup();
    const { tokens } = await obtain(ctx, ctx.memberCookie);
    const access = (await ctx.deps.oauth.verifyAccessToken(tokens.access_token))!;
    expect(access.user.id).toBe(ctx.member.id);
    expect(access.resource).toBe(ctx.agentId);
    expect(Object.keys(access.permissions)).toEqual([ctx.agentId]);
  });

  test("a repeated parameter is an error page", async () => {
    const ctx = await setup();
    const clientId = await register(ctx);
    const res = await ctx.request(`${authorizeQuery(request(ctx, clientId, pkce().challenge))}&redirect_uri=https%3A%2F%2Fevil.example%2F`, { headers: { cookie: ctx.adminCookie } });
    expect(res.status).toBe(400);
    expect(res.headers.get("location")).toBeNull();
  });

  test("sign-in returns only to /oauth/authorize, never elsewhere", async () => {
    const ctx = await setup();
    for (const [next, expected] of [
      ["/oauth/authorize?client_id=x", "/oauth/authorize?client_id=x"],
      ["/oauth/token?x=1", "/admin"],
      ["/oauth/authorizex?x", "/admin"],
      ["//evil.example/oauth/authorize?x", "/admin"],
      ["https://evil.example/oauth/authorize?x", "/admin"],
    ] as const) {
      const res = await ctx.request("/admin/login", formPost({ email: "admin@example.com", password: PASSWORD, next }));
      expect(res.headers.get("location")).toBe(expected);
    }
  });

  test("a browser already signed in (another tab) goes from the sign-in page straight back to the request", async () => {
    const ctx = await setup();
    const next = "/oauth/authorize?client_id=sbc_x&state=1";
    const res = await ctx.request(`/admin/login?next=${encodeURIComponent(next)}`, { headers: { cookie: ctx.adminCookie } });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(next);
    const elsewhere = await ctx.request(`/admin/login?next=${encodeURIComponent("https://evil.example/")}`, { headers: { cookie: ctx.adminCookie } });
    expect(elsewhere.headers.get("location")).toBe("/admin");
  });

  test("'not you? sign out' signs out and returns to sign-in for the same request", async () => {
    const ctx = await setup();
    const clientId = await register(ctx);
    const start = authorizeQuery(request(ctx, clientId, pkce().challenge));
    const html = await (await ctx.request(start, { headers: { cookie: ctx.adminCookie } })).text();
    const next = /<input type="hidden" name="next" value="([^"]*)"/.exec(html)![1]!.replace(/&amp;/g, "&");
    const res = await ctx.request("/admin/logout", formPost({ next }, { ...SAME_ORIGIN, cookie: ctx.adminCookie }));
    expect(res.status).toBe(303);
    const login = new URL(res.headers.get("location")!, PUBLIC_URL);
    expect(login.pathname).toBe("/admin/login");
    expect(login.searchParams.get("next")!.startsWith("/oauth/authorize?")).toBe(true);
    expect((await ctx.request(start, { headers: { cookie: ctx.adminCookie } })).status).toBe(303);
  });
});

describe("registration", () => {
  test("Cursor's three redirect URIs in one request are all accepted", async () => {
    const ctx = await setup();
    const uris = ["cursor://anysphere.cursor-mcp/oauth/callback", "http://localhost:54321/callback", "https://www.cursor.com/oauth/callback"];
    const res = await ctx.request("/oauth/register", json({ redirect_uris: uris, client_name: "Cursor", token_endpoint_auth_method: "client_secret_post", grant_types: ["authorization_code", "refresh_token"], response_types: ["code"] }));
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ redirect_uris: uris, client_name: "Cursor", token_endpoint_auth_method: "none", grant_types: ["authorization_code", "refresh_token"], response_types: ["code"] });
    expect(body.client_secret).toBeUndefined();
    expect(typeof body.client_id_issued_at).toBe("number");
  });

  test("the consent page for a private-use scheme allows that scheme as the form's target", async () => {
    const ctx = await setup();
    const clientId = await register(ctx, { redirect_uris: ["cursor://anysphere.cursor-mcp/oauth/callback"], client_name: "Cursor" });
    const page = await ctx.request(authorizeQuery(request(ctx, clientId, pkce().challenge, { redirect_uri: "cursor://anysphere.cursor-mcp/oauth/callback" })), { headers: { cookie: ctx.adminCookie } });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("form-action 'self' cursor:");
    const back = await decide(ctx, ctx.adminCookie, request(ctx, clientId, pkce().challenge, { redirect_uri: "cursor://anysphere.cursor-mcp/oauth/callback" }));
    expect(back.protocol).toBe("cursor:");
    expect(back.searchParams.get("code")).toMatch(/^mcp_ac_/);
  });

  test("no client_name: 'Unnamed client'", async () => {
    const ctx = await setup();
    const res = await ctx.request("/oauth/register", json({ redirect_uris: [CALLBACK] }));
    expect(((await res.json()) as { client_name: string }).client_name).toBe("Unnamed client");
  });

  const refusals: { name: string; body: unknown; error: string; names?: string }[] = [
    { name: "no redirect_uris", body: { client_name: "x" }, error: "invalid_redirect_uri" },
    { name: "an empty list", body: { redirect_uris: [] }, error: "invalid_redirect_uri" },
    { name: "eleven URIs", body: { redirect_uris: Array.from({ length: 11 }, (_, i) => `https://a.example/${i}`) }, error: "invalid_redirect_uri" },
    { name: "a plain-http non-loopback URI among good ones", body: { redirect_uris: [CALLBACK, "http://app.example.com/cb"] }, error: "invalid_redirect_uri", names: "http://app.example.com/cb" },
    { name: "a javascript: URI", body: { redirect_uris: ["javascript:alert(1)"] }, error: "invalid_redirect_uri", names: "javascript:alert(1)" },
    { name: "a fragment", body: { redirect_uris: ["https://app.example.com/cb#x"] }, error: "invalid_redirect_uri", names: "https://app.example.com/cb#x" },
    { name: "a number as URI", body: { redirect_uris: [42] }, error: "invalid_redirect_uri" },
    { name: "grant_types password", body: { redirect_uris: [CALLBACK], grant_types: ["password"] }, error: "invalid_client_metadata" },
    { name: "response_types token", body: { redirect_uris: [CALLBACK], response_types: ["token"] }, error: "invalid_client_metadata" },
    { name: "a two-line client_name", body: { redirect_uris: [CALLBACK], client_name: "a\nb" }, error: "invalid_client_metadata" },
    { name: "a long client_name", body: { redirect_uris: [CALLBACK], client_name: "x".repeat(201) }, error: "invalid_client_metadata" },
    { name: "a javascript: client_uri", body: { redirect_uris: [CALLBACK], client_uri: "javascript:alert(1)" }, error: "invalid_client_metadata" },
    { name: "an array body", body: [1, 2], error: "invalid_client_metadata" },
    { name: "a JSON string body", body: "hello", error: "invalid_client_metadata" },
  ];
  for (const row of refusals) {
    test(`refuses ${row.name}: 400 ${row.error}`, async () => {
      const ctx = await setup();
      const res = await ctx.request("/oauth/register", json(row.body));
      expect(res.status).toBe(400);
      const body = await oauthError(res);
      expect(body.error).toBe(row.error);
      if (row.names) expect(body.error_description).toContain(row.names);
    });
  }

  test("a body that is not JSON", async () => {
    const ctx = await setup();
    const res = await ctx.request("/oauth/register", { method: "POST", headers: { "content-type": "application/json" }, body: "{not json" });
    expect(res.status).toBe(400);
    expect((await oauthError(res)).error).toBe("invalid_client_metadata");
  });

  test("throttled per client address: 429 with Retry-After", async () => {
    const ctx = await setup();
    for (let i = 0; i < 30; i++) expect((await ctx.request("/oauth/register", json({ redirect_uris: [CALLBACK] }))).status).toBe(201);
    const res = await ctx.request("/oauth/register", json({ redirect_uris: [CALLBACK] }));
    expect(res.status).toBe(429);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await oauthError(res)).error).toBe("temporarily_unavailable");
  });

  test("CORS: any origin, no credentials, preflight included, on register, token and revoke", async () => {
    const ctx = await setup();
    for (const path of ["/oauth/register", "/oauth/token", "/oauth/revoke"]) {
      const pre = await ctx.request(path, { method: "OPTIONS", headers: { origin: "https://claude.ai", "access-control-request-method": "POST", "access-control-request-headers": "content-type" } });
      expect(pre.status).toBe(204);
      expect(pre.headers.get("access-control-allow-origin")).toBe("*");
      expect(pre.headers.get("access-control-allow-methods")).toContain("POST");
      expect(pre.headers.get("access-control-allow-credentials")).toBeNull();
      const post = await ctx.request(path, json({}, { origin: "https://claude.ai" }));
      expect(post.status).toBeLessThan(500);
      expect(post.headers.get("access-control-allow-origin")).toBe("*");
    }
    const page = await ctx.request("/oauth/authorize", { method: "OPTIONS", headers: { origin: "https://claude.ai", "access-control-request-method": "POST" } });
    expect(page.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("revocation", () => {
  test("revoking the access or refresh token answers 200; an unknown token too; no token is invalid_request", async () => {
    const ctx = await setup();
    const { clientId, tokens } = await obtain(ctx);
    const revoke = (fields: Record<string, string>) => ctx.request("/oauth/revoke", formPost(fields));
    expect((await revoke({ token: "mcp_at_garbage", client_id: clientId })).status).toBe(200);
    expect(await ctx.deps.oauth.verifyAccessToken(tokens.access_token)).not.toBeNull();
    expect((await revoke({ token: tokens.access_token, token_type_hint: "access_token", client_id: clientId })).status).toBe(200);
    expect(await ctx.deps.oauth.verifyAccessToken(tokens.access_token)).toBeNull();
    expect((await revoke({ token: tokens.refresh_token, client_id: clientId })).status).toBe(200);
    const refresh = await token(ctx, { grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: clientId });
    expect((await oauthError(refresh)).error).toBe("invalid_grant");
    const missing = await revoke({ client_id: clientId });
    expect(missing.status).toBe(400);
    expect((await oauthError(missing)).error).toBe("invalid_request");
  });
});

describe("switched off", () => {
  test("[oauth] enabled = false: every endpoint is a 404", async () => {
    const ctx = await setup({ oauth: { enabled: false } });
    for (const [path, init] of [
      ["/oauth/register", json({ redirect_uris: [CALLBACK] })],
      ["/oauth/token", formPost({ grant_type: "refresh_token" })],
      ["/oauth/revoke", formPost({ token: "x" })],
      ["/oauth/authorize?client_id=x", {}],
    ] as const) {
      expect((await ctx.request(path, init)).status).toBe(404);
    }
  });

  test("dynamic_registration = false: /oauth/register is a 404, the rest works", async () => {
    const ctx = await setup({ oauth: { dynamic_registration: false } });
    expect((await ctx.request("/oauth/register", json({ redirect_uris: [CALLBACK] }))).status).toBe(404);
    expect((await ctx.request("/oauth/token", formPost({ grant_type: "refresh_token", client_id: "sbc_x" }))).status).toBe(401);
  });
});

describe("client ID metadata documents (a loopback fixture, allowed only by the test builder)", () => {
  let fixture: ReturnType<typeof Bun.serve>;
  let base: string;
  let fetches = 0;
  beforeAll(() => {
    fixture = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req) {
        fetches++;
        const url = new URL(req.url);
        const doc = (clientId: string) => Response.json({ client_id: clientId, client_name: "Doc Client", redirect_uris: [CALLBACK], token_endpoint_auth_method: "none" }, { headers: { "cache-control": "max-age=600" } });
        if (url.pathname === "/good") return doc(url.href);
        if (url.pathname === "/liar") return doc("https://claude.ai/oauth/mcp-oauth-client-metadata");
        return new Response("no", { status: 404 });
      },
    });
    base = `http://127.0.0.1:${fixture.port}`;
  });
  afterAll(() => fixture.stop(true));

  test("a document client: consent names its host as verified, the flow completes, the document is cached", async () => {
    const ctx = await setup();
    const clientId = `${base}/good`;
    const { verifier, challenge } = pkce();
    const before = fetches;
    const page = await ctx.request(authorizeQuery(request(ctx, clientId, challenge, { redirect_uri: CALLBACK })), { headers: { cookie: ctx.adminCookie } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain("Doc Client");
    expect(html).toContain(`127.0.0.1:${fixture.port}`);
    expect(html).not.toContain("not verified");
    const back = await decide(ctx, ctx.adminCookie, request(ctx, clientId, challenge, { redirect_uri: CALLBACK }));
    // One fetch for three looks at the client (page, page again, the decision): the document is cached.
    expect(fetches - before).toBe(1);
    const res = await token(ctx, { grant_type: "authorization_code", code: back.searchParams.get("code")!, redirect_uri: CALLBACK, client_id: clientId, code_verifier: verifier });
    expect(res.status).toBe(200);
  });

  test("a document whose client_id differs from its URL: error page, no redirect", async () => {
    const ctx = await setup();
    const res = await ctx.request(authorizeQuery(request(ctx, `${base}/liar`, pkce().challenge, { redirect_uri: CALLBACK })), { headers: { cookie: ctx.adminCookie } });
    expect(res.status).toBe(400);
    expect(res.headers.get("location")).toBeNull();
    expect(await res.text()).toContain("invalid_client");
  });

  test("made-up document URLs from one address are fetched at most METADATA_FETCHES_PER_WINDOW times an hour", async () => {
    const ctx = await setup();
    const before = fetches;
    let refused: Response | null = null;
    for (let i = 0; i <= METADATA_FETCHES_PER_WINDOW; i++) {
      const res = await ctx.request(authorizeQuery(request(ctx, `${base}/made-up-${i}`, pkce().challenge, { redirect_uri: CALLBACK })));
      if (i === METADATA_FETCHES_PER_WINDOW) refused = res;
      else await res.body?.cancel();
    }
    // Each made-up id cost one outbound request, up to the limit; the next one costs none.
    expect(fetches - before).toBe(METADATA_FETCHES_PER_WINDOW);
    expect(refused!.status).toBe(400);
    expect(refused!.headers.get("location")).toBeNull();
    expect(await refused!.text()).toContain("Too many client metadata documents");
    // A cached document is no fetch, so it is not refused.
    const cached = `${base}/good`;
    await saveClientDocument(ctx.deps.db, cached, { name: "Doc Client", redirectUris: [CALLBACK], clientUri: null, logoUri: null }, new Date(Date.now() + 60_000));
    expect((await ctx.request(authorizeQuery(request(ctx, cached, pkce().challenge, { redirect_uri: CALLBACK })), { headers: { cookie: ctx.adminCookie } })).status).toBe(200);
  });

  test("a document that cannot be fetched: error page, not a 500", async () => {
    const ctx = await setup();
    const res = await ctx.request(authorizeQuery(request(ctx, `${base}/missing`, pkce().challenge, { redirect_uri: CALLBACK })), { headers: { cookie: ctx.adminCookie } });
    expect(res.status).toBe(400);
    expect(res.headers.get("location")).toBeNull();
  });

  test("a document past its cache lifetime is fetched again", async () => {
    const ctx = await setup();
    const clientId = `${base}/good`;
    const past = new Date(Date.now() - 1000);
    await saveClientDocument(ctx.deps.db, clientId, { name: "Old Name", redirectUris: [CALLBACK], clientUri: null, logoUri: null }, past, past);
    const before = fetches;
    const html = await (await ctx.request(authorizeQuery(request(ctx, clientId, pkce().challenge, { redirect_uri: CALLBACK })), { headers: { cookie: ctx.adminCookie } })).text();
    expect(fetches - before).toBe(1);
    expect(html).toContain("Doc Client");
    expect(html).not.toContain("Old Name");
  });

  test("a host off client_metadata_hosts is refused on the error page, nothing fetched", async () => {
    const ctx = await setup({ oauth: { client_metadata_hosts: ["claude.ai"] } });
    const before = fetches;
    const res = await ctx.request(authorizeQuery(request(ctx, `${base}/good`, pkce().challenge, { redirect_uri: CALLBACK })), { headers: { cookie: ctx.adminCookie } });
    expect(res.status).toBe(400);
    expect(res.headers.get("location")).toBeNull();
    expect(fetches).toBe(before);
  });

  test("client_metadata_documents = false: a URL client_id is invalid_client on the error page, nothing fetched", async () => {
    const ctx = await setup({ oauth: { client_metadata_documents: false } });
    const before = fetches;
    const res = await ctx.request(authorizeQuery(request(ctx, `${base}/good`, pkce().challenge, { redirect_uri: CALLBACK })), { headers: { cookie: ctx.adminCookie } });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("invalid_client");
    expect(fetches).toBe(before);
  });
});

describe("garbage is never a 500", () => {
  const bodies: [string, RequestInit][] = [
    ["empty", { method: "POST" }],
    ["bad JSON", { method: "POST", headers: { "content-type": "application/json" }, body: "{" }],
    ["JSON null", { method: "POST", headers: { "content-type": "application/json" }, body: "null" }],
    ["JSON array", { method: "POST", headers: { "content-type": "application/json" }, body: "[1]" }],
    ["multipart without boundary", { method: "POST", headers: { "content-type": "multipart/form-data" }, body: "x" }],
    ["binary", { method: "POST", headers: { "content-type": "application/octet-stream" }, body: new Uint8Array([0, 255, 1, 254]) }],
    ["numbers in JSON", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ grant_type: 1, client_id: {}, redirect_uris: { a: 1 } }) }],
  ];
  for (const [name, init] of bodies) {
    test(`${name} to register, token, revoke and the decision`, async () => {
      const ctx = await setup();
      for (const path of ["/oauth/register", "/oauth/token", "/oauth/revoke"]) {
        const res = await ctx.request(path, init);
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
        expect(typeof (await oauthError(res)).error).toBe("string");
      }
      const decision = await ctx.request("/oauth/authorize", { ...init, headers: { ...(init.headers as Record<string, string>), cookie: ctx.adminCookie } });
      expect(decision.status).toBeGreaterThanOrEqual(400);
      expect(decision.status).toBeLessThan(500);
    });
  }

  test("a body past server.max_body_size: 413 invalid_request (JSON on the endpoints, a page for the decision)", async () => {
    const ctx = await setup({ server: { max_body_size: "1KiB" } });
    for (const path of ["/oauth/register", "/oauth/token", "/oauth/revoke"]) {
      const res = await ctx.request(path, formPost({ token: "a".repeat(4096) }));
      expect(res.status).toBe(413);
      expect((await oauthError(res)).error).toBe("invalid_request");
    }
    const decision = await ctx.request("/oauth/authorize", formPost({ client_id: "a".repeat(4096) }, { ...SAME_ORIGIN, cookie: ctx.adminCookie }));
    expect(decision.status).toBe(413);
    expect(decision.headers.get("content-type")).toContain("text/html");
  });

  test("garbage query strings to the authorization endpoint", async () => {
    const ctx = await setup();
    for (const query of ["", "?client_id=%00", "?client_id=https%3A%2F%2F", "?client_id=https%3A%2F%2F127.0.0.1%3A1%2Fx", "?client_id=" + "a".repeat(5000), "?response_type=code&client_id=sbc_x&redirect_uri=%E2%80%AE"]) {
      const res = await ctx.request(`/oauth/authorize${query}`, { headers: { cookie: ctx.adminCookie } });
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
    }
  });
});
