// The admin's Agents pages: guests are sent to sign in; members see the list and each agent (endpoint,
// client configurations, tools, "Try it") but no editor; admins create and edit without JS, get live
// collision warnings as a fragment (nothing saved), and delete with confirmation; declared agents are
// read-only; cross-site posts are refused. Every action confirms; an enabled agent with no tools is a
// warning; empty pages explain and link; the editor's buttons show they are busy.
import { describe, expect, test } from "bun:test";
import { findAgent, getAgent } from "../../src/domain/agents/agents.ts";
import { pick } from "../support/agent-harness.ts";
import { runScenario, type Scenario } from "../support/table.ts";
import { useAgentHarness } from "../support/agent-harness.ts";
import { adminSetup, editorFields, FORM, get, post, unchanged, type AdminCtx } from "../support/admin-agents.ts";

const harness = useAgentHarness();
const COLLISION = "github/search and gitlab/search would both be exposed as &quot;search&quot;: give one an alias, or set prefix_tools = true";

const send = (ctx: AdminCtx) => (url: string, init: RequestInit) => Promise.resolve(ctx.h.app.request(url, init));
const as = (who: "admin" | "member", extra: Record<string, string> = {}) => (ctx: AdminCtx) => ({ cookie: ctx[who], ...extra });
const body = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

const ROWS: (Scenario<AdminCtx> & { path: (ctx: AdminCtx) => string })[] = [
  { name: "guest list", path: () => "/admin/agents", url: "", expectedStatus: 303, notExpectedContent: ["support"], expectedHeaders: { location: "/admin/login?next=%2Fadmin%2Fagents" } },
  { name: "guest page", path: (c) => `/admin/agents/${c.agentId}`, url: "", expectedStatus: 303, notExpectedContent: ["search_gitlab"] },
  { name: "guest create", method: "POST", path: () => "/admin/agents", url: "", headers: FORM, body: body({ slug: "x" }), expectedStatus: 303, after: unchanged },
  { name: "guest try", method: "POST", path: (c) => `/admin/agents/${c.agentId}/try`, url: "", headers: FORM, body: body({ tool: "search", arguments: "{}" }), expectedStatus: 303, after: unchanged },
  {
    name: "member list", path: () => "/admin/agents", url: "", headers: as("member"), expectedStatus: 200,
    expectedContent: ["support", "github", "gitlab", "Only admins create, change or delete agents."], notExpectedContent: ["New agent"],
  },
  {
    name: "member page", path: (c) => `/admin/agents/${c.agentId}`, url: "", headers: as("member"), expectedStatus: 200,
    expectedContent: ["http://switchboard.test/mcp/agent/agent_", "search_gitlab", "Try it", "Cursor", "Claude Desktop", "VS Code", "Claude Code"],
    notExpectedContent: ["Delete agent", "/edit"],
  },
  { name: "member new page", path: () => "/admin/agents/new", url: "", headers: as("member"), expectedStatus: 403, notExpectedContent: ['name="slug"'] },
  { name: "member edit page", path: (c) => `/admin/agents/${c.agentId}/edit`, url: "", headers: as("member"), expectedStatus: 403, notExpectedContent: ['name="slug"'] },
  { name: "member create", method: "POST", path: () => "/admin/agents", url: "", headers: as("member", FORM), body: body({ slug: "mine" }), expectedStatus: 403, after: unchanged },
  { name: "member save", method: "POST", path: (c) => `/admin/agents/${c.agentId}`, url: "", headers: as("member", FORM), body: body({ slug: "support", prefix_tools: "1" }), expectedStatus: 403, after: unchanged },
  { name: "member delete", method: "POST", path: (c) => `/admin/agents/${c.agentId}/delete`, url: "", headers: as("member", FORM), body: body({ confirm: "yes" }), expectedStatus: 403, after: unchanged },
  { name: "member check", method: "POST", path: () => "/admin/agents/check", url: "", headers: as("member", { ...FORM, "hx-request": "true" }), body: body({ slug: "x" }), expectedStatus: 403, notExpectedContent: ["check-outcome"] },
  { name: "admin list", path: () => "/admin/agents", url: "", headers: as("admin"), expectedStatus: 200, expectedContent: ["New agent", "support", '<td>2</td>'] },
  {
    name: "admin page", path: (c) => `/admin/agents/${c.agentId}`, url: "", headers: as("admin"), expectedStatus: 200,
    expectedContent: ["Delete agent", "/edit", "Help the team.", "github/gone", "missing", "create a key for this agent", "/admin/keys?grant=agent_", "mcp_key_…"],
  },
  { name: "admin page of a missing agent", path: () => "/admin/agents/agent_0b4e7c1e-3f0a-4d2a-9a51-6d3c2f1e8b70", url: "", headers: as("admin"), expectedStatus: 404 },
  {
    name: "cross-site create", method: "POST", path: () => "/admin/agents", url: "", headers: (ctx) => ({ ...FORM, "sec-fetch-site": "cross-site", cookie: ctx.admin }),
    body: body({ slug: "evil" }), expectedStatus: 403, expectedContent: ["Cross-site request refused."], after: unchanged,
  },
  {
    name: "cross-site try (Origin only)", method: "POST", path: (c) => `/admin/agents/${c.agentId}/try`, url: "",
    headers: (ctx) => ({ "content-type": "application/x-www-form-urlencoded", origin: "https://evil.example", cookie: ctx.admin }), body: body({ tool: "search", arguments: "{}" }), expectedStatus: 403, after: unchanged,
  },
  {
    name: "cross-site delete", method: "POST", path: (c) => `/admin/agents/${c.agentId}/delete`, url: "",
    headers: (ctx) => ({ ...FORM, "sec-fetch-site": "cross-site", cookie: ctx.admin }), body: body({ confirm: "yes" }), expectedStatus: 403, after: unchanged,
  },
];

describe("rows", () => {
  for (const row of ROWS) {
    test(`${row.name}: ${row.expectedStatus}`, async () => {
      const ctx = await adminSetup(harness);
      await runScenario({ ...row, url: row.path(ctx) }, ctx, send(ctx));
    });
  }
});

describe("the editor", () => {
  test("offers every connection's tools with search, select-all, alias and description fields, and checks on change", async () => {
    const ctx = await adminSetup(harness);
    const html = await (await get(ctx, ctx.admin, "/admin/agents/new")).text();
    expect(html).toContain('hx-post="/admin/agents/check"');
    expect(html).toContain('data-filter=".agent-editor"');
    expect(html).toContain(`data-check-all="#tools-${ctx.githubId}"`);
    expect(html).toContain(`name="tool.${ctx.githubId}.1" value="get_issue"`);
    expect(html).toContain('data-search="get_issue one issue"');
    expect(html).toContain(`name="alias.${ctx.gitlabId}.0"`);
    expect(html).toContain(`name="desc.${ctx.gitlabId}.1"`);
    expect(html).toContain(`name="res.${ctx.gitlabId}"`);
  });

  test("the live check answers a fragment naming both colliding tools, then the names once resolved; nothing is saved", async () => {
    const ctx = await adminSetup(harness);
    const clash = await post(ctx, ctx.admin, "/admin/agents/check", editorFields(ctx, { slug: "new", github: [0], gitlab: [0] }), { "hx-request": "true" });
    expect(clash.status).toBe(200);
    const warning = await clash.text();
    expect(warning).toStartWith('<div id="check-outcome">');
    expect(warning).toContain("Name collision");
    expect(warning).toContain(COLLISION);
    const resolved = await (await post(ctx, ctx.admin, "/admin/agents/check", editorFields(ctx, { slug: "new", github: [0], gitlab: [0], gitlabAlias: "search_gitlab" }), { "hx-request": "true" })).text();
    expect(resolved).toContain("No collisions. It would expose 2 tools");
    expect(resolved).toContain("<code>search_gitlab</code>");
    expect(resolved).not.toContain("would both be exposed");
    const prefixed = await (await post(ctx, ctx.admin, "/admin/agents/check", editorFields(ctx, { slug: "new", github: [0], gitlabAll: true, prefix: true }), { "hx-request": "true" })).text();
    expect(prefixed).toContain("<code>github__search</code>, <code>gitlab__search</code>, <code>gitlab__merge</code>");
    // Without JS, "Check names" answers the whole editor with the verdict and what was typed.
    const page = await (await post(ctx, ctx.admin, "/admin/agents/check", editorFields(ctx, { slug: "typed-slug", github: [0], gitlab: [0] }))).text();
    expect(page).toContain("<html");
    expect(page).toContain(COLLISION);
    expect(page).toContain('value="typed-slug"');
    await unchanged(ctx);
  });

  test("the live check (AGENT_CHECK) names a bad alias, and shows a draft past the operation's limits as problems, not an error page", async () => {
    const ctx = await adminSetup(harness);
    const badAlias = await post(ctx, ctx.admin, "/admin/agents/check", editorFields(ctx, { slug: "new", gitlab: [0], gitlabAlias: "bad name" }), { "hx-request": "true" });
    expect(badAlias.status).toBe(200);
    const verdict = await badAlias.text();
    expect(verdict).toStartWith('<div id="check-outcome">');
    expect(verdict).toContain("gitlab/search would be exposed as &quot;bad name&quot;");
    const fields = editorFields(ctx, { slug: "new", gitlab: [0] }).map(([k, v]): [string, string] => [k, k === `desc.${ctx.gitlabId}.0` ? "x".repeat(2001) : v]);
    const tooLong = await post(ctx, ctx.admin, "/admin/agents/check", fields, { "hx-request": "true" });
    expect(tooLong.status).toBe(200);
    const refused = await tooLong.text();
    expect(refused).toStartWith('<div id="check-outcome">');
    expect(refused).toContain("connections.0.tools.0.description: expected at most 2000 characters");
    expect(refused).not.toContain("No collisions");
    await unchanged(ctx);
  });

  test("create without JS: a collision is refused with the form kept; with an alias it is saved and the gateway told", async () => {
    const ctx = await adminSetup(harness);
    const refused = await post(ctx, ctx.admin, "/admin/agents", editorFields(ctx, { slug: "triage", github: [0, 1], gitlab: [0] }));
    expect(refused.status).toBe(409);
    const html = await refused.text();
    expect(html).toContain("Not saved: fix what the check below names.");
    expect(html).toContain(COLLISION);
    expect(html).toContain('value="triage"');
    expect(await getAgent(ctx.h.deps.db, "triage")).toBeNull();
    const created = await post(ctx, ctx.admin, "/admin/agents", editorFields(ctx, { slug: "triage", github: [0, 1], gitlab: [0], gitlabAlias: "search_gitlab" }));
    expect(created.status).toBe(303);
    const agent = await findAgent(ctx.h.deps.db, "triage");
    expect(created.headers.get("location")).toBe(`/admin/agents/${agent.id}?created=1`);
    expect(agent).toMatchObject({
      instructions: "Be brief.",
      connections: [
        { connectionId: ctx.githubId, tools: [{ name: "search" }, { name: "get_issue" }], resources: "none", prompts: "none" },
        { connectionId: ctx.gitlabId, tools: [{ name: "search", alias: "search_gitlab" }], resources: "none", prompts: "none" },
      ],
    });
    expect(ctx.h.agents.applied).toEqual([agent.id]);
  });

  test("edit shows the stored choices; save replaces them; a bad slug is named beside its field", async () => {
    const ctx = await adminSetup(harness);
    const html = await (await get(ctx, ctx.admin, `/admin/agents/${ctx.agentId}/edit`)).text();
    expect(html).toContain(`name="tool.${ctx.gitlabId}.0" value="search" checked`);
    expect(html).toContain('value="search_gitlab"');
    expect(html).toContain(`name="tool.${ctx.githubId}.2" value="gone" checked`);
    expect(html).toContain("No collisions.");
    const bad = await post(ctx, ctx.admin, `/admin/agents/${ctx.agentId}`, editorFields(ctx, { slug: "Not Valid", github: [1] }));
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('<div class="field-error" role="alert">expected 1-63 lowercase letters');
    const saved = await post(ctx, ctx.admin, `/admin/agents/${ctx.agentId}`, [...editorFields(ctx, { slug: "support", gitlabAll: true }), [`res.${ctx.gitlabId}`, "list"], [`res_list.${ctx.gitlabId}`, "repo://*\n"]]);
    expect(saved.status).toBe(303);
    expect(saved.headers.get("location")).toBe(`/admin/agents/${ctx.agentId}?saved=1`);
    expect((await findAgent(ctx.h.deps.db, ctx.agentId)).connections).toEqual([{ connectionId: ctx.gitlabId, tools: "all", resources: ["repo://*"], prompts: "none" }]);
    expect(ctx.h.agents.applied).toEqual([ctx.agentId]);
  });

  test("delete needs the confirmation box; then the agent is gone and its sessions closed", async () => {
    const ctx = await adminSetup(harness);
    const unconfirmed = await post(ctx, ctx.admin, `/admin/agents/${ctx.agentId}/delete`, {});
    expect(unconfirmed.status).toBe(400);
    expect(await unconfirmed.text()).toContain("Tick the box");
    const deleted = await post(ctx, ctx.admin, `/admin/agents/${ctx.agentId}/delete`, { confirm: "yes" });
    expect([deleted.status, deleted.headers.get("location")]).toEqual([303, "/admin/agents?deleted=1"]);
    expect(await getAgent(ctx.h.deps.db, ctx.agentId)).toBeNull();
    expect(ctx.h.agents.removed).toEqual([ctx.agentId]);
  });

  test("an agent declared in the config is read-only: no edit link, no delete, and posts are refused", async () => {
    const ctx = await adminSetup(harness, { connections: [{ slug: "declared", url: "https://d/mcp" }], agents: [{ slug: "fixed", tools: { declared: ["x"] } }] });
    const fixed = await findAgent(ctx.h.deps.db, "fixed");
    const page = await (await get(ctx, ctx.admin, `/admin/agents/${fixed.id}`)).text();
    expect(page).toContain("Declared in <code>switchboard.toml</code>: read-only here.");
    expect(page).not.toContain("Delete agent");
    expect(page).not.toContain(`/admin/agents/${fixed.id}/edit`);
    expect((await get(ctx, ctx.admin, `/admin/agents/${fixed.id}/edit`)).status).toBe(409);
    expect((await post(ctx, ctx.admin, `/admin/agents/${fixed.id}`, { slug: "fixed" })).status).toBe(409);
    expect((await post(ctx, ctx.admin, `/admin/agents/${fixed.id}/delete`, { confirm: "yes" })).status).toBe(409);
    expect((await findAgent(ctx.h.deps.db, "fixed")).fromConfig).toBe(true);
  });
});

describe("confirmations", () => {
  test("creating an agent lands on its page saying so, by name; the text is the page's own, never the query's", async () => {
    const ctx = await adminSetup(harness);
    const created = await post(ctx, ctx.admin, "/admin/agents", [...editorFields(ctx, { slug: "triage", github: [0] }), ["title", "Triage desk"]]);
    const location = created.headers.get("location")!;
    expect(location).toMatch(/^\/admin\/agents\/agent_[0-9a-f-]{36}\?created=1$/);
    const html = await (await get(ctx, ctx.admin, location)).text();
    expect(html).toContain('<div class="alert ok" role="status" data-reveal="">Agent Triage desk created.</div>');
    // The flag is a switch: whatever it says, the page writes its own fixed text and nothing of the query.
    const forged = await (await get(ctx, ctx.admin, `${location.replace("=1", "=")}%3Cscript%3Ealert(1)%3C/script%3E`)).text();
    expect(forged).toContain("Agent Triage desk created.");
    expect(forged).not.toContain("<script>alert(1)");
    expect(forged).not.toContain("alert(1)");
    // Without a flag, no confirmation.
    expect(await (await get(ctx, ctx.admin, location.replace("?created=1", ""))).text()).not.toContain("created.");
  });

  test("saving says Saved.; deleting lands on the list saying Agent deleted. (both polite live regions)", async () => {
    const ctx = await adminSetup(harness);
    const saved = await post(ctx, ctx.admin, `/admin/agents/${ctx.agentId}`, editorFields(ctx, { slug: "support", github: [0] }));
    const page = await (await get(ctx, ctx.admin, saved.headers.get("location")!)).text();
    expect(page).toContain('<div class="alert ok" role="status" data-reveal="">Saved.</div>');
    const deleted = await post(ctx, ctx.admin, `/admin/agents/${ctx.agentId}/delete`, { confirm: "yes" });
    const list = await (await get(ctx, ctx.admin, deleted.headers.get("location")!)).text();
    expect(list).toContain('<div class="alert ok" role="status" data-reveal="">Agent deleted.</div>');
    expect(await (await get(ctx, ctx.admin, "/admin/agents")).text()).not.toContain("Agent deleted.");
  });
});

describe("an agent that exposes no tools", () => {
  /** The shared setup plus: "idle" takes nothing, "stale" only a tool gone upstream, "off" is disabled and empty. */
  async function setup() {
    const ctx = await adminSetup(harness);
    const idle = await ctx.h.agent("idle", []);
    const stale = await ctx.h.agent("stale", [pick({ id: ctx.githubId }, ["gone"])]);
    const off = await ctx.h.agent("off", [], { enabled: false });
    return { ctx, idle, stale, off };
  }
  const row = (html: string, id: string) => html.slice(html.indexOf(`<tr id="agent-${id}">`), html.indexOf("</tr>", html.indexOf(`<tr id="agent-${id}">`)));

  test("the list shows a warning badge and what to do instead of the green enabled", async () => {
    const { ctx, idle, stale, off } = await setup();
    const html = await (await get(ctx, ctx.member, "/admin/agents")).text();
    for (const a of [idle, stale]) {
      expect(row(html, a.id)).toContain('<span class="badge state-warning">enabled, no tools</span>');
      expect(row(html, a.id)).toContain("Clients will see no tools: edit it and pick tools, or test its connections.");
      expect(row(html, a.id)).not.toContain("state-connected");
    }
    // Disabled says disabled (no client gets in at all); an agent with tools stays green.
    expect(row(html, off.id)).toContain("state-disabled");
    expect(row(html, off.id)).not.toContain("no tools");
    expect(row(html, ctx.agentId)).toContain('<span class="badge state-connected">enabled</span>');
    expect(row(html, ctx.agentId)).not.toContain("no tools");
  });

  test("its page says clients will see no tools, and how to fix it for the cause", async () => {
    const { ctx, idle, stale, off } = await setup();
    const nothing = await (await get(ctx, ctx.admin, `/admin/agents/${idle.id}`)).text();
    expect(nothing).toContain('<div class="alert warning" id="agent-no-tools" role="status"><strong>Clients will see no tools.</strong>');
    expect(nothing).toContain(`It takes nothing from any connection: <a href="/admin/agents/${idle.id}/edit">edit the agent</a> and pick tools.`);
    expect(nothing).toContain('<span class="badge state-warning">enabled, no tools</span>');
    expect(nothing).not.toContain("state-connected");
    const gone = await (await get(ctx, ctx.admin, `/admin/agents/${stale.id}`)).text();
    expect(gone).toContain(`test them (<a href="/admin/connections/${ctx.githubId}">github</a>) so their tools are`);
    // A member cannot edit: the page says who can, and links to no editor.
    const asMember = await (await get(ctx, ctx.member, `/admin/agents/${idle.id}`)).text();
    expect(asMember).toContain("ask an admin to edit the agent and pick tools.");
    expect(asMember).not.toContain(`/admin/agents/${idle.id}/edit`);
    for (const id of [off.id, ctx.agentId]) expect(await (await get(ctx, ctx.admin, `/admin/agents/${id}`)).text()).not.toContain("agent-no-tools");
  });
});

describe("empty states", () => {
  test("no agents: the list explains what an agent is; admins get New agent, members are told who can", async () => {
    const h = await harness();
    const [admin, member] = [await h.cookieFor(h.admin), await h.cookieFor(h.member)];
    const forAdmin = await (await h.app.request("/admin/agents", { headers: { cookie: admin } })).text();
    expect(forAdmin).toContain('id="agents-empty"');
    expect(forAdmin).toContain("An agent is what MCP clients (Cursor, Claude, VS Code, scripts) connect to");
    expect(forAdmin).toContain('<a class="button" href="/admin/agents/new">New agent</a>');
    expect(forAdmin).not.toContain("<table");
    const forMember = await (await h.app.request("/admin/agents", { headers: { cookie: member } })).text();
    expect(forMember).toContain("Only admins create agents: ask an admin of this Switchboard to build one");
    expect(forMember).not.toContain('href="/admin/agents/new"');
  });

  test("the editor with no connections links to New connection", async () => {
    const h = await harness();
    const html = await (await h.app.request("/admin/agents/new", { headers: { cookie: await h.cookieFor(h.admin) } })).text();
    expect(html).toContain('id="editor-no-connections"');
    expect(html).toContain('<a class="button" href="/admin/connections/new">New connection</a>');
    const ctx = await adminSetup(harness);
    expect(await (await get(ctx, ctx.admin, "/admin/agents/new")).text()).not.toContain("editor-no-connections");
  });
});

describe("the editor's feedback", () => {
  test("Save and Create are busy while they run; the live check is sent from outside the form, into a live region beside the buttons", async () => {
    const ctx = await adminSetup(harness);
    const fresh = await (await get(ctx, ctx.admin, "/admin/agents/new")).text();
    expect(fresh).toContain('<form class="panel agent-editor" id="agent-form" method="post" action="/admin/agents" data-busy="Creating…">');
    const edit = await (await get(ctx, ctx.admin, `/admin/agents/${ctx.agentId}/edit`)).text();
    expect(edit).toContain(`<form class="panel agent-editor" id="agent-form" method="post" action="/admin/agents/${ctx.agentId}" data-busy="Saving…">`);
    for (const html of [fresh, edit]) {
      // The form itself sends no htmx request (its busy state would follow every keystroke's check).
      const form = html.slice(html.indexOf('<form class="panel agent-editor"'), html.indexOf("</form>", html.indexOf('<form class="panel agent-editor"')));
      expect(form.slice(0, form.indexOf(">"))).not.toContain("hx-");
      const after = html.slice(html.indexOf("</form>", html.indexOf('id="agent-form"')));
      expect(after).toContain('hx-post="/admin/agents/check" hx-trigger="change from:#agent-form, input delay:600ms from:#agent-form" hx-include="#agent-form" hx-target="#agent-check"');
      // The verdict sits in the footer, next to the buttons, as a polite live region.
      expect(form).toMatch(/<div class="editor-footer"><div id="agent-check" role="status" aria-live="polite">[\s\S]*<button type="submit">(Save|Create agent)<\/button>/);
    }
  });
});
