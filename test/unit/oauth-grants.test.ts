// Grants ("authorized apps"): listing per user or for everyone, revocation, last use (batched like
// keys'), removal with their agent or connection, and pruning of what can no longer be used.
import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { count, eq } from "drizzle-orm";
import { oauthClients, oauthCodes, oauthGrants, oauthTokens } from "../../src/db/schema.ts";
import { AppError } from "../../src/errors.ts";
import { deleteConnection } from "../../src/domain/connections/connections.ts";
import {
  createAccessTokenVerifier,
  createGrantLastUsedRecorder,
  getGrant,
  listGrants,
  pruneOAuth,
  refreshTokens,
  revokeGrant,
  UNUSED_CLIENT_TTL_MS,
} from "../../src/domain/oauth/authorizations.ts";
import { findClient, saveClientDocument } from "../../src/domain/oauth/clients.ts";
import { useTestDatabase } from "../support/db.ts";
import { rejectionOf } from "../support/errors.ts";
import { addClient, addConnection, addUser, approve, at, authorize, CODE_TTL_MS, DAY, HOUR, MINUTE, oauthWorld, T0, TTL, type OAuthWorld } from "../support/oauth.ts";

const openDb = useTestDatabase();

async function rows(w: OAuthWorld, table: typeof oauthCodes | typeof oauthTokens | typeof oauthGrants | typeof oauthClients): Promise<number> {
  return (await w.db.select({ n: count() }).from(table))[0]!.n;
}

describe("listGrants and getGrant", () => {
  test("newest first; a user's own only when asked; no token or hash in what is returned", async () => {
    const w = await oauthWorld(openDb());
    const other = await addUser(w.db);
    const mine1 = await authorize(w, {}, T0);
    const theirs = await authorize(w, { userId: other.id }, at(MINUTE));
    const mine2 = await authorize(w, {}, at(2 * MINUTE));
    expect((await listGrants(w.db, { now: at(2 * MINUTE) })).map((g) => g.id)).toEqual([mine2.grantId, theirs.grantId, mine1.grantId]);
    expect((await listGrants(w.db, { userId: w.user.id, now: at(2 * MINUTE) })).map((g) => g.id)).toEqual([mine2.grantId, mine1.grantId]);
    expect((await listGrants(w.db, { userId: other.id, now: at(2 * MINUTE) })).map((g) => g.id)).toEqual([theirs.grantId]);
    const text = JSON.stringify(await listGrants(w.db, { now: at(2 * MINUTE) }));
    for (const t of [mine1, theirs, mine2]) {
      for (const secret of [t.accessToken, t.refreshToken]) expect(text).not.toContain(secret.slice(7, 20));
    }
    expect(text).not.toContain("Hash");
    expect(text).not.toContain("hash");
  });

  test("a grant says when its refresh token runs out", async () => {
    const w = await oauthWorld(openDb());
    const tokens = await authorize(w);
    expect((await getGrant(w.db, tokens.grantId, T0))?.refreshExpiresAt).toEqual(at(30 * DAY));
    expect(await getGrant(w.db, "grant_nope", T0)).toBeNull();
  });
});

describe("revokeGrant", () => {
  test("deletes the grant and its tokens", async () => {
    const w = await oauthWorld(openDb());
    const tokens = await authorize(w);
    await revokeGrant(w.db, tokens.grantId);
    expect(await getGrant(w.db, tokens.grantId, T0)).toBeNull();
    expect(await rows(w, oauthTokens)).toBe(0);
    const err = await rejectionOf(refreshTokens(w.db, w.hmacKey, { refreshToken: tokens.refreshToken, clientId: w.client.id, resourceUrl: null, scope: null }, { ...TTL, now: T0 }));
    expect((err as { error?: string }).error).toBe("invalid_grant");
  });

  test("an unknown grant is OAUTH_GRANT_NOT_FOUND", async () => {
    const { db } = openDb();
    const err = await rejectionOf(revokeGrant(db, "grant_nope"));
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe("OAUTH_GRANT_NOT_FOUND");
  });
});

describe("last use", () => {
  test("issuing tokens (code or refresh) marks the grant and the client used", async () => {
    const w = await oauthWorld(openDb());
    const tokens = await authorize(w, {}, T0);
    expect((await findClient(w.db, w.client.id))?.lastUsedAt).toEqual(T0);
    await refreshTokens(w.db, w.hmacKey, { refreshToken: tokens.refreshToken, clientId: w.client.id, resourceUrl: null, scope: null }, { ...TTL, now: at(HOUR) });
    expect((await findClient(w.db, w.client.id))?.lastUsedAt).toEqual(at(HOUR));
    expect((await getGrant(w.db, tokens.grantId, at(HOUR)))?.lastUsedAt).toEqual(at(HOUR));
  });

  test("the grants' recorder writes nothing until flushed, then the latest time per grant", async () => {
    const w = await oauthWorld(openDb());
    const a = await authorize(w, {}, T0);
    const b = await authorize(w, {}, T0);
    const recorder = createGrantLastUsedRecorder(w.db, 60_000);
    recorder.record(a.grantId, at(HOUR).getTime());
    recorder.record(a.grantId, at(2 * HOUR).getTime());
    expect((await getGrant(w.db, a.grantId, T0))?.lastUsedAt).toEqual(T0);
    await recorder.flush();
    expect((await getGrant(w.db, a.grantId, T0))?.lastUsedAt).toEqual(at(2 * HOUR));
    expect((await getGrant(w.db, b.grantId, T0))?.lastUsedAt).toEqual(T0);
    await recorder.stop();
  });

  test("a grant revoked before the flush does not break the batch", async () => {
    const w = await oauthWorld(openDb());
    const gone = await authorize(w);
    const kept = await authorize(w);
    const recorder = createGrantLastUsedRecorder(w.db, 60_000);
    recorder.record(gone.grantId, at(HOUR).getTime());
    recorder.record(kept.grantId, at(HOUR).getTime());
    await revokeGrant(w.db, gone.grantId);
    await recorder.stop();
    expect((await getGrant(w.db, kept.grantId, T0))?.lastUsedAt).toEqual(at(HOUR));
    expect(await getGrant(w.db, gone.grantId, T0)).toBeNull();
  });
});

describe("a deleted connection takes its grants", () => {
  test("the grants and codes for it go in the delete's transaction; others stay", async () => {
    const w = await oauthWorld(openDb());
    const conn = await addConnection(w.db);
    const verify = createAccessTokenVerifier(w.db, w.hmacKey);
    const onConn = await authorize(w, { resource: conn.id, resourceUrl: conn.url });
    await approve(w, { resource: conn.id, resourceUrl: conn.url });
    const onAgent = await authorize(w);
    await deleteConnection({ db: w.db, encryptionKey: randomBytes(32), stdio: { enabled: false, allowed_commands: [] } }, conn.id);
    expect(await verify(onConn.accessToken, T0)).toBeNull();
    expect(await w.db.select().from(oauthCodes).where(eq(oauthCodes.resource, conn.id))).toEqual([]);
    expect((await listGrants(w.db, { now: T0 })).map((g) => g.id)).toEqual([onAgent.grantId]);
    expect(await verify(onAgent.accessToken, T0)).not.toBeNull();
  });
});

describe("pruneOAuth", () => {
  test("deletes expired codes and keeps live ones, spent ones included (a replay is still recognised)", async () => {
    const w = await oauthWorld(openDb());
    await approve(w, {}, T0);
    await approve(w, {}, at(MINUTE));
    await authorize(w, {}, at(MINUTE)); // spent, with a grant
    await approve(w, {}, at(2 * MINUTE));
    expect(await pruneOAuth(w.db, at(CODE_TTL_MS))).toBe(1);
    expect(await rows(w, oauthCodes)).toBe(3);
    expect(await pruneOAuth(w.db, at(CODE_TTL_MS + 2 * MINUTE))).toBe(3);
    expect(await rows(w, oauthCodes)).toBe(0);
  });

  test("deletes expired tokens, and grants left with no live token; a grant with a live refresh token stays", async () => {
    const w = await oauthWorld(openDb());
    const old = await authorize(w, {}, T0);
    const rotated = await authorize(w, {}, T0);
    const next = await refreshTokens(w.db, w.hmacKey, { refreshToken: rotated.refreshToken, clientId: w.client.id, resourceUrl: null, scope: null }, { ...TTL, now: at(10 * DAY) });
    // An hour on, both first access tokens have expired; every grant still has a live refresh token.
    await pruneOAuth(w.db, at(HOUR));
    expect((await listGrants(w.db, { now: at(HOUR) })).map((g) => g.id).sort()).toEqual([old.grantId, rotated.grantId].sort());
    // At 30 days the first grant's refresh token has expired: that grant is gone. The rotated one
    // keeps its live refresh token, while the spent one it replaced stays for reuse detection.
    await pruneOAuth(w.db, at(30 * DAY));
    expect(await getGrant(w.db, old.grantId, at(30 * DAY))).toBeNull();
    expect((await getGrant(w.db, rotated.grantId, at(30 * DAY)))?.refreshExpiresAt).toEqual(at(40 * DAY));
    expect(await rows(w, oauthTokens)).toBe(1);
    expect((await refreshTokens(w.db, w.hmacKey, { refreshToken: next.refreshToken, clientId: w.client.id, resourceUrl: null, scope: null }, { ...TTL, now: at(30 * DAY) })).grantId).toBe(rotated.grantId);
  });

  test("a grant whose refresh token is spent and whose access token lives stays until the access token expires", async () => {
    const w = await oauthWorld(openDb());
    const tokens = await authorize(w, {}, T0);
    // Spend the refresh token by hand, as if its successor had been revoked on its own.
    await w.db.update(oauthTokens).set({ usedAt: T0 }).where(eq(oauthTokens.kind, "refresh"));
    await pruneOAuth(w.db, at(MINUTE));
    expect(await createAccessTokenVerifier(w.db, w.hmacKey)(tokens.accessToken, at(MINUTE))).not.toBeNull();
    await pruneOAuth(w.db, at(HOUR));
    expect(await getGrant(w.db, tokens.grantId, at(HOUR))).toBeNull();
  });

  test("deletes clients, registered or document, that got no token within 24 hours; keeps used ones and young ones", async () => {
    const w = await oauthWorld(openDb()); // w.client: registered at T0, never used
    const used = await addClient(w.db, ["http://localhost/callback"], T0);
    await authorize({ ...w, client: used }, {}, T0);
    const young = await addClient(w.db, ["http://localhost/callback"], at(HOUR));
    // Anyone can name a new document URL (a query string makes another), so unused ones go too.
    const doc = await saveClientDocument(w.db, "https://evil.example/client?n=1", { name: "x", redirectUris: ["https://evil.example/cb"], clientUri: null, logoUri: null }, at(HOUR), T0);
    const usedDoc = await saveClientDocument(w.db, "https://claude.ai/oauth/mcp-oauth-client-metadata", { name: "Claude", redirectUris: ["https://claude.ai/cb"], clientUri: null, logoUri: null }, at(HOUR), T0);
    await authorize({ ...w, client: usedDoc }, { redirectUri: "https://claude.ai/cb" }, T0);
    await pruneOAuth(w.db, at(UNUSED_CLIENT_TTL_MS - 1));
    expect(await findClient(w.db, w.client.id)).not.toBeNull();
    expect(await findClient(w.db, doc.id)).not.toBeNull();
    await pruneOAuth(w.db, at(UNUSED_CLIENT_TTL_MS));
    expect(await findClient(w.db, w.client.id)).toBeNull();
    expect(await findClient(w.db, doc.id)).toBeNull();
    for (const kept of [used, young, usedDoc]) expect(await findClient(w.db, kept.id)).not.toBeNull();
  });

  test("a used registered client stays after its grants are gone (it may authorize again)", async () => {
    const w = await oauthWorld(openDb());
    const tokens = await authorize(w, {}, T0);
    await revokeGrant(w.db, tokens.grantId);
    await pruneOAuth(w.db, at(2 * DAY));
    expect(await findClient(w.db, w.client.id)).not.toBeNull();
  });

  test("nothing live is deleted", async () => {
    const w = await oauthWorld(openDb());
    await authorize(w, {}, T0);
    await approve(w, {}, T0);
    expect(await pruneOAuth(w.db, at(MINUTE))).toBe(0);
    expect([await rows(w, oauthCodes), await rows(w, oauthTokens), await rows(w, oauthGrants), await rows(w, oauthClients)]).toEqual([2, 2, 1, 1]);
  });
});
