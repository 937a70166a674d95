// OAuth connections through the API (REST and /mcp/self): created and changed with auth, mode, client and
// scopes; refused with the field named when the rules are broken; their state (registration, the shared
// account, per-user counts) shown to every caller alike, never a token, never who the users are; the
// client secret masked in responses and audit rows; a change of URL through the API forgets the links.
import { describe, expect, test } from "bun:test";
import type { OAuthSubject } from "../../src/domain/connections/oauth-types.ts";
import { upstreamOAuthStore } from "../../src/domain/connections/upstream-oauth.ts";
import { connectionStore } from "../../src/operations/connections.ts";
import { useConnectionHarness, type ConnectionHarness } from "../support/connection-harness.ts";
import { apiRequest, callTool, mintKey } from "../support/key-harness.ts";
import { rawRows } from "../support/raw-sql.ts";
import { insertUser } from "../support/users.ts";

const harness = useConnectionHarness();
const CLIENT_SECRET = "cs-Api-OAuth-S3cret-0001";
const ACCESS = "at-Api-OAuth-S3cret-0002";
const REFRESH = "rt-Api-OAuth-S3cret-0003";
const SECRETS = [CLIENT_SECRET, ACCESS, REFRESH];
const URL_A = "https://mcp.example.com/mcp";

async function keys(h: ConnectionHarness) {
  return { admin: (await mintKey(h.deps, h.admin, { self: ["*"] })).token, member: (await mintKey(h.deps, h.member, { self: ["*"] })).token };
}

const CREATE = { slug: "linear", transport: "http", url: URL_A, auth: "oauth", oauth_mode: "per_user", oauth_client_id: "client-1", oauth_client_secret: CLIENT_SECRET, oauth_scopes: "read write" };

describe("creating and changing", () => {
  test("an admin creates an OAuth connection; the answer has its settings and state, the secret only as set", async () => {
    const h = await harness();
    const { admin } = await keys(h);
    const res = await apiRequest(h.app, "POST", "/connections", { token: admin, json: CREATE });
    const text = await res.text();
    expect(res.status).toBe(201);
    const body = JSON.parse(text);
    expect(body.auth).toBe("oauth");
    expect(body.oauth).toEqual({ mode: "per_user", client_id: "client-1", client_secret_set: true, scopes: "read write", registration: null, shared: null, users: { connected: 0, needs_reauth: 0 } });
    expect(body.token_set).toBe(false);
    expect(text).not.toContain(CLIENT_SECRET);
    // The gateway is told a spec that says OAuth, per user.
    expect(h.gateway.applied.at(-1)).toMatchObject({ id: body.id, token: null, oauth: { mode: "per_user" } });
  });

  test.each<[string, Record<string, unknown>, string]>([
    ["OAuth on stdio", { slug: "x", transport: "stdio", command: "node", auth: "oauth" }, "auth"],
    ["OAuth with a static token", { slug: "x", transport: "http", url: URL_A, auth: "oauth", token: "t" }, "token"],
    ["OAuth with an Authorization header", { slug: "x", transport: "http", url: URL_A, auth: "oauth", headers: { Authorization: "Bearer t" } }, "headers.Authorization"],
    ["a client secret without its client id", { slug: "x", transport: "http", url: URL_A, auth: "oauth", oauth_client_secret: CLIENT_SECRET }, "oauth_client_secret"],
    ["scopes that are no scope tokens", { slug: "x", transport: "http", url: URL_A, auth: "oauth", oauth_scopes: 'a "b"' }, "oauth_scopes"],
    ["an unknown auth", { slug: "x", transport: "http", url: URL_A, auth: "basic" }, "auth"],
    ["an unknown mode", { slug: "x", transport: "http", url: URL_A, auth: "oauth", oauth_mode: "team" }, "oauth_mode"],
  ])("%s is a 400 naming %s, never echoing the secret, and nothing is created", async (_label, json, field) => {
    const h = await harness();
    const { admin } = await keys(h);
    const res = await apiRequest(h.app, "POST", "/connections", { token: admin, json });
    const text = await res.text();
    expect(res.status).toBe(400);
    expect(JSON.parse(text).error.fields).toHaveProperty([field]);
    expect(text).not.toContain(CLIENT_SECRET);
    expect(await rawRows(h.deps, "SELECT id FROM connections")).toEqual([]);
  });

  test("PATCH keeps the masked client secret; a new URL forgets the users' links and the registration", async () => {
    const h = await harness();
    const { admin } = await keys(h);
    const id = (await (await apiRequest(h.app, "POST", "/connections", { token: admin, json: CREATE })).json()).id as string;
    const oauth = upstreamOAuthStore(connectionStore(h.deps));
    await oauth.saveLink({ connectionId: id, subject: h.member.id as OAuthSubject, tokens: { accessToken: ACCESS, refreshToken: REFRESH, expiresAt: null, scope: null }, account: "member@linear", connectedBy: h.member.id });
    const kept = await apiRequest(h.app, "PATCH", `/connections/${id}`, { token: admin, json: { title: "Linear", oauth_client_secret: "********" } });
    expect((await kept.json()).oauth).toMatchObject({ client_secret_set: true, users: { connected: 1, needs_reauth: 0 } });
    expect((await oauth.getLink(id, h.member.id as OAuthSubject))?.tokens.accessToken).toBe(ACCESS);
    const moved = await apiRequest(h.app, "PATCH", `/connections/${id}`, { token: admin, json: { url: "https://mcp.example.com/v2" } });
    expect(moved.status).toBe(200);
    expect((await moved.json()).oauth.users).toEqual({ connected: 0, needs_reauth: 0 });
    expect(await oauth.listLinks(id)).toEqual([]);
  });

  test("the audit row of a create or change masks the client secret and keeps the rest", async () => {
    const h = await harness();
    const { admin } = await keys(h);
    const id = (await (await apiRequest(h.app, "POST", "/connections", { token: admin, json: CREATE })).json()).id as string;
    await apiRequest(h.app, "PATCH", `/connections/${id}`, { token: admin, json: { oauth_client_secret: `${CLIENT_SECRET}-rotated` } });
    const rows = await rawRows<{ action: string; change: string }>(h.deps, "SELECT action, change FROM audit_events WHERE action LIKE 'CONNECTION_%' ORDER BY id");
    expect(rows.map((r) => r.action)).toEqual(["CONNECTION_CREATE", "CONNECTION_UPDATE"]);
    for (const row of rows) {
      expect(row.change).not.toContain(CLIENT_SECRET);
      expect(JSON.parse(row.change).oauth_client_secret).toBe("********");
    }
    expect(JSON.parse(rows[0]!.change)).toMatchObject({ auth: "oauth", oauth_mode: "per_user", oauth_client_id: "client-1", oauth_scopes: "read write" });
  });
});

describe("the state shown", () => {
  /** An OAuth connection registered upstream, with its shared account connected and two users' links (one refused). */
  async function connected(h: ConnectionHarness) {
    const { admin } = await keys(h);
    const id = (await (await apiRequest(h.app, "POST", "/connections", { token: admin, json: { ...CREATE, oauth_mode: "shared", oauth_client_secret: null, oauth_client_id: null } })).json()).id as string;
    const oauth = upstreamOAuthStore(connectionStore(h.deps));
    const alice = await insertUser(h.deps, "member", "alice-private@example.com");
    const bob = await insertUser(h.deps, "member", "bob-private@example.com");
    await oauth.saveRegistration({
      connectionId: id, issuer: "https://auth.example.com", resource: URL_A, authorizationEndpoint: "https://auth.example.com/authorize", tokenEndpoint: "https://auth.example.com/token",
      revocationEndpoint: null, userinfoEndpoint: null, method: "dcr", clientId: "dcr-client-9", clientSecret: CLIENT_SECRET, tokenEndpointAuthMethod: "client_secret_basic",
      scopes: "read write", redirectUri: "https://sb.example.com/oauth/upstream/callback", createdAt: new Date(),
    });
    const tokens = { accessToken: ACCESS, refreshToken: REFRESH, expiresAt: new Date("2030-01-01T01:00:00Z"), scope: "read" };
    await oauth.saveLink({ connectionId: id, subject: "shared", tokens, account: "team-bot", connectedBy: h.admin.id, now: new Date("2030-01-01T00:00:00Z") });
    await oauth.saveLink({ connectionId: id, subject: alice.id as OAuthSubject, tokens, account: "alice-upstream-handle", connectedBy: alice.id });
    await oauth.saveLink({ connectionId: id, subject: bob.id as OAuthSubject, tokens, account: "bob-upstream-handle", connectedBy: bob.id });
    await oauth.markNeedsReauth(id, bob.id as OAuthSubject, "invalid_grant");
    const never = [...SECRETS, alice.id, bob.id, alice.email, bob.email, "alice-upstream-handle", "bob-upstream-handle", "dcr-client-9", h.admin.id];
    return { id, never };
  }

  const EXPECTED = {
    mode: "shared",
    client_id: null,
    client_secret_set: false,
    scopes: "read write",
    registration: { method: "dcr", issuer: "https://auth.example.com" },
    shared: { state: "connected", account: "team-bot", expires_at: "2030-01-01T01:00:00.000Z", last_error: null, connected_at: "2030-01-01T00:00:00.000Z" },
    users: { connected: 1, needs_reauth: 1 },
  };

  test("GET and LIST show the same state to an admin and a member, through REST and /mcp/self: counts, never a token or who the users are", async () => {
    const h = await harness();
    const { id, never } = await connected(h);
    const k = await keys(h);
    for (const token of [k.admin, k.member]) {
      const got = await apiRequest(h.app, "GET", `/connections/${id}`, { token });
      const listed = await apiRequest(h.app, "GET", "/connections", { token });
      const selfGet = await callTool(h.app, token, "CONNECTION_GET", { id });
      const texts = [await got.text(), await listed.text(), JSON.stringify(selfGet)];
      expect(JSON.parse(texts[0]!).oauth).toEqual(EXPECTED);
      expect(JSON.parse(texts[1]!).connections[0].oauth).toEqual(EXPECTED);
      expect((selfGet.result?.structuredContent as { oauth: unknown }).oauth).toEqual(EXPECTED);
      for (const text of texts) for (const secret of never) expect(text).not.toContain(secret);
    }
  });

  test("a static connection's oauth is null, even if OAuth settings linger from before", async () => {
    const h = await harness();
    const { admin } = await keys(h);
    const created = await (await apiRequest(h.app, "POST", "/connections", { token: admin, json: { slug: "plain", transport: "http", url: URL_A, token: "tok" } })).json();
    expect([created.auth, created.oauth]).toEqual(["static", null]);
    const listed = await (await apiRequest(h.app, "GET", "/connections", { token: admin })).json();
    expect(listed.connections[0].oauth).toBeNull();
  });
});
