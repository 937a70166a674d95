// The OAuth operations beyond the route table: a member's key lists and revokes only its owner's
// approvals (another's reads as missing and keeps working), an admin's narrows by user; a revoked
// approval's token stops on the very next verification, cache or not; a client's id may be a URL in
// the REST path; the same operations as /mcp/self tools; no answer carries a token.
import { describe, expect, test } from "bun:test";
import { getGrant, listGrants } from "../../src/domain/oauth/authorizations.ts";
import { findClient } from "../../src/domain/oauth/clients.ts";
import type { TokenSet } from "../../src/domain/oauth/types.ts";
import { apiRequest, callTool, mintKey, useHarness, type Harness } from "../support/key-harness.ts";
import { agentResource, approve, cimdClient, dcrClient } from "../support/oauth-grants.ts";

const harness = useHarness();

type Grants = { grants: { id: string; user: { id: string } }[] };

/** One approval each for the admin and the member, of two clients, to one agent. */
async function twoApprovals(h: Harness): Promise<{ admin: TokenSet; member: TokenSet }> {
  const agent = await agentResource(h.deps);
  return { admin: await approve(h.deps, h.admin, await dcrClient(h.deps, "Cursor"), agent), member: await approve(h.deps, h.member, await cimdClient(h.deps), agent) };
}

describe("OAUTH_GRANT_LIST", () => {
  test("a member's key sees only its owner's approvals, whatever user_id says", async () => {
    const h = await harness();
    const grants = await twoApprovals(h);
    const { token } = await mintKey(h.deps, h.member, { self: ["OAUTH_GRANT_LIST"] });
    for (const path of ["/oauth/grants", `/oauth/grants?user_id=${h.admin.id}`]) {
      const res = await apiRequest(h.app, "GET", path, { token });
      expect(res.status).toBe(200);
      const text = await res.text();
      expect((JSON.parse(text) as Grants).grants.map((g) => g.id)).toEqual([grants.member.grantId]);
      expect(text).not.toContain(grants.admin.grantId);
      expect(text).not.toContain(h.admin.email);
    }
  });

  test("an admin's key sees everyone's, narrowed by user_id", async () => {
    const h = await harness();
    const grants = await twoApprovals(h);
    const { token } = await mintKey(h.deps, h.admin, { self: ["OAUTH_GRANT_LIST"] });
    const all = (await (await apiRequest(h.app, "GET", "/oauth/grants", { token })).json()) as Grants;
    expect(all.grants.map((g) => g.id).sort()).toEqual([grants.admin.grantId, grants.member.grantId].sort());
    const narrowed = (await (await apiRequest(h.app, "GET", `/oauth/grants?user_id=${h.member.id}`, { token })).json()) as Grants;
    expect(narrowed.grants.map((g) => g.id)).toEqual([grants.member.grantId]);
  });
});

describe("OAUTH_GRANT_REVOKE", () => {
  test("a member's key cannot revoke another user's approval: 404 like a missing one, and it keeps working", async () => {
    const h = await harness();
    const grants = await twoApprovals(h);
    const verify = h.deps.oauth.verifyAccessToken;
    const { token } = await mintKey(h.deps, h.member, { self: ["OAUTH_GRANT_REVOKE"] });
    const res = await apiRequest(h.app, "DELETE", `/oauth/grants/${grants.admin.grantId}`, { token });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: "OAUTH_GRANT_NOT_FOUND", message: "No such authorized app." } });
    expect(await getGrant(h.deps.db, grants.admin.grantId)).not.toBeNull();
    expect((await verify(grants.admin.accessToken))?.grantId).toBe(grants.admin.grantId);
  });

  test("a revoked approval's access token stops on the next verification, though the verifier had it cached", async () => {
    const h = await harness();
    const grants = await twoApprovals(h);
    // The app's own verifier, over the change probe compose gave it (the database's, whichever engine).
    const verify = h.deps.oauth.verifyAccessToken;
    expect((await verify(grants.member.accessToken))?.grantId).toBe(grants.member.grantId);
    const { token } = await mintKey(h.deps, h.member, { self: ["OAUTH_GRANT_REVOKE"] });
    const res = await apiRequest(h.app, "DELETE", `/oauth/grants/${grants.member.grantId}`, { token });
    expect(res.status).toBe(200);
    expect(await verify(grants.member.accessToken)).toBeNull();
    expect((await verify(grants.admin.accessToken))?.grantId).toBe(grants.admin.grantId);
  });

  test("an id that is not a grant's is refused as bad input, an unknown one as missing", async () => {
    const h = await harness();
    const { token } = await mintKey(h.deps, h.admin, { self: ["OAUTH_GRANT_REVOKE"] });
    const bad = await apiRequest(h.app, "DELETE", "/oauth/grants/key_1", { token });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("VALIDATION_FAILED");
    const unknown = await apiRequest(h.app, "DELETE", "/oauth/grants/grant_00000000-0000-4000-8000-000000000000", { token });
    expect(unknown.status).toBe(404);
  });
});

describe("OAUTH_CLIENT_DELETE", () => {
  test("a URL id, percent-encoded in the path, deletes that client alone; a registered client's id needs no encoding", async () => {
    const h = await harness();
    const grants = await twoApprovals(h);
    const [cursor, claude] = [(await listGrants(h.deps.db)).find((g) => g.clientKind === "dcr")!.clientId, "https://claude.ai/oauth/mcp-oauth-client-metadata"];
    const { token } = await mintKey(h.deps, h.admin, { self: ["OAUTH_CLIENT_DELETE"] });
    const res = await apiRequest(h.app, "DELETE", `/oauth/clients/${encodeURIComponent(claude)}`, { token });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: claude, deleted: true });
    expect(await findClient(h.deps.db, claude)).toBeNull();
    expect(await getGrant(h.deps.db, grants.member.grantId)).toBeNull();
    expect(await findClient(h.deps.db, cursor)).not.toBeNull();
    const plain = await apiRequest(h.app, "DELETE", `/oauth/clients/${cursor}`, { token });
    expect(plain.status).toBe(200);
    expect(await findClient(h.deps.db, cursor)).toBeNull();
  });

  test("an unknown client is 404 OAUTH_CLIENT_NOT_FOUND", async () => {
    const h = await harness();
    const { token } = await mintKey(h.deps, h.admin, { self: ["OAUTH_CLIENT_DELETE"] });
    const res = await apiRequest(h.app, "DELETE", `/oauth/clients/${encodeURIComponent("https://nobody.example/meta")}`, { token });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: "OAUTH_CLIENT_NOT_FOUND", message: "No such OAuth client." } });
  });

  test("a member's key, even holding every tool, may neither list nor delete clients", async () => {
    const h = await harness();
    const client = await cimdClient(h.deps);
    const { token } = await mintKey(h.deps, h.member, { self: ["*"] });
    expect((await apiRequest(h.app, "GET", "/oauth/clients", { token })).status).toBe(403);
    expect((await apiRequest(h.app, "DELETE", `/oauth/clients/${encodeURIComponent(client.id)}`, { token })).status).toBe(403);
    expect(await findClient(h.deps.db, client.id)).not.toBeNull();
  });
});

describe("over /mcp/self", () => {
  test("a member lists and revokes its own approvals with the tools; no token in any answer", async () => {
    const h = await harness();
    const grants = await twoApprovals(h);
    const { token } = await mintKey(h.deps, h.member, { self: ["OAUTH_GRANT_LIST", "OAUTH_GRANT_REVOKE"] });
    const listed = await callTool(h.app, token, "OAUTH_GRANT_LIST");
    expect((listed.result?.structuredContent as Grants).grants.map((g) => g.id)).toEqual([grants.member.grantId]);
    const refused = await callTool(h.app, token, "OAUTH_GRANT_REVOKE", { id: grants.admin.grantId });
    expect(JSON.stringify(refused)).toContain("OAUTH_GRANT_NOT_FOUND");
    const revoked = await callTool(h.app, token, "OAUTH_GRANT_REVOKE", { id: grants.member.grantId });
    expect(revoked.result?.structuredContent).toEqual({ id: grants.member.grantId, revoked: true });
    for (const answer of [listed, refused, revoked]) {
      const text = JSON.stringify(answer);
      for (const t of [grants.admin, grants.member]) for (const s of [t.accessToken, t.refreshToken]) expect(text).not.toContain(s);
    }
    expect(await getGrant(h.deps.db, grants.admin.grantId)).not.toBeNull();
  });
});
