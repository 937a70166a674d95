// The admin's Connections pages: guests are sent to sign in; members see the list and each page read-only
// (test and refresh allowed; no form, no delete, no stderr); admins create per transport, edit with masked
// secrets kept, test inline (htmx) or as a page (no JS), refresh, delete with confirmation; declared
// connections are read-only; secrets never reach the HTML; cross-site posts are refused; the key page
// offers each connection's discovered tools.
import { describe, expect, spyOn, test } from "bun:test";
import { getConnection, listConnections } from "../../src/domain/connections/connections.ts";
import { listApiKeys } from "../../src/domain/access/api-keys.ts";
import { connectionStore } from "../../src/operations/connections.ts";
import * as cipher from "../../src/security/cipher.ts";
import { runScenario, type Scenario } from "../support/table.ts";
import { discoveryOf, EMPTY_DISCOVERY, useConnectionHarness, type ConnectionHarness } from "../support/connection-harness.ts";
import { rawRow, rawRows, rawRun } from "../support/raw-sql.ts";

const TOKEN = "tok-Admin-S3cret-0001";
const HEADER = "hdr-Admin-S3cret-0002";
const ENV = "env-Admin-S3cret-0003";
const SECRETS = [TOKEN, HEADER, ENV];

const harness = useConnectionHarness();

type Ctx = { h: ConnectionHarness; remoteId: string; localId: string; admin: string; member: string };

async function setup(overrides: Parameters<typeof harness>[0] = {}): Promise<Ctx> {
  const h = await harness(overrides);
  const remote = await h.store({ slug: "remote", transport: "http", url: "https://mcp.example.com/mcp", token: TOKEN, headers: { "X-Key": HEADER } });
  const local = await h.store({ slug: "local", transport: "stdio", command: "node", args: ["server.js"], env: { API_KEY: ENV } });
  h.gateway.statuses.set(remote.id, { state: "error", lastError: "upstream said 502", since: new Date() });
  h.gateway.statuses.set(local.id, { state: "connected", lastError: null, since: new Date() });
  h.gateway.discoveries.set(remote.id, discoveryOf({ search_issues: "Search the issues", get_issue: "One issue" }));
  h.gateway.stderrs.set(local.id, ["server started", "listening on stdio"]);
  return { h, remoteId: remote.id, localId: local.id, admin: await h.cookieFor(h.admin), member: await h.cookieFor(h.member) };
}

const FORM = { "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "same-origin" };

function post(ctx: Ctx, cookie: string, path: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return Promise.resolve(ctx.h.app.request(path, { method: "POST", headers: { ...FORM, cookie, ...headers }, body: new URLSearchParams(fields).toString() }));
}

function get(ctx: Ctx, cookie: string | null, path: string, headers: Record<string, string> = {}): Promise<Response> {
  return Promise.resolve(ctx.h.app.request(path, { headers: { ...(cookie ? { cookie } : {}), ...headers } }));
}

const unchanged = async ({ h }: Ctx) => {
  expect((await listConnections(connectionStore(h.deps))).map((c) => [c.slug, c.title, c.url ?? c.command])).toEqual([["local", "local", "node"], ["remote", "remote", "https://mcp.example.com/mcp"]]);
  expect([h.gateway.applied, h.gateway.removed]).toEqual([[], []]);
};

const send = (ctx: Ctx) => (url: string, init: RequestInit) => Promise.resolve(ctx.h.app.request(url, init));
const as = (who: "admin" | "member", extra: Record<string, string> = {}) => (ctx: Ctx) => ({ cookie: ctx[who], ...extra });

const ROWS: (Scenario<Ctx> & { path: (ctx: Ctx) => string })[] = [
  { name: "guest list", path: () => "/admin/connections", url: "", expectedStatus: 303, notExpectedContent: ["remote", "local"], expectedHeaders: { location: "/admin/login?next=%2Fadmin%2Fconnections" } },
  { name: "guest page", path: (c) => `/admin/connections/${c.remoteId}`, url: "", expectedStatus: 303, notExpectedContent: ["mcp.example.com"] },
  { name: "guest create", method: "POST", path: () => "/admin/connections", url: "", headers: FORM, body: "slug=x&transport=http&url=https%3A%2F%2Fx%2Fmcp", expectedStatus: 303, after: (ctx) => unchanged(ctx) },
  {
    name: "member list", path: () => "/admin/connections", url: "", headers: as("member"), expectedStatus: 200,
    expectedContent: ["remote", "local", "upstream said 502", "state-connected", "Only admins add, change or delete connections."],
    notExpectedContent: ["New connection", "X-Key", "API_KEY", ...SECRETS],
  },
  {
    name: "member page", path: (c) => `/admin/connections/${c.localId}`, url: "", headers: as("member"), expectedStatus: 200,
    expectedContent: ["Test", "Refresh", "API_KEY: ********", "Only admins change or delete connections.", "Shown to admins only"],
    notExpectedContent: ['name="slug"', "Delete connection", "listening on stdio", ...SECRETS],
  },
  { name: "member new page", path: () => "/admin/connections/new", url: "", headers: as("member"), expectedStatus: 403, notExpectedContent: ['name="slug"'] },
  { name: "member create", method: "POST", path: () => "/admin/connections", url: "", headers: as("member", FORM), body: "slug=mine&transport=stdio&command=bash", expectedStatus: 403, after: (ctx) => unchanged(ctx) },
  { name: "member edit", method: "POST", path: (c) => `/admin/connections/${c.remoteId}`, url: "", headers: as("member", FORM), body: "form=settings&slug=remote&transport=http&url=https%3A%2F%2Fevil%2Fmcp", expectedStatus: 403, after: (ctx) => unchanged(ctx) },
  { name: "member delete", method: "POST", path: (c) => `/admin/connections/${c.remoteId}/delete`, url: "", headers: as("member", FORM), body: "confirm=yes", expectedStatus: 403, after: (ctx) => unchanged(ctx) },
  { name: "member tests unsaved settings", method: "POST", path: () => "/admin/connections/test", url: "", headers: as("member", FORM), body: "transport=stdio&command=bash&slug=x", expectedStatus: 403, after: (ctx) => expect(ctx.h.gateway.tested).toEqual([]) },
  {
    name: "admin list", path: () => "/admin/connections", url: "", headers: as("admin"), expectedStatus: 200,
    expectedContent: ["New connection", "https://mcp.example.com/mcp", "node server.js", "upstream said 502"], notExpectedContent: ["X-Key", "API_KEY", ...SECRETS],
  },
  {
    name: "admin page of an http connection", path: (c) => `/admin/connections/${c.remoteId}`, url: "", headers: as("admin"), expectedStatus: 200,
    expectedContent: ["search_issues", "Search the issues", 'name="slug"', "X-Key: ********", "(set; leave empty to keep)", "Remove the stored token", "Delete connection", "/mcp/conn_"],
    notExpectedContent: SECRETS,
  },
  {
    name: "admin page of a stdio connection", path: (c) => `/admin/connections/${c.localId}`, url: "", headers: as("admin"), expectedStatus: 200,
    expectedContent: ["listening on stdio", "API_KEY=********", "server.js"], notExpectedContent: SECRETS,
  },
  { name: "admin page of a missing connection", path: () => "/admin/connections/conn_0b4e7c1e-3f0a-4d2a-9a51-6d3c2f1e8b70", url: "", headers: as("admin"), expectedStatus: 404 },
  { name: "guest status fragment", path: (c) => `/admin/connections/${c.remoteId}/status`, url: "", expectedStatus: 303, notExpectedContent: ["upstream said 502", "search_issues"] },
  {
    name: "guest status fragment (htmx)", path: (c) => `/admin/connections/${c.remoteId}/status`, url: "", headers: { "hx-request": "true" }, expectedStatus: 401,
    expectedHeaders: { "hx-redirect": /^\/admin\/login\?next=%2Fadmin%2Fconnections%2Fconn_[0-9a-f-]{36}%2Fstatus$/ }, notExpectedContent: ["upstream said 502", "search_issues"],
  },
  {
    name: "member status fragment", path: (c) => `/admin/connections/${c.remoteId}/status`, url: "", headers: as("member", { "hx-request": "true" }), expectedStatus: 200,
    expectedContent: ["upstream said 502", "search_issues", 'hx-target="#discovery"'], notExpectedContent: ["<html", "X-Key", ...SECRETS],
  },
  {
    name: "admin status fragment of a stdio connection", path: (c) => `/admin/connections/${c.localId}/status`, url: "", headers: as("admin", { "hx-request": "true" }), expectedStatus: 200,
    expectedContent: ["state-connected"], notExpectedContent: ["<html", "listening on stdio", "API_KEY", ...SECRETS],
  },
  { name: "status fragment of a missing connection", path: () => "/admin/connections/conn_0b4e7c1e-3f0a-4d2a-9a51-6d3c2f1e8b70/status", url: "", headers: as("member", { "hx-request": "true" }), expectedStatus: 404 },
  {
    name: "cross-site post to the status fragment", method: "POST", path: (c) => `/admin/connections/${c.remoteId}/status`, url: "",
    headers: (ctx) => ({ ...FORM, "sec-fetch-site": "cross-site", cookie: ctx.admin }), expectedStatus: 403, expectedContent: ["Cross-site request refused."], after: (ctx) => unchanged(ctx),
  },
  {
    name: "cross-site create", method: "POST", path: () => "/admin/connections", url: "", headers: (ctx) => ({ ...FORM, "sec-fetch-site": "cross-site", cookie: ctx.admin }),
    body: "slug=evil&transport=stdio&command=bash", expectedStatus: 403, expectedContent: ["Cross-site request refused."], after: (ctx) => unchanged(ctx),
  },
  {
    name: "cross-site delete (Origin only)", method: "POST", path: (c) => `/admin/connections/${c.remoteId}/delete`, url: "",
    headers: (ctx) => ({ "content-type": "application/x-www-form-urlencoded", origin: "https://evil.example", cookie: ctx.admin }), body: "confirm=yes", expectedStatus: 403, after: (ctx) => unchanged(ctx),
  },
];

describe("rows", () => {
  for (const row of ROWS) {
    test(`${row.name}: ${row.expectedStatus}`, async () => {
      const ctx = await setup();
      await runScenario({ ...row, url: row.path(ctx) }, ctx, send(ctx));
    });
  }
});

describe("the list reads no secret", () => {
  test("the list page decrypts nothing and names no header or variable; a connection's own page (watched the same way) decrypts and names them masked", async () => {
    const ctx = await setup();
    const decrypt = spyOn(cipher, "decryptSecret");
    try {
      const page = await get(ctx, ctx.admin, `/admin/connections/${ctx.localId}`);
      expect(await page.text()).toContain("API_KEY: ********");
      // The spy sees this path: a list that decrypted would be noticed.
      expect(decrypt).toHaveBeenCalled();
      decrypt.mockClear();
      for (const who of [ctx.admin, ctx.member]) {
        const list = await get(ctx, who, "/admin/connections");
        const html = await list.text();
        expect(list.status).toBe(200);
        expect(html).toContain(`id="connection-${ctx.remoteId}"`);
        expect(html).toContain(`id="connection-${ctx.localId}"`);
        for (const unwanted of ["X-Key", "API_KEY", ...SECRETS]) expect(html).not.toContain(unwanted);
      }
      expect(decrypt).not.toHaveBeenCalled();
    } finally {
      decrypt.mockRestore();
    }
  });
});

describe("admins", () => {
  test("a shared stdio process whose server keeps per-session state says so, and says how to make it exact", async () => {
    const ctx = await setup();
    const isolated = await ctx.h.store({ slug: "isolated", transport: "stdio", command: "node", args: ["s.js"], isolation: "session" });
    const remote = ctx.remoteId;
    for (const id of [ctx.localId, isolated.id, remote]) ctx.h.gateway.discoveries.set(id, discoveryOf({ echo: "Echo" }, { perSession: ["log levels", "tasks"] }));
    const shared = await (await get(ctx, ctx.member, `/admin/connections/${ctx.localId}`)).text();
    expect(shared).toContain("This server keeps log levels, tasks per client session");
    expect(shared).toContain("set isolation to &quot;session&quot;");
    for (const id of [isolated.id, remote]) expect(await (await get(ctx, ctx.admin, `/admin/connections/${id}`)).text()).not.toContain("per client session");
  });

  test("create an http connection without JS: redirected to its page, secrets stored encrypted and shown masked", async () => {
    const ctx = await setup();
    const res = await post(ctx, ctx.admin, "/admin/connections", {
      slug: "github", title: "GitHub", transport: "http", url: "https://api.example.com/mcp", token: "tok-new-0001", headers: "X-Team: team-secret\nX-Other: 2",
      command: "ignored-because-http", env: "IGNORED=1", enabled_shown: "1", enabled: "1", connect_timeout: "5s",
    });
    expect(res.status).toBe(303);
    const created = (await getConnection(connectionStore(ctx.h.deps), "github"))!;
    expect(res.headers.get("location")).toBe(`/admin/connections/${created.id}?created=1`);
    expect(created).toMatchObject({ title: "GitHub", token: "tok-new-0001", headers: { "X-Team": "team-secret", "X-Other": "2" }, command: null, env: {}, connectTimeoutMs: 5_000, enabled: true });
    expect(ctx.h.gateway.applied.map((s) => s.slug)).toEqual(["github"]);
    const page = await (await get(ctx, ctx.admin, `/admin/connections/${created.id}?created=1`)).text();
    expect(page).toContain("Connection GitHub created.");
    expect(page).toContain("X-Team: ********");
    expect(page).not.toContain("team-secret");
    expect(page).not.toContain("tok-new-0001");
  });

  test("a refused create shows the form again with the field named, the typed values kept and the token not echoed", async () => {
    const ctx = await setup();
    const res = await post(ctx, ctx.admin, "/admin/connections", { slug: "remote", transport: "http", url: "https://x.example/mcp", token: "tok-typed-0002", title: "Typed title" });
    expect(res.status).toBe(409);
    const html = await res.text();
    expect(html).toContain("Another connection already has this slug.");
    expect(html).toContain("slug: another connection has this slug");
    expect(html).toContain('value="Typed title"');
    expect(html).not.toContain("tok-typed-0002");
    const bad = await (await post(ctx, ctx.admin, "/admin/connections", { slug: "s", transport: "stdio", env: "NOT A PAIR" })).text();
    expect(bad).toContain("env: line 1: expected &quot;NAME=value&quot;");
    await unchanged(ctx);
  });

  test("edit keeps masked secrets, replaces typed ones, removes dropped ones, and the token on request", async () => {
    const ctx = await setup();
    const page = await (await get(ctx, ctx.admin, `/admin/connections/${ctx.remoteId}`)).text();
    expect(page).toContain("X-Key: ********");
    const saved = await post(ctx, ctx.admin, `/admin/connections/${ctx.remoteId}`, {
      form: "settings", slug: "remote", title: "Renamed", transport: "http", url: "https://mcp.example.com/mcp", token: "", headers: "X-Key: ********\nX-New: fresh", enabled_shown: "1", enabled: "1",
    });
    expect(saved.status).toBe(303);
    expect(saved.headers.get("location")).toBe(`/admin/connections/${ctx.remoteId}?saved=1`);
    expect(await getConnection(connectionStore(ctx.h.deps), "remote")).toMatchObject({ title: "Renamed", token: TOKEN, headers: { "X-Key": HEADER, "X-New": "fresh" } });
    await post(ctx, ctx.admin, `/admin/connections/${ctx.remoteId}`, { form: "settings", slug: "remote", transport: "http", url: "https://mcp.example.com/mcp", token_clear: "1", headers: "", enabled_shown: "1" });
    expect(await getConnection(connectionStore(ctx.h.deps), "remote")).toMatchObject({ token: null, headers: {}, enabled: false });
    expect(ctx.h.gateway.applied.map((s) => s.enabled)).toEqual([true, false]);
    expect(await (await get(ctx, ctx.admin, `/admin/connections/${ctx.remoteId}?saved=1`)).text()).toContain("Saved.");
  });

  test("Test: htmx gets the result fragment, a plain post the whole page; unsaved form settings are tested with stored secrets", async () => {
    const ctx = await setup();
    const fragment = await post(ctx, ctx.admin, `/admin/connections/${ctx.remoteId}/test`, {}, { "hx-request": "true" });
    const text = await fragment.text();
    expect(text).toContain("fake-upstream");
    expect(text).toContain("2 tools");
    expect(text).not.toContain("<html");
    const page = await (await post(ctx, ctx.admin, `/admin/connections/${ctx.remoteId}/test`, {})).text();
    expect(page).toContain("<html");
    expect(page).toContain("fake-upstream");
    await post(ctx, ctx.admin, `/admin/connections/${ctx.remoteId}/test`, { form: "settings", slug: "remote", transport: "http", url: "https://moved.example/mcp", headers: "X-Key: ********" }, { "hx-request": "true" });
    expect(ctx.h.gateway.tested.map((s) => [s.url, s.token, s.headers])).toEqual([
      ["https://mcp.example.com/mcp", TOKEN, { "X-Key": HEADER }],
      ["https://mcp.example.com/mcp", TOKEN, { "X-Key": HEADER }],
      ["https://moved.example/mcp", TOKEN, { "X-Key": HEADER }],
    ]);
    expect((await getConnection(connectionStore(ctx.h.deps), "remote"))?.url).toBe("https://mcp.example.com/mcp");
  });

  test("Test of the new-connection form, and a refusal by the stdio policy shown inline", async () => {
    const ctx = await setup({ stdio: { allowed_commands: ["node"] } });
    const ok = await (await post(ctx, ctx.admin, "/admin/connections/test", { slug: "n", transport: "stdio", command: "node", args: "a.js" }, { "hx-request": "true" })).text();
    expect(ok).toContain("fake-upstream");
    const refused = await post(ctx, ctx.admin, "/admin/connections/test", { slug: "n", transport: "stdio", command: "bash" }, { "hx-request": "true" });
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain("is not in stdio.allowed_commands");
    expect(ctx.h.gateway.tested.map((s) => s.command)).toEqual(["node"]);
  });

  test("Refresh swaps the discovery section; delete needs the confirmation box", async () => {
    const ctx = await setup();
    const refreshed = await (await post(ctx, ctx.admin, `/admin/connections/${ctx.remoteId}/refresh`, {}, { "hx-request": "true" })).text();
    expect(refreshed).toStartWith('<section id="discovery"');
    expect(refreshed).toContain("get_issue");
    expect(ctx.h.gateway.refreshed).toEqual([ctx.remoteId]);
    const unconfirmed = await post(ctx, ctx.admin, `/admin/connections/${ctx.remoteId}/delete`, {});
    expect(unconfirmed.status).toBe(400);
    expect(await unconfirmed.text()).toContain("Tick the box");
    expect(await getConnection(connectionStore(ctx.h.deps), "remote")).not.toBeNull();
    const deleted = await post(ctx, ctx.admin, `/admin/connections/${ctx.remoteId}/delete`, { confirm: "yes" });
    expect(deleted.status).toBe(303);
    expect(deleted.headers.get("location")).toBe("/admin/connections?deleted=1");
    expect(await getConnection(connectionStore(ctx.h.deps), "remote")).toBeNull();
    expect(ctx.h.gateway.removed).toEqual([ctx.remoteId]);
  });

  test("a connection declared in the config is read-only: no form, no delete, and posts are refused", async () => {
    const ctx = await setup({ connections: [{ slug: "declared", url: "https://declared.example/mcp", token: "tok-declared-0001" }] });
    const declared = (await getConnection(connectionStore(ctx.h.deps), "declared"))!;
    const page = await (await get(ctx, ctx.admin, `/admin/connections/${declared.id}`)).text();
    expect(page).toContain("Declared in <code>switchboard.toml</code>: read-only here.");
    expect(page).not.toContain('name="slug"');
    expect(page).not.toContain("Delete connection");
    expect(page).not.toContain("tok-declared-0001");
    const edit = await post(ctx, ctx.admin, `/admin/connections/${declared.id}`, { form: "settings", slug: "declared", transport: "http", url: "https://evil.example/mcp" });
    expect(edit.status).toBe(409);
    expect((await post(ctx, ctx.admin, `/admin/connections/${declared.id}/delete`, { confirm: "yes" })).status).toBe(409);
    expect((await getConnection(connectionStore(ctx.h.deps), "declared"))?.url).toBe("https://declared.example/mcp");
  });
});

describe("the key page's permission builder", () => {
  test("lists each connection with its discovered tools, and turns the ticks into conn_ permissions", async () => {
    const ctx = await setup();
    const html = await (await get(ctx, ctx.member, "/admin/keys")).text();
    expect(html).toContain(`name="grant_${ctx.remoteId}" value="search_issues"`);
    expect(html).toContain(`name="grant_all" value="${ctx.localId}"`);
    expect(html).toContain("No tools discovered yet");
    const body = new URLSearchParams([["name", "builder key"], [`grant_${ctx.remoteId}`, "search_issues"], [`grant_${ctx.remoteId}`, "get_issue"], ["grant_all", ctx.localId], ["self", "WHOAMI"]]);
    const res = await ctx.h.app.request("/admin/keys", { method: "POST", headers: { ...FORM, cookie: ctx.member }, body: body.toString() });
    expect(res.status).toBe(200);
    const key = (await listApiKeys(ctx.h.deps.db)).find((k) => k.name === "builder key");
    expect(key?.permissions).toEqual({ self: ["WHOAMI"], [ctx.remoteId]: ["search_issues", "get_issue"], [ctx.localId]: ["*"] });
  });
});

describe("the page keeps itself current while the connection settles", () => {
  const pollOf = (html: string) => html.match(/hx-get="(\/admin\/connections\/conn_[0-9a-f-]{36}\/status\?seen=[\w-]+)" hx-trigger="every 2s"/)?.[1] ?? null;
  const htmx = { "hx-request": "true" };

  test("connecting: the page polls its status; a poll that finds nothing changed is 204, a change brings the status and the tools, and settling stops the polling", async () => {
    const ctx = await setup();
    ctx.h.gateway.statuses.set(ctx.remoteId, { state: "connecting", lastError: null, since: new Date() });
    ctx.h.gateway.discoveries.set(ctx.remoteId, EMPTY_DISCOVERY);
    const page = await (await get(ctx, ctx.member, `/admin/connections/${ctx.remoteId}`)).text();
    expect(page).toContain("state-connecting");
    expect(page).toContain("Not discovered yet");
    const poll = pollOf(page);
    expect(poll).not.toBeNull();
    // Nothing changed: no content, so htmx swaps nothing and the live region says nothing.
    const same = await get(ctx, ctx.member, poll!, htmx);
    expect(same.status).toBe(204);
    expect(await same.text()).toBe("");
    // Connected but not yet discovered: still settling, and the poll shows the new state.
    ctx.h.gateway.statuses.set(ctx.remoteId, { state: "connected", lastError: null, since: new Date() });
    const connected = await (await get(ctx, ctx.member, poll!, htmx)).text();
    expect(connected).toContain("state-connected");
    expect(connected).toContain("discovering tools…");
    const next = pollOf(connected);
    expect(next).not.toBeNull();
    expect(next).not.toBe(poll);
    // Discovered: the answer carries the tools (as a partial for #discovery) and no trigger, so polling ends.
    ctx.h.gateway.discoveries.set(ctx.remoteId, discoveryOf({ search_issues: "Search the issues", get_issue: "One issue" }));
    const settled = await get(ctx, ctx.member, next!, htmx);
    const html = await settled.text();
    expect(settled.status).toBe(200);
    expect(html).toContain("state-connected");
    expect(html).toContain('<hx-partial hx-target="#discovery" hx-swap="outerHTML"><section id="discovery"');
    expect(html).toContain("Tools (2)");
    expect(html).not.toContain("hx-trigger");
    expect(html).not.toContain("<html");
    // Asked again with the settled fingerprint, it still answers (no 204), so a page that missed the change catches up.
    const fingerprint = new URL(next!, "http://x").searchParams.get("seen");
    expect((await get(ctx, ctx.member, `/admin/connections/${ctx.remoteId}/status?seen=${fingerprint}`, htmx)).status).toBe(200);
    expect(pollOf(await (await get(ctx, ctx.member, `/admin/connections/${ctx.remoteId}`)).text())).toBeNull();
  });

  test("no polling for a settled connection: connected with its tools, in error, disabled, or unsettled for longer than any connect timeout", async () => {
    const ctx = await setup();
    const html = async (id: string) => (await get(ctx, ctx.admin, `/admin/connections/${id}`)).text();
    // local: connected, discovered (tools present); remote: in error.
    ctx.h.gateway.discoveries.set(ctx.localId, discoveryOf({ echo: "Echo" }));
    expect(pollOf(await html(ctx.localId))).toBeNull();
    expect(pollOf(await html(ctx.remoteId))).toBeNull();
    const off = await ctx.h.store({ slug: "off", transport: "http", url: "https://off.example/mcp", enabled: false });
    ctx.h.gateway.statuses.set(off.id, { state: "connecting", lastError: null, since: new Date() });
    expect(pollOf(await html(off.id))).toBeNull();
    const stuck = await ctx.h.store({ slug: "stuck", transport: "http", url: "https://stuck.example/mcp" });
    ctx.h.gateway.statuses.set(stuck.id, { state: "connecting", lastError: null, since: new Date(Date.now() - 16 * 60_000) });
    expect(pollOf(await html(stuck.id))).toBeNull();
    ctx.h.gateway.statuses.set(stuck.id, { state: "connecting", lastError: null, since: new Date(Date.now() - 60_000) });
    expect(pollOf(await html(stuck.id))).not.toBeNull();
    // A fingerprint the server did not write is only compared: never echoed, never an error.
    const odd = await get(ctx, ctx.admin, `/admin/connections/${stuck.id}/status?seen=%3Cscript%3Ealert(1)%3C%2Fscript%3E`, htmx);
    expect(odd.status).toBe(200);
    expect(await odd.text()).not.toContain("<script");
  });

  test("the poll's path opened outside htmx (sign-in's next after the session ended mid-poll) leads to the connection's page, not a bare fragment", async () => {
    const ctx = await setup();
    ctx.h.gateway.statuses.set(ctx.remoteId, { state: "connecting", lastError: null, since: new Date() });
    // The session ends (signed out elsewhere) while the page polls: the poll's 401 sends the browser to sign in.
    await rawRun(ctx.h.deps, "DELETE FROM sessions");
    const poll = await get(ctx, ctx.member, `/admin/connections/${ctx.remoteId}/status?seen=x`, htmx);
    expect(poll.status).toBe(401);
    const next = new URL(poll.headers.get("hx-redirect")!, "http://x").searchParams.get("next");
    expect(next).toBe(`/admin/connections/${ctx.remoteId}/status`);
    // Signed in again, the browser follows next: a 303 to the connection's page, which is a whole page.
    const cookie = await ctx.h.cookieFor(ctx.h.member);
    const res = await get(ctx, cookie, next!);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`/admin/connections/${ctx.remoteId}`);
    expect(await res.text()).not.toContain("state-connecting");
    expect((await (await get(ctx, cookie, res.headers.get("location")!)).text()).startsWith("<!doctype html>")).toBe(true);
    // Under htmx the fragment is unchanged.
    expect(await (await get(ctx, cookie, next!, htmx)).text()).toContain("state-connecting");
  });

  test("Refresh answers the discovery section and the status beside it; the flags of a redirect show fixed texts only", async () => {
    const ctx = await setup();
    const refreshed = await (await post(ctx, ctx.member, `/admin/connections/${ctx.remoteId}/refresh`, {}, htmx)).text();
    expect(refreshed).toStartWith('<section id="discovery"');
    expect(refreshed).toContain('<hx-partial hx-target="#connection-state" hx-swap="innerHTML">');
    expect(refreshed).toContain("upstream said 502");
    const noJs = await (await post(ctx, ctx.member, `/admin/connections/${ctx.remoteId}/refresh`, {})).text();
    expect(noJs).toMatch(/<section id="discovery"[^]*Discovery refreshed\.[^]*<\/section>/);
    const page = await (await get(ctx, ctx.admin, `/admin/connections/${ctx.remoteId}?created=%3Cb%3Ehi%3C%2Fb%3E`)).text();
    expect(page).toContain("Connection remote created.");
    expect(page).not.toContain("<b>hi</b>");
    expect(page).not.toContain("&lt;b&gt;hi");
    expect(await (await get(ctx, ctx.admin, `/admin/connections/${ctx.remoteId}`)).text()).not.toContain("created.");
  });
});

describe("feedback: busy buttons and results beside them", () => {
  test("every action that takes time is a busy form, and each test answers into the box right after its button", async () => {
    const ctx = await setup();
    const page = await (await get(ctx, ctx.admin, `/admin/connections/${ctx.localId}`)).text();
    expect(page).toMatch(/<form class="inline"[^>]*hx-target="#test-result"[^>]*data-busy="Testing…"><button type="submit" data-busy-label="Testing…">Test<\/button><\/form><\/div><div id="test-result" class="result-box" aria-live="polite">/);
    expect(page).toMatch(/hx-target="#discovery" hx-swap="outerHTML" data-busy="Refreshing…"/);
    expect(page).toMatch(/<form class="panel connection-form"[^>]*data-busy="Saving…">/);
    expect(page).toMatch(/data-busy-label="Saving…">Save<\/button><button[^>]*hx-target="#settings-result"[^>]*data-busy-label="Testing…">\s*Test these settings\s*<\/button><\/div><div id="settings-result" class="result-box" aria-live="polite">/);
    expect(page).toMatch(/action="\/admin\/connections\/conn_[0-9a-f-]{36}\/delete" data-busy="Deleting…"/);
    const fresh = await (await get(ctx, ctx.admin, "/admin/connections/new")).text();
    expect(fresh).toMatch(/data-busy-label="Creating…">Create connection<\/button><button[^>]*hx-target="#settings-result"/);
    // The htmx result is marked to be scrolled into view when it lands.
    const fragment = await (await post(ctx, ctx.admin, `/admin/connections/${ctx.localId}/test`, {}, { "hx-request": "true" })).text();
    expect(fragment).toStartWith('<div class="alert test-outcome ok" data-reveal="">');
  });

  test("without JS, a refused save, a settings test and a refused delete answer beside their buttons, not at the top", async () => {
    const ctx = await setup();
    const afterButtons = (html: string, text: string) => {
      const box = html.indexOf('<div id="settings-result"');
      expect(box).toBeGreaterThan(html.indexOf("Test these settings"));
      expect(html.indexOf(text)).toBeGreaterThan(box);
    };
    const refused = await post(ctx, ctx.admin, `/admin/connections/${ctx.remoteId}`, { form: "settings", slug: "local", transport: "http", url: "https://mcp.example.com/mcp" });
    expect(refused.status).toBe(409);
    afterButtons(await refused.text(), "Another connection already has this slug.");
    const tested = await post(ctx, ctx.admin, `/admin/connections/${ctx.remoteId}/test`, { form: "settings", slug: "remote", transport: "http", url: "https://moved.example/mcp" });
    afterButtons(await tested.text(), "fake-upstream");
    const created = await post(ctx, ctx.admin, "/admin/connections", { slug: "remote", transport: "http", url: "https://x.example/mcp" });
    afterButtons(await created.text(), "Another connection already has this slug.");
    const unconfirmed = await (await post(ctx, ctx.admin, `/admin/connections/${ctx.remoteId}/delete`, {})).text();
    expect(unconfirmed.indexOf("Tick the box")).toBeGreaterThan(unconfirmed.indexOf("Delete connection</button>"));
  });
});

describe("the list", () => {
  test("empty: says what a connection is, and links admins to New connection; members learn who can add one", async () => {
    const h = await harness();
    const admin = await (await h.app.request("/admin/connections", { headers: { cookie: await h.cookieFor(h.admin) } })).text();
    expect(admin).toContain("No connections yet");
    expect(admin).toContain("A connection is an MCP server Switchboard reaches for you");
    expect(admin.match(/href="\/admin\/connections\/new"/g)?.length).toBe(1);
    const member = await (await h.app.request("/admin/connections", { headers: { cookie: await h.cookieFor(h.member) } })).text();
    expect(member).toContain("A connection is an MCP server Switchboard reaches for you");
    expect(member).toContain("Only admins can add connections: ask an admin");
    expect(member).not.toContain("/admin/connections/new");
  });

  test("the tables scroll inside their panels, and a delete says so on the list", async () => {
    const ctx = await setup();
    const list = await (await get(ctx, ctx.admin, "/admin/connections")).text();
    expect(list).toContain('<div class="table-scroll"><table>');
    expect(await (await get(ctx, ctx.admin, `/admin/connections/${ctx.remoteId}`)).text()).toContain('<div class="table-scroll"><table class="compact">');
    expect(list).not.toContain("No connections yet");
    expect(list).not.toContain("Connection deleted.");
    const after = await (await get(ctx, ctx.admin, "/admin/connections?deleted=1")).text();
    expect(after).toContain('<div class="alert ok" role="status">Connection deleted.</div>');
  });
});
