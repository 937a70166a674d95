// An agent's admin page: the endpoint and the client configurations (OAuth first, then keys with a
// placeholder token and a link to make a key for the agent; a connection's page alike), per-connection
// failures and missing tools, and "Try it" (htmx fragment or whole page, as the signed-in user, JSON
// arguments checked); the keys that reach the agent (everyone's for an admin, a member's own only);
// and the key page's builder offering agents with the names they expose.
import { describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { tables } from "../../src/db/store.ts";
import { listApiKeys } from "../../src/domain/access/api-keys.ts";
import { JsonRpcError } from "../../src/errors.ts";
import { useAgentHarness } from "../support/agent-harness.ts";
import { adminSetup, get, post } from "../support/admin-agents.ts";
import { mintKey, TOKEN_PATTERN } from "../support/key-harness.ts";
import { keySnippets } from "../../views/agent-clients.tsx";

const harness = useAgentHarness();

/** The text of the <pre id="client-…"> blocks, unescaped. */
function snippets(html: string): Record<string, string> {
  const unescape = (s: string) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  return Object.fromEntries([...html.matchAll(/<pre id="client-([a-z-]+)">([^<]*)<\/pre>/g)].map((m) => [m[1]!, unescape(m[2]!)]));
}

describe("client configuration", () => {
  test("OAuth first: per client the URL alone (Claude.ai, ChatGPT, Claude Code, Cursor, VS Code, mcp-remote), each with a copy button", async () => {
    const ctx = await adminSetup(harness);
    const html = await (await get(ctx, ctx.member, `/admin/agents/${ctx.agentId}`)).text();
    const url = `http://switchboard.test/mcp/agent/${ctx.agentId}`;
    const found = snippets(html);
    expect(found["claude-ai"]).toBe(url);
    expect(found.chatgpt).toBe(url);
    expect(found["claude-code"]).toBe(`claude mcp add --transport http support ${url}`);
    expect(JSON.parse(found.cursor!)).toEqual({ mcpServers: { support: { url } } });
    expect(JSON.parse(found.vscode!)).toEqual({ servers: { support: { type: "http", url } } });
    expect(JSON.parse(found["mcp-remote"]!)).toEqual({ mcpServers: { support: { command: "npx", args: ["-y", "mcp-remote", url] } } });
    // The OAuth variants carry no key, not even the placeholder.
    for (const id of ["claude-ai", "chatgpt", "claude-code", "cursor", "vscode", "mcp-remote"]) {
      expect(found[id]).not.toContain("mcp_key_");
      expect(found[id]).not.toContain("Authorization");
      expect(html).toContain(`data-copy="#client-${id}"`);
    }
    // OAuth comes before keys on the page.
    expect(html.indexOf('id="client-claude-ai"')).toBeLessThan(html.indexOf('id="client-key-'));
    expect(html).toContain('href="/admin/apps"');
    expect(html).toContain(`<code id="agent-url">${url}</code>`);
  });

  test("keys second: the header with a placeholder; Cursor on the key-only URL; nothing for Claude.ai or ChatGPT", async () => {
    const ctx = await adminSetup(harness);
    const html = await (await get(ctx, ctx.member, `/admin/agents/${ctx.agentId}`)).text();
    const url = `http://switchboard.test/mcp/agent/${ctx.agentId}`;
    const keyUrl = `http://switchboard.test/mcp-key/agent/${ctx.agentId}`;
    const found = snippets(html);
    // Cursor drops a configured header when the server offers OAuth discovery: it gets the URL that offers none.
    expect(JSON.parse(found["key-cursor"]!)).toEqual({ mcpServers: { support: { url: keyUrl, headers: { Authorization: "Bearer mcp_key_…" } } } });
    expect(JSON.parse(found["key-claude-desktop"]!)).toEqual({
      mcpServers: { support: { command: "npx", args: ["-y", "mcp-remote", url, "--header", "Authorization:${SB_AUTH}"], env: { SB_AUTH: "Bearer mcp_key_…" } } },
    });
    expect(JSON.parse(found["key-vscode"]!)).toEqual({ servers: { support: { type: "http", url, headers: { Authorization: "Bearer mcp_key_…" } } } });
    expect(found["key-claude-code"]).toBe(`claude mcp add --transport http support ${url} --header "Authorization: Bearer mcp_key_…"`);
    expect(Object.keys(found).filter((id) => id.startsWith("key-")).sort()).toEqual(["key-claude-code", "key-claude-desktop", "key-cursor", "key-vscode"]);
    for (const id of ["cursor", "claude-desktop", "vscode", "claude-code"]) expect(html).toContain(`data-copy="#client-key-${id}"`);
    expect(html).toContain(`href="/admin/keys?grant=${ctx.agentId}#create-key"`);
    const withToken = keySnippets("x", { url: "u", keyUrl: "k" }, "tok").map((s) => s.text).join("\n");
    expect(withToken).toContain("Bearer tok");
    expect(withToken).not.toContain("mcp_key_…");
  });

  test("a connection's page has the same snippets, named after its slug, on /mcp/<id> and /mcp-key/<id>", async () => {
    const ctx = await adminSetup(harness);
    const html = await (await get(ctx, ctx.member, `/admin/connections/${ctx.githubId}`)).text();
    const url = `http://switchboard.test/mcp/${ctx.githubId}`;
    const found = snippets(html);
    expect(JSON.parse(found.cursor!)).toEqual({ mcpServers: { github: { url } } });
    expect(found["claude-code"]).toBe(`claude mcp add --transport http github ${url}`);
    expect(JSON.parse(found["key-cursor"]!)).toEqual({ mcpServers: { github: { url: `http://switchboard.test/mcp-key/${ctx.githubId}`, headers: { Authorization: "Bearer mcp_key_…" } } } });
    expect(html).toContain(`href="/admin/keys?grant=${ctx.githubId}#create-key"`);
    expect(html).not.toContain("/mcp/agent/");
  });

  test("with OAuth switched off, the pages offer keys only (no sign-in snippet would work)", async () => {
    const ctx = await adminSetup(harness, { oauth: { enabled: false } });
    for (const path of [`/admin/agents/${ctx.agentId}`, `/admin/connections/${ctx.githubId}`]) {
      const html = await (await get(ctx, ctx.member, path)).text();
      expect(html).toContain('id="client-configs"');
      expect(html).not.toContain("With a browser sign-in");
      expect(html).toContain("switched off");
      const found = snippets(html);
      expect(Object.keys(found).every((id) => id.startsWith("key-"))).toBe(true);
      expect(found["key-cursor"]).toBeDefined();
    }
  });

  test("the keys page opened from a connection's link has that connection ticked", async () => {
    const ctx = await adminSetup(harness);
    const html = await (await get(ctx, ctx.member, `/admin/keys?grant=${ctx.githubId}`)).text();
    expect(html).toContain(`<input type="checkbox" name="grant_all" value="${ctx.githubId}" checked=""/>`);
    expect(html).not.toContain(`value="${ctx.gitlabId}" checked`);
  });

  test("per-connection failures, missing tools and collisions are shown", async () => {
    const ctx = await adminSetup(harness);
    ctx.h.agents.health.set(ctx.agentId, [
      { connectionId: ctx.githubId, error: "connect ECONNREFUSED", at: new Date("2026-01-02T03:04:05Z") },
      { connectionId: ctx.gitlabId, error: null, at: null },
    ]);
    const html = await (await get(ctx, ctx.member, `/admin/agents/${ctx.agentId}`)).text();
    expect(html).toContain("<code>github</code> could not be reached (2026-01-02 03:04:05): connect ECONNREFUSED");
    expect(html).not.toContain("<code>gitlab</code> could not be reached");
    expect(html).toContain("<code>github/gone</code>");
    expect(html).toContain("Tools (2)");
  });
});

describe("the keys that reach the agent", () => {
  /** The row of a key in the page's Keys section ("" when it is not listed). */
  const keyRow = (html: string, id: string) => {
    const at = html.indexOf(`<tr id="agent-key-${id}">`);
    return at < 0 ? "" : html.slice(at, html.indexOf("</tr>", at));
  };
  const OTHER_AGENT = "agent_0b4e7c1e-3f0a-4d2a-9a51-6d3c2f1e8b70";

  async function setup() {
    const ctx = await adminSetup(harness);
    const { deps, admin, member } = ctx.h;
    const other = await ctx.h.agent("other", []);
    const keys = {
      own: (await mintKey(deps, admin, { [ctx.agentId]: ["*"] }, { name: "support bot" })).key,
      named: (await mintKey(deps, member, { [ctx.agentId]: ["search_gitlab"] }, { name: "member script" })).key,
      everything: (await mintKey(deps, admin, { "*": ["*"] }, { name: "root key" })).key,
      viaConnection: (await mintKey(deps, member, { [ctx.githubId]: ["search"] }, { name: "github search" })).key,
      anyConnection: (await mintKey(deps, admin, { "*": ["search"] }, { name: "search anywhere" })).key,
      stale: (await mintKey(deps, admin, { [ctx.agentId]: ["gone"] }, { name: "old names" })).key,
      expired: (await mintKey(deps, admin, { [ctx.agentId]: ["search"] }, { name: "last year", expiresAt: new Date(Date.now() - 86_400_000), now: new Date(Date.now() - 2 * 86_400_000) })).key,
      // Reaching nothing of this agent: a tool of its connection it does not expose, another agent, management only.
      unexposed: (await mintKey(deps, admin, { [ctx.githubId]: ["get_issue"] }, { name: "issue reader" })).key,
      otherAgent: (await mintKey(deps, admin, { [other.id]: ["*"] }, { name: "other agent key" })).key,
      management: (await mintKey(deps, member, { self: ["WHOAMI"] }, { name: "whoami only" })).key,
    };
    return { ctx, keys };
  }

  test("an admin sees every key that may call its tools: owner, which tools and through what, last use, expiry", async () => {
    const { ctx, keys } = await setup();
    const html = await (await get(ctx, ctx.admin, `/admin/agents/${ctx.agentId}`)).text();
    expect(html).toContain('<section class="panel" id="agent-keys"><h2 style="margin-top:0">Keys (7)</h2>');
    expect(keyRow(html, keys.own.id)).toContain(`<td><a href="/admin/keys/${keys.own.id}">support bot</a></td><td>${ctx.h.admin.email}</td><td><strong>all</strong>`);
    expect(keyRow(html, keys.own.id)).toContain("and its resources and prompts");
    expect(keyRow(html, keys.own.id)).toContain('<span class="muted">never</span>');
    expect(keyRow(html, keys.named.id)).toContain(`<td>${ctx.h.member.email}</td><td><code>search_gitlab</code>`);
    expect(keyRow(html, keys.named.id)).not.toContain("resources and prompts");
    expect(keyRow(html, keys.everything.id)).toContain("<strong>all</strong> <span class=\"badge\"");
    expect(keyRow(html, keys.everything.id)).toContain(">all resources</span>");
    // A grant on a connection the agent takes from reaches the tool by its upstream name (the gateway's rule).
    expect(keyRow(html, keys.viaConnection.id)).toContain("<code>search</code>");
    expect(keyRow(html, keys.viaConnection.id)).toContain(">through its connections</span>");
    expect(keyRow(html, keys.viaConnection.id)).not.toContain("search_gitlab");
    expect(keyRow(html, keys.anyConnection.id)).toContain("<code>search</code>, <code>search_gitlab</code>");
    expect(keyRow(html, keys.anyConnection.id)).toContain(">any connection</span>");
    expect(keyRow(html, keys.anyConnection.id)).not.toContain("all resources");
    expect(keyRow(html, keys.stale.id)).toContain('<span class="muted">none now</span>');
    expect(keyRow(html, keys.stale.id)).toContain("also names gone (not exposed now)");
    expect(keyRow(html, keys.expired.id)).toContain('<span class="badge state-error">expired</span>');
    expect(keyRow(html, keys.own.id)).not.toContain("expired");
    for (const k of [keys.unexposed, keys.otherAgent, keys.management]) {
      expect(keyRow(html, k.id)).toBe("");
      expect(html).not.toContain(k.name);
    }
    expect(html).toContain(`<a class="button secondary" href="/admin/keys?grant=${ctx.agentId}#create-key">Create a key for this agent</a>`);
  });

  test("a member sees only their own keys there, never another user's", async () => {
    const { ctx, keys } = await setup();
    const html = await (await get(ctx, ctx.member, `/admin/agents/${ctx.agentId}`)).text();
    expect(html).toContain("Keys (2)");
    expect(html).toContain("Only your own keys are listed.");
    expect(keyRow(html, keys.named.id)).toContain("member script");
    expect(keyRow(html, keys.viaConnection.id)).toContain("github search");
    for (const k of [keys.own, keys.everything, keys.anyConnection, keys.stale, keys.expired]) {
      expect(html).not.toContain(k.id);
      expect(html).not.toContain(k.name);
    }
    expect(html).not.toContain(ctx.h.admin.email.split("@")[0]!);
  });

  test("used and expiring keys show when; with no key, the section says so and still offers to create one", async () => {
    const ctx = await adminSetup(harness);
    const empty = await (await get(ctx, ctx.member, `/admin/agents/${ctx.agentId}`)).text();
    expect(empty).toContain("Keys (0)");
    expect(empty).toContain("None of your keys reaches this agent yet.");
    expect(empty).toContain("Create a key for this agent");
    const key = (await mintKey(ctx.h.deps, ctx.h.member, { [ctx.agentId]: ["*"] }, { name: "dated", expiresAt: new Date("2999-01-02T03:04:05Z") })).key;
    const { apiKeys } = tables(ctx.h.deps.db);
    await ctx.h.deps.db.update(apiKeys).set({ lastUsedAt: new Date("2026-03-04T05:06:07Z") }).where(eq(apiKeys.id, key.id));
    const html = await (await get(ctx, ctx.member, `/admin/agents/${ctx.agentId}`)).text();
    expect(keyRow(html, key.id)).toContain("<td>2026-03-04 05:06:07</td>");
    expect(keyRow(html, key.id)).toContain("<td>2999-01-02 03:04:05 </td>");
  });
});

describe("Try it", () => {
  test("lists the tools with their input schema and calls one as the signed-in user (htmx: a fragment)", async () => {
    const ctx = await adminSetup(harness);
    const page = await (await get(ctx, ctx.member, `/admin/agents/${ctx.agentId}`)).text();
    expect(page).toContain('<input type="hidden" name="tool" value="search_gitlab"/>');
    expect(page).toContain("&quot;query&quot;: {");
    expect(page).not.toContain('name="tool" value="gone"');
    ctx.h.agents.callResult = { content: [{ type: "text", text: "3 issues found" }], structuredContent: { count: 3 } };
    const res = await post(ctx, ctx.member, `/admin/agents/${ctx.agentId}/try`, { tool: "search_gitlab", arguments: '{"query": "bug"}' }, { "hx-request": "true" });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toStartWith('<div class="alert ok try-outcome"');
    expect(html).toContain("3 issues found");
    expect(html).toContain("&quot;count&quot;: 3");
    expect(ctx.h.agents.calls).toHaveLength(1);
    const call = ctx.h.agents.calls[0]!;
    expect([call.agentId, call.name, call.args, call.caller.user.id, call.caller.key]).toEqual([ctx.agentId, "search_gitlab", { query: "bug" }, ctx.h.member.id, null]);
    expect(call.caller.permissions).toEqual({ self: expect.any(Array), "*": ["*"] });
  });

  test("without JS the whole page comes back with the result; bad JSON and non-objects are refused before any call", async () => {
    const ctx = await adminSetup(harness);
    const page = await (await post(ctx, ctx.admin, `/admin/agents/${ctx.agentId}/try`, { tool: "search", arguments: "{}" })).text();
    expect(page).toContain("<html");
    expect(page).toContain("fake result");
    for (const [args, message] of [["{not json", "The arguments are not valid JSON."], ["[1]", "The arguments must be a JSON object."], ["3", "The arguments must be a JSON object."]]) {
      const html = await (await post(ctx, ctx.admin, `/admin/agents/${ctx.agentId}/try`, { tool: "search", arguments: args! }, { "hx-request": "true" })).text();
      expect(html).toContain(message!);
      expect(html).toContain('class="alert error try-outcome"');
    }
    expect(ctx.h.agents.calls).toHaveLength(1);
  });

  test("a refused or failing call shows the error, and a tool error result is shown as one", async () => {
    const ctx = await adminSetup(harness);
    ctx.h.agents.callError = new JsonRpcError(-32602, "Unknown tool: nope");
    const refused = await (await post(ctx, ctx.admin, `/admin/agents/${ctx.agentId}/try`, { tool: "nope", arguments: "{}" }, { "hx-request": "true" })).text();
    expect(refused).toContain("Unknown tool: nope (JSON-RPC error -32602)");
    ctx.h.agents.callError = new Error("internal detail /srv/secret/path");
    const hidden = await (await post(ctx, ctx.admin, `/admin/agents/${ctx.agentId}/try`, { tool: "search", arguments: "{}" }, { "hx-request": "true" })).text();
    expect(hidden).toContain("The call failed.");
    expect(hidden).not.toContain("/srv/secret/path");
    ctx.h.agents.callError = null;
    ctx.h.agents.callResult = { content: [{ type: "text", text: "upstream said no" }], isError: true };
    const failed = await (await post(ctx, ctx.admin, `/admin/agents/${ctx.agentId}/try`, { tool: "search", arguments: "{}" }, { "hx-request": "true" })).text();
    expect(failed).toContain('class="alert error try-outcome"');
    expect(failed).toContain("upstream said no");
  });

  test("on a missing agent: 404 and no call", async () => {
    const ctx = await adminSetup(harness);
    const res = await post(ctx, ctx.admin, "/admin/agents/agent_0b4e7c1e-3f0a-4d2a-9a51-6d3c2f1e8b70/try", { tool: "search", arguments: "{}" });
    expect(res.status).toBe(404);
    expect(ctx.h.agents.calls).toEqual([]);
  });
});

describe("the key page's permission builder", () => {
  test("lists each agent with the names it exposes, pre-ticks the one linked from its page, and grants agent_ permissions", async () => {
    const ctx = await adminSetup(harness);
    const html = await (await get(ctx, ctx.member, `/admin/keys?grant=${ctx.agentId}`)).text();
    expect(html).toContain(`name="grant_${ctx.agentId}" value="search_gitlab"`);
    expect(html).toContain(`name="grant_${ctx.agentId}" value="search"`);
    expect(html).not.toContain(`name="grant_${ctx.agentId}" value="gone"`);
    expect(html).toContain(`name="grant_all" value="${ctx.agentId}" checked`);
    const plain = await (await get(ctx, ctx.member, "/admin/keys")).text();
    expect(plain).not.toContain(`value="${ctx.agentId}" checked`);
    const body = new URLSearchParams([["name", "agent key"], [`grant_${ctx.agentId}`, "search_gitlab"]]);
    const res = await ctx.h.app.request("/admin/keys", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "same-origin", cookie: ctx.member }, body: body.toString() });
    expect(res.status).toBe(200);
    expect((await listApiKeys(ctx.h.deps.db)).find((k) => k.name === "agent key")?.permissions).toEqual({ [ctx.agentId]: ["search_gitlab"] });
    // The one-time dialog's snippets point at the agent the key is for, named after it, token filled in.
    const dialog = await res.text();
    const config = /<pre id="token-0-cursor">([^<]*)<\/pre>/.exec(dialog)?.[1]?.replace(/&quot;/g, '"') ?? "{}";
    const server = (JSON.parse(config) as { mcpServers: Record<string, { url: string; headers: { Authorization: string } }> }).mcpServers.support!;
    expect(server.url).toBe(`http://switchboard.test/mcp-key/agent/${ctx.agentId}`);
    expect(server.headers.Authorization.slice("Bearer ".length)).toMatch(TOKEN_PATTERN);
    const all = new URLSearchParams([["name", "all of it"], ["grant_all", ctx.agentId]]);
    await ctx.h.app.request("/admin/keys", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "same-origin", cookie: ctx.admin }, body: all.toString() });
    expect((await listApiKeys(ctx.h.deps.db)).find((k) => k.name === "all of it")?.permissions).toEqual({ [ctx.agentId]: ["*"] });
  });
});
