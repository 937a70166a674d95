// A per-user OAuth connection's resources, templates and prompts are the caller's own: never what discovery read with an admin's account.
import { afterEach, expect, test } from "bun:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import type { User } from "../../src/domain/access/users.ts";
import { createAgent, newAgentFields } from "../../src/domain/agents/agents.ts";
import { createConnection, newConnectionFields } from "../../src/domain/connections/connections.ts";
import type { OAuthSubject } from "../../src/domain/connections/oauth-types.ts";
import { upstreamOAuthStore } from "../../src/domain/connections/upstream-oauth.ts";
import { agentStore } from "../../src/operations/agents.ts";
import { connectionStore } from "../../src/operations/connections.ts";
import { startTestServer } from "../support/app.ts";
import { mintKey } from "../support/key-harness.ts";
import { insertUser, sessionCookieFor } from "../support/users.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

/** An MCP upstream whose resources, templates and prompts are the token owner's own (as Notion's pages or GitHub's repos are); its one tool is everyone's. */
function accountUpstream(tokens: Record<string, string>): { url: string; stop: () => void } {
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const user = tokens[(req.headers.get("authorization") ?? "").replace(/^Bearer /, "")];
      if (!user) return new Response(JSON.stringify({ jsonrpc: "2.0", error: { code: -32001, message: "Unauthorized" }, id: null }), { status: 401, headers: { "www-authenticate": "Bearer" } });
      const mcp = new McpServer({ name: "accounts", version: "1" });
      mcp.registerTool("whoami", { description: "Who the token is" }, async () => ({ content: [{ type: "text", text: user }] }));
      mcp.registerResource("notes", `private://${user}/notes`, { description: `${user}'s private notes` }, async (uri) => ({ contents: [{ uri: uri.href, text: `${user} secret` }] }));
      mcp.registerResource("pages", new ResourceTemplate(`private://${user}/pages/{page}`, { list: undefined }), {}, async (uri) => ({ contents: [{ uri: uri.href, text: "page" }] }));
      mcp.registerPrompt(`${user}-review`, { description: `${user}'s saved prompt` }, async () => ({ messages: [{ role: "user", content: { type: "text", text: `${user} prompt` } }] }));
      const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      await mcp.connect(transport);
      return transport.handleRequest(req);
    },
  });
  return { url: `http://127.0.0.1:${server.port}/mcp`, stop: () => server.stop(true) };
}

type Lists = { tools: string[]; resources: string[]; templates: string[]; prompts: string[] };

/** A world: an upstream, a connection to it in `mode`, an admin and alice linked (the admin last, so discovery reads with the admin's account), bob not. */
async function world(mode: "per_user" | "shared", selection: { resources: "all" | string[]; prompts: "all" | string[] } = { resources: "all", prompts: "all" }) {
  const server = await startTestServer();
  cleanups.push(() => server.cleanup());
  const upstream = accountUpstream({ "tok-admin": "admin", "tok-alice": "alice", "tok-shared": "shared" });
  cleanups.push(async () => upstream.stop());
  const deps = server.server.deps;
  const [admin, alice, bob] = await Promise.all([insertUser(deps, "admin"), insertUser(deps, "member"), insertUser(deps, "member")]);
  const connection = await createConnection(connectionStore(deps), newConnectionFields({ slug: "notes", transport: "http", url: upstream.url, auth: "oauth", oauthMode: mode }));
  const store = upstreamOAuthStore(connectionStore(deps));
  const links: [OAuthSubject, string, User][] = mode === "shared" ? [["shared" as OAuthSubject, "tok-shared", admin!]] : [[alice!.id as OAuthSubject, "tok-alice", alice!], [admin!.id as OAuthSubject, "tok-admin", admin!]];
  for (const [subject, token, user] of links) {
    await store.saveLink({ connectionId: connection.id, subject, tokens: { accessToken: token, refreshToken: null, expiresAt: null, scope: null }, account: user.email, connectedBy: user.id });
  }
  const found = await deps.gateway.refresh(connection.id);
  // Discovery did read the account-specific lists (with the admin's account, or the shared one).
  expect(found.resources.map((r) => r.uri)).toEqual([`private://${mode === "shared" ? "shared" : "admin"}/notes`]);
  const agent = await createAgent(agentStore(deps), newAgentFields({ slug: "helper", connections: [{ connectionId: connection.id, tools: "all", ...selection }] }));

  /** What `user`'s MCP client lists at `path` (/mcp/<connection> or /mcp/agent/<agent>), each list failing the test if it errors. */
  const lists = async (user: User, target: "connection" | "agent"): Promise<Lists & { client: Client }> => {
    const id = target === "connection" ? connection.id : agent.id;
    const { token } = await mintKey(deps, user, { [id]: ["*"] });
    const client = new Client({ name: "lists", version: "1" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp/${target === "agent" ? "agent/" : ""}${id}`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    cleanups.push(() => client.close());
    return {
      client,
      tools: (await client.listTools()).tools.map((t) => t.name),
      resources: (await client.listResources()).resources.map((r) => r.uri),
      templates: (await client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate),
      prompts: (await client.listPrompts()).prompts.map((p) => p.name),
    };
  };
  /** CONNECTION_GET's offers, and TOOL_LIST's entry for the connection, as `user` reads them. */
  const offers = async (user: User) => {
    const { token } = await mintKey(deps, user, { self: ["*"] });
    const get = async (path: string) => (await fetch(`${server.url}/api/v1${path}`, { headers: { authorization: `Bearer ${token}` } })).json();
    type Counts = { tools: number; resources: number; resource_templates: number; prompts: number };
    const detail = (await get(`/connections/${connection.id}`)) as { discovery: Counts; offers: { tools: { name: string }[]; resources: { uri: string }[]; resource_templates: { uri_template: string }[]; prompts: { name: string }[] } };
    const listed = (await get("/connections")) as { connections: { id: string; discovery: Counts }[] };
    const toolList = (await get("/tools")) as { connections: { id: string; resources: string[]; prompts: string[] }[] };
    const counts = (c: Counts) => [c.tools, c.resources, c.resource_templates, c.prompts];
    const inList = listed.connections.find((c) => c.id === connection.id)!;
    return { detail: detail.offers, counts: [counts(detail.discovery), counts(inList.discovery)], toolList: toolList.connections.find((c) => c.id === connection.id)! };
  };
  /** The connection's admin page, its htmx status poll and its htmx Refresh, as `user` (signed in) gets them. */
  const pages = async (user: User): Promise<string[]> => {
    const cookie = await sessionCookieFor(deps, user, 60_000);
    const path = `${server.url}/admin/connections/${connection.id}`;
    const page = await fetch(path, { headers: { cookie } });
    const poll = await fetch(`${path}/status`, { headers: { cookie, "hx-request": "true" } });
    const refresh = await fetch(`${path}/refresh`, { method: "POST", headers: { cookie, "hx-request": "true", "sec-fetch-site": "same-origin", "content-type": "application/x-www-form-urlencoded" } });
    expect([page.status, poll.status, refresh.status]).toEqual([200, 200, 200]);
    return Promise.all([page.text(), poll.text(), refresh.text()]);
  };
  return { admin: admin!, alice: alice!, bob: bob!, lists, offers, pages };
}

/** What the account `who` lists of itself. */
const own = (who: string): Lists => ({ tools: ["whoami"], resources: [`private://${who}/notes`], templates: [`private://${who}/pages/{page}`], prompts: [`${who}-review`] });
const none: Lists = { tools: ["whoami"], resources: [], templates: [], prompts: [] };
const listsOf = ({ tools, resources, templates, prompts }: Lists): Lists => ({ tools, resources, templates, prompts });

test("per-user, /mcp/<connection>: a member without a link gets empty resource, template and prompt lists (not an error, never the admin's); tools stay", async () => {
  const w = await world("per_user");
  expect(listsOf(await w.lists(w.bob, "connection"))).toEqual(none);
});

test("per-user, /mcp/<connection>: a member with a link gets their own lists, and an admin theirs", async () => {
  const w = await world("per_user");
  expect(listsOf(await w.lists(w.alice, "connection"))).toEqual(own("alice"));
  expect(listsOf(await w.lists(w.admin, "connection"))).toEqual(own("admin"));
});

test("per-user, an agent: a member without a link lists no resources, templates or prompts of the connection, and cannot get the admin's prompt; its tools stay", async () => {
  const w = await world("per_user");
  const bob = await w.lists(w.bob, "agent");
  expect(listsOf(bob)).toEqual(none);
  await expect(bob.client.getPrompt({ name: "admin-review" })).rejects.toThrow("Prompt admin-review not found");
});

test("per-user, an agent: a member with a link lists their own selected resources, templates and prompts (not the admin's), and gets their own prompt; an admin theirs", async () => {
  const w = await world("per_user");
  const alice = await w.lists(w.alice, "agent");
  expect(listsOf(alice)).toEqual(own("alice"));
  expect(JSON.stringify(await alice.client.getPrompt({ name: "alice-review" }))).toContain("alice prompt");
  await expect(alice.client.getPrompt({ name: "admin-review" })).rejects.toThrow("Prompt admin-review not found");
  expect(JSON.stringify(await alice.client.readResource({ uri: "private://alice/notes" }))).toContain("alice secret");
  expect(listsOf(await w.lists(w.admin, "agent"))).toEqual(own("admin"));
});

test("per-user, an agent: its selection filters what the caller's own session lists", async () => {
  const w = await world("per_user", { resources: ["private://*/notes"], prompts: ["alice-review"] });
  expect(listsOf(await w.lists(w.alice, "agent"))).toEqual({ tools: ["whoami"], resources: ["private://alice/notes"], templates: [], prompts: ["alice-review"] });
  expect(listsOf(await w.lists(w.admin, "agent"))).toEqual({ tools: ["whoami"], resources: ["private://admin/notes"], templates: [], prompts: [] });
  expect(listsOf(await w.lists(w.bob, "agent"))).toEqual(none);
});

test("per-user: CONNECTION_GET and TOOL_LIST show a member (linked or not) only the tools; an admin also discovery's resources, templates and prompts", async () => {
  const w = await world("per_user");
  for (const member of [w.bob, w.alice]) {
    const { detail, toolList, counts } = await w.offers(member);
    expect(detail.tools.map((t) => t.name)).toEqual(["whoami"]);
    // Not even how many the admin's account holds, in CONNECTION_GET or CONNECTION_LIST.
    expect(counts).toEqual([[1, 0, 0, 0], [1, 0, 0, 0]]);
    expect({ resources: detail.resources, templates: detail.resource_templates, prompts: detail.prompts }).toEqual({ resources: [], templates: [], prompts: [] });
    expect({ resources: toolList.resources, prompts: toolList.prompts }).toEqual({ resources: [], prompts: [] });
  }
  const { detail, toolList, counts } = await w.offers(w.admin);
  expect(counts).toEqual([[1, 1, 1, 1], [1, 1, 1, 1]]);
  expect(detail.resources.map((r) => r.uri)).toEqual(["private://admin/notes"]);
  expect(detail.resource_templates.map((t) => t.uri_template)).toEqual(["private://admin/pages/{page}"]);
  expect(detail.prompts.map((p) => p.name)).toEqual(["admin-review"]);
  expect(toolList.resources).toEqual(["private://admin/notes", "private://admin/pages/{page}"]);
});

test("per-user: the connection's page (and its status poll and Refresh) shows a member the tools and a note, never discovery's other lists; an admin sees them", async () => {
  const w = await world("per_user");
  for (const html of await w.pages(w.bob)) {
    expect(html).toContain("whoami");
    expect(html).toContain("your MCP client lists yours once you connect your account");
    expect(html).not.toContain("private://admin/");
    expect(html).not.toContain("admin-review");
  }
  for (const html of await w.pages(w.admin)) {
    expect(html).toContain("private://admin/notes");
    expect(html).toContain("admin-review");
    expect(html).toContain("only admins see them here");
  }
});

test("shared: every caller, members included, sees the shared account's lists through the connection, an agent, CONNECTION_GET and TOOL_LIST (shared by design)", async () => {
  const w = await world("shared");
  for (const user of [w.bob, w.alice, w.admin]) {
    expect(listsOf(await w.lists(user, "connection"))).toEqual(own("shared"));
    expect(listsOf(await w.lists(user, "agent"))).toEqual(own("shared"));
    const { detail, toolList } = await w.offers(user);
    expect(detail.resources.map((r) => r.uri)).toEqual(["private://shared/notes"]);
    expect(detail.prompts.map((p) => p.name)).toEqual(["shared-review"]);
    expect(toolList.resources).toEqual(["private://shared/notes", "private://shared/pages/{page}"]);
  }
  const [page] = await w.pages(w.bob);
  expect(page).toContain("private://shared/notes");
  expect(page).not.toContain("account's own");
});
