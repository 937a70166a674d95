// An agent's admin page: the endpoint and the client configurations (OAuth first, then keys with a
// placeholder token and a link to make a key for the agent; a connection's page alike), per-connection
// failures and missing tools, and "Try it" (htmx fragment or whole page, as the signed-in user, JSON
// arguments checked); and the key page's builder offering agents with the names they expose.
import { describe, expect, test } from "bun:test";
import { listApiKeys } from "../../src/domain/access/api-keys.ts";
import { JsonRpcError } from "../../src/errors.ts";
import { useAgentHarness } from "../support/agent-harness.ts";
import { adminSetup, get, post } from "../support/admin-agents.ts";
import { TOKEN_PATTERN } from "../support/key-harness.ts";
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
    expect(listApiKeys(ctx.h.deps.db).find((k) => k.name === "agent key")?.permissions).toEqual({ [ctx.agentId]: ["search_gitlab"] });
    // The one-time dialog's snippets point at the agent the key is for, named after it, token filled in.
    const dialog = await res.text();
    const config = /<pre id="token-0-cursor">([^<]*)<\/pre>/.exec(dialog)?.[1]?.replace(/&quot;/g, '"') ?? "{}";
    const server = (JSON.parse(config) as { mcpServers: Record<string, { url: string; headers: { Authorization: string } }> }).mcpServers.support!;
    expect(server.url).toBe(`http://switchboard.test/mcp-key/agent/${ctx.agentId}`);
    expect(server.headers.Authorization.slice("Bearer ".length)).toMatch(TOKEN_PATTERN);
    const all = new URLSearchParams([["name", "all of it"], ["grant_all", ctx.agentId]]);
    await ctx.h.app.request("/admin/keys", { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "same-origin", cookie: ctx.admin }, body: all.toString() });
    expect(listApiKeys(ctx.h.deps.db).find((k) => k.name === "all of it")?.permissions).toEqual({ [ctx.agentId]: ["*"] });
  });
});
