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
import { rejectionOf } from "../support/errors.ts";
import { addAgent, addClient, addConnection, approve, at, authorize, CODE_TTL_MS, MINUTE, oauthWorld, pkcePair, redeem, T0, TTL, type IssuedCode, type OAuthWorld } from "../support/oauth.ts";

const openDb = useTestDatabase();

async function oauthErrorOf(promise: Promise<unknown>): Promise<OAuthError> {
  const err = await rejectionOf(promise);
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
  test("a code has the mcp_ac_ format and only its HMAC is stored, with what it is bound to", async () => {
    const w = await oauthWorld(openDb());
    const issued = await approve(w);
    expect(issued.code).toMatch(/^mcp_ac_[0-9A-Za-z]{49}$/);
    const row = (await w.db.select().from(oauthCodes))[0]!;
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

  const refusals: [string, (w: OAuthWorld) => Partial<AuthorizationRequest> | Promise<Partial<AuthorizationRequest>>, OAuthError["error"]][] = [
    ["an unknown client", () => ({ clientId: "sbc_unknown" }), "invalid_client"],
    ["a redirect URI the client did not register", () => ({ redirectUri: "https://evil.example/callback" }), "invalid_request"],
    ["a loopback redirect URI on another path", () => ({ redirectUri: "http://localhost:49152/other" }), "invalid_request"],
    ["a plain (non-S256) challenge", () => ({ codeChallenge: "short" }), "invalid_request"],
    ["an unknown scope", () => ({ scope: "mcp admin" }), "invalid_scope"],
    ["an unknown agent", () => ({ resource: "agent_00000000-0000-4000-8000-000000000000" }), "invalid_target"],
    ["a disabled agent", async (w) => ({ resource: (await addAgent(w.db, { enabled: false })).id }), "invalid_target"],
    ["something that is no agent or connection", () => ({ resource: "self" }), "invalid_target"],
    ["a user who no longer exists", () => ({ userId: "user_00000000-0000-4000-8000-000000000000" }), "access_denied"],
  ];
  test.each(refusals)("%s is %s, and no code is stored", async (_name, change, error) => {
    const w = await oauthWorld(openDb());
    expect((await oauthErrorOf(approve(w, await change(w)))).error).toBe(error);
    expect(await w.db.select().from(oauthCodes)).toEqual([]);
  });

  test("a connection may be the resource too", async () => {
    const w = await oauthWorld(openDb());
    const conn = await addConnection(w.db);
    const tokens = await authorize(w, { resource: conn.id, resourceUrl: conn.url });
    expect(await getGrant(w.db, tokens.grantId)).toMatchObject({ resource: conn.id, resourceUrl: conn.url, permissions: { [conn.id]: ["*"] } });
  });
});

describe("exchangeCode", () => {
  test("makes a grant for the user, client and resource (its permissions: the resource only) with its first tokens", async () => {
    const w = await oauthWorld(openDb());
    const tokens = await redeem(w, await approve(w, { scope: "offline_access" }));
    expect(tokens.accessToken).toMatch(/^mcp_at_[0-9A-Za-z]{49}$/);
    expect(tokens.refreshToken).toMatch(/^mcp_rt_[0-9A-Za-z]{49}$/);
    expect(tokens).toMatchObject({ expiresIn: 3600, scope: "mcp offline_access" });
    expect(await getGrant(w.db, tokens.grantId)).toMatchObject({
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
    expect((await w.db.select({ grantId: oauthCodes.grantId, usedAt: oauthCodes.usedAt }).from(oauthCodes))[0]).toEqual({ grantId: tokens.grantId, usedAt: T0 });
  });

  test("the resource may be left out of the token request (it is the code's)", async () => {
    const w = await oauthWorld(openDb());
    const issued = await approve(w);
    expect((await exchange(w, issued, { resourceUrl: null })).grantId).toMatch(/^grant_/);
  });

  test("presented several times at once, a code gives one set of tokens; the others are replays and revoke it", async () => {
    const w = await oauthWorld(openDb());
    const issued = await approve(w);
    const results = await Promise.allSettled([1, 2, 3, 4].map(() => exchange(w, issued)));
    const won = results.filter((r) => r.status === "fulfilled").map((r) => r.value);
    const lost = results.filter((r) => r.status === "rejected").map((r) => r.reason as OAuthError);
    expect(won).toHaveLength(1);
    expect(lost.map((e) => e.error)).toEqual(["invalid_grant", "invalid_grant", "invalid_grant"]);
    // The first to come after the winner is a replay, which revokes what the winner got (and with it
    // what the others would have found).
    expect(lost.some((e) => e.message.includes("already used"))).toBe(true);
    expect(await listGrants(w.db)).toEqual([]);
    expect(await createAccessTokenVerifier(w.db, w.hmacKey)(won[0]!.accessToken, T0)).toBeNull();
  });

  test("a replayed code is invalid_grant and revokes the grant its first exchange made, the newest tokens included", async () => {
    const w = await oauthWorld(openDb());
    const verify = createAccessTokenVerifier(w.db, w.hmacKey);
    const issued = await approve(w);
    const first = await exchange(w, issued);
    const bystander = await authorize(w); // another approval of the same user and client stays
    expect(await verify(first.accessToken, T0)).not.toBeNull();
    const err = await oauthErrorOf(exchange(w, issued, {}, at(MINUTE)));
    expect(err.error).toBe("invalid_grant");
    expect(err.message).toContain("already used");
    expect(await getGrant(w.db, first.grantId)).toBeNull();
    expect(await verify(first.accessToken, at(MINUTE))).toBeNull();
    expect((await verify(bystander.accessToken, at(MINUTE)))?.grantId).toBe(bystander.grantId);
    // A third try finds nothing, and gives nothing either.
    expect((await oauthErrorOf(exchange(w, issued, {}, at(MINUTE)))).error).toBe("invalid_grant");
    expect((await listGrants(w.db)).map((g) => g.id)).toEqual([bystander.grantId]);
  });

  const wrong: [string, (w: OAuthWorld, issued: IssuedCode) => Partial<ExchangeInput> | Promise<Partial<ExchangeInput>>, string][] = [
    ["a wrong code_verifier", () => ({ codeVerifier: pkcePair().verifier }), "code_verifier"],
    ["a malformed code_verifier", () => ({ codeVerifier: "short" }), "code_verifier"],
    ["no code_verifier", () => ({ codeVerifier: "" }), "code_verifier"],
    ["another client's code", async (w) => ({ clientId: (await addClient(w.db)).id }), "another client"],
    ["a redirect URI on another port", () => ({ redirectUri: "http://localhost:49153/callback" }), "redirect_uri"],
    ["another registered redirect URI", () => ({ redirectUri: "http://localhost/callback" }), "redirect_uri"],
  ];
  test.each(wrong)("%s is invalid_grant, gives no grant, and spends the code", async (_name, change, why) => {
    const w = await oauthWorld(openDb());
    const issued = await approve(w);
    const err = await oauthErrorOf(exchange(w, issued, await change(w, issued)));
    expect(err.error).toBe("invalid_grant");
    expect(err.message).toContain(why);
    expect(await listGrants(w.db)).toEqual([]);
    // The rightful client, with everything right, now gets nothing: the code is spent.
    expect((await oauthErrorOf(exchange(w, issued))).error).toBe("invalid_grant");
    expect(await listGrants(w.db)).toEqual([]);
  });

  test("an expired code is invalid_grant and is spent", async () => {
    const w = await oauthWorld(openDb());
    const issued = await approve(w);
    expect((await oauthErrorOf(exchange(w, issued, {}, at(CODE_TTL_MS)))).message).toContain("expired");
    expect((await oauthErrorOf(exchange(w, issued, {}, at(CODE_TTL_MS - 1)))).error).toBe("invalid_grant");
    expect(await listGrants(w.db)).toEqual([]);
  });

  test("a code is good until just before its expiry", async () => {
    const w = await oauthWorld(openDb());
    expect((await exchange(w, await approve(w), {}, at(CODE_TTL_MS - 1))).grantId).toMatch(/^grant_/);
  });

  test("another resource in the token request is invalid_target (RFC 8707), and spends the code", async () => {
    const w = await oauthWorld(openDb());
    const other = await addAgent(w.db);
    const issued = await approve(w);
    const err = await oauthErrorOf(exchange(w, issued, { resourceUrl: other.url }));
    expect(err.error).toBe("invalid_target");
    expect((await oauthErrorOf(exchange(w, issued))).error).toBe("invalid_grant");
    expect(await listGrants(w.db)).toEqual([]);
  });

  test.each([
    ["an unknown code", () => `mcp_ac_${"0".repeat(49)}`],
    ["a mistyped code", (issued: IssuedCode) => `${issued.code.slice(0, -1)}${issued.code.endsWith("A") ? "B" : "A"}`],
    ["a refresh token", () => "mcp_rt_x"],
    ["an empty code", () => ""],
  ])("%s is invalid_grant", async (_name, code) => {
    const w = await oauthWorld(openDb());
    const issued = await approve(w);
    expect((await oauthErrorOf(exchange(w, issued, { code: code(issued) }))).error).toBe("invalid_grant");
    // A refused unknown code spends nothing: the real one still works.
    expect((await exchange(w, issued)).grantId).toMatch(/^grant_/);
  });

  test("the code of a deleted user or a deleted agent no longer exists", async () => {
    const w = await oauthWorld(openDb());
    const byUser = await approve(w);
    await deleteUser(w.db, w.user.id);
    expect((await oauthErrorOf(exchange(w, byUser))).error).toBe("invalid_grant");
    const w2 = await oauthWorld(openDb());
    const forAgent = await approve(w2);
    await deleteAgent(w2.db, w2.agent.id);
    expect((await oauthErrorOf(exchange(w2, forAgent))).error).toBe("invalid_grant");
    expect(await w2.db.select().from(oauthGrants).where(eq(oauthGrants.resource, w2.agent.id))).toEqual([]);
  });
});
