// A connection's OAuth fields in the domain: the rules (OAuth over http and sse only, no static token or
// Authorization header beside it, a client secret needs its client id, scope syntax), the client secret
// sealed and masked like the token, the spec the gateway gets, and the registration, links and flows an
// update forgets when what they were got for changes (and keeps when it did not), a restart with the same
// config file included.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configConnectionId } from "../../src/domain/connections/config.ts";
import {
  createConnection,
  findConnection,
  listConnections,
  listConnectionSummaries,
  newConnectionFields,
  SECRET_MASK,
  toSpec,
  updateConnection,
  type Connection,
  type ConnectionChanges,
} from "../../src/domain/connections/connections.ts";
import type { OAuthSubject } from "../../src/domain/connections/oauth-types.ts";
import { OAuthClientIdSchema, OAuthScopesSchema } from "../../src/domain/connections/rules.ts";
import { upstreamOAuthStore } from "../../src/domain/connections/upstream-oauth.ts";
import { AppError } from "../../src/errors.ts";
import { connectionStore } from "../../src/operations/connections.ts";
import { createConnectionHarness, useConnectionHarness, type ConnectionHarness } from "../support/connection-harness.ts";
import { rejectionOf } from "../support/errors.ts";
import { rawRows, rawRun } from "../support/raw-sql.ts";

const harness = useConnectionHarness();
const CLIENT_SECRET = "cs-Sup3rSecret-oauth-client";
const URL_A = "https://mcp.example.com/mcp";

async function appError(promise: Promise<unknown>): Promise<AppError> {
  const err = await rejectionOf(promise);
  if (!(err instanceof AppError)) throw err;
  return err;
}

function oauthConnection(h: ConnectionHarness, extra: Partial<Connection> = {}): Promise<Connection> {
  return h.store({ slug: "linear", transport: "http", url: URL_A, auth: "oauth", oauthMode: "per_user", oauthClientId: "client-1", oauthClientSecret: CLIENT_SECRET, oauthScopes: "read write", ...extra });
}

describe("rules", () => {
  test.each([
    ["OAuth on a stdio connection", { transport: "stdio" as const, command: "node", auth: "oauth" as const }, { auth: "only http and sse connections sign in with OAuth" }],
    ["OAuth with a static token", { transport: "http" as const, url: URL_A, auth: "oauth" as const, token: "t" }, { token: "an OAuth connection sends the token it signs in for: remove the static token" }],
    ["OAuth with an Authorization header", { transport: "sse" as const, url: URL_A, auth: "oauth" as const, headers: { Authorization: "Bearer x" } }, {
      "headers.Authorization": "an OAuth connection sends its own Authorization header",
    }],
    ["a client secret without its client id", { transport: "http" as const, url: URL_A, auth: "oauth" as const, oauthClientSecret: "s" }, {
      oauth_client_secret: "a client secret needs its client id (oauth_client_id)",
    }],
  ])("%s is refused naming the field, and nothing is stored", async (_label, fields, problems) => {
    const h = await harness();
    const err = await appError(createConnection(connectionStore(h.deps), newConnectionFields({ slug: "x", ...fields })));
    expect(err.code).toBe("VALIDATION_FAILED");
    expect(err.fields).toEqual(problems);
    expect(await listConnections(connectionStore(h.deps))).toEqual([]);
  });

  test("OAuth over http and sse, with extra headers, is fine; a static connection keeps its token and Authorization header as before", async () => {
    const h = await harness();
    await h.store({ slug: "a", transport: "http", url: URL_A, auth: "oauth", headers: { "X-Team": "x" } });
    await h.store({ slug: "b", transport: "sse", url: URL_A, auth: "oauth", oauthMode: "per_user" });
    await h.store({ slug: "c", transport: "http", url: URL_A, headers: { Authorization: "Basic x" } });
    expect((await listConnections(connectionStore(h.deps))).map((c) => [c.slug, c.auth, c.oauthMode])).toEqual([["a", "oauth", "shared"], ["b", "oauth", "per_user"], ["c", "static", "shared"]]);
  });

  test.each([["repo"], ["repo read:org"], ["openid profile email offline_access"], ["https://www.googleapis.com/auth/drive.readonly"], ["!#$%&'()*+,-./:;<=>?@[]^_`{|}~"], [""]])(
    "scopes %p are RFC 6749 scope tokens",
    (scopes) => expect(OAuthScopesSchema.safeParse(scopes).success).toBe(true),
  );

  test.each([["a  b"], [" a"], ["a "], ["a\tb"], ['a"b'], ["a\\b"], ["é"], ["a\nb"], ["s".repeat(1001)]])("scopes %p are refused", (scopes) => {
    expect(OAuthScopesSchema.safeParse(scopes).success).toBe(false);
  });

  test("a client id is printable ASCII, at most 1000 characters", () => {
    expect(OAuthClientIdSchema.safeParse("Iv1.abc-DEF_123 x").success).toBe(true);
    for (const bad of ["a\nb", "é", "a\u0000", "x".repeat(1001)]) expect(OAuthClientIdSchema.safeParse(bad).success).toBe(false);
  });
});

describe("the client secret", () => {
  test("is sealed at rest, bound to its column, never listed; the summary says only whether it is set", async () => {
    const h = await harness();
    const c = await oauthConnection(h);
    expect(c).toMatchObject({ auth: "oauth", oauthMode: "per_user", oauthClientId: "client-1", oauthClientSecret: CLIENT_SECRET, oauthScopes: "read write" });
    expect(await h.rawDatabase()).not.toContain(CLIENT_SECRET);
    const [summary] = await listConnectionSummaries(h.deps.db);
    expect(summary).toMatchObject({ auth: "oauth", oauthMode: "per_user", oauthClientId: "client-1", oauthScopes: "read write", oauthClientSecretSet: true });
    expect(JSON.stringify(summary)).not.toContain("v1.");
    expect(summary).not.toHaveProperty("oauthClientSecret");
    expect(summary).not.toHaveProperty("oauthClientSecretSealed");
    // The secret's ciphertext moved into the token column does not open there.
    await rawRun(h.deps, "UPDATE connections SET token_sealed = oauth_client_secret_sealed, auth = 'static' WHERE id = ?", c.id);
    expect(await findConnection(connectionStore(h.deps), c.id)).toMatchObject({ token: null, secretsUnreadable: true });
  });

  test("the mask keeps it, a new value replaces it, null or \"\" removes it (and a client id can then go too)", async () => {
    const h = await harness();
    const store = connectionStore(h.deps);
    const c = await oauthConnection(h);
    expect((await updateConnection(store, c.id, { oauthClientSecret: SECRET_MASK, title: "Linear" })).oauthClientSecret).toBe(CLIENT_SECRET);
    expect((await updateConnection(store, c.id, { oauthClientSecret: "new-secret" })).oauthClientSecret).toBe("new-secret");
    expect((await updateConnection(store, c.id, { oauthClientSecret: "" })).oauthClientSecret).toBeNull();
    await updateConnection(store, c.id, { oauthClientSecret: "again" });
    expect((await updateConnection(store, c.id, { oauthClientSecret: null, oauthClientId: "" })).oauthClientId).toBeNull();
    expect((await updateConnection(store, c.id, { oauthScopes: "" })).oauthScopes).toBeNull();
    // A secret left without its client id is refused, and nothing changes.
    await updateConnection(store, c.id, { oauthClientId: "client-2", oauthClientSecret: "s2" });
    expect((await appError(updateConnection(store, c.id, { oauthClientId: null }))).fields).toEqual({ oauth_client_secret: "a client secret needs its client id (oauth_client_id)" });
    expect(await findConnection(store, c.id)).toMatchObject({ oauthClientId: "client-2", oauthClientSecret: "s2" });
  });
});

describe("the spec", () => {
  test("an OAuth connection's spec says its mode and carries no static token; a static one has oauth null", async () => {
    const h = await harness();
    const options = { gateway: h.config.gateway, stdio: h.config.stdio };
    const shared = await h.store({ slug: "s", transport: "http", url: URL_A, auth: "oauth" });
    const perUser = await h.store({ slug: "p", transport: "sse", url: URL_A, auth: "oauth", oauthMode: "per_user" });
    const plain = await h.store({ slug: "t", transport: "http", url: URL_A, token: "tok", oauthMode: "per_user" });
    expect([toSpec(shared, options).oauth, toSpec(shared, options).token]).toEqual([{ mode: "shared" }, null]);
    expect(toSpec(perUser, options).oauth).toEqual({ mode: "per_user" });
    expect([toSpec(plain, options).oauth, toSpec(plain, options).token]).toEqual([null, "tok"]);
    expect(JSON.stringify(toSpec(await oauthConnection(h, { slug: "x" }), options))).not.toContain(CLIENT_SECRET);
  });
});

describe("changing what the tokens were for forgets them", () => {
  async function withState(h: ConnectionHarness) {
    const store = connectionStore(h.deps);
    const oauth = upstreamOAuthStore(store);
    const c = await oauthConnection(h);
    const bystander = await oauthConnection(h, { slug: "other" });
    const user = h.member.id as OAuthSubject;
    for (const id of [c.id, bystander.id]) {
      await oauth.saveRegistration({
        connectionId: id, issuer: "https://as.example.com", resource: URL_A, authorizationEndpoint: "https://as.example.com/a", tokenEndpoint: "https://as.example.com/t",
        revocationEndpoint: null, userinfoEndpoint: null, method: "manual", clientId: "client-1", clientSecret: CLIENT_SECRET, tokenEndpointAuthMethod: "client_secret_post",
        scopes: "read write", redirectUri: "https://sb.example.com/oauth/upstream/callback", createdAt: new Date(),
      });
      await oauth.saveLink({ connectionId: id, subject: user, tokens: { accessToken: "a", refreshToken: "r", expiresAt: null, scope: null }, account: "me", connectedBy: h.member.id });
      await oauth.saveLink({ connectionId: id, subject: "shared", tokens: { accessToken: "a", refreshToken: "r", expiresAt: null, scope: null }, account: "bot", connectedBy: h.admin.id });
      await oauth.createFlow(`state-${id}`, { connectionId: id, subject: "shared", userId: h.admin.id, codeVerifier: "v".repeat(43), bindingHash: "b", returnTo: "/admin", createdAt: new Date(), expiresAt: new Date(Date.now() + 600_000) });
    }
    const state = async (id: string) => ({
      registration: (await oauth.getRegistration(id)) !== null,
      links: (await oauth.listLinks(id)).length,
      flows: (await rawRows(h.deps, "SELECT state_hash FROM upstream_oauth_flows WHERE connection_id = ?", id)).length,
    });
    return { store, c, bystander, state };
  }

  const KEPT = { registration: true, links: 2, flows: 1 };
  const FORGOTTEN = { registration: false, links: 0, flows: 0 };

  test.each<[string, ConnectionChanges, typeof KEPT]>([
    ["a new title, description, timeouts, headers or enabled", { title: "Renamed", description: "d", callTimeoutMs: 5_000, headers: { "X-A": "b" }, enabled: false }, KEPT],
    ["the same values written again (the config sync at every start)", { url: URL_A, auth: "oauth", oauthMode: "per_user", oauthClientId: "client-1", oauthClientSecret: CLIENT_SECRET, oauthScopes: "read write" }, KEPT],
    ["the masked client secret", { oauthClientSecret: SECRET_MASK }, KEPT],
    ["other scopes (another consent: everyone authorizes again, and a refresh never runs without its registration)", { oauthScopes: "read" }, { registration: false, links: 0, flows: 0 }],
    ["another URL", { url: "https://mcp.example.com/other" }, FORGOTTEN],
    ["another mode", { oauthMode: "shared" }, FORGOTTEN],
    ["static auth", { auth: "static" }, FORGOTTEN],
    ["another client id", { oauthClientId: "client-2" }, FORGOTTEN],
    ["another client secret", { oauthClientSecret: "rotated" }, FORGOTTEN],
    ["no client secret", { oauthClientSecret: null }, FORGOTTEN],
  ])("%s: the registration, links and flows are as expected, and another connection's are untouched", async (_label, changes, expected) => {
    const h = await harness();
    const { store, c, bystander, state } = await withState(h);
    await updateConnection(store, c.id, changes);
    expect(await state(c.id)).toEqual(expected);
    expect(await state(bystander.id)).toEqual(KEPT);
  });

  test("a refused change forgets nothing", async () => {
    const h = await harness();
    const { store, c, state } = await withState(h);
    await appError(updateConnection(store, c.id, { url: "https://mcp.example.com/other", token: "static" }));
    await appError(updateConnection(store, c.id, { url: "https://mcp.example.com/other", slug: "other" }));
    expect(await state(c.id)).toEqual(KEPT);
    expect((await findConnection(store, c.id)).url).toBe(URL_A);
  });
});

describe("declared in the config", () => {
  test("a restart with the same file keeps a user's link and the registration; a restart with another client secret forgets them", async () => {
    const dir = mkdtempSync(join(tmpdir(), "switchboard-oauth-restart-"));
    const declared = (secret: string) => ({
      connections: [{ slug: "linear", url: URL_A, auth: "oauth", oauth_mode: "per_user", oauth_client_id: "client-1", oauth_client_secret: secret, oauth_scopes: "read write" }],
    });
    const id = configConnectionId("linear");
    const first = await createConnectionHarness(declared(CLIENT_SECRET), dir);
    try {
      const store = connectionStore(first.deps);
      expect(await findConnection(store, id)).toMatchObject({ auth: "oauth", oauthMode: "per_user", oauthClientId: "client-1", oauthClientSecret: CLIENT_SECRET, oauthScopes: "read write", fromConfig: true });
      const oauth = upstreamOAuthStore(store);
      await oauth.saveLink({ connectionId: id, subject: first.member.id as OAuthSubject, tokens: { accessToken: "a", refreshToken: "r", expiresAt: null, scope: null }, account: "me", connectedBy: first.member.id });
      await oauth.saveRegistration({
        connectionId: id, issuer: "https://as.example.com", resource: URL_A, authorizationEndpoint: "https://as.example.com/a", tokenEndpoint: "https://as.example.com/t",
        revocationEndpoint: null, userinfoEndpoint: null, method: "manual", clientId: "client-1", clientSecret: CLIENT_SECRET, tokenEndpointAuthMethod: "client_secret_post",
        scopes: "read write", redirectUri: "https://sb.example.com/oauth/upstream/callback", createdAt: new Date(),
      });
      await first.close();
      const same = await createConnectionHarness(declared(CLIENT_SECRET), dir);
      const again = upstreamOAuthStore(connectionStore(same.deps));
      expect((await again.getLink(id, first.member.id as OAuthSubject))?.tokens.accessToken).toBe("a");
      expect(await again.getRegistration(id)).not.toBeNull();
      await same.close();
      const rotated = await createConnectionHarness(declared("rotated-secret"), dir);
      const after = upstreamOAuthStore(connectionStore(rotated.deps));
      expect(await after.listLinks(id)).toEqual([]);
      expect(await after.getRegistration(id)).toBeNull();
      await rotated.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
