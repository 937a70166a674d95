// The "Authorized apps" page: guests are sent to sign in; members see and revoke only their own
// approvals (another's reads as missing and stays); admins see everyone's and the registered clients,
// and delete a client (its id may be a URL); a revoked approval's token stops at once; cross-site
// posts are refused.
import { beforeEach, describe, expect, test } from "bun:test";
import type { User } from "../../src/domain/access/users.ts";
import { getGrant, listGrants } from "../../src/domain/oauth/authorizations.ts";
import { findClient } from "../../src/domain/oauth/clients.ts";
import type { OAuthClient, TokenSet } from "../../src/domain/oauth/types.ts";
import { useHarness, type Harness } from "../support/key-harness.ts";
import { agentResource, approve, cimdClient, dcrClient } from "../support/oauth-grants.ts";

const harness = useHarness();
let h: Harness;
let boss: User;
let worker: User;
let other: User;
let bossCookie: string;
let workerCookie: string;
let agent: { id: string; slug: string; url: string };
let cursor: OAuthClient;
let claude: OAuthClient;
/** The worker's approval of Cursor, and another member's of Claude. */
let mine: TokenSet;
let theirs: TokenSet;

beforeEach(async () => {
  h = await harness();
  boss = await h.createUser("boss@example.com", "admin");
  worker = await h.createUser("worker@example.com", "member");
  other = await h.createUser("other@example.com", "member");
  bossCookie = await h.cookieFor(boss);
  workerCookie = await h.cookieFor(worker);
  agent = await agentResource(h.deps, "helpdesk");
  cursor = await dcrClient(h.deps, "Cursor");
  claude = await cimdClient(h.deps);
  mine = await approve(h.deps, worker, cursor, agent);
  theirs = await approve(h.deps, other, claude, agent);
});

function page(cookie: string | null, headers: Record<string, string> = {}): Promise<Response> {
  return Promise.resolve(h.app.request("/admin/apps", { headers: { ...(cookie ? { cookie } : {}), ...headers } }));
}

/** A same-origin form POST, as the browser sends it. */
function submit(cookie: string | null, path: string, fields: [string, string][] = [], headers: Record<string, string> = {}): Promise<Response> {
  return Promise.resolve(
    h.app.request(path, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "same-origin", ...(cookie ? { cookie } : {}), ...headers },
      body: new URLSearchParams(fields).toString(),
    }),
  );
}

/** Tokens that would pass here were the grant alive: none of them may appear in a page. */
function secrets(...sets: TokenSet[]): string[] {
  return sets.flatMap((t) => [t.accessToken, t.refreshToken]);
}

describe("guests", () => {
  test("GET is redirected to sign-in, showing no app", async () => {
    const res = await page(null);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/admin/login?next=%2Fadmin%2Fapps");
    const body = await res.text();
    expect(body).not.toContain("Cursor");
    expect(body).not.toContain(mine.grantId);
  });

  test("a revoke or a client delete does nothing", async () => {
    expect((await submit(null, `/admin/apps/${mine.grantId}/revoke`)).status).toBe(303);
    expect((await submit(null, "/admin/apps/clients/delete", [["id", claude.id]])).status).toBe(303);
    expect(await getGrant(h.deps.db, mine.grantId)).not.toBeNull();
    expect(await findClient(h.deps.db, claude.id)).not.toBeNull();
  });
});

describe("members", () => {
  test("see their own approvals only, with the agent linked, and no clients section", async () => {
    const res = await page(workerCookie);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('<a href="/admin/apps" aria-current="page">Authorized apps</a>');
    expect(html).toContain(`id="grant-${mine.grantId}"`);
    expect(html).toContain("Cursor");
    expect(html).toContain(`<a href="/admin/agents/${agent.id}">helpdesk</a>`);
    expect(html).toContain(`action="/admin/apps/${mine.grantId}/revoke"`);
    // Not the other member's approval, client or email; no user column; no clients section.
    expect(html).not.toContain(theirs.grantId);
    expect(html).not.toContain(claude.id);
    expect(html).not.toContain("other@example.com");
    expect(html).not.toContain("<th>User</th>");
    expect(html).not.toContain("Registered clients");
    expect(html).not.toContain("/admin/apps/clients/delete");
    for (const s of secrets(mine, theirs)) expect(html).not.toContain(s);
  });

  test("revoke their own: the grant is gone and its access token stops on the next request", async () => {
    // The app's own verifier, over the change probe compose gave it (the database's, whichever engine).
    const verify = h.deps.oauth.verifyAccessToken;
    // Verified once, so the verifier has it cached: the revocation must reach past the cache.
    expect((await verify(mine.accessToken))?.grantId).toBe(mine.grantId);
    const res = await submit(workerCookie, `/admin/apps/${mine.grantId}/revoke`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain("<html");
    expect(html).toContain("App revoked");
    expect(html).not.toContain(`id="grant-${mine.grantId}"`);
    expect(await getGrant(h.deps.db, mine.grantId)).toBeNull();
    expect(await verify(mine.accessToken)).toBeNull();
    // The other member's approval is untouched.
    expect((await verify(theirs.accessToken))?.grantId).toBe(theirs.grantId);
  });

  test("an htmx revoke answers the section with the outcome", async () => {
    const res = await submit(workerCookie, `/admin/apps/${mine.grantId}/revoke`, [], { "hx-request": "true" });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toStartWith('<section id="apps-section">');
    expect(html).toContain("App revoked");
    expect(html).not.toContain(`id="grant-${mine.grantId}"`);
  });

  test("cannot revoke another user's approval: 404, and it keeps working", async () => {
    const res = await submit(workerCookie, `/admin/apps/${theirs.grantId}/revoke`);
    expect(res.status).toBe(404);
    const body = await res.text();
    expect(body).toContain("No such authorized app.");
    expect(body).not.toContain("other@example.com");
    expect((await getGrant(h.deps.db, theirs.grantId))?.userId).toBe(other.id);
  });

  test("cannot delete a client: 403, and it stays with its approvals", async () => {
    const res = await submit(workerCookie, "/admin/apps/clients/delete", [["id", claude.id]]);
    expect(res.status).toBe(403);
    expect(await findClient(h.deps.db, claude.id)).not.toBeNull();
    expect(await getGrant(h.deps.db, theirs.grantId)).not.toBeNull();
  });
});

describe("admins", () => {
  test("see everyone's approvals with the user, and the registered clients with their redirect URIs", async () => {
    const html = await (await page(bossCookie)).text();
    expect(html).toContain(`id="grant-${mine.grantId}"`);
    expect(html).toContain(`id="grant-${theirs.grantId}"`);
    expect(html).toContain("<th>User</th>");
    expect(html).toContain("worker@example.com");
    expect(html).toContain("other@example.com");
    expect(html).toContain("Registered clients");
    expect(html).toContain(`<code>${cursor.id}</code>`);
    expect(html).toContain(`<code>${claude.id}</code>`);
    expect(html).toContain("<code>http://127.0.0.1:33418/callback</code>");
    expect(html).toContain("<code>https://claude.ai/api/mcp/auth_callback</code>");
    expect(html).toContain('<input type="hidden" name="id" value="https://claude.ai/oauth/mcp-oauth-client-metadata"/>');
    for (const s of secrets(mine, theirs)) expect(html).not.toContain(s);
  });

  test("a client's own name is shown as text, never as markup", async () => {
    const hostile = await dcrClient(h.deps, '<img src=x onerror="alert(1)">');
    await approve(h.deps, worker, hostile, agent);
    const html = await (await page(bossCookie)).text();
    expect(html).not.toContain("<img src=x");
    expect(html).toContain("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;");
  });

  test("revoke anyone's approval", async () => {
    expect((await submit(bossCookie, `/admin/apps/${theirs.grantId}/revoke`)).status).toBe(200);
    expect(await getGrant(h.deps.db, theirs.grantId)).toBeNull();
    expect(await getGrant(h.deps.db, mine.grantId)).not.toBeNull();
  });

  test("delete a client named by a URL: it goes with its approvals, and the other client stays", async () => {
    const res = await submit(bossCookie, "/admin/apps/clients/delete", [["id", claude.id]], { "hx-request": "true" });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain("Client deleted");
    expect(html).not.toContain(claude.id);
    expect(await findClient(h.deps.db, claude.id)).toBeNull();
    expect((await listGrants(h.deps.db)).map((g) => g.id)).toEqual([mine.grantId]);
    expect(await findClient(h.deps.db, cursor.id)).not.toBeNull();
  });

  test("a client that is gone, or a revoke of a grant that is gone, says so (404)", async () => {
    const gone = await submit(bossCookie, "/admin/apps/clients/delete", [["id", "sbc_nothing"]]);
    expect(gone.status).toBe(404);
    expect(await gone.text()).toContain("No such OAuth client.");
    const missing = await submit(bossCookie, "/admin/apps/grant_00000000-0000-0000-0000-000000000000/revoke");
    expect(missing.status).toBe(404);
    expect(await listGrants(h.deps.db)).toHaveLength(2);
  });
});

describe("cross-site requests", () => {
  const forged: [string, Record<string, string>][] = [
    ["Sec-Fetch-Site: cross-site", { "sec-fetch-site": "cross-site" }],
    ["a foreign Origin", { origin: "https://evil.example" }],
  ];
  for (const [name, headers] of forged) {
    test(`${name}: revoke and client delete are refused with 403 and change nothing`, async () => {
      const post = (path: string, fields: [string, string][]) =>
        h.app.request(path, {
          method: "POST",
          // No Sec-Fetch-Site unless given (an older browser): Origin decides.
          headers: { "content-type": "application/x-www-form-urlencoded", cookie: bossCookie, ...headers },
          body: new URLSearchParams(fields).toString(),
        });
      expect((await post(`/admin/apps/${mine.grantId}/revoke`, [])).status).toBe(403);
      expect((await post("/admin/apps/clients/delete", [["id", claude.id]])).status).toBe(403);
      expect(await getGrant(h.deps.db, mine.grantId)).not.toBeNull();
      expect(await findClient(h.deps.db, claude.id)).not.toBeNull();
      expect(await listGrants(h.deps.db)).toHaveLength(2);
    });
  }
});
