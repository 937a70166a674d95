// Access and refresh tokens: rotation with reuse detection (the whole family dies), the checks of a
// refresh (client, resource, scope, expiry), revocation (RFC 7009), and the resource server's verifier
// (resource-bound, expiring, dead on the next call once its grant, client or user is gone).
import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { eq } from "drizzle-orm";
import { oauthTokens } from "../../src/db/schema.ts";
import { OAuthError } from "../../src/errors.ts";
import { createApiKey } from "../../src/domain/access/api-keys.ts";
import { hmacToken } from "../../src/domain/access/token-format.ts";
import { deleteUser, setRole } from "../../src/domain/access/users.ts";
import { deleteAgent } from "../../src/domain/agents/agents.ts";
import { createAccessTokenVerifier, getGrant, refreshTokens, revokeGrant, revokeToken } from "../../src/domain/oauth/authorizations.ts";
import { deleteClient } from "../../src/domain/oauth/clients.ts";
import type { TokenSet } from "../../src/domain/oauth/types.ts";
import { useTestDatabase } from "../support/db.ts";
import { rejectionOf } from "../support/errors.ts";
import { addAgent, addClient, addUser, at, authorize, DAY, HOUR, MINUTE, oauthWorld, T0, TTL, type OAuthWorld } from "../support/oauth.ts";
import { openDatabase } from "../../src/db/client.ts";

const openDb = useTestDatabase();

async function oauthErrorOf(promise: Promise<unknown>): Promise<OAuthError> {
  const err = await rejectionOf(promise);
  expect(err).toBeInstanceOf(OAuthError);
  return err as OAuthError;
}

type RefreshInput = Parameters<typeof refreshTokens>[2];

function refresh(w: OAuthWorld, refreshToken: string, changes: Partial<RefreshInput> = {}, now = T0): Promise<TokenSet> {
  return refreshTokens(w.db, w.hmacKey, { refreshToken, clientId: w.client.id, resourceUrl: null, scope: null, ...changes }, { ...TTL, now });
}

describe("refreshTokens", () => {
  test("rotates: a new pair in the same grant, the old refresh token spent, the old access token still good until it expires", async () => {
    const w = await oauthWorld(openDb());
    const verify = createAccessTokenVerifier(w.db, w.hmacKey);
    const first = await authorize(w);
    const second = await refresh(w, first.refreshToken, {}, at(MINUTE));
    expect(second.grantId).toBe(first.grantId);
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect(second).toMatchObject({ expiresIn: 3600, scope: "mcp" });
    expect((await verify(second.accessToken, at(MINUTE)))?.grantId).toBe(first.grantId);
    expect((await verify(first.accessToken, at(MINUTE)))?.grantId).toBe(first.grantId);
    const spent = (await w.db.select({ usedAt: oauthTokens.usedAt }).from(oauthTokens).where(eq(oauthTokens.tokenHash, hmacToken(w.hmacKey, "oauth-refresh:", first.refreshToken))))[0];
    expect(spent).toEqual({ usedAt: at(MINUTE) });
    // The new refresh token works in turn.
    expect((await refresh(w, second.refreshToken, {}, at(2 * MINUTE))).grantId).toBe(first.grantId);
  });

  test("a replayed refresh token is invalid_grant and revokes the whole family, the newest tokens included", async () => {
    const w = await oauthWorld(openDb());
    const verify = createAccessTokenVerifier(w.db, w.hmacKey);
    const first = await authorize(w);
    const second = await refresh(w, first.refreshToken, {}, at(MINUTE));
    const third = await refresh(w, second.refreshToken, {}, at(2 * MINUTE));
    const other = await authorize(w); // another grant of the same user and client is not this family
    const err = await oauthErrorOf(refresh(w, first.refreshToken, {}, at(3 * MINUTE)));
    expect(err.error).toBe("invalid_grant");
    expect(err.message).toContain("already used");
    expect(await getGrant(w.db, first.grantId)).toBeNull();
    for (const t of [first, second, third]) expect(await verify(t.accessToken, at(3 * MINUTE))).toBeNull();
    expect((await oauthErrorOf(refresh(w, third.refreshToken, {}, at(3 * MINUTE)))).error).toBe("invalid_grant");
    expect((await verify(other.accessToken, at(3 * MINUTE)))?.grantId).toBe(other.grantId);
    expect((await refresh(w, other.refreshToken, {}, at(3 * MINUTE))).grantId).toBe(other.grantId);
  });

  test("two refreshes with one token never both succeed, across two connections to the database", async () => {
    const w = await oauthWorld(openDb());
    const second = openDatabase({ path: w.handle.sqlite.filename, busyTimeoutMs: 1_000 });
    try {
      const first = await authorize(w);
      const winner = await refresh(w, first.refreshToken, {}, at(MINUTE));
      const err = await oauthErrorOf(refreshTokens(second.db, w.hmacKey, { refreshToken: first.refreshToken, clientId: w.client.id, resourceUrl: null, scope: null }, { ...TTL, now: at(MINUTE) }));
      expect(err.error).toBe("invalid_grant");
      // The loser's presentation is a reuse: the family is gone, the winner's tokens with it.
      expect(await createAccessTokenVerifier(w.db, w.hmacKey)(winner.accessToken, at(MINUTE))).toBeNull();
    } finally {
      second.close();
    }
  });

  test("presented several times at once, a refresh token is rotated once; the others are reuses and end the family", async () => {
    const w = await oauthWorld(openDb());
    const first = await authorize(w);
    const results = await Promise.allSettled([1, 2, 3, 4].map(() => refresh(w, first.refreshToken, {}, at(MINUTE))));
    const won = results.filter((r) => r.status === "fulfilled").map((r) => r.value);
    const lost = results.filter((r) => r.status === "rejected").map((r) => r.reason as OAuthError);
    expect(won).toHaveLength(1);
    expect(lost.map((e) => e.error)).toEqual(["invalid_grant", "invalid_grant", "invalid_grant"]);
    // The first to come after the winner is a replay, which revokes what the winner got (and with it
    // what the others would have found).
    expect(lost.some((e) => e.message.includes("already used"))).toBe(true);
    expect(await getGrant(w.db, first.grantId)).toBeNull();
    expect(await createAccessTokenVerifier(w.db, w.hmacKey)(won[0]!.accessToken, at(MINUTE))).toBeNull();
  });

  test("another client's refresh token is invalid_grant and leaves the grant working", async () => {
    const w = await oauthWorld(openDb());
    const tokens = await authorize(w);
    const intruder = await addClient(w.db);
    expect((await oauthErrorOf(refresh(w, tokens.refreshToken, { clientId: intruder.id }))).error).toBe("invalid_grant");
    expect((await refresh(w, tokens.refreshToken)).grantId).toBe(tokens.grantId);
  });

  test("another resource is invalid_target and spends nothing; the grant's own resource URL is accepted", async () => {
    const w = await oauthWorld(openDb());
    const tokens = await authorize(w);
    const other = await addAgent(w.db);
    expect((await oauthErrorOf(refresh(w, tokens.refreshToken, { resourceUrl: other.url }))).error).toBe("invalid_target");
    expect((await refresh(w, tokens.refreshToken, { resourceUrl: w.agent.url })).grantId).toBe(tokens.grantId);
  });

  test("scope may narrow (offline_access dropped), never widen; the refresh token keeps the grant's scope", async () => {
    const w = await oauthWorld(openDb());
    const narrow = await authorize(w, { scope: "mcp" });
    expect((await oauthErrorOf(refresh(w, narrow.refreshToken, { scope: "mcp offline_access" }))).error).toBe("invalid_scope");
    expect((await oauthErrorOf(refresh(w, narrow.refreshToken, { scope: "admin" }))).error).toBe("invalid_scope");
    const wide = await authorize(w, { scope: "mcp offline_access" });
    const narrowed = await refresh(w, wide.refreshToken, { scope: "mcp" });
    expect(narrowed.scope).toBe("mcp");
    expect((await refresh(w, narrowed.refreshToken, { scope: null })).scope).toBe("mcp offline_access");
  });

  test("a refresh token expires refreshTtlMs after it was issued, and each rotation restarts that period", async () => {
    const w = await oauthWorld(openDb());
    const first = await authorize(w);
    const second = await refresh(w, first.refreshToken, {}, at(29 * DAY));
    const third = await refresh(w, second.refreshToken, {}, at(58 * DAY));
    expect((await getGrant(w.db, first.grantId, at(58 * DAY)))?.refreshExpiresAt).toEqual(at(88 * DAY));
    expect((await getGrant(w.db, first.grantId, at(88 * DAY)))?.refreshExpiresAt).toBeNull();
    expect((await oauthErrorOf(refresh(w, third.refreshToken, {}, at(88 * DAY)))).message).toContain("expired");
  });

  test.each([
    ["an unknown token", `mcp_rt_${"0".repeat(49)}`],
    ["an access token", "access"],
    ["a malformed token", "mcp_rt_nope"],
    ["an empty token", ""],
  ])("%s is invalid_grant", async (_name, token) => {
    const w = await oauthWorld(openDb());
    const tokens = await authorize(w);
    expect((await oauthErrorOf(refresh(w, token === "access" ? tokens.accessToken : token))).error).toBe("invalid_grant");
    expect((await refresh(w, tokens.refreshToken)).grantId).toBe(tokens.grantId);
  });
});

describe("revokeToken", () => {
  test("a refresh token ends its whole grant", async () => {
    const w = await oauthWorld(openDb());
    const verify = createAccessTokenVerifier(w.db, w.hmacKey);
    const tokens = await authorize(w);
    await revokeToken(w.db, w.hmacKey, tokens.refreshToken);
    expect(await getGrant(w.db, tokens.grantId)).toBeNull();
    expect(await verify(tokens.accessToken, T0)).toBeNull();
  });

  test("an access token ends only itself", async () => {
    const w = await oauthWorld(openDb());
    const verify = createAccessTokenVerifier(w.db, w.hmacKey);
    const first = await authorize(w);
    const second = await refresh(w, first.refreshToken);
    await revokeToken(w.db, w.hmacKey, second.accessToken);
    expect(await verify(second.accessToken, T0)).toBeNull();
    expect((await verify(first.accessToken, T0))?.grantId).toBe(first.grantId);
    expect((await refresh(w, second.refreshToken)).grantId).toBe(first.grantId);
  });

  test("unknown, malformed and foreign tokens are no error and change nothing", async () => {
    const w = await oauthWorld(openDb());
    const verify = createAccessTokenVerifier(w.db, w.hmacKey);
    const tokens = await authorize(w);
    const key = await createApiKey(w.db, { hmacKey: w.hmacKey, name: "k", ownerId: w.user.id, permissions: { "*": ["*"] }, expiresAt: null });
    for (const token of [`mcp_rt_${"0".repeat(49)}`, `mcp_at_${"0".repeat(49)}`, "garbage", "", key.token, tokens.refreshToken.replace("mcp_rt_", "mcp_at_")]) {
      await revokeToken(w.db, w.hmacKey, token);
    }
    expect((await verify(tokens.accessToken, T0))?.grantId).toBe(tokens.grantId);
    // A token under another server's key is someone else's: it matches nothing here.
    await revokeToken(w.db, randomBytes(32), tokens.refreshToken);
    expect(await getGrant(w.db, tokens.grantId)).not.toBeNull();
  });
});

describe("createAccessTokenVerifier", () => {
  test("resolves a token to its grant, client, resource, permissions, expiry and user", async () => {
    const w = await oauthWorld(openDb());
    const tokens = await authorize(w);
    expect(await createAccessTokenVerifier(w.db, w.hmacKey)(tokens.accessToken, T0)).toEqual({
      grantId: tokens.grantId,
      clientId: w.client.id,
      resource: w.agent.id,
      permissions: { [w.agent.id]: ["*"] },
      expiresAt: at(HOUR),
      user: w.user,
    });
  });

  test("a token for agent A names agent A only: its permissions reach nothing else", async () => {
    const w = await oauthWorld(openDb());
    const b = await addAgent(w.db);
    const forA = await authorize(w);
    const access = (await createAccessTokenVerifier(w.db, w.hmacKey)(forA.accessToken, T0))!;
    expect(access.resource).toBe(w.agent.id);
    expect(access.resource).not.toBe(b.id);
    expect(Object.keys(access.permissions)).toEqual([w.agent.id]);
  });

  test("expires accessTtlMs after issue", async () => {
    const w = await oauthWorld(openDb());
    const verify = createAccessTokenVerifier(w.db, w.hmacKey);
    const tokens = await authorize(w);
    expect(await verify(tokens.accessToken, at(HOUR - 1))).not.toBeNull();
    expect(await verify(tokens.accessToken, at(HOUR))).toBeNull();
  });

  test("refuses refresh tokens, codes, API keys, typos and tokens of another server's key", async () => {
    const w = await oauthWorld(openDb());
    const verify = createAccessTokenVerifier(w.db, w.hmacKey);
    const tokens = await authorize(w);
    const key = await createApiKey(w.db, { hmacKey: w.hmacKey, name: "k", ownerId: w.user.id, permissions: { "*": ["*"] }, expiresAt: null });
    const typo = `${tokens.accessToken.slice(0, 20)}${tokens.accessToken[20] === "A" ? "B" : "A"}${tokens.accessToken.slice(21)}`;
    for (const token of [tokens.refreshToken, tokens.refreshToken.replace("mcp_rt_", "mcp_at_"), key.token, typo, "", `Bearer ${tokens.accessToken}`]) {
      expect(await verify(token, T0)).toBeNull();
    }
    expect(await createAccessTokenVerifier(w.db, randomBytes(32))(tokens.accessToken, T0)).toBeNull();
  });

  const deaths: [string, (w: OAuthWorld, tokens: TokenSet) => unknown][] = [
    ["its grant is revoked", (w, t) => revokeGrant(w.db, t.grantId)],
    ["its client is deleted", (w) => deleteClient(w.db, w.client.id)],
    ["its user is deleted", (w) => deleteUser(w.db, w.user.id)],
    ["its agent is deleted", (w) => deleteAgent(w.db, w.agent.id)],
    ["its refresh token is revoked", (w, t) => revokeToken(w.db, w.hmacKey, t.refreshToken)],
  ];
  test.each(deaths)("is null on the very next call once %s (the cache is dropped)", async (_name, kill) => {
    const w = await oauthWorld(openDb());
    const verify = createAccessTokenVerifier(w.db, w.hmacKey);
    const tokens = await authorize(w);
    expect(await verify(tokens.accessToken, T0)).not.toBeNull(); // now cached
    await kill(w, tokens);
    expect(await verify(tokens.accessToken, T0)).toBeNull();
  });

  test("a revocation by another process applies on the next call", async () => {
    const w = await oauthWorld(openDb());
    const verify = createAccessTokenVerifier(w.db, w.hmacKey);
    const tokens = await authorize(w);
    expect(await verify(tokens.accessToken, T0)).not.toBeNull();
    const other = openDatabase({ path: w.handle.sqlite.filename, busyTimeoutMs: 1_000 });
    try {
      await revokeGrant(other.db, tokens.grantId);
    } finally {
      other.close();
    }
    expect(await verify(tokens.accessToken, T0)).toBeNull();
  });

  test("the user's current role comes with each verification", async () => {
    const w = await oauthWorld(openDb());
    await addUser(w.db, "admin"); // so the member may be promoted and demoted freely
    const verify = createAccessTokenVerifier(w.db, w.hmacKey);
    const tokens = await authorize(w);
    expect((await verify(tokens.accessToken, T0))?.user.role).toBe("member");
    await setRole(w.db, w.user.id, "admin");
    expect((await verify(tokens.accessToken, T0))?.user.role).toBe("admin");
  });

  test("a cached token is checked for the probe on every call: a probe that does not move keeps it cached", async () => {
    const w = await oauthWorld(openDb());
    let version = "1";
    const verify = createAccessTokenVerifier(w.db, w.hmacKey, () => version);
    const tokens = await authorize(w);
    expect(await verify(tokens.accessToken, T0)).not.toBeNull();
    await revokeGrant(w.db, tokens.grantId);
    // The probe is what tells the cache to drop (this one is frozen, so the cached entry is served) ...
    expect(await verify(tokens.accessToken, T0)).not.toBeNull();
    version = "2";
    // ... and once it moves, the revocation shows.
    expect(await verify(tokens.accessToken, T0)).toBeNull();
  });
});
