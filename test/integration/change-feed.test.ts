// The change feed on PostgreSQL: two handles on one database stand for two replicas. A key, an OAuth
// token or a user removed through one is refused on the very next check through the other (no sleep),
// usage and audit writes (and upstream OAuth flows) leave the feed alone, upstream OAuth links and
// registrations move it, a cached check costs one query, and a replica that
// cannot reach the database refuses rather than trusting its cache.
import { afterEach, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { count } from "drizzle-orm";
import { drizzle } from "drizzle-orm/bun-sql";
import { randomBytes, createHash } from "node:crypto";
import { openPostgres, type DbHandle } from "../../src/db/client.ts";
import { createChangeFeed } from "../../src/db/change-probe.ts";
import * as pgSchema from "../../src/db/schema.pg.ts";
import { registerEngine, tables, type Db } from "../../src/db/store.ts";
import { createApiKey, createKeyVerifier, deleteApiKey } from "../../src/domain/access/api-keys.ts";
import { deleteUser } from "../../src/domain/access/users.ts";
import { createAgent, newAgentFields } from "../../src/domain/agents/agents.ts";
import { createConnection, newConnectionFields } from "../../src/domain/connections/connections.ts";
import { upstreamOAuthStore } from "../../src/domain/connections/upstream-oauth.ts";
import { AuditLog } from "../../src/domain/monitoring/audit.ts";
import { ImmediateUsageSink } from "../../src/domain/monitoring/recorder.ts";
import { createAccessTokenVerifier, exchangeCode, issueCode, revokeGrant } from "../../src/domain/oauth/authorizations.ts";
import { registerClient } from "../../src/domain/oauth/clients.ts";
import { createTestApp } from "../support/app.ts";
import { apiRequest, createHarness, mintKey } from "../support/key-harness.ts";
import { havePostgres, reportMissingPostgres, usePostgres } from "../support/postgres.ts";
import { usageRecord } from "../support/usage.ts";

// Closed before the database is dropped (registered before usePostgres's own cleanup).
const opened: { close: () => Promise<void> }[] = [];
afterEach(async () => {
  for (const handle of opened.splice(0)) await handle.close().catch(() => {});
});
const pg = usePostgres();
reportMissingPostgres("the change feed tests", test);
const pgTest = havePostgres ? test : test.skip;

const HMAC = Buffer.alloc(32, 9);
const REDIRECT = "http://127.0.0.1:33418/callback";

/** Two replicas: two pools on one freshly migrated database. */
async function twoReplicas(): Promise<{ a: DbHandle; b: DbHandle; url: string }> {
  const url = await pg.emptyUrl();
  const a = await openPostgres({ url, poolSize: 2 });
  opened.push(a);
  const b = await openPostgres({ url, poolSize: 2 });
  opened.push(b);
  return { a, b, url };
}

async function insertUser(db: Db, role: "admin" | "member" = "member"): Promise<string> {
  const { users } = tables(db);
  const now = new Date();
  const id = `user_${randomBytes(6).toString("hex")}`;
  await db.insert(users).values({ id, email: `${id}@example.com`, passwordHash: "!", role, createdAt: now, updatedAt: now });
  return id;
}

/** An OAuth approval made through `db`: a registered client, a code, its exchange (the grant and its tokens). */
async function approve(db: Db, userId: string): Promise<{ grantId: string; accessToken: string }> {
  const client = await registerClient(db, { name: "Feed client", redirectUris: [REDIRECT], clientUri: null, logoUri: null });
  const verifier = randomBytes(32).toString("base64url");
  // The resource must be a live agent; with no connections it needs nothing from a gateway.
  const agent = await createAgent({ db, toolsOf: () => [] }, newAgentFields({ slug: `feed-${randomBytes(4).toString("hex")}` }));
  const resource = { id: agent.id, url: `http://switchboard.test/mcp/agent/${agent.id}` };
  const code = await issueCode(
    db,
    HMAC,
    {
      clientId: client.id,
      userId,
      redirectUri: REDIRECT,
      codeChallenge: createHash("sha256").update(verifier).digest("base64url"),
      resource: resource.id,
      resourceUrl: resource.url,
      scope: "mcp",
    },
    { ttlMs: 60_000 },
  );
  const tokens = await exchangeCode(
    db,
    HMAC,
    { code, clientId: client.id, redirectUri: REDIRECT, codeVerifier: verifier, resourceUrl: resource.url },
    { accessTtlMs: 3_600_000, refreshTtlMs: 86_400_000 },
  );
  return { grantId: tokens.grantId, accessToken: tokens.accessToken };
}

/** A handle on `url` whose pool counts the statements sent through it (drizzle's and the tagged template's). */
async function countingHandle(url: string): Promise<{ handle: DbHandle; statements: () => number }> {
  const client = new SQL({ url, max: 2 });
  let statements = 0;
  const counted = new Proxy(client, {
    apply(target, thisArg, args) {
      statements++;
      return Reflect.apply(target as unknown as (...a: unknown[]) => unknown, thisArg, args);
    },
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (property !== "unsafe" || typeof value !== "function") return typeof value === "function" ? value.bind(target) : value;
      return (...args: unknown[]) => {
        statements++;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  const db = drizzle({ client: counted, schema: pgSchema });
  registerEngine(db, { dialect: "postgres", sqlite: null });
  const handle: DbHandle = { dialect: "postgres", sqlite: null, db: db as unknown as Db, close: () => client.close() };
  opened.push(handle);
  return { handle, statements: () => statements };
}

describe("the change feed on PostgreSQL", () => {
  pgTest("a key revoked through one replica is refused on the very next check through another", async () => {
    const { a, b } = await twoReplicas();
    const owner = await insertUser(a.db);
    const { key, token } = await createApiKey(a.db, { hmacKey: HMAC, name: "k", ownerId: owner, permissions: { self: ["*"] }, expiresAt: null });
    const verify = createKeyVerifier(b.db, HMAC, createChangeFeed(b));
    // Without the feed, B's cache would keep serving the key: the control the feed is measured against.
    const unfed = createKeyVerifier(b.db, HMAC, () => "never changes");
    expect((await verify(token))?.keyId).toBe(key.id);
    expect((await verify(token))?.keyId).toBe(key.id);
    expect((await unfed(token))?.keyId).toBe(key.id);
    await deleteApiKey(a.db, key.id);
    expect(await verify(token)).toBeNull();
    expect((await unfed(token))?.keyId).toBe(key.id);
  });

  pgTest("two servers on one database: a key deleted through one's API gets 401 on the very next request to the other", async () => {
    const url = await pg.emptyUrl();
    const a = await createHarness({ database: { url, pool_size: 2 } });
    opened.push(a);
    // The second server over the same database (its users are the first's).
    const b = await createTestApp({ overrides: { database: { url, pool_size: 2 } } });
    opened.push(b);
    const { key, token } = await mintKey(a.deps, a.admin, { self: ["*"] });
    const { token: adminToken } = await mintKey(a.deps, a.admin, { self: ["*"] });
    expect((await apiRequest(b.app, "GET", "/keys", { token })).status).toBe(200);
    expect((await apiRequest(b.app, "GET", "/keys", { token })).status).toBe(200);
    expect((await apiRequest(a.app, "DELETE", `/keys/${key.id}`, { token: adminToken })).status).toBeLessThan(300);
    expect((await apiRequest(b.app, "GET", "/keys", { token })).status).toBe(401);
    expect((await apiRequest(b.app, "GET", "/keys", { token: adminToken })).status).toBe(200);
  });

  pgTest("an OAuth grant revoked through one replica ends its access token on the very next check through another", async () => {
    const { a, b } = await twoReplicas();
    const userId = await insertUser(a.db);
    const { grantId, accessToken } = await approve(a.db, userId);
    const verify = createAccessTokenVerifier(b.db, HMAC, createChangeFeed(b));
    expect((await verify(accessToken))?.grantId).toBe(grantId);
    expect((await verify(accessToken))?.grantId).toBe(grantId);
    await revokeGrant(a.db, grantId);
    expect(await verify(accessToken)).toBeNull();
  });

  pgTest("a user deleted through one replica loses their key and their token on the very next check through another", async () => {
    const { a, b } = await twoReplicas();
    await insertUser(a.db, "admin");
    const userId = await insertUser(a.db);
    const { token } = await createApiKey(a.db, { hmacKey: HMAC, name: "k", ownerId: userId, permissions: { self: ["*"] }, expiresAt: null });
    const { accessToken } = await approve(a.db, userId);
    const feed = createChangeFeed(b);
    const verifyKey = createKeyVerifier(b.db, HMAC, feed);
    const verifyAccess = createAccessTokenVerifier(b.db, HMAC, feed);
    expect((await verifyKey(token))?.owner.id).toBe(userId);
    expect((await verifyAccess(accessToken))?.user.id).toBe(userId);
    await deleteUser(a.db, userId);
    expect(await verifyKey(token)).toBeNull();
    expect(await verifyAccess(accessToken)).toBeNull();
  });

  pgTest("usage and audit writes leave the version alone; a write to a cached table moves it", async () => {
    const { a, b } = await twoReplicas();
    const feed = createChangeFeed(b);
    const before = await feed();
    const usage = new ImmediateUsageSink(a.db);
    usage.record(usageRecord());
    usage.record(usageRecord({ method: "tools/list" }));
    await usage.settled();
    const audit = new AuditLog(a.db);
    const record = usageRecord();
    audit.record({ at: new Date(), face: "api", actor: record.actor, action: "KEY_CREATE", targetId: "key_x", address: null, change: { name: "k" }, outcome: "ok" });
    await audit.settled();
    const { usageEvents, auditEvents } = tables(a.db);
    const [events] = await a.db.select({ n: count() }).from(usageEvents);
    const [audits] = await a.db.select({ n: count() }).from(auditEvents);
    expect(Number(events!.n)).toBe(2);
    expect(Number(audits!.n)).toBe(1);
    expect(await feed()).toBe(before);
    await insertUser(a.db);
    expect(await feed()).not.toBe(before);
  });

  pgTest("an upstream OAuth link or registration written on one replica moves the version on the other; a flow does not", async () => {
    const { a, b } = await twoReplicas();
    const feed = createChangeFeed(b);
    const base = { db: a.db, encryptionKey: randomBytes(32), stdio: { enabled: false, allowed_commands: [] } };
    const conn = await createConnection(base, newConnectionFields({ slug: "oauth-feed", transport: "http", url: "https://mcp.example.com/mcp" }));
    const userId = await insertUser(a.db, "admin");
    const store = upstreamOAuthStore(base);
    let before = await feed();
    const now = new Date();
    // Flows are taken straight from the table, never cached: their writes leave the feed alone.
    await store.createFlow("feed-state", { connectionId: conn.id, subject: "shared", userId, codeVerifier: "v".repeat(43), bindingHash: "b", returnTo: "/admin", createdAt: now, expiresAt: new Date(now.getTime() + 60_000) });
    expect(await store.takeFlow("feed-state")).not.toBeNull();
    expect(await feed()).toBe(before);
    const changes: [string, () => Promise<unknown>][] = [
      ["save a link", () => store.saveLink({ connectionId: conn.id, subject: "shared", tokens: { accessToken: "a1", refreshToken: "r1", expiresAt: null, scope: null }, account: null, connectedBy: userId })],
      ["refresh its tokens", () => store.replaceTokens(conn.id, "shared", "r1", { accessToken: "a2", refreshToken: "r2", expiresAt: null, scope: null })],
      ["mark it as needing re-authorization", () => store.markNeedsReauth(conn.id, "shared", "invalid_grant")],
      ["disconnect it", () => store.deleteLink(conn.id, "shared")],
      ["save a registration", () => store.saveRegistration({ connectionId: conn.id, issuer: "https://as.example.com", resource: "https://mcp.example.com/mcp", authorizationEndpoint: "https://as.example.com/a", tokenEndpoint: "https://as.example.com/t", revocationEndpoint: null, userinfoEndpoint: null, method: "dcr", clientId: "c", clientSecret: null, tokenEndpointAuthMethod: "none", scopes: null, redirectUri: "https://sb.example.com/oauth/upstream/callback", createdAt: now })],
      ["clear it", () => store.clearRegistration(conn.id)],
    ];
    for (const [what, change] of changes) {
      await change();
      const after = await feed();
      expect({ what, moved: after !== before }).toEqual({ what, moved: true });
      before = after;
    }
  });

  pgTest("a check served from the cache costs one query: the feed's", async () => {
    const { a, url } = await twoReplicas();
    const owner = await insertUser(a.db);
    const { key, token } = await createApiKey(a.db, { hmacKey: HMAC, name: "k", ownerId: owner, permissions: { self: ["*"] }, expiresAt: null });
    const { handle, statements } = await countingHandle(url);
    const feed = createChangeFeed(handle);
    const verify = createKeyVerifier(handle.db, HMAC, feed);
    expect((await verify(token))?.keyId).toBe(key.id);
    const afterLoad = statements();
    expect(afterLoad).toBeGreaterThanOrEqual(2);
    expect((await verify(token))?.keyId).toBe(key.id);
    expect(statements() - afterLoad).toBe(1);
    await feed();
    expect(statements() - afterLoad).toBe(2);
  });

  pgTest("a replica cut off from the database refuses a cached key rather than trusting it", async () => {
    const { a, b, url } = await twoReplicas();
    const owner = await insertUser(a.db);
    const { key, token } = await createApiKey(a.db, { hmacKey: HMAC, name: "k", ownerId: owner, permissions: { self: ["*"] }, expiresAt: null });
    const verify = createKeyVerifier(b.db, HMAC, createChangeFeed(b));
    expect((await verify(token))?.keyId).toBe(key.id);
    // The database stops taking connections and every one it has is ended: B's pool cannot reconnect.
    const name = new URL(url).pathname.slice(1);
    const adminUrl = new URL(url);
    adminUrl.pathname = "/postgres";
    const admin = new SQL({ url: adminUrl.toString(), max: 1 });
    try {
      await admin.unsafe(`ALTER DATABASE "${name}" ALLOW_CONNECTIONS false`);
      await admin`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${name}`;
    } finally {
      await admin.close();
    }
    await expect(verify(token)).rejects.toThrow();
  });
});
