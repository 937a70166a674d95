// The keys pages around agents: the create form asks which agent first and refuses a key that grants
// nothing (the API still accepts one); the list names grants with links ("deleted" for what is gone);
// the one-time dialog's snippets are named after what the key reaches; each key has a page where its
// owner (or an admin) edits, rotates and revokes it through the operations, and nobody else gets past a 404.
import { describe, expect, spyOn, test } from "bun:test";
import { toolList } from "../../src/operations/tools.ts";
import { getApiKey, listApiKeys } from "../../src/domain/access/api-keys.ts";
import { adminSetup, FORM, get, post, type AdminCtx } from "../support/admin-agents.ts";
import { pick, useAgentHarness } from "../support/agent-harness.ts";
import { apiRequest, mintKey, TOKEN_ANYWHERE, TOKEN_PATTERN } from "../support/key-harness.ts";

const harness = useAgentHarness();
const PUBLIC = "http://switchboard.test";
const GONE_AGENT = "agent_0b4e7c1e-3f0a-4d2a-9a51-6d3c2f1e8b70";

function unescapeHtml(text: string): string {
  return text.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

/** The one-time dialog: its token, the server names of its snippet sets and its snippets by "<set>-<client>". */
function dialogOf(html: string): { token: string; servers: string[]; snippets: Record<string, string>; returnFocus: string } | null {
  const markup = /<dialog[^>]*id="token-dialog"[\s\S]*?<\/dialog>/.exec(html)?.[0];
  if (!markup) return null;
  return {
    token: /<code id="new-token"[^>]*>([^<]*)<\/code>/.exec(markup)![1]!,
    servers: [...markup.matchAll(/data-server="([^"]*)"/g)].map((m) => m[1]!),
    snippets: Object.fromEntries([...markup.matchAll(/<pre id="token-(\d+-[a-z-]+)">([^<]*)<\/pre>/g)].map((m) => [m[1]!, unescapeHtml(m[2]!)])),
    returnFocus: unescapeHtml(/data-return-focus="([^"]*)"/.exec(markup)![1]!),
  };
}

/** The text of the alert inside the element with this id. */
function alertIn(html: string, id: string): string | null {
  const at = html.indexOf(`id="${id}"`);
  if (at < 0) return null;
  const text = /<div class="alert (?:ok|error)"[^>]*>([^<]*)<\/div>/.exec(html.slice(at))?.[1];
  return text === undefined ? null : unescapeHtml(text);
}

async function keyNamed(ctx: AdminCtx, name: string) {
  return (await listApiKeys(ctx.h.deps.db)).find((k) => k.name === name);
}

describe("the create form", () => {
  test("asks which agent first, then connections; the management API and raw JSON are folded under Advanced, closed", async () => {
    const ctx = await adminSetup(harness);
    const html = await (await get(ctx, ctx.member, "/admin/keys")).text();
    const order = ["<legend>Which agent is this key for?</legend>", "<legend>Connections</legend>", 'data-advanced="self"', 'data-advanced="raw"'].map((s) => html.indexOf(s));
    expect(order.every((at) => at > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(html).toContain('<details class="advanced" data-advanced="self">');
    expect(html).toContain('<details class="advanced" data-advanced="raw">');
    // Name and expiry stay on top.
    expect(html.indexOf('id="key-name"')).toBeLessThan(order[0]!);
  });

  test("coming from an agent's page, that agent is ticked and listed first; an unknown id ticks nothing", async () => {
    const ctx = await adminSetup(harness);
    const other = await ctx.h.agent("billing", [pick({ id: ctx.githubId }, ["search"])], { title: "Billing" });
    const html = await (await get(ctx, ctx.member, `/admin/keys?grant=${other.id}#create-key`)).text();
    expect(html).toContain(`<input type="checkbox" name="grant_all" value="${other.id}" checked=""/>`);
    expect(html.indexOf(`id="grant-${other.id}"`)).toBeLessThan(html.indexOf(`id="grant-${ctx.agentId}"`));
    const unknown = await get(ctx, ctx.member, `/admin/keys?grant=${GONE_AGENT}`);
    expect(unknown.status).toBe(200);
    expect(await unknown.text()).not.toContain('checked=""');
  });

  test("a key that grants nothing is refused beside the form, what was typed is kept, nothing is created; the API still accepts {}", async () => {
    const ctx = await adminSetup(harness);
    for (const fields of [[["name", "empty"], ["expires_in", "30d"]], [["name", "empty"], ["permissions_json", "{}"]]] as [string, string][][]) {
      const res = await post(ctx, ctx.member, "/admin/keys", fields);
      expect(res.status).toBe(400);
      const html = await res.text();
      expect(alertIn(html, "create-key-message")).toStartWith("This key would grant nothing: choose the agent it is for");
      expect(alertIn(html, "keys-message")).toBe(alertIn(html, "create-key-message")); // the one alert is the form's
      expect(html).toContain('value="empty"');
      expect(dialogOf(html)).toBeNull();
      expect(html).not.toMatch(TOKEN_ANYWHERE);
    }
    expect(await keyNamed(ctx, "empty")).toBeUndefined();
    const { token } = await mintKey(ctx.h.deps, ctx.h.admin, { self: ["*"] });
    const api = await apiRequest(ctx.h.app, "POST", "/keys", { token, json: { name: "empty by api", permissions: {} } });
    expect(api.status).toBe(201);
    expect((await keyNamed(ctx, "empty by api"))?.permissions).toEqual({});
  });

  test("a refused form keeps its ticks", async () => {
    const ctx = await adminSetup(harness);
    const res = await post(ctx, ctx.member, "/admin/keys", [["name", "too much"], ["grant_all", ctx.agentId], ["self", "WHOAMI"], ["self", "USER_DELETE"]]);
    expect(res.status).toBe(403);
    const html = await res.text();
    expect(alertIn(html, "create-key-message")).toContain('self: "USER_DELETE" is more than a member may grant');
    expect(html).toContain(`name="grant_all" value="${ctx.agentId}" checked=""`);
    expect(html).toContain('name="self" value="WHOAMI" checked=""');
    expect(html).toContain('<details class="advanced" data-advanced="self" open="">');
  });
});

describe("the list", () => {
  test("names grants with links: agents and connections by title, the management API by count, what is gone by id, marked", async () => {
    const ctx = await adminSetup(harness);
    await mintKey(ctx.h.deps, ctx.h.member, { [ctx.agentId]: ["*"], [ctx.githubId]: ["search", "get_issue"], self: ["WHOAMI", "API_KEY_LIST"], [GONE_AGENT]: ["*"] }, { name: "named" });
    const html = await (await get(ctx, ctx.member, "/admin/keys")).text();
    const row = /<tr id="key-key_[^"]*">(?:(?!<\/tr>).)*named(?:(?!<\/tr>).)*<\/tr>/s.exec(html)?.[0] ?? "";
    expect(row).toContain(`<a href="/admin/agents/${ctx.agentId}">support</a>: all tools`);
    expect(row).toContain(`<a href="/admin/connections/${ctx.githubId}">github</a>: search, get_issue`);
    expect(row).toContain("management: 2 tools");
    expect(row).toContain(`<code>${GONE_AGENT}</code> <span class="badge deleted">deleted</span>`);
    expect(row).not.toContain(`<code>${ctx.agentId}</code>`);
    expect(row).toContain('<a class="key-name" href="/admin/keys/key_');
    expect(html).toContain('<div class="table-scroll"><table class="keys">');
  });

  test("with no keys: what a key is for, and where to start", async () => {
    const ctx = await adminSetup(harness);
    const html = await (await get(ctx, ctx.member, "/admin/keys")).text();
    expect(html).toContain('id="keys-empty"');
    expect(html).toContain('href="#create-key"');
    expect(html).toContain('href="/admin/agents"');
    expect(html).not.toContain("<table");
  });
});

describe("the one-time dialog", () => {
  test("per agent its snippets, named after its slug, with the token; two keys for two agents do not collide in one file", async () => {
    const ctx = await adminSetup(harness);
    const billing = await ctx.h.agent("billing", [pick({ id: ctx.githubId }, ["search"])], { title: "Billing" });
    const configs: Record<string, unknown>[] = [];
    for (const [name, agent] of [["for support", ctx.agentId], ["for billing", billing.id]] as const) {
      const res = await post(ctx, ctx.member, "/admin/keys", [["name", name], ["grant_all", agent]]);
      expect(res.status).toBe(200);
      const dialog = dialogOf(await res.text())!;
      expect(dialog.token).toMatch(TOKEN_PATTERN);
      const slug = agent === billing.id ? "billing" : "support";
      expect(dialog.servers).toEqual([slug]);
      expect(Object.keys(dialog.snippets).sort()).toEqual(["0-claude-code", "0-claude-desktop", "0-curl", "0-cursor", "0-vscode"]);
      expect(dialog.snippets["0-claude-code"]).toBe(`claude mcp add --transport http ${slug} ${PUBLIC}/mcp/agent/${agent} --header "Authorization: Bearer ${dialog.token}"`);
      expect(dialog.snippets["0-curl"]).toContain(`${PUBLIC}/mcp/agent/${agent} -H "Authorization: Bearer ${dialog.token}"`);
      for (const text of Object.values(dialog.snippets)) expect(text).toContain(dialog.token);
      expect(dialog.returnFocus).toBe(`#key-${(await keyNamed(ctx, name))!.id} a.key-name`);
      configs.push((JSON.parse(dialog.snippets["0-cursor"]!) as { mcpServers: Record<string, unknown> }).mcpServers);
    }
    expect(Object.keys(Object.assign({}, ...configs))).toEqual(["support", "billing"]);
  });

  test("one set per agent and connection, the management endpoint last as switchboard-self; a connection-only key is named after it", async () => {
    const ctx = await adminSetup(harness);
    const both = dialogOf(await (await post(ctx, ctx.member, "/admin/keys", [["name", "wide"], ["grant_all", ctx.agentId], [`grant_${ctx.githubId}`, "search"], ["self", "WHOAMI"]])).text())!;
    expect(both.servers).toEqual(["support", "github", "switchboard-self"]);
    expect(JSON.parse(both.snippets["1-vscode"]!)).toEqual({ servers: { github: { type: "http", url: `${PUBLIC}/mcp/${ctx.githubId}`, headers: { Authorization: `Bearer ${both.token}` } } } });
    expect(JSON.parse(both.snippets["2-cursor"]!)).toEqual({ mcpServers: { "switchboard-self": { url: `${PUBLIC}/mcp/self`, headers: { Authorization: `Bearer ${both.token}` } } } });
    const conn = dialogOf(await (await post(ctx, ctx.member, "/admin/keys", [["name", "conn only"], ["grant_all", ctx.gitlabId]])).text())!;
    expect(conn.servers).toEqual(["gitlab"]);
  });
});

describe("a key's page", () => {
  test("guests are sent to sign in, and their posts change nothing", async () => {
    const ctx = await adminSetup(harness);
    const { key } = await mintKey(ctx.h.deps, ctx.h.member, { self: ["WHOAMI"] }, { name: "guarded" });
    const page = await get(ctx, null, `/admin/keys/${key.id}`);
    expect(page.status).toBe(303);
    expect(page.headers.get("location")).toBe(`/admin/login?next=${encodeURIComponent(`/admin/keys/${key.id}`)}`);
    expect(await page.text()).not.toContain("guarded");
    const edit = await ctx.h.app.request(`/admin/keys/${key.id}`, { method: "POST", headers: FORM, body: new URLSearchParams([["name", "taken"], ["self", "WHOAMI"]]).toString() });
    expect(edit.status).toBe(303);
    expect((await getApiKey(ctx.h.deps.db, key.id))?.name).toBe("guarded");
  });

  test("the owner sees its facts, grants by name, actions and activity", async () => {
    const ctx = await adminSetup(harness);
    const { key } = await mintKey(ctx.h.deps, ctx.h.member, { [ctx.agentId]: ["search_gitlab"] }, { name: "mine" });
    const res = await get(ctx, ctx.member, `/admin/keys/${key.id}`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain("<h1>mine</h1>");
    expect(html).toContain(`<code>${key.prefix}…</code>`);
    expect(html).toContain(`<a href="/admin/agents/${ctx.agentId}">support</a>: search_gitlab`);
    for (const part of ['id="rotate-key"', 'id="revoke-key"', 'id="edit-key"', 'id="activity"', 'data-busy="Saving…"', 'data-busy="Rotating…"', 'data-busy="Revoking…"']) expect(html).toContain(part);
    // The edit form starts closed, with the key's grants ticked.
    expect(html).toContain('<details class="panel edit-key" id="edit-key">');
    expect(html).toContain(`name="grant_${ctx.agentId}" value="search_gitlab" checked=""`);
  });

  test("a member cannot open, edit, rotate or revoke another's key: the operation's 404, and nothing changes", async () => {
    const ctx = await adminSetup(harness);
    const theirs = await mintKey(ctx.h.deps, ctx.h.admin, { self: ["WHOAMI"] }, { name: "admins-own" });
    const attempts: [string, Promise<Response>][] = [
      ["page", get(ctx, ctx.member, `/admin/keys/${theirs.key.id}`)],
      ["edit", post(ctx, ctx.member, `/admin/keys/${theirs.key.id}`, [["name", "hijacked"], ["self", "WHOAMI"], ["expiry", "never"]])],
      ["rotate", post(ctx, ctx.member, `/admin/keys/${theirs.key.id}/rotate`, [["from", "page"]])],
      ["revoke", post(ctx, ctx.member, `/admin/keys/${theirs.key.id}/delete`, [["from", "page"]])],
    ];
    for (const [what, pending] of attempts) {
      const res = await pending;
      expect([what, res.status]).toEqual([what, 404]);
      const html = await res.text();
      expect(html).toContain("No such API key.");
      expect(html).not.toContain("admins-own");
      expect(html).not.toMatch(TOKEN_ANYWHERE);
    }
    expect(await getApiKey(ctx.h.deps.db, theirs.key.id)).toMatchObject({ name: "admins-own", prefix: theirs.key.prefix });
    expect((await ctx.h.deps.verifyKey(theirs.token))?.keyId).toBe(theirs.key.id);
  });

  test("a malformed id is a 400, never a 500", async () => {
    const ctx = await adminSetup(harness);
    for (const path of ["/admin/keys/nope", "/admin/keys/key_x"]) expect((await get(ctx, ctx.member, path)).status).toBe(400);
  });

  test("edit: name, grants and expiry are saved through API_KEY_UPDATE, then the page says Saved.", async () => {
    const ctx = await adminSetup(harness);
    const { key, token } = await mintKey(ctx.h.deps, ctx.h.member, { self: ["WHOAMI"] }, { name: "before" });
    const res = await post(ctx, ctx.admin, `/admin/keys/${key.id}`, [["name", "after"], ["grant_all", ctx.agentId], [`grant_${ctx.githubId}`, "search"], ["expiry", "30d"]]);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe(`/admin/keys/${key.id}?done=saved`);
    const saved = (await getApiKey(ctx.h.deps.db, key.id))!;
    expect(saved.name).toBe("after");
    expect(saved.permissions).toEqual({ [ctx.agentId]: ["*"], [ctx.githubId]: ["search"] });
    expect(saved.expiresAt!.getTime()).toBeGreaterThan(Date.now() + 29 * 86_400_000);
    expect((await ctx.h.deps.verifyKey(token))?.keyId).toBe(key.id); // the token stays the same
    const page = await (await get(ctx, ctx.member, `/admin/keys/${key.id}?done=saved`)).text();
    expect(alertIn(page, "key-message")).toBe("Saved.");
    // The notice is the page's own text: the query only picks it.
    expect(await (await get(ctx, ctx.member, `/admin/keys/${key.id}?done=%3Cb%3Ehi`)).text()).not.toContain("<b>hi");
    // "keep" leaves the expiry alone; "never" removes it. htmx is sent on with HX-Redirect.
    await post(ctx, ctx.member, `/admin/keys/${key.id}`, [["name", "after"], ["grant_all", ctx.agentId], ["expiry", "keep"]]);
    expect((await getApiKey(ctx.h.deps.db, key.id))!.expiresAt).toEqual(saved.expiresAt);
    const htmx = await post(ctx, ctx.member, `/admin/keys/${key.id}`, [["name", "after"], ["grant_all", ctx.agentId], ["expiry", "never"]], { "hx-request": "true" });
    expect(htmx.headers.get("hx-redirect")).toBe(`/admin/keys/${key.id}?done=saved`);
    expect((await getApiKey(ctx.h.deps.db, key.id))!.expiresAt).toBeNull();
  });

  test("edit by a member: never wider than the member, never to nothing; the refusal is beside the open form, and the key is unchanged", async () => {
    const ctx = await adminSetup(harness);
    const { key } = await mintKey(ctx.h.deps, ctx.h.member, { self: ["WHOAMI"] }, { name: "narrow" });
    const cases: [[string, string][], number, string][] = [
      [[["permissions_json", '{"self": ["USER_DELETE"]}']], 403, 'self: "USER_DELETE" is more than a member may grant'],
      [[["self", "WHOAMI"], ["self", "USER_CREATE"]], 403, 'self: "USER_CREATE" is more than a member may grant'],
      [[], 400, "This key would grant nothing"],
      [[["self", "WHOAMI"], ["expiry", "9999d"]], 400, "expires_in"],
    ];
    for (const [fields, status, message] of cases) {
      const res = await post(ctx, ctx.member, `/admin/keys/${key.id}`, [["name", "widened"], ...fields]);
      expect(res.status).toBe(status);
      const html = await res.text();
      expect(alertIn(html, "edit-key-message")).toContain(message);
      expect(html).toContain('<details class="panel edit-key" id="edit-key" open="">');
      expect(html).toContain('value="widened"');
    }
    expect(await getApiKey(ctx.h.deps.db, key.id)).toMatchObject({ name: "narrow", permissions: { self: ["WHOAMI"] }, expiresAt: null });
  });

  test("grants the boxes cannot show are edited as JSON, and saving the form as shown keeps them", async () => {
    const ctx = await adminSetup(harness);
    const { key } = await mintKey(ctx.h.deps, ctx.h.admin, { "*": ["*"], [ctx.agentId]: ["*"] }, { name: "everything" });
    const html = await (await get(ctx, ctx.admin, `/admin/keys/${key.id}`)).text();
    expect(html).toContain("any connection: all tools");
    const raw = unescapeHtml(/<textarea name="permissions_json"[^>]*>([^<]*)<\/textarea>/.exec(html)![1]!);
    expect(JSON.parse(raw)).toEqual({ "*": ["*"], [ctx.agentId]: ["*"] });
    expect(html).toContain('<details class="advanced" data-advanced="raw" open="">');
    expect((await post(ctx, ctx.admin, `/admin/keys/${key.id}`, [["name", "everything"], ["expiry", "keep"], ["permissions_json", raw]])).status).toBe(303);
    expect((await getApiKey(ctx.h.deps.db, key.id))!.permissions).toEqual({ "*": ["*"], [ctx.agentId]: ["*"] });
  });

  test("rotate from the page: the page again with the new token's dialog, focus then back on Rotate", async () => {
    const ctx = await adminSetup(harness);
    const { key, token: old } = await mintKey(ctx.h.deps, ctx.h.member, { [ctx.agentId]: ["*"] }, { name: "turning" });
    // What grants can name is listed once for the dialog and the page, not once for each.
    const listed = spyOn(toolList, "handler");
    const res = await post(ctx, ctx.member, `/admin/keys/${key.id}/rotate`, [["from", "page"], ["grace_period", "1h"]], { "hx-request": "true" });
    expect(listed).toHaveBeenCalledTimes(1);
    listed.mockRestore();
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const html = await res.text();
    expect(html).toStartWith('<section id="key-page">');
    expect(alertIn(html, "key-message")).toBe("Rotated: copy the new token now.");
    const dialog = dialogOf(html)!;
    expect(dialog.servers).toEqual(["support"]);
    expect(dialog.returnFocus).toBe("#rotate-key button[type=submit]");
    expect((await ctx.h.deps.verifyKey(dialog.token))?.keyId).toBe(key.id);
    expect((await ctx.h.deps.verifyKey(old))?.keyId).toBe(key.id); // the grace hour
    expect(html).toContain("works until");
  });

  test("revoke from the page: to the list, which says so", async () => {
    const ctx = await adminSetup(harness);
    const { key, token } = await mintKey(ctx.h.deps, ctx.h.member, { self: ["WHOAMI"] }, { name: "doomed" });
    const res = await post(ctx, ctx.member, `/admin/keys/${key.id}/delete`, [["from", "page"]]);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/admin/keys?done=revoked");
    expect(await ctx.h.deps.verifyKey(token)).toBeNull();
    const list = await (await get(ctx, ctx.member, "/admin/keys?done=revoked")).text();
    expect(alertIn(list, "keys-message")).toBe("Key revoked.");
  });

  test("cross-site posts to edit, rotate and revoke are refused and change nothing", async () => {
    const ctx = await adminSetup(harness);
    const { key, token } = await mintKey(ctx.h.deps, ctx.h.member, { self: ["WHOAMI"] }, { name: "csrf-target" });
    for (const [path, fields] of [[`/admin/keys/${key.id}`, [["name", "forged"], ["self", "WHOAMI"]]], [`/admin/keys/${key.id}/rotate`, [["from", "page"]]], [`/admin/keys/${key.id}/delete`, [["from", "page"]]]] as const) {
      const res = await ctx.h.app.request(path, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "cross-site", cookie: ctx.member },
        body: new URLSearchParams(fields as unknown as [string, string][]).toString(),
      });
      expect(res.status).toBe(403);
      expect(await res.text()).not.toMatch(TOKEN_ANYWHERE);
    }
    expect((await getApiKey(ctx.h.deps.db, key.id))?.name).toBe("csrf-target");
    expect((await ctx.h.deps.verifyKey(token))?.keyId).toBe(key.id);
  });
});
