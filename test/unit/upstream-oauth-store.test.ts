// The OAuth client's store on both engines: registrations, links and flows round-trip with every secret
// sealed (bound to its row and kind), a refresh replaces tokens only over the refresh token it used, a
// flow is taken once and never after it expired, one user never reads another's tokens, an unreadable
// ciphertext reads as needing re-authorization, and rows go with their connection or user.
import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import type { Db } from "../../src/db/store.ts";
import { deleteUser } from "../../src/domain/access/users.ts";
import { createConnection, deleteConnection, newConnectionFields, type ConnectionStore } from "../../src/domain/connections/connections.ts";
import type { OAuthFlow, OAuthSubject, UpstreamOAuthStore, UpstreamRegistration, UpstreamTokens } from "../../src/domain/connections/oauth-types.ts";
import { UNREADABLE_TOKENS, upstreamOAuthStore } from "../../src/domain/connections/upstream-oauth.ts";
import { useTestDatabase } from "../support/db.ts";
import { rejectionOf } from "../support/errors.ts";
import { havePostgres, reportMissingPostgres, usePostgres } from "../support/postgres.ts";
import { rawRow, rawRows, rawRun } from "../support/raw-sql.ts";
import { insertUser } from "../support/users.ts";

const openSqlite = useTestDatabase();
const pg = usePostgres();
reportMissingPostgres("the upstream OAuth store on PostgreSQL", test);

const ENGINES: { name: string; skip?: boolean; open: () => Promise<Db> }[] = [
  { name: "SQLite", open: async () => openSqlite().db as Db },
  { name: "PostgreSQL", skip: !havePostgres, open: async () => (await pg.open()).db as Db },
];

const T0 = new Date("2030-01-01T00:00:00.000Z");
const at = (ms: number): Date => new Date(T0.getTime() + ms);
const ACCESS = "at-Sup3rSecret-access-0001";
const REFRESH = "rt-Sup3rSecret-refresh-0001";
const CLIENT_SECRET = "cs-Sup3rSecret-client-0001";
const VERIFIER = "pkce-Sup3rSecret-verifier-0001-abcdefghijklmnopqrstuvwxyz";

function tokens(n: number, overrides: Partial<UpstreamTokens> = {}): UpstreamTokens {
  return { accessToken: `at-Sup3rSecret-access-${n}`, refreshToken: `rt-Sup3rSecret-refresh-${n}`, expiresAt: at(n * 60_000), scope: "read", ...overrides };
}

async function world(engine: (typeof ENGINES)[number]) {
  const db = await engine.open();
  const base: ConnectionStore = { db, encryptionKey: randomBytes(32), stdio: { enabled: true, allowed_commands: [] } };
  const conn = await createConnection(base, newConnectionFields({ slug: "remote", transport: "http", url: "https://mcp.example.com/mcp" }));
  const other = await createConnection(base, newConnectionFields({ slug: "other", transport: "http", url: "https://other.example.com/mcp" }));
  const admin = await insertUser({ db }, "admin");
  const alice = await insertUser({ db }, "member");
  const bob = await insertUser({ db }, "member");
  const store = upstreamOAuthStore(base);
  /** The same database read under another server secret. */
  const otherKey = (): UpstreamOAuthStore => upstreamOAuthStore({ ...base, encryptionKey: randomBytes(32) });
  const link = (subject: OAuthSubject, t: UpstreamTokens = tokens(1), connectionId = conn.id) =>
    store.saveLink({ connectionId, subject, tokens: t, account: `${subject}@upstream`, connectedBy: subject === "shared" ? admin.id : subject, now: T0 });
  return { db, base, store, otherKey, conn, other, admin, alice, bob, link };
}

function registration(connectionId: string, overrides: Partial<UpstreamRegistration> = {}): UpstreamRegistration {
  return {
    connectionId,
    issuer: "https://auth.example.com",
    resource: "https://mcp.example.com/mcp",
    authorizationEndpoint: "https://auth.example.com/authorize",
    tokenEndpoint: "https://auth.example.com/token",
    revocationEndpoint: "https://auth.example.com/revoke",
    userinfoEndpoint: null,
    method: "dcr",
    clientId: "client-123",
    clientSecret: CLIENT_SECRET,
    tokenEndpointAuthMethod: "client_secret_basic",
    scopes: "read write",
    redirectUri: "https://switchboard.example.com/oauth/upstream/callback",
    createdAt: T0,
    ...overrides,
  };
}

function flow(connectionId: string, userId: string, overrides: Partial<OAuthFlow> = {}): OAuthFlow {
  return {
    connectionId,
    subject: "shared",
    userId,
    codeVerifier: VERIFIER,
    bindingHash: "binding-hmac",
    returnTo: `/admin/connections/${connectionId}`,
    createdAt: T0,
    expiresAt: at(10 * 60_000),
    ...overrides,
  };
}

for (const engine of ENGINES) {
  const suite = engine.skip ? describe.skip : describe;

  suite(`registrations (${engine.name})`, () => {
    test("none before discovery; saved, read back whole, replaced, cleared", async () => {
      const w = await world(engine);
      expect(await w.store.getRegistration(w.conn.id)).toBeNull();
      await w.store.saveRegistration(registration(w.conn.id));
      expect(await w.store.getRegistration(w.conn.id)).toEqual(registration(w.conn.id));
      expect(await w.store.getRegistration(w.other.id)).toBeNull();
      const cimd = registration(w.conn.id, { method: "cimd", clientId: "https://switchboard.example.com/oauth/upstream/client.json", clientSecret: null, tokenEndpointAuthMethod: "none", scopes: null });
      await w.store.saveRegistration(cimd);
      expect(await w.store.getRegistration(w.conn.id)).toEqual(cimd);
      expect(await rawRows(w, "SELECT connection_id FROM upstream_oauth_registrations")).toHaveLength(1);
      await w.store.clearRegistration(w.conn.id);
      expect(await w.store.getRegistration(w.conn.id)).toBeNull();
    });

    test("the client secret is sealed, bound to its connection: copied onto another connection's row it does not open", async () => {
      const w = await world(engine);
      await w.store.saveRegistration(registration(w.conn.id));
      const row = (await rawRow<{ client_secret_sealed: string }>(w, "SELECT * FROM upstream_oauth_registrations WHERE connection_id = ?", w.conn.id))!;
      expect(JSON.stringify(row)).not.toContain(CLIENT_SECRET);
      expect(row.client_secret_sealed).toMatch(/^v1\./);
      await w.store.saveRegistration(registration(w.other.id, { clientSecret: "another-secret" }));
      await rawRun(w, "UPDATE upstream_oauth_registrations SET client_secret_sealed = ? WHERE connection_id = ?", row.client_secret_sealed, w.other.id);
      expect(await w.store.getRegistration(w.other.id)).toBeNull();
      expect((await w.store.getRegistration(w.conn.id))?.clientSecret).toBe(CLIENT_SECRET);
    });

    test("a secret sealed under another server secret reads as no registration (the next authorization registers again)", async () => {
      const w = await world(engine);
      await w.store.saveRegistration(registration(w.conn.id));
      expect(await w.otherKey().getRegistration(w.conn.id)).toBeNull();
      // A public client has nothing sealed: it reads under any key.
      await w.store.saveRegistration(registration(w.conn.id, { clientSecret: null, tokenEndpointAuthMethod: "none" }));
      expect((await w.otherKey().getRegistration(w.conn.id))?.clientId).toBe("client-123");
    });
  });

  suite(`links (${engine.name})`, () => {
    test("a link round-trips with its tokens, sealed at rest and bound to row and kind", async () => {
      const w = await world(engine);
      await w.link("shared", tokens(1));
      const got = await w.store.getLink(w.conn.id, "shared");
      expect(got).toEqual({
        connectionId: w.conn.id,
        subject: "shared",
        userId: null,
        state: "connected",
        account: "shared@upstream",
        expiresAt: at(60_000),
        scope: "read",
        lastError: null,
        connectedBy: w.admin.id,
        connectedAt: T0,
        updatedAt: T0,
        tokens: tokens(1),
      });
      const row = (await rawRow<Record<string, string>>(w, "SELECT * FROM upstream_oauth_links"))!;
      const stored = JSON.stringify(row);
      expect(stored).not.toContain("Sup3rSecret");
      expect(row.access_token_sealed).toMatch(/^v1\./);
      expect(row.refresh_token_sealed).toMatch(/^v1\./);
      expect(row.refresh_token_hash).toBeTruthy();
      // The access ciphertext in the refresh column does not open as the refresh token.
      await rawRun(w, "UPDATE upstream_oauth_links SET refresh_token_sealed = access_token_sealed");
      expect((await w.store.getLink(w.conn.id, "shared"))?.state).toBe("needs_reauth");
    });

    test("per user: each user reads only their own link; another user's ciphertext copied onto their row does not open", async () => {
      const w = await world(engine);
      const alice = w.alice.id as OAuthSubject;
      const bob = w.bob.id as OAuthSubject;
      await w.link(alice, tokens(1));
      expect(await w.store.getLink(w.conn.id, bob)).toBeNull();
      expect(await w.store.getLink(w.conn.id, "shared")).toBeNull();
      expect(await w.store.getLink(w.other.id, alice)).toBeNull();
      expect((await w.store.getLink(w.conn.id, alice))?.userId).toBe(w.alice.id);
      await w.link(bob, tokens(2));
      await rawRun(
        w,
        "UPDATE upstream_oauth_links SET access_token_sealed = (SELECT access_token_sealed FROM upstream_oauth_links WHERE subject = ?), refresh_token_sealed = NULL WHERE subject = ?",
        alice,
        bob,
      );
      const bobs = await w.store.getLink(w.conn.id, bob);
      expect(bobs?.state).toBe("needs_reauth");
      expect(bobs?.tokens.accessToken).toBe("");
      expect((await w.store.getLink(w.conn.id, alice))?.tokens.accessToken).toBe(tokens(1).accessToken);
    });

    test("a fresh authorization replaces the earlier link whole: state, error, account, and a refresh token it no longer has", async () => {
      const w = await world(engine);
      await w.link("shared", tokens(1));
      await w.store.markNeedsReauth(w.conn.id, "shared", "invalid_grant", at(1));
      await w.store.saveLink({ connectionId: w.conn.id, subject: "shared", tokens: tokens(2, { refreshToken: null }), account: null, connectedBy: w.admin.id, now: at(2) });
      const got = (await w.store.getLink(w.conn.id, "shared"))!;
      expect(got).toMatchObject({ state: "connected", lastError: null, account: null, connectedAt: at(2), updatedAt: at(2) });
      expect(got.tokens).toEqual(tokens(2, { refreshToken: null }));
      expect(await rawRow(w, "SELECT refresh_token_sealed, refresh_token_hash FROM upstream_oauth_links")).toEqual({ refresh_token_sealed: null, refresh_token_hash: null });
    });

    test("a refusal of a refresh token another replica already rotated marks nothing; of the one held, it marks", async () => {
      const w = await world(engine);
      await w.link("shared", tokens(1));
      // Another replica refreshed first: the link now holds tokens(2)'s refresh token.
      expect(await w.store.replaceTokens(w.conn.id, "shared", tokens(1).refreshToken, tokens(2), at(1))).toBe(true);
      expect(await w.store.markNeedsReauth(w.conn.id, "shared", "invalid_grant", at(2), { ifRefreshToken: tokens(1).refreshToken })).toBe(false);
      expect((await w.store.getLink(w.conn.id, "shared"))!.state).toBe("connected");
      expect(await w.store.markNeedsReauth(w.conn.id, "shared", "invalid_grant", at(3), { ifRefreshToken: tokens(2).refreshToken })).toBe(true);
      expect((await w.store.getLink(w.conn.id, "shared"))!.state).toBe("needs_reauth");
    });

    test("what an authorization server names is bounded and storable (a hostile account name, scope or error)", async () => {
      const w = await world(engine);
      await w.store.saveLink({ connectionId: w.conn.id, subject: "shared", tokens: tokens(1, { scope: "s".repeat(5000) }), account: `evil\u0000${"a".repeat(5000)}`, connectedBy: w.admin.id, now: T0 });
      await w.store.markNeedsReauth(w.conn.id, "shared", `bad\u0000${"e".repeat(5000)}`, at(1));
      const [summary] = await w.store.listLinks(w.conn.id);
      expect(summary!.account!.length).toBeLessThanOrEqual(256);
      expect(summary!.account).not.toContain("\u0000");
      expect(summary!.scope!.length).toBeLessThanOrEqual(2000);
      expect(summary!.lastError!.length).toBeLessThanOrEqual(1000);
      expect(summary!.lastError).toStartWith("bad\uFFFD");
    });

    test("a subject that is neither shared nor a user id is refused, and nothing is stored", async () => {
      const w = await world(engine);
      const err = await rejectionOf(w.store.saveLink({ connectionId: w.conn.id, subject: "admin" as OAuthSubject, tokens: tokens(1), account: null, connectedBy: w.admin.id }));
      expect((err as Error).message).toContain("not an OAuth subject");
      expect(await rawRows(w, "SELECT subject FROM upstream_oauth_links")).toEqual([]);
    });

    test("listings hold no token, sealed or not, and a user's listing only their own links", async () => {
      const w = await world(engine);
      await w.link("shared", tokens(1));
      await w.link(w.alice.id as OAuthSubject, tokens(2));
      await w.link(w.bob.id as OAuthSubject, tokens(3));
      await w.link(w.alice.id as OAuthSubject, tokens(4), w.other.id);
      const all = await w.store.listLinks(w.conn.id);
      expect(all.map((l): string => l.subject).sort()).toEqual(["shared", w.alice.id, w.bob.id].sort());
      const text = JSON.stringify(all);
      expect(text).not.toContain("Sup3rSecret");
      expect(text).not.toContain("v1.");
      expect(Object.keys(all[0]!).sort()).toEqual(["account", "connectedAt", "connectedBy", "connectionId", "expiresAt", "lastError", "scope", "state", "subject", "updatedAt", "userId"]);
      const alices = await w.store.listLinksOfUser(w.alice.id);
      expect(alices.map((l) => l.connectionId).sort()).toEqual([w.conn.id, w.other.id].sort());
      expect(alices.every((l) => l.userId === w.alice.id)).toBe(true);
      expect(JSON.stringify(alices)).not.toContain("Sup3rSecret");
      expect(await w.store.listLinksOfUser(w.admin.id)).toEqual([]);
    });

    test("disconnect deletes one subject's link only, and says whether there was one", async () => {
      const w = await world(engine);
      await w.link(w.alice.id as OAuthSubject);
      await w.link(w.bob.id as OAuthSubject);
      expect(await w.store.deleteLink(w.conn.id, w.alice.id as OAuthSubject)).toBe(true);
      expect(await w.store.deleteLink(w.conn.id, w.alice.id as OAuthSubject)).toBe(false);
      expect(await w.store.getLink(w.conn.id, w.alice.id as OAuthSubject)).toBeNull();
      expect(await w.store.getLink(w.conn.id, w.bob.id as OAuthSubject)).not.toBeNull();
    });

    test("tokens sealed under another server secret read as needing re-authorization, never a crash, and are not marked so for every replica", async () => {
      const w = await world(engine);
      await w.link("shared", tokens(1));
      const got = await w.otherKey().getLink(w.conn.id, "shared");
      expect(got).toMatchObject({ state: "needs_reauth", lastError: UNREADABLE_TOKENS, tokens: { accessToken: "", refreshToken: null } });
      expect(JSON.stringify(got)).not.toContain("Sup3rSecret");
      expect((await w.store.getLink(w.conn.id, "shared"))?.state).toBe("connected");
    });

    test("links go with their connection and their user; a shared link outlives the admin who connected it", async () => {
      const w = await world(engine);
      await w.link("shared");
      await w.link(w.alice.id as OAuthSubject);
      await w.link(w.alice.id as OAuthSubject, tokens(1), w.other.id);
      await w.store.saveRegistration(registration(w.other.id));
      await insertUser(w, "admin"); // the last admin cannot be removed
      await deleteUser(w.db, w.admin.id);
      expect((await w.store.getLink(w.conn.id, "shared"))?.connectedBy).toBeNull();
      await deleteUser(w.db, w.alice.id);
      expect(await w.store.listLinksOfUser(w.alice.id)).toEqual([]);
      expect(await w.store.listLinks(w.conn.id)).toHaveLength(1);
      await deleteConnection(w.base, w.conn.id);
      await w.store.saveLink({ connectionId: w.other.id, subject: "shared", tokens: tokens(1), account: null, connectedBy: w.bob.id });
      await deleteConnection(w.base, w.other.id);
      expect(await rawRows(w, "SELECT subject FROM upstream_oauth_links")).toEqual([]);
      expect(await rawRows(w, "SELECT connection_id FROM upstream_oauth_registrations")).toEqual([]);
    });
  });

  suite(`refresh (${engine.name})`, () => {
    test("replaceTokens writes over the refresh token it used, once: a second refresh with the same token finds it gone", async () => {
      const w = await world(engine);
      await w.link("shared", tokens(1));
      expect(await w.store.replaceTokens(w.conn.id, "shared", tokens(1).refreshToken, tokens(2), at(5))).toBe(true);
      const got = (await w.store.getLink(w.conn.id, "shared"))!;
      expect(got.tokens).toEqual(tokens(2));
      expect(got).toMatchObject({ updatedAt: at(5), connectedAt: T0, account: "shared@upstream" });
      expect(await w.store.replaceTokens(w.conn.id, "shared", tokens(1).refreshToken, tokens(3), at(6))).toBe(false);
      expect((await w.store.getLink(w.conn.id, "shared"))!.tokens).toEqual(tokens(2));
      expect(await w.store.replaceTokens(w.conn.id, "shared", "never-issued", tokens(3))).toBe(false);
      expect(await w.store.replaceTokens(w.conn.id, "shared", null, tokens(3))).toBe(false);
      expect(await w.store.replaceTokens(w.conn.id, w.alice.id as OAuthSubject, tokens(2).refreshToken, tokens(3))).toBe(false);
      expect(await w.store.getLink(w.conn.id, w.alice.id as OAuthSubject)).toBeNull();
    });

    test("two refreshes racing with the same refresh token: exactly one writes", async () => {
      const w = await world(engine);
      await w.link("shared", tokens(1));
      const results = await Promise.all([2, 3, 4, 5].map((n) => w.store.replaceTokens(w.conn.id, "shared", tokens(1).refreshToken, tokens(n))));
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = [2, 3, 4, 5][results.indexOf(true)]!;
      expect((await w.store.getLink(w.conn.id, "shared"))!.tokens).toEqual(tokens(winner));
    });

    test("a refresh that issues no new refresh token keeps the old one (RFC 6749 §6), and it still guards the next refresh", async () => {
      const w = await world(engine);
      await w.link("shared", tokens(1));
      expect(await w.store.replaceTokens(w.conn.id, "shared", tokens(1).refreshToken, tokens(2, { refreshToken: null }))).toBe(true);
      const got = (await w.store.getLink(w.conn.id, "shared"))!;
      expect(got.tokens).toEqual(tokens(2, { refreshToken: tokens(1).refreshToken }));
      expect(await w.store.replaceTokens(w.conn.id, "shared", tokens(2).refreshToken, tokens(3))).toBe(false);
      expect(await w.store.replaceTokens(w.conn.id, "shared", tokens(1).refreshToken, tokens(3))).toBe(true);
    });

    test("a link without a refresh token is replaced over null, and only while it still has none", async () => {
      const w = await world(engine);
      await w.link("shared", tokens(1, { refreshToken: null }));
      expect(await w.store.replaceTokens(w.conn.id, "shared", "guess", tokens(2))).toBe(false);
      expect(await w.store.replaceTokens(w.conn.id, "shared", null, tokens(2))).toBe(true);
      expect(await w.store.replaceTokens(w.conn.id, "shared", null, tokens(3))).toBe(false);
    });

    test("the refresh-token HMAC is per link: one link's token does not pass for another's", async () => {
      const w = await world(engine);
      const same = tokens(1);
      await w.link(w.alice.id as OAuthSubject, same);
      await w.link(w.bob.id as OAuthSubject, same);
      const hashes = await rawRows<{ refresh_token_hash: string }>(w, "SELECT refresh_token_hash FROM upstream_oauth_links");
      expect(new Set(hashes.map((h) => h.refresh_token_hash)).size).toBe(2);
    });

    test("needs re-authorization: marked with its reason, shown in the listing; a later refresh or authorization clears it", async () => {
      const w = await world(engine);
      await w.link("shared", tokens(1));
      await w.store.markNeedsReauth(w.conn.id, "shared", "invalid_grant: refresh token revoked", at(7));
      const [summary] = await w.store.listLinks(w.conn.id);
      expect(summary).toMatchObject({ state: "needs_reauth", lastError: "invalid_grant: refresh token revoked", updatedAt: at(7) });
      await w.store.markNeedsReauth(w.conn.id, w.bob.id as OAuthSubject, "x");
      expect(await w.store.getLink(w.conn.id, w.bob.id as OAuthSubject)).toBeNull();
      expect(await w.store.replaceTokens(w.conn.id, "shared", tokens(1).refreshToken, tokens(2))).toBe(true);
      expect(await w.store.getLink(w.conn.id, "shared")).toMatchObject({ state: "connected", lastError: null });
    });
  });

  suite(`flows (${engine.name})`, () => {
    test("a flow is taken once, whole, with its verifier sealed at rest", async () => {
      const w = await world(engine);
      await w.store.createFlow("state-hash-1", flow(w.conn.id, w.admin.id));
      const row = await rawRow(w, "SELECT * FROM upstream_oauth_flows");
      expect(JSON.stringify(row)).not.toContain(VERIFIER);
      expect(await w.store.takeFlow("state-hash-2", T0)).toBeNull();
      expect(await w.store.takeFlow("state-hash-1", T0)).toEqual(flow(w.conn.id, w.admin.id));
      expect(await w.store.takeFlow("state-hash-1", T0)).toBeNull();
    });

    test("callbacks racing with one state: exactly one takes the flow", async () => {
      const w = await world(engine);
      await w.store.createFlow("state-hash-1", flow(w.conn.id, w.admin.id));
      const taken = await Promise.all([1, 2, 3, 4].map(() => w.store.takeFlow("state-hash-1", T0)));
      expect(taken.filter((f) => f !== null)).toHaveLength(1);
    });

    test("an expired flow is refused, and spent; the sweep prunes only expired flows", async () => {
      const w = await world(engine);
      await w.store.createFlow("old", flow(w.conn.id, w.admin.id, { expiresAt: at(60_000) }));
      await w.store.createFlow("older", flow(w.conn.id, w.admin.id, { expiresAt: at(30_000) }));
      await w.store.createFlow("live", flow(w.conn.id, w.admin.id, { expiresAt: at(600_000) }));
      expect(await w.store.takeFlow("old", at(60_000))).toBeNull();
      expect(await w.store.takeFlow("old", T0)).toBeNull();
      expect(await w.store.pruneFlows(at(60_000))).toBe(1);
      expect((await rawRows<{ state_hash: string }>(w, "SELECT state_hash FROM upstream_oauth_flows")).map((r) => r.state_hash)).toEqual(["live"]);
      expect(await w.store.pruneFlows(at(60_000))).toBe(0);
    });

    test("a per-user flow belongs to that user; a verifier sealed under another secret (or for another state) is no flow", async () => {
      const w = await world(engine);
      const err = await rejectionOf(w.store.createFlow("s", flow(w.conn.id, w.admin.id, { subject: w.alice.id as OAuthSubject })));
      expect((err as Error).message).toContain("that user only");
      await w.store.createFlow("s1", flow(w.conn.id, w.alice.id, { subject: w.alice.id as OAuthSubject }));
      expect(await w.otherKey().takeFlow("s1", T0)).toBeNull();
      await w.store.createFlow("s2", flow(w.conn.id, w.admin.id));
      await w.store.createFlow("s3", flow(w.conn.id, w.admin.id));
      await rawRun(w, "UPDATE upstream_oauth_flows SET code_verifier_sealed = (SELECT code_verifier_sealed FROM upstream_oauth_flows WHERE state_hash = 's2') WHERE state_hash = 's3'");
      expect(await w.store.takeFlow("s3", T0)).toBeNull();
    });

    test("flows go with their connection and their user", async () => {
      const w = await world(engine);
      await w.store.createFlow("a", flow(w.conn.id, w.alice.id, { subject: w.alice.id as OAuthSubject }));
      await w.store.createFlow("b", flow(w.other.id, w.admin.id));
      await deleteUser(w.db, w.alice.id);
      await deleteConnection(w.base, w.other.id);
      expect(await rawRows(w, "SELECT state_hash FROM upstream_oauth_flows")).toEqual([]);
    });
  });
}
