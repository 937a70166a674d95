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
import { thrownBy } from "../support/errors.ts";
import { addAgent, addClient, addUser, at, authorize, DAY, HOUR, MINUTE, oauthWorld, T0, TTL, type OAuthWorld } from "../support/oauth.ts";
import { openDatabase } from "../../src/db/client.ts";

const openDb = useTestDatabase();

function oauthErrorOf(fn: () => unknown): OAuthError {
  const err = thrownBy(fn);
  expect(err).toBeInstanceOf(OAuthError);
  return err as OAuthError;
}

type RefreshInput = Parameters<typeof refreshTokens>[2];

function refresh(w: OAuthWorld, refreshToken: string, changes: Partial<RefreshInput> = {}, now = T0): TokenSet {
  return refreshTokens(w.db, w.hmacKey, { refreshToken, clientId: w.client.id, resourceUrl: null, scope: null, ...changes }, { ...TTL, now });
}

describe("refreshTokens", () => {
  test("rotates: a new pair in the same grant, the old refresh token spent, the old access token still good until it expires", () => {
    const w = oauthWorld(openDb());
    const verify = createAccessTokenVerifier(w.db, w.hmacKey);
    const first = authorize(w);
    const second = refresh(w, first.refreshToken, {}, at(MINUTE));
    expect(second.grantId).toBe(first.grantId);
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect(second).toMatchObject({ expiresIn: 3600, scope: "mcp" });
    expect(verify(second.accessToken, at(MINUTE))?.grantId).toBe(first.grantId);
    expect(verify(first.accessToken, at(MINUTE))?.grantId).toBe(first.grantId);
    const spent = w.db.select({ usedAt: oauthTokens.usedAt }).from(oauthTokens).where(eq(oauthTokens.tokenHash, hmacToken(w.hmacKey, "oauth-refresh:", first.refreshToken))).get();
    expect(spent).toEqual({ usedAt: at(MINUTE) });
    // The new refresh token works in turn.
    expect(refresh(w, second.refreshToken, {}, at(2 * MINUTE)).grantId).toBe(first.grantId);
  });

  test("a replayed refresh token is invalid_grant and revokes the whole family, the newest tokens included", () => {
    const w = oauthWorld(openDb());
    const verify = createAccessTokenVerifier(w.db, w.hmacKey);
    const first = authorize(w);
    const second = refresh(w, first.refreshToken, {}, at(MINUTE));
    const third = refresh(w, second.refreshToken, {}, at(2 * MINUTE));
    const other = authorize(w); // another grant of the same user and client is not this family
    const err = oauthErrorOf(() => refresh(w, first.refreshToken, {}, at(3 * MINUTE)));
    expect(err.error).toBe("invalid_grant");
    expect(err.message).toContain("already used");
    expect(getGrant(w.db, first.grantId)).toBeNull();
    for (const t of [first, second, third]) expect(verify(t.accessToken, at(3 * MINUTE))).toBeNull();
    expect(oauthErrorOf(() => refresh(w, third.refreshToken, {}, at(3 * MINUTE))).error).toBe("invalid_grant");
    expect(verify(other.accessToken, at(3 * MINUTE))?.grantId).toBe(other.grantId);
    expect(refresh(w, other.refreshToken, {}, at(3 * MINUTE)).grantId).toBe(other.grantId);
  });

  test("two refreshes with one token never both succeed, across two connections to the database", () => {
    const w = oauthWorld(openDb());
    const second = openDatabase({ path: w.handle.sqlite.filename, busyTimeoutMs: 1_000 });
    try {
      const first = authorize(w);
      const winner = refresh(w, first.refreshToken, {}, at(MINUTE));
      const err = oauthErrorOf(() => refreshTokens(second.db, w.hmacKey, { refreshToken: first.refreshToken, clientId: w.client.id, resourceUrl: null, scope: null }, { ...TTL, now: at(MINUTE) }));
      expect(err.error).toBe("invalid_grant");
      // The loser's presentation is a reuse: the family is gone, the winner's tokens with it.
      expect(createAccessTokenVerifier(w.db, w.hmacKey)(winner.accessToken, at(MINUTE))).toBeNull();
    } finally {
      second.close();
    }
  });

  test("another client's refresh token is invalid_grant and leaves the grant working", () => {
    const w = oauthWorld(openDb());
    const tokens = authorize(w);
    const intruder = addClient(w.db);
    expect(oauthErrorOf(() => refresh(w, tokens.refreshToken, { clientId: intruder.id })).error).toBe("invalid_grant");
    expect(refresh(w, tokens.refreshToken).grantId).toBe(tokens.grantId);
  });

  test("another resource is invalid_target and spends nothing; the grant's own resource URL is accepted", () => {
    const w = oauthWorld(openDb());
    const tokens = authorize(w);
    const other = addAgent(w.db);
    expect(oauthErrorOf(() => refresh(w, tokens.refreshToken, { resourceUrl: other.url })).error).toBe("invalid_target");
    expect(refresh(w, tokens.refreshToken, { resourceUrl: w.agent.url }).grantId).toBe(tokens.grantId);
  });

  test("scope may narrow (offline_access dropped), never widen; the refresh token keeps the grant's scope", () => {
    const w = oauthWorld(openDb());
    const narrow = authorize(w, { scope: "mcp" });
    expect(oauthErrorOf(() => refresh(w, narrow.refreshToken, { scope: "mcp offline_access" })).error).toBe("invalid_scope");
    expect(oauthErrorOf(() => refresh(w, narrow.refreshToken, { scope: "admin" })).error).toBe("invalid_scope");
    const wide = authorize(w, { scope: "mcp offline_access" });
    const narrowed = refresh(w, wide.refreshToken, { scope: "mcp" });
    expect(narrowed.scope).toBe("mcp");
    expect(refresh(w, narrowed.refreshToken, { scope: null }).scope).toBe("mcp offline_access");
  });

  test("a refresh token expires refreshTtlMs after it was issued, and each rotation restarts that period", () => {
    const w = oauthWorld(openDb());
    const first = authorize(w);
    const second = refresh(w, first.refreshToken, {}, at(29 * DAY));
    const third = refresh(w, second.refreshToken, {}, at(58 * DAY));
    expect(getGrant(w.db, first.grantId, at(58 * DAY))?.refreshExpiresAt).toEqual(at(88 * DAY));
    expect(getGrant(w.db, first.grantId, at(88 * DAY))?.refreshExpiresAt).toBeNull();
    expect(oauthErrorOf(() => refresh(w, third.refreshToken, {}, at(88 * DAY))).message).toContain("expired");
  });

  test.each([
    ["an unknown token", `mcp_rt_${"0".repeat(49)}`],
    ["an access token", "access"],
    ["a malformed token", "mcp_rt_nope"],
    ["an empty token", ""],
  ])("%s is invalid_grant", (_name, token) => {
    const w = oauthWorld(openDb());
    const tokens = authorize(w);
    expect(oauthErrorOf(() => refresh(w, token === "access" ? tokens.accessToken : token)).error).toBe("invalid_grant");
    expect(refresh(w, tokens.refreshToken).grantId).toBe(tokens.grantId);
  });
});

describe("revokeToken", () => {
  test("a refresh token ends its whole grant", () => {
    const w = oauthWorld(openDb());
    const verify = createAccessTokenVerifier(w.db, w.hmacKey);
    const tokens = authorize(w);
    revokeToken(w.db, w.hmacKey, tokens.refreshToken);
    expect(getGrant(w.db, tokens.grantId)).toBeNull();
    expect(verify(tokens.accessToken, T0)).toBeNull();
  });

  test("an access token ends only itself", () => {
    const w = oauthWorld(openDb());
    const verify = createAccessTokenVerifier(w.db, w.hmacKey);
    const first = authorize(w);
    const second = refresh(w, first.refreshToken);
    revokeToken(w.db, w.hmacKey, second.accessToken);
    expect(verify(second.accessToken, T0)).toBeNull();
    expect(verify(first.accessToken, T0)?.grantId).toBe(first.grantId);
    expect(refresh(w, second.refreshToken).grantId).toBe(first.grantId);
  });

  test("unknown, malformed and foreign tokens are no error and change nothing", async () => {
    const w = oauthWorld(openDb());
    const verify = createAccessTokenVerifier(w.db, w.hmacKey);
    const tokens = authorize(w);
    const key = await createApiKey(w.db, { hmacKey: w.hmacKey, name: "k", ownerId: w.user.id, permissions: { "*": ["*"] }, expiresAt: null });
    for (const token of [`mcp_rt_${"0".repeat(49)}`, `mcp_at_${"0".repeat(49)}`, "garbage", "", key.token, tokens.refreshToken.replace("mcp_rt_", "mcp_at_")]) {
      revokeToken(w.db, w.hmacKey, token);
    }
    expect(verify(tokens.accessToken, T0)?.grantId).toBe(tokens.grantId);
    // A token under another server's key is someone else's: it matches nothing here.
    revokeToken(w.db, randomBytes(32), tokens.refreshToken);
    expect(getGrant(w.db, tokens.grantId)).not.toBeNull();
  });
});

describe("createAccessTokenVerifier", () => {
  test("resolves a token to its grant, client, resource, permissions, expiry and user", () => {
    const w = oauthWorld(openDb());
    const tokens = authorize(w);
    expect(createAccessTokenVerifier(w.db, w.hmacKey)(tokens.accessToken, T0)).toEqual({
      grantId: tokens.grantId,
      clientId: w.client.id,
      resource: w.agent.id,
      permissions: { [w.agent.id]: ["*"] },
      expiresAt: at(HOUR),
      user: w.user,
    });
  });

  test("a token for agent A names agent A only: its permissions reach nothing else", () => {
    const w = oauthWorld(openDb());
    const b = addAgent(w.db);
    const forA = authorize(w);
    const access = createAccessTokenVerifier(w.db, w.hmacKey)(forA.accessToken, T0)!;
    expect(access.resource).toBe(w.agent.id);
    expect(access.resource).not.toBe(b.id);
    expect(Object.keys(access.permissions)).toEqual([w.agent.id]);
  });

  test("expires accessTtlMs after issue", () => {
    const w = oauthWorld(openDb());
    const verify = createAccessTokenVerifier(w.db, w.hmacKey);
    const tokens = authorize(w);
    expect(verify(tokens.accessToken, at(HOUR - 1))).not.toBeNull();
    expect(verify(tokens.accessToken, at(HOUR))).toBeNull();
  });

  test("refuses refresh tokens, codes, API keys, typos and tokens of another server's key", async () => {
    const w = oauthWorld(openDb());
    const verify = createAccessTokenVerifier(w.db, w.hmacKey);
    const tokens = authorize(w);
    const key = await createApiKey(w.db, { hmacKey: w.hmacKey, name: "k", ownerId: w.user.id, permissions: { "*": ["*"] }, expiresAt: null });
    const typo = `${tokens.accessToken.slice(0, 20)}${tokens.accessToken[20] === "A" ? "B" : "A"}${tokens.accessToken.slice(21)}`;
    for (const token of [tokens.refreshToken, tokens.refreshToken.replace("mcp_rt_", "mcp_at_"), key.token, typo, "", `Bearer ${tokens.accessToken}`]) {
      expect(verify(token, T0)).toBeNull();
    }
    expect(createAccessTokenVerifier(w.db, randomBytes(32))(tokens.accessToken, T0)).toBeNull();
  });

  const deaths: [string, (w: OAuthWorld, tokens: TokenSet) => void][] = [
    ["its grant is revoked", (w, t) => revokeGrant(w.db, t.grantId)],
    ["its client is deleted", (w) => deleteClient(w.db, w.client.id)],
    ["its user is deleted", (w) => deleteUser(w.db, w.user.id)],
    ["its agent is deleted", (w) => deleteAgent(w.db, w.agent.id)],
    ["its refresh token is revoked", (w, t) => revokeToken(w.db, w.hmacKey, t.refreshToken)],
  ];
  test.each(deaths)("is null on the very next call once %s (the cache is dropped)", (_name, kill) => {
    const w = oauthWorld(openDb());
    const verify = createAccessTokenVerifier(w.db, w.hmacKey);
    const tokens = authorize(w);
    expect(verify(tokens.accessToken, T0)).not.toBeNull(); // now cached
    kill(w, tokens);
    expect(verify(tokens.accessToken, T0)).toBeNull();
  });

  test("a revocation by another process applies on the next call", () => {
    const w = oauthWorld(openDb());
    const verify = createAccessTokenVerifier(w.db, w.hmacKey);
    const tokens = authorize(w);
    expect(verify(tokens.accessToken, T0)).not.toBeNull();
    const other = openDatabase({ path: w.handle.sqlite.filename, busyTimeoutMs: 1_000 });
    try {
      revokeGrant(other.db, tokens.grantId);
    } finally {
      other.close();
    }
    expect(verify(tokens.accessToken, T0)).toBeNull();
  });

  test("the user's current role comes with each verification", async () => {
    const w = oauthWorld(openDb());
    addUser(w.db, "admin"); // so the member may be promoted and demoted freely
    const verify = createAccessTokenVerifier(w.db, w.hmacKey);
    const tokens = authorize(w);
    expect(verify(tokens.accessToken, T0)?.user.role).toBe("member");
    await setRole(w.db, w.user.id, "admin");
    expect(verify(tokens.accessToken, T0)?.user.role).toBe("admin");
  });

  test("a cached token is checked for the probe on every call: a probe that does not move keeps it cached", () => {
    const w = oauthWorld(openDb());
    let version = "1";
    const verify = createAccessTokenVerifier(w.db, w.hmacKey, () => version);
    const tokens = authorize(w);
    expect(verify(tokens.accessToken, T0)).not.toBeNull();
    revokeGrant(w.db, tokens.grantId);
    // The probe is what tells the cache to drop (this one is frozen, so the cached entry is served) ...
    expect(verify(tokens.accessToken, T0)).not.toBeNull();
    version = "2";
    // ... and once it moves, the revocation shows.
    expect(verify(tokens.accessToken, T0)).toBeNull();
  });
});
