// The operations over OAuth links (CONNECTION_OAUTH_LINKS, OAUTH_ACCOUNTS_LIST, CONNECTION_OAUTH_DISCONNECT)
// through REST and /mcp/self: who sees which links, who may disconnect whom, and never a token.
import { describe, expect, test } from "bun:test";
import { createConnection, newConnectionFields } from "../../src/domain/connections/connections.ts";
import type { OAuthSubject } from "../../src/domain/connections/oauth-types.ts";
import { upstreamOAuthStore } from "../../src/domain/connections/upstream-oauth.ts";
import { connectionStore } from "../../src/operations/connections.ts";
import { apiRequest, callTool, mintKey, useHarness, type Harness } from "../support/key-harness.ts";
import { insertUser } from "../support/users.ts";
import { rawRows } from "../support/raw-sql.ts";

const harness = useHarness();

/** Every token string this file stores: none may appear in any answer. */
const TOKENS: string[] = [];

async function connection(h: Harness, slug: string, fields: Record<string, unknown>) {
  return createConnection(connectionStore(h.deps), newConnectionFields({ slug, transport: "http", url: `https://${slug}.example/mcp`, ...fields }));
}

async function link(h: Harness, connectionId: string, subject: OAuthSubject, account: string, by: string): Promise<void> {
  const tokens = { accessToken: `at-${account}-${crypto.randomUUID()}`, refreshToken: `rt-${account}-${crypto.randomUUID()}`, expiresAt: new Date(Date.now() + 3600_000), scope: "mcp:tools" };
  TOKENS.push(tokens.accessToken, tokens.refreshToken);
  await upstreamOAuthStore(connectionStore(h.deps)).saveLink({ connectionId, subject, tokens, account, connectedBy: by });
}

/** Two OAuth connections (one per user, one shared) and a static one; links for the member, another user and the shared account. */
async function world(h: Harness) {
  const other = await insertUser(h.deps, "member", "other@example.com");
  const perUser = await connection(h, "personal", { auth: "oauth", oauthMode: "per_user" });
  const shared = await connection(h, "team", { auth: "oauth", oauthMode: "shared" });
  const plain = await connection(h, "plain", {});
  await link(h, perUser.id, h.member.id as OAuthSubject, "member-upstream", h.member.id);
  await link(h, perUser.id, other.id as OAuthSubject, "other-upstream", other.id);
  await link(h, shared.id, "shared", "team-bot", h.admin.id);
  const memberKey = (await mintKey(h.deps, h.member, { self: ["*"] })).token;
  const adminKey = (await mintKey(h.deps, h.admin, { self: ["*"] })).token;
  return { other, perUser, shared, plain, memberKey, adminKey };
}

function noToken(text: string): void {
  for (const t of TOKENS) expect(text).not.toContain(t);
}

describe("CONNECTION_OAUTH_LINKS", () => {
  test("admins see every link with its user; members the shared one and their own; never a token", async () => {
    const h = await harness();
    const w = await world(h);
    const asAdmin = await apiRequest(h.app, "GET", `/connections/${w.perUser.id}/oauth/links`, { token: w.adminKey });
    const adminText = await asAdmin.text();
    expect(asAdmin.status).toBe(200);
    const adminBody = JSON.parse(adminText) as { mode: string; links: { subject: string; user: { email: string } | null; account: string; state: string }[] };
    expect(adminBody.mode).toBe("per_user");
    expect(adminBody.links.map((l) => l.user?.email).sort()).toEqual(["member@example.com", "other@example.com"]);
    noToken(adminText);

    const asMember = await apiRequest(h.app, "GET", `/connections/personal/oauth/links`, { token: w.memberKey });
    const memberText = await asMember.text();
    const memberBody = JSON.parse(memberText) as typeof adminBody;
    expect(memberBody.links).toEqual([expect.objectContaining({ subject: h.member.id, account: "member-upstream", state: "connected" })]);
    expect(memberText).not.toContain("other@example.com");
    expect(memberText).not.toContain("other-upstream");
    noToken(memberText);

    const sharedForMember = JSON.parse(await (await apiRequest(h.app, "GET", `/connections/${w.shared.id}/oauth/links`, { token: w.memberKey })).text()) as typeof adminBody;
    expect(sharedForMember).toMatchObject({ mode: "shared", links: [{ subject: "shared", user: null, account: "team-bot" }] });
  });

  test("a static connection is refused with a clear error; an unknown one is 404", async () => {
    const h = await harness();
    const w = await world(h);
    const res = await apiRequest(h.app, "GET", `/connections/${w.plain.id}/oauth/links`, { token: w.adminKey });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("UPSTREAM_OAUTH_NOT_OAUTH");
    expect((await apiRequest(h.app, "GET", `/connections/nope/oauth/links`, { token: w.adminKey })).status).toBe(404);
  });
});

describe("OAUTH_ACCOUNTS_LIST", () => {
  test("the caller's own state on every per-user connection, nothing of anyone else's, never a token", async () => {
    const h = await harness();
    const w = await world(h);
    await connection(h, "unlinked", { auth: "oauth", oauthMode: "per_user" });
    const answer = await callTool(h.app, w.memberKey, "OAUTH_ACCOUNTS_LIST", {});
    const text = JSON.stringify(answer);
    const accounts = (answer.result?.structuredContent as { accounts: { slug: string; state: string; account: string | null }[] }).accounts;
    expect(accounts.map((a) => [a.slug, a.state, a.account]).sort()).toEqual([
      ["personal", "connected", "member-upstream"],
      ["unlinked", "not_connected", null],
    ]);
    expect(text).not.toContain("other-upstream");
    expect(text).not.toContain("team-bot");
    noToken(text);
  });
});

describe("CONNECTION_OAUTH_DISCONNECT", () => {
  test("a member may not disconnect another user's link or the shared one: 403, and both stay", async () => {
    const h = await harness();
    const w = await world(h);
    for (const [id, subject] of [[w.perUser.id, w.other.id], [w.shared.id, "shared"]] as const) {
      const res = await apiRequest(h.app, "DELETE", `/connections/${id}/oauth/links?subject=${subject}`, { token: w.memberKey });
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("FORBIDDEN");
    }
    const store = upstreamOAuthStore(connectionStore(h.deps));
    expect(await store.getLink(w.perUser.id, w.other.id as OAuthSubject)).not.toBeNull();
    expect(await store.getLink(w.shared.id, "shared")).not.toBeNull();
  });

  test("a member disconnects their own (subject omitted); an admin anyone's; each an audit row without tokens", async () => {
    const h = await harness();
    const w = await world(h);
    const store = upstreamOAuthStore(connectionStore(h.deps));
    // A subject put in a body (where DELETE takes none) is refused, not ignored: ignored, the call would
    // have disconnected the caller's own account instead of the one named.
    await link(h, w.perUser.id, h.admin.id as OAuthSubject, "admin-upstream", h.admin.id);
    const inBody = await apiRequest(h.app, "DELETE", `/connections/${w.perUser.id}/oauth/links`, { token: w.adminKey, json: { subject: h.member.id } });
    expect(inBody.status).toBe(400);
    expect(((await inBody.json()) as { error: { message: string } }).error.message).toContain("query string");
    expect(await store.getLink(w.perUser.id, h.admin.id as OAuthSubject)).not.toBeNull();
    expect(await store.getLink(w.perUser.id, h.member.id as OAuthSubject)).not.toBeNull();
    const own = await apiRequest(h.app, "DELETE", `/connections/${w.perUser.id}/oauth/links`, { token: w.memberKey });
    expect(await own.json()).toEqual({ disconnected: true });
    expect(await store.getLink(w.perUser.id, h.member.id as OAuthSubject)).toBeNull();
    expect(await (await apiRequest(h.app, "DELETE", `/connections/${w.perUser.id}/oauth/links`, { token: w.memberKey })).json()).toEqual({ disconnected: false });
    const byAdmin = await apiRequest(h.app, "DELETE", `/connections/${w.shared.id}/oauth/links?subject=shared`, { token: w.adminKey });
    expect(await byAdmin.json()).toEqual({ disconnected: true });
    expect(await store.getLink(w.shared.id, "shared")).toBeNull();
    const audit = await rawRows(h.deps, "SELECT action, change FROM audit_events WHERE action = 'CONNECTION_OAUTH_DISCONNECT'");
    expect(audit.length).toBeGreaterThanOrEqual(3);
    noToken(JSON.stringify(audit));
  });
});
