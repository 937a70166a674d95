// The admin for OAuth connections, against the loopback OAuth upstream fixture and the real authorizer:
// the form's Authentication fields; Authorize (shared, admins) and Connect your account (per user) with
// the browser-binding cookie; the callback (sign-in first, then finish; refused with a clear page and
// nothing stored for a missing or foreign cookie, another user, an unknown or reused state, a denial);
// the panel and Connected accounts; who may disconnect what; guests and cross-site posts; never a token.
import { afterEach, describe, expect, test } from "bun:test";
import { approveAuthorization, startOAuthUpstream, type OAuthUpstream } from "../fixtures/oauth-upstream.ts";
import { connectionStore } from "../../src/operations/connections.ts";
import { upstreamOAuthStore } from "../../src/domain/connections/upstream-oauth.ts";
import { listConnections } from "../../src/domain/connections/connections.ts";
import { useConnectionHarness, type ConnectionHarness } from "../support/connection-harness.ts";
import type { User } from "../../src/domain/access/users.ts";
import { listAudit } from "../../src/domain/monitoring/audit.ts";

const harness = useConnectionHarness();
let upstreams: OAuthUpstream[] = [];
afterEach(async () => {
  await Promise.all(upstreams.map((u) => u.close()));
  upstreams = [];
});

const PUBLIC = "https://switchboard.test";
const SAME_SITE = { "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "same-origin" };

type World = { h: ConnectionHarness; upstream: OAuthUpstream; admin: string; member: string; memberUser: User; id: string };

async function world(mode: "shared" | "per_user", upstreamOptions: Parameters<typeof startOAuthUpstream>[0] = { cimd: false }): Promise<World> {
  // https: an authorization server registers no plain-http redirect URI off loopback (RFC 8252 §7.3).
  const h = await harness({ server: { public_url: PUBLIC } });
  const upstream = await startOAuthUpstream(upstreamOptions);
  upstreams.push(upstream);
  const admin = await h.cookieFor(h.admin);
  const member = await h.cookieFor(h.member);
  // Made through the admin's own form: the Authentication fields are what this file tests first.
  const res = await post(h, admin, "/admin/connections", { slug: "linear", transport: "http", url: upstream.mcpUrl, auth: "oauth", oauth_mode: mode, token: "ignored-with-oauth" });
  expect(res.status).toBe(303);
  const id = /\/admin\/connections\/(conn_[^?]+)/.exec(res.headers.get("location") ?? "")?.[1] ?? "";
  expect(id).toStartWith("conn_");
  return { h, upstream, admin, member, memberUser: h.member, id };
}

function post(h: ConnectionHarness, cookie: string | null, path: string, fields: Record<string, string> = {}, headers: Record<string, string> = SAME_SITE): Promise<Response> {
  return h.request(path, { method: "POST", headers: { ...headers, ...(cookie ? { cookie } : {}) }, body: new URLSearchParams(fields).toString(), redirect: "manual" });
}

function get(h: ConnectionHarness, cookie: string | null, path: string): Promise<Response> {
  return h.request(path, { headers: cookie ? { cookie } : {}, redirect: "manual" });
}

/** The authorization URL the start page sends the browser on to, and the binding cookie it set. */
async function started(res: Response): Promise<{ url: string; flowCookie: string }> {
  const body = await res.text();
  expect({ status: res.status, body: body.slice(0, 300) }).toMatchObject({ status: 200 });
  const url = /<a class="button" id="continue" href="([^"]+)"/.exec(body)?.[1]?.replace(/&amp;/g, "&") ?? "";
  expect(body).toContain(`http-equiv="refresh"`);
  const setCookie = res.headers.get("set-cookie") ?? "";
  const flowCookie = /sb_upstream_flow=[^;]+/.exec(setCookie)?.[0] ?? "";
  expect(flowCookie).not.toBe("");
  return { url, flowCookie };
}

/** The callback as the authorization server sends the browser back: a path on Switchboard. */
function callbackPath(location: string): string {
  const url = new URL(location);
  expect(url.origin + url.pathname).toBe(`${PUBLIC}/oauth/upstream/callback`);
  return `${url.pathname}${url.search}`;
}

/** Authorizes from start to callback as `cookie` (the session), approving as `account` at the upstream. */
async function authorize(w: World, cookie: string, path: string, account: string, fields: Record<string, string> = {}): Promise<Response> {
  const { url, flowCookie } = await started(await post(w.h, cookie, path, fields));
  const location = await approveAuthorization(url, account);
  return get(w.h, `${cookie}; ${flowCookie}`, callbackPath(location));
}

async function links(w: World) {
  return upstreamOAuthStore(connectionStore(w.h.deps)).listLinks(w.id);
}

/** Every token the store holds for the connection: none may ever appear in a page. */
async function tokens(w: World): Promise<string[]> {
  const store = upstreamOAuthStore(connectionStore(w.h.deps));
  const out: string[] = [];
  for (const l of await store.listLinks(w.id)) {
    const link = await store.getLink(w.id, l.subject);
    if (link) out.push(link.tokens.accessToken, ...(link.tokens.refreshToken ? [link.tokens.refreshToken] : []));
  }
  return out;
}

describe("the connection form's Authentication", () => {
  test("OAuth is saved with its mode, the bearer token is dropped, and the form shows the callback URL to register", async () => {
    const w = await world("per_user");
    const [stored] = await listConnections(connectionStore(w.h.deps));
    expect(stored).toMatchObject({ slug: "linear", auth: "oauth", oauthMode: "per_user", token: null });
    const page = await (await get(w.h, w.admin, `/admin/connections/${w.id}`)).text();
    expect(page).toContain('<option value="oauth" selected="">OAuth (sign in at the server)</option>');
    expect(page).toMatch(/<input type="radio" name="oauth_mode" value="per_user" checked=""/);
    expect(page).toContain('<code id="c-callback-url">https://switchboard.test/oauth/upstream/callback</code>');
    expect(page).toContain("only if the server supports neither client metadata documents nor dynamic registration");
    expect(page).toContain("Not yet discovered");
  });

  test("a client secret is masked like the token: kept when left empty, never put back into the page", async () => {
    const w = await world("shared");
    const fields = { form: "settings", slug: "linear", transport: "http", url: w.upstream.mcpUrl, auth: "oauth", oauth_mode: "shared", oauth_client_id: "sb-client", oauth_client_secret: "s3cret-Client-Value-77", oauth_scopes: "mcp:tools  read" };
    expect((await post(w.h, w.admin, `/admin/connections/${w.id}`, fields)).status).toBe(303);
    expect((await post(w.h, w.admin, `/admin/connections/${w.id}`, { ...fields, oauth_client_secret: "" })).status).toBe(303);
    const [stored] = await listConnections(connectionStore(w.h.deps));
    expect(stored).toMatchObject({ oauthClientId: "sb-client", oauthClientSecret: "s3cret-Client-Value-77", oauthScopes: "mcp:tools read" });
    const page = await (await get(w.h, w.admin, `/admin/connections/${w.id}`)).text();
    expect(page).toContain("(set; leave empty to keep)");
    expect(page).toContain("Remove the stored client secret");
    expect(page).not.toContain("s3cret-Client-Value-77");
    // A refused save shows the form again without the secret typed.
    const refused = await post(w.h, w.admin, `/admin/connections/${w.id}`, { ...fields, oauth_scopes: "bad\"scope", oauth_client_secret: "typed-Secret-Again-88" });
    expect(refused.status).toBe(400);
    expect(await refused.text()).not.toContain("typed-Secret-Again-88");
  });
});

describe("a shared account", () => {
  test("an admin authorizes; the page says who it is connected as, read from the link; members see it but no buttons; no token anywhere", async () => {
    const w = await world("shared");
    const before = await get(w.h, w.admin, "/admin/connections");
    expect(await before.text()).toContain("needs authorization");

    const start = await post(w.h, w.admin, `/admin/connections/${w.id}/oauth/authorize`);
    const setCookie = start.headers.get("set-cookie") ?? "";
    expect(setCookie).toMatch(/^sb_upstream_flow=[A-Za-z0-9_-]{43}; Max-Age=600; Path=\/oauth\/upstream\/; HttpOnly; Secure; SameSite=Lax$/);
    expect(start.headers.get("referrer-policy")).toBe("no-referrer");
    const { url, flowCookie } = await started(start);
    expect(url).toStartWith(`${w.upstream.issuer}/authorize?`);
    const done = await get(w.h, `${w.admin}; ${flowCookie}`, callbackPath(await approveAuthorization(url, "alice")));
    expect(done.status).toBe(303);
    expect(done.headers.get("location")).toBe(`/admin/connections/${w.id}?oauth=connected#oauth`);
    expect(done.headers.get("set-cookie") ?? "").toMatch(/^sb_upstream_flow=; Max-Age=0; Path=\/oauth\/upstream\//);

    const page = await (await get(w.h, w.admin, `/admin/connections/${w.id}?oauth=connected`)).text();
    expect(page).toContain("Connected as alice.");
    expect(page).toContain("Connected as alice, expires");
    expect(page).toContain(`dynamic registration at <code>${w.upstream.issuer}</code>`);
    expect(page).toContain("Re-authorize");
    const memberPage = await (await get(w.h, w.member, `/admin/connections/${w.id}`)).text();
    expect(memberPage).toContain("Connected as alice");
    expect(memberPage).not.toContain("/oauth/authorize");
    expect(memberPage).not.toContain("/oauth/disconnect");
    const list = await (await get(w.h, w.member, "/admin/connections")).text();
    expect(list).not.toContain("needs authorization");

    const secrets = await tokens(w);
    expect(secrets.length).toBe(2);
    // The authorization is in the audit log: who, which connection, whose link and account; no token.
    const audit = (await listAudit(w.h.deps.db, { action: "CONNECTION_OAUTH_CONNECT" }, { limit: 10 })).rows;
    expect(audit.map((r) => [r.actor.userId, r.targetId, r.change, r.outcome])).toEqual([[w.h.admin.id, w.id, { subject: "shared", account: "alice" }, "ok"]]);
    for (const secret of secrets) expect(JSON.stringify(audit)).not.toContain(secret);
    for (const html of [page, memberPage, list, await (await get(w.h, w.admin, "/admin/connected-accounts")).text()]) {
      for (const secret of secrets) expect(html).not.toContain(secret);
    }
  });

  test("a member may not start it nor disconnect it; an admin disconnects it", async () => {
    const w = await world("shared");
    const refused = await post(w.h, w.member, `/admin/connections/${w.id}/oauth/authorize`);
    expect(refused.status).toBe(403);
    expect(refused.headers.get("set-cookie")).toBeNull();
    expect(w.upstream.stats.registrations).toBe(0);

    // Started from the page by slug: it still comes back to the connection's page.
    const bySlug = await authorize(w, w.admin, "/admin/connections/linear/oauth/authorize", "alice");
    expect([bySlug.status, bySlug.headers.get("location")]).toEqual([303, `/admin/connections/${w.id}?oauth=connected#oauth`]);
    expect((await post(w.h, w.member, `/admin/connections/${w.id}/oauth/disconnect`, { subject: "shared" })).status).toBe(403);
    // A made-up subject or connection is refused plainly, never a 500.
    expect((await post(w.h, w.admin, `/admin/connections/${w.id}/oauth/disconnect`, { subject: "<b>someone</b>" })).status).toBe(400);
    expect((await post(w.h, w.admin, "/admin/connections/conn_nope/oauth/authorize")).status).toBe(404);
    expect((await links(w)).map((l) => l.subject)).toEqual(["shared"]);
    const gone = await post(w.h, w.admin, `/admin/connections/${w.id}/oauth/disconnect`, { subject: "shared" });
    expect([gone.status, gone.headers.get("location")]).toEqual([303, `/admin/connections/${w.id}?oauth=disconnected#oauth`]);
    expect(await links(w)).toEqual([]);
  });

  test("a link whose refresh was refused says so, visibly, on the page and in the list; Re-authorize mends it", async () => {
    const w = await world("shared");
    expect((await authorize(w, w.admin, `/admin/connections/${w.id}/oauth/authorize`, "alice")).status).toBe(303);
    const secrets = await tokens(w);
    await upstreamOAuthStore(connectionStore(w.h.deps)).markNeedsReauth(w.id, "shared", "invalid_grant");
    const page = await (await get(w.h, w.member, `/admin/connections/${w.id}`)).text();
    expect(page).toContain('<div class="alert warning" role="alert">The shared account needs re-authorization: its authorization was revoked or expired (invalid_grant).</div>');
    const list = await (await get(w.h, w.member, "/admin/connections")).text();
    expect(list).toContain("needs re-authorization");
    for (const secret of secrets) for (const html of [page, list]) expect(html).not.toContain(secret);
    expect((await authorize(w, w.admin, `/admin/connections/${w.id}/oauth/authorize`, "alice")).status).toBe(303);
    expect((await links(w)).map((l) => l.state)).toEqual(["connected"]);
    expect(await (await get(w.h, w.member, "/admin/connections")).text()).not.toContain("needs re-authorization");
  });

  test("an upstream without OAuth: the reason is shown beside the button, no cookie, never a 500", async () => {
    const w = await world("shared");
    const form = { form: "settings", slug: "linear", transport: "http", url: `${w.upstream.origin}/not-mcp`, auth: "oauth", oauth_mode: "shared" };
    expect((await post(w.h, w.admin, `/admin/connections/${w.id}`, form)).status).toBe(303);
    const res = await post(w.h, w.admin, `/admin/connections/${w.id}/oauth/authorize`);
    const body = await res.text();
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(600);
    expect(res.status).not.toBe(500);
    expect(res.headers.get("set-cookie")).toBeNull();
    expect(body).toContain('id="oauth"');
    expect(body).toMatch(/<div class="alert error" role="alert" data-reveal="">[^<]+<\/div><\/div>\s*<\/section>/);
  });
});

describe("per-user accounts", () => {
  test("each user connects their own; an admin sees every user's link, a member only their own", async () => {
    const w = await world("per_user");
    const mine = await authorize(w, w.member, `/admin/connected-accounts/${w.id}/connect`, "bob");
    expect(mine.headers.get("location")).toBe(`/admin/connected-accounts?oauth=connected&connection=${w.id}#${w.id}`);
    const accounts = await (await get(w.h, w.member, mine.headers.get("location") ?? "")).text();
    expect(accounts).toContain(`<tr id="${w.id}">`);
    expect(accounts).toContain("Connected as bob.");
    expect(accounts).toContain("Reconnect");

    const fromPage = await authorize(w, w.admin, `/admin/connected-accounts/${w.id}/connect`, "alice", { from: "connection" });
    expect(fromPage.headers.get("location")).toBe(`/admin/connections/${w.id}?oauth=connected#oauth`);
    const adminPage = await (await get(w.h, w.admin, `/admin/connections/${w.id}?oauth=connected`)).text();
    expect(adminPage).toContain("Connected as alice.");
    expect(adminPage).toContain(w.memberUser.email);
    expect(adminPage).toContain("<td>bob</td>");
    const memberPage = await (await get(w.h, w.member, `/admin/connections/${w.id}`)).text();
    expect(memberPage).toContain("Connected as bob");
    expect(memberPage).not.toContain("alice");
    expect(memberPage).not.toContain(w.h.admin.email);
    for (const secret of await tokens(w)) for (const html of [accounts, adminPage, memberPage]) expect(html).not.toContain(secret);

    // A refused refresh shows on the member's own row, for them to reconnect.
    await upstreamOAuthStore(connectionStore(w.h.deps)).markNeedsReauth(w.id, w.memberUser.id as `user_${string}`, "invalid_grant");
    const again = await (await get(w.h, w.member, "/admin/connected-accounts")).text();
    expect(again).toContain('<div class="alert warning small" role="alert">Needs re-authorization: invalid_grant.</div>');
    expect(again).toContain("Reconnect");

    // A member may not disconnect the admin's link, nor start one for someone else.
    expect((await post(w.h, w.member, `/admin/connections/${w.id}/oauth/disconnect`, { subject: w.h.admin.id })).status).toBe(403);
    expect((await post(w.h, w.member, `/admin/connections/${w.id}/oauth/authorize`)).status).toBe(403);
    expect((await links(w)).map((l) => l.userId).sort()).toEqual([w.h.admin.id, w.memberUser.id].sort());
    // Their own, they may.
    expect((await post(w.h, w.member, `/admin/connected-accounts/${w.id}/disconnect`)).status).toBe(303);
    expect((await links(w)).map((l) => l.userId)).toEqual([w.h.admin.id]);
  });

  test("Connected accounts explains itself when there is nothing to connect, and is in everyone's navigation", async () => {
    const h = await harness();
    const page = await (await get(h, await h.cookieFor(h.member), "/admin/connected-accounts")).text();
    expect(page).toContain("Nothing to connect");
    expect(page).toContain('<a href="/admin/connected-accounts" aria-current="page">Connected accounts</a>');
  });
});

describe("the callback refuses", () => {
  /** A flow started by the admin, approved at the upstream: its callback path and binding cookie. */
  async function pending(w: World, decision: "approve" | "deny" = "approve") {
    const { url, flowCookie } = await started(await post(w.h, w.admin, `/admin/connections/${w.id}/oauth/authorize`));
    return { path: callbackPath(await approveAuthorization(url, "alice", { decision })), flowCookie };
  }

  async function refusedWith(w: World, res: Response, text: string | RegExp): Promise<void> {
    const body = await res.text();
    expect({ status: res.status, body: body.slice(0, 200) }).toMatchObject({ status: 400 });
    expect(body).toContain("Authorization not completed");
    if (typeof text === "string") expect(body).toContain(text);
    else expect(body).toMatch(text);
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    expect(await links(w)).toEqual([]);
  }

  test("without the browser's cookie, with another cookie, or from another signed-in user", async () => {
    const w = await world("shared");
    const a = await pending(w);
    await refusedWith(w, await get(w.h, w.admin, a.path), "another browser");
    const b = await pending(w);
    await refusedWith(w, await get(w.h, `${w.admin}; sb_upstream_flow=${"A".repeat(43)}`, b.path), "another browser");
    const c = await pending(w);
    await refusedWith(w, await get(w.h, `${w.member}; ${c.flowCookie}`, c.path), "another user");
    const audit = (await listAudit(w.h.deps.db, { action: "CONNECTION_OAUTH_CONNECT" }, { limit: 10 })).rows;
    expect(audit.map((r) => [r.targetId, r.outcome])).toEqual([[w.id, "refused"], [w.id, "refused"], [w.id, "refused"]]);
  });

  test("an unknown state, a state used twice, a denial, a repeated parameter; no query text is reflected", async () => {
    const w = await world("shared");
    await refusedWith(w, await get(w.h, w.admin, "/oauth/upstream/callback?state=made-up&code=x"), "unknown");
    const denied = await pending(w, "deny");
    await refusedWith(w, await get(w.h, `${w.admin}; ${denied.flowCookie}`, denied.path), "access_denied");

    const hostile = await pending(w);
    const url = new URL(hostile.path, PUBLIC);
    url.searchParams.delete("code");
    url.searchParams.set("error", "<img src=x onerror=alert(1)>");
    url.searchParams.set("error_description", "<script>alert(2)</script>");
    const res = await get(w.h, `${w.admin}; ${hostile.flowCookie}`, `${url.pathname}${url.search}`);
    const body = await res.clone().text();
    expect(body).not.toContain("<img src=x");
    expect(body).not.toContain("<script>alert");
    await refusedWith(w, res, "did not authorize");

    const twice = await pending(w);
    await refusedWith(w, await get(w.h, w.admin, `${twice.path}&state=again`), "repeats a parameter");

    const ok = await pending(w);
    expect((await get(w.h, `${w.admin}; ${ok.flowCookie}`, ok.path)).status).toBe(303);
    const replay = await get(w.h, `${w.admin}; ${ok.flowCookie}`, ok.path);
    expect(replay.status).toBe(400);
    expect(await replay.text()).toContain("already used");
    expect((await links(w)).length).toBe(1);
  });

  test("a signed-out browser signs in first and comes back to the callback", async () => {
    const w = await world("shared");
    const a = await pending(w);
    const res = await get(w.h, a.flowCookie, a.path);
    expect(res.status).toBe(303);
    const location = res.headers.get("location") ?? "";
    expect(location).toBe(`/admin/login?next=${encodeURIComponent(a.path)}`);
    const login = await (await get(w.h, null, location)).text();
    expect(login).toContain(`value="${a.path.replace(/&/g, "&amp;")}"`);
    expect(await links(w)).toEqual([]);
  });
});

describe("guests and cross-site posts", () => {
  test("every new route sends a guest to sign in; a cross-site post is refused and starts nothing", async () => {
    const w = await world("per_user");
    for (const path of [`/admin/connections/${w.id}/oauth/authorize`, `/admin/connections/${w.id}/oauth/disconnect`, `/admin/connected-accounts/${w.id}/connect`, `/admin/connected-accounts/${w.id}/disconnect`]) {
      const res = await post(w.h, null, path);
      expect([path, res.status, res.headers.get("location")]).toEqual([path, 303, "/admin/login?next=%2Fadmin"]);
      const cross = await post(w.h, w.member, path, {}, { "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "cross-site" });
      expect([path, cross.status, cross.headers.get("set-cookie")]).toEqual([path, 403, null]);
    }
    expect((await get(w.h, null, "/admin/connected-accounts")).headers.get("location")).toBe("/admin/login?next=%2Fadmin%2Fconnected-accounts");
    expect(w.upstream.stats.registrations).toBe(0);
    expect(await links(w)).toEqual([]);
  });
});
