// Authorization codes: issued only for what the client registered and a live resource, exchanged once
// by the client that got them with the right verifier and redirect URI; a replay revokes what the
// first exchange gave, and any failed exchange spends the code.
import { describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { oauthCodes, oauthGrants } from "../../src/db/schema.ts";
import { OAuthError } from "../../src/errors.ts";
import { deleteUser } from "../../src/domain/access/users.ts";
import { deleteAgent } from "../../src/domain/agents/agents.ts";
import { createAccessTokenVerifier, exchangeCode, getGrant, issueCode, listGrants, type AuthorizationRequest } from "../../src/domain/oauth/authorizations.ts";
import { hmacToken } from "../../src/domain/access/token-format.ts";
import { useTestDatabase } from "../support/db.ts";
import { thrownBy } from "../support/errors.ts";
import { addAgent, addClient, addConnection, approve, at, authorize, CODE_TTL_MS, MINUTE, oauthWorld, pkcePair, redeem, T0, TTL, type IssuedCode, type OAuthWorld } from "../support/oauth.ts";

const openDb = useTestDatabase();

function oauthErrorOf(fn: () => unknown): OAuthError {
  const err = thrownBy(fn);
  expect(err).toBeInstanceOf(OAuthError);
  return err as OAuthError;
}

type ExchangeInput = Parameters<typeof exchangeCode>[2];

function exchange(w: OAuthWorld, issued: IssuedCode, changes: Partial<ExchangeInput> = {}, now = T0) {
  const input: ExchangeInput = {
    code: issued.code,
    clientId: issued.request.clientId,
    redirectUri: issued.request.redirectUri,
    codeVerifier: issued.verifier,
    resourceUrl: issued.request.resourceUrl,
    ...changes,
  };
  return exchangeCode(w.db, w.hmacKey, input, { ...TTL, now });
}

describe("issueCode", () => {
  test("a code has the mcp_ac_ format and only its HMAC is stored, with what it is bound to", () => {
    const w = oauthWorld(openDb());
    const issued = approve(w);
    expect(issued.code).toMatch(/^mcp_ac_[0-9A-Za-z]{49}$/);
    const row = w.db.select().from(oauthCodes).get()!;
    expect(row.codeHash).toBe(hmacToken(w.hmacKey, "oauth-code:", issued.code));
    expect(JSON.stringify(row)).not.toContain(issued.code.slice(7));
    expect(row).toMatchObject({
      clientId: w.client.id,
      userId: w.user.id,
      redirectUri: "http://localhost:49152/callback",
      codeChallenge: issued.request.codeChallenge,
      resource: w.agent.id,
      resourceUrl: w.agent.url,
      scope: "mcp",
      expiresAt: at(CODE_TTL_MS),
      usedAt: null,
      grantId: null,
    });
  });

  const refusals: [string, (w: OAuthWorld) => Partial<AuthorizationRequest>, OAuthError["error"]][] = [
    ["an unknown client", () => ({ clientId: "sbc_unknown" }), "invalid_client"],
    ["a redirect URI the client did not register", () => ({ redirectUri: "https://evil.example/callback" }), "invalid_request"],
    ["a loopback redirect URI on another path", () => ({ redirectUri: "http://localhost:49152/other" }), "invalid_request"],
    ["a plain (non-S256) challenge", () => ({ codeChallenge: "short" }), "invalid_request"],
    ["an unknown scope", () => ({ scope: "mcp admin" }), "invalid_scope"],
    ["an unknown agent", () => ({ resource: "agent_00000000-0000-4000-8000-000000000000" }), "invalid_target"],
    ["a disabled agent", (w) => ({ resource: addAgent(w.db, { enabled: false }).id }), "invalid_target"],
    ["something that is no agent or connection", () => ({ resource: "self" }), "invalid_target"],
    ["a user who no longer exists", () => ({ userId: "user_00000000-0000-4000-8000-000000000000" }), "access_denied"],
  ];
  test.each(refusals)("%s is %s, and no code is stored", (_name, change, error) => {
    const w = oauthWorld(openDb());
    expect(oauthErrorOf(() => approve(w, change(w))).error).toBe(error);
    expect(w.db.select().from(oauthCodes).all()).toEqual([]);
  });

  test("a connection may be the resource too", () => {
    const w = oauthWorld(openDb());
    const conn = addConnection(w.db);
    const tokens = authorize(w, { resource: conn.id, resourceUrl: conn.url });
    expect(getGrant(w.db, tokens.grantId)).toMatchObject({ resource: conn.id, resourceUrl: conn.url, permissions: { [conn.id]: ["*"] } });
  });
});

describe("exchangeCode", () => {
  test("makes a grant for the user, client and resource (its permissions: the resource only) with its first tokens", () => {
    const w = oauthWorld(openDb());
    const tokens = redeem(w, approve(w, { scope: "offline_access" }));
    expect(tokens.accessToken).toMatch(/^mcp_at_[0-9A-Za-z]{49}$/);
    expect(tokens.refreshToken).toMatch(/^mcp_rt_[0-9A-Za-z]{49}$/);
    expect(tokens).toMatchObject({ expiresIn: 3600, scope: "mcp offline_access" });
    expect(getGrant(w.db, tokens.grantId)).toMatchObject({
      userId: w.user.id,
      userEmail: w.user.email,
      clientId: w.client.id,
      clientName: "Test client",
      clientKind: "dcr",
      resource: w.agent.id,
      resourceUrl: w.agent.url,
      scope: "mcp offline_access",
      permissions: { [w.agent.id]: ["*"] },
      createdAt: T0,
    });
    expect(w.db.select({ grantId: oauthCodes.grantId, usedAt: oauthCodes.usedAt }).from(oauthCodes).get()).toEqual({ grantId: tokens.grantId, usedAt: T0 });
  });

  test("the resource may be left out of the token request (it is the code's)", () => {
    const w = oauthWorld(openDb());
    const issued = approve(w);
    expect(exchange(w, issued, { resourceUrl: null }).grantId).toMatch(/^grant_/);
  });

  test("a replayed code is invalid_grant and revokes the grant its first exchange made, the newest tokens included", () => {
    const w = oauthWorld(openDb());
    const verify = createAccessTokenVerifier(w.db, w.hmacKey);
    const issued = approve(w);
    const first = exchange(w, issued);
    const bystander = authorize(w); // another approval of the same user and client stays
    expect(verify(first.accessToken, T0)).not.toBeNull();
    const err = oauthErrorOf(() => exchange(w, issued, {}, at(MINUTE)));
    expect(err.error).toBe("invalid_grant");
    expect(err.message).toContain("already used");
    expect(getGrant(w.db, first.grantId)).toBeNull();
    expect(verify(first.accessToken, at(MINUTE))).toBeNull();
    expect(verify(bystander.accessToken, at(MINUTE))?.grantId).toBe(bystander.grantId);
    // A third try finds nothing, and gives nothing either.
    expect(oauthErrorOf(() => exchange(w, issued, {}, at(MINUTE))).error).toBe("invalid_grant");
    expect(listGrants(w.db).map((g) => g.id)).toEqual([bystander.grantId]);
  });

  const wrong: [string, (w: OAuthWorld, issued: IssuedCode) => Partial<ExchangeInput>, string][] = [
    ["a wrong code_verifier", () => ({ codeVerifier: pkcePair().verifier }), "code_verifier"],
    ["a malformed code_verifier", () => ({ codeVerifier: "short" }), "code_verifier"],
    ["no code_verifier", () => ({ codeVerifier: "" }), "code_verifier"],
    ["another client's code", (w) => ({ clientId: addClient(w.db).id }), "another client"],
    ["a redirect URI on another port", () => ({ redirectUri: "http://localhost:49153/callback" }), "redirect_uri"],
    ["another registered redirect URI", () => ({ redirectUri: "http://localhost/callback" }), "redirect_uri"],
  ];
  test.each(wrong)("%s is invalid_grant, gives no grant, and spends the code", (_name, change, why) => {
    const w = oauthWorld(openDb());
    const issued = approve(w);
    const err = oauthErrorOf(() => exchange(w, issued, change(w, issued)));
    expect(err.error).toBe("invalid_grant");
    expect(err.message).toContain(why);
    expect(listGrants(w.db)).toEqual([]);
    // The rightful client, with everything right, now gets nothing: the code is spent.
    expect(oauthErrorOf(() => exchange(w, issued)).error).toBe("invalid_grant");
    expect(listGrants(w.db)).toEqual([]);
  });

  test("an expired code is invalid_grant and is spent", () => {
    const w = oauthWorld(openDb());
    const issued = approve(w);
    expect(oauthErrorOf(() => exchange(w, issued, {}, at(CODE_TTL_MS))).message).toContain("expired");
    expect(oauthErrorOf(() => exchange(w, issued, {}, at(CODE_TTL_MS - 1))).error).toBe("invalid_grant");
    expect(listGrants(w.db)).toEqual([]);
  });

  test("a code is good until just before its expiry", () => {
    const w = oauthWorld(openDb());
    expect(exchange(w, approve(w), {}, at(CODE_TTL_MS - 1)).grantId).toMatch(/^grant_/);
  });

  test("another resource in the token request is invalid_target (RFC 8707), and spends the code", () => {
    const w = oauthWorld(openDb());
    const other = addAgent(w.db);
    const issued = approve(w);
    const err = oauthErrorOf(() => exchange(w, issued, { resourceUrl: other.url }));
    expect(err.error).toBe("invalid_target");
    expect(oauthErrorOf(() => exchange(w, issued)).error).toBe("invalid_grant");
    expect(listGrants(w.db)).toEqual([]);
  });

  test.each([
    ["an unknown code", () => `mcp_ac_${"0".repeat(49)}`],
    ["a mistyped code", (issued: IssuedCode) => `${issued.code.slice(0, -1)}${issued.code.endsWith("A") ? "B" : "A"}`],
    ["a refresh token", () => "mcp_rt_x"],
    ["an empty code", () => ""],
  ])("%s is invalid_grant", (_name, code) => {
    const w = oauthWorld(openDb());
    const issued = approve(w);
    expect(oauthErrorOf(() => exchange(w, issued, { code: code(issued) })).error).toBe("invalid_grant");
    // A refused unknown code spends nothing: the real one still works.
    expect(exchange(w, issued).grantId).toMatch(/^grant_/);
  });

  test("the code of a deleted user or a deleted agent no longer exists", async () => {
    const w = oauthWorld(openDb());
    const byUser = approve(w);
    await deleteUser(w.db, w.user.id);
    expect(oauthErrorOf(() => exchange(w, byUser)).error).toBe("invalid_grant");
    const w2 = oauthWorld(openDb());
    const forAgent = approve(w2);
    deleteAgent(w2.db, w2.agent.id);
    expect(oauthErrorOf(() => exchange(w2, forAgent)).error).toBe("invalid_grant");
    expect(w2.db.select().from(oauthGrants).where(eq(oauthGrants.resource, w2.agent.id)).all()).toEqual([]);
  });
});
