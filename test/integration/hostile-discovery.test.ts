// An upstream whose lists hold nulls, non-objects, nameless and wrong-typed entries and names that
// break MCP's tool name rule ("*", spaces, 300 characters) never breaks a page or an operation: the
// keys page (admin and member), the agent editor, the connection page and CONNECTION_GET answer 200
// with the valid entries and a warning; "*" never becomes a grantable checkbox; the proxied and the
// agent's tools/list hold only valid tools, and a dropped tool cannot be called.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { configAgentId } from "../../src/domain/agents/config.ts";
import { configConnectionId } from "../../src/domain/connections/config.ts";
import type { User } from "../../src/domain/access/users.ts";
import { createTestApp } from "../support/app.ts";
import { MCP_ACCEPT, mintKey } from "../support/key-harness.ts";

const HOSTILE = join(import.meta.dir, "../fixtures/hostile-upstream.ts");
const LONG_VALID = "l".repeat(120);
const VALID_TOOLS = ["valid_one", "valid.two", LONG_VALID];
const DROPPED_TOOLS = ["*", "ok", "has space", "a".repeat(300), "bad_description", "bad_annotations", "slash/name"];

const t = await createTestApp({
  overrides: {
    connections: [{ slug: "hostile", command: process.execPath, args: [HOSTILE] }],
    agents: [
      { slug: "over-hostile", connections: [{ connection: "hostile", tools: "*", resources: "all", prompts: "all" }] },
      { slug: "prefixed", prefix_tools: true, tools: { hostile: "*" } },
    ],
  },
});
const connId = configConnectionId("hostile");
const agentId = configAgentId("over-hostile");
let admin: User;
let member: User;
let adminCookie = "";
let memberCookie = "";

beforeAll(async () => {
  admin = await t.createUser("admin@example.com", "admin");
  member = await t.createUser("member@example.com", "member");
  adminCookie = await t.cookieFor(admin);
  memberCookie = await t.cookieFor(member);
  await t.deps.gateway.refresh(connId);
});

afterAll(async () => {
  await t.deps.gateway.close();
  t.close();
});

/** The names of the checkboxes a form offers for one resource (grant_<resource>). */
function checkboxValues(html: string, name: string): string[] {
  const pattern = new RegExp(`<input type="checkbox" name="${name}" value="([^"]*)"`, "g");
  return [...html.matchAll(pattern)].map((m) => m[1]!);
}

/** Opens an MCP session on `path` with `token` and returns one list request's result. */
async function listThrough(path: string, token: string, method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json", accept: MCP_ACCEPT, "mcp-protocol-version": "2025-06-18" };
  const post = (body: unknown, session?: string) =>
    t.request(path, { method: "POST", headers: session ? { ...headers, "mcp-session-id": session } : headers, body: JSON.stringify(body) });
  const init = await post({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } });
  expect(init.status).toBe(200);
  const session = init.headers.get("mcp-session-id")!;
  await init.body?.cancel();
  await (await post({ jsonrpc: "2.0", method: "notifications/initialized" }, session)).body?.cancel();
  const res = await post({ jsonrpc: "2.0", id: 2, method, params }, session);
  expect(res.status).toBe(200);
  const text = await res.text();
  const data = text.startsWith("{") ? text : text.split("\n").find((l) => l.startsWith("data:"))!.slice(5);
  return JSON.parse(data) as Record<string, unknown>;
}

describe("discovery of a hostile upstream", () => {
  test("keeps only valid entries, across pages, and names what it dropped", () => {
    const found = t.deps.gateway.discovery(connId);
    expect(found.error).toBeNull();
    expect(found.tools.map((tool) => tool.name)).toEqual(VALID_TOOLS);
    expect(found.resources.map((r) => r.uri)).toEqual(["fixture://good"]);
    expect(found.resourceTemplates.map((r) => r.uriTemplate)).toEqual(["fixture://items/{id}"]);
    expect(found.prompts.map((p) => p.name)).toEqual(["good_prompt"]);
    const warnings = found.warnings.join("\n");
    expect(warnings).toContain('"*"');
    expect(warnings).toContain("has space");
    expect(warnings).toContain("inputSchema");
    expect(warnings).toContain("not an object");
    expect(warnings).toContain('tool "valid_one" dropped: listed twice');
    expect(found.tools[0]!.description).toBe("A valid tool");
    expect(warnings).not.toContain("a".repeat(200)); // names are cut short in warnings
  });

  for (const [who, cookie] of [["admin", () => adminCookie], ["member", () => memberCookie]] as const) {
    test(`the keys page answers 200 for the ${who} and never offers "*" or a dropped tool as a checkbox`, async () => {
      const res = await t.request("/admin/keys", { headers: { cookie: cookie() } });
      expect(res.status).toBe(200);
      const html = await res.text();
      expect(checkboxValues(html, `grant_${connId}`)).toEqual(VALID_TOOLS);
      expect(checkboxValues(html, `grant_${agentId}`)).toEqual(VALID_TOOLS);
      for (const name of DROPPED_TOOLS) expect(html).not.toContain(`value="${name}"`);
    });
  }

  test("the agent editor answers 200 and offers only the valid tools", async () => {
    const res = await t.request(`/admin/agents/${agentId}`, { headers: { cookie: adminCookie } });
    expect(res.status).toBe(200);
    const html = await res.text();
    for (const name of VALID_TOOLS) expect(html).toContain(`<code>hostile/${name}</code>`);
    expect(html).not.toContain("hostile/*");
    const editor = await t.request("/admin/agents/new", { headers: { cookie: adminCookie } });
    expect(editor.status).toBe(200);
    const form = await editor.text();
    expect(form).toContain("valid_one");
    expect(form).not.toContain('value="*"');
    expect(form).not.toContain("has space");
  });

  test("the connection page answers 200, lists the valid tools and shows the warning", async () => {
    const res = await t.request(`/admin/connections/${connId}`, { headers: { cookie: memberCookie } });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain("valid_one");
    expect(html).toContain("Discovery dropped");
    expect(html).toContain("has space");
  });

  test("CONNECTION_GET answers the valid entries and the warnings", async () => {
    const { token } = await mintKey(t.deps, member, { self: ["CONNECTION_GET"] });
    const res = await t.request(`/api/v1/connections/${connId}`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { offers: { tools: { name: string }[]; prompts: { name: string }[] }; discovery: { warnings: string[]; tools: number } };
    expect(body.offers.tools.map((tool) => tool.name)).toEqual(VALID_TOOLS);
    expect(body.offers.prompts.map((p) => p.name)).toEqual(["good_prompt"]);
    expect(body.discovery.tools).toBe(VALID_TOOLS.length);
    expect(body.discovery.warnings.length).toBeGreaterThan(0);
    expect(body.discovery.warnings.join("\n")).toContain('"*"');
  });

  test("the proxied tools/list holds only valid tools, even for a key holding everything", async () => {
    const { token } = await mintKey(t.deps, admin, { "*": ["*"] });
    // The upstream's two pages pass through as two pages, each holding only its valid tools (a name
    // repeated on another page cannot be seen from one page: the client gets both, as the upstream sent them).
    const first = (await listThrough(`/mcp/${connId}`, token, "tools/list")).result as { tools: { name: string }[]; nextCursor: string };
    expect(first.tools.map((tool) => tool.name)).toEqual(["valid_one"]);
    const second = (await listThrough(`/mcp/${connId}`, token, "tools/list", { cursor: first.nextCursor })).result as { tools: { name: string }[]; nextCursor?: string };
    expect(second.tools.map((tool) => tool.name)).toEqual(["valid.two", "valid_one", LONG_VALID]);
    expect(second.nextCursor).toBeUndefined();
    const prompts = (await listThrough(`/mcp/${connId}`, token, "prompts/list")).result as { prompts: { name: string }[] };
    expect(prompts.prompts.map((p) => p.name)).toEqual(["good_prompt"]);
    const resources = (await listThrough(`/mcp/${connId}`, token, "resources/list")).result as { resources: { uri: string }[] };
    expect(resources.resources.map((r) => r.uri)).toEqual(["fixture://good"]);
  });

  test("a tool dropped for its name cannot be called through the connection", async () => {
    const { token } = await mintKey(t.deps, admin, { [connId]: ["*"] });
    const answer = await listThrough(`/mcp/${connId}`, token, "tools/call", { name: "*", arguments: {} });
    expect(answer.result).toBeUndefined();
    expect((answer.error as { message: string }).message).toContain("Unknown tool");
  });

  test("the agent lists only valid tools, prompts and resources", async () => {
    const { token } = await mintKey(t.deps, admin, { [agentId]: ["*"] });
    const tools = (await listThrough(`/mcp/agent/${agentId}`, token, "tools/list")).result as { tools: { name: string }[] };
    expect(tools.tools.map((tool) => tool.name)).toEqual(VALID_TOOLS);
    const prompts = (await listThrough(`/mcp/agent/${agentId}`, token, "prompts/list")).result as { prompts: { name: string }[] };
    expect(prompts.prompts.map((p) => p.name)).toEqual(["good_prompt"]);
  });

  test("a key saved before actions followed MCP's name rule (a \"/\" in one) is still listed, and so is its WHOAMI", async () => {
    const { key, token } = await mintKey(t.deps, admin, { self: ["API_KEY_LIST", "WHOAMI"], [connId]: ["old/tool"] }, { name: "older key" });
    const list = await t.request("/api/v1/keys", { headers: { authorization: `Bearer ${token}` } });
    expect(list.status).toBe(200);
    const keys = ((await list.json()) as { keys: { id: string; permissions: Record<string, string[]> }[] }).keys;
    expect(keys.find((k) => k.id === key.id)?.permissions[connId]).toEqual(["old/tool"]);
    expect((await t.request("/api/v1/whoami", { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  });

  test("an agent that prefixes names neither lists nor calls one that the prefix takes past 128 characters", async () => {
    const prefixedId = configAgentId("prefixed");
    const { token } = await mintKey(t.deps, admin, { [prefixedId]: ["*"] });
    const tools = (await listThrough(`/mcp/agent/${prefixedId}`, token, "tools/list")).result as { tools: { name: string }[] };
    expect(tools.tools.map((tool) => tool.name)).toEqual(["hostile__valid_one", "hostile__valid.two"]);
    const call = await listThrough(`/mcp/agent/${prefixedId}`, token, "tools/call", { name: `hostile__${LONG_VALID}`, arguments: {} });
    // The agent's answer for a tool it does not have: the SDK's tool error result.
    expect(call.error).toBeUndefined();
    expect(call.result).toEqual({ content: [{ type: "text", text: `MCP error -32602: Tool hostile__${LONG_VALID} not found` }], isError: true });
    const page = await (await t.request("/admin/keys", { headers: { cookie: adminCookie } })).text();
    expect(checkboxValues(page, `grant_${prefixedId}`)).toEqual(["hostile__valid_one", "hostile__valid.two"]);
  });
});
