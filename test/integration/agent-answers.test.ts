// An agent answers as its upstream would: an unknown (or not permitted) tool gets what the SDK's
// McpServer gives, an upstream tool error result and an upstream JSON-RPC error pass through
// unchanged, and serverInfo is the upstream's whole (through a connection) or the agent's own.
// "The upstream" is the fixture itself, asked directly over stdio with no gateway in between.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { AgentSpec } from "../../src/domain/agents/tools.ts";
import type { Permissions } from "../../src/domain/access/permissions.ts";
import { Gateway } from "../../src/gateway/gateway.ts";
import { silentLogger } from "../../src/logger.ts";
import { VERSION } from "../../src/version.ts";
import { rejectionOf } from "../support/errors.ts";
import { FIXTURE, makeCaller, PROTOCOL_VERSION, rpcMessages, stdioSpec, type RpcError } from "../support/gateway-harness.ts";

const conn = stdioSpec({ slug: "answers", env: { FIXTURE_NAME: "answers" } });
const AGENT: AgentSpec = {
  id: "agent_00000000-0000-4000-8000-0000000000a1",
  slug: "answers-agent",
  title: "Answers agent",
  description: "Every tool, resource and prompt of one connection",
  instructions: "",
  enabled: true,
  prefixTools: false,
  connections: [{ connectionId: conn.id, tools: "all", resources: "all", prompts: "all" }],
  fromConfig: false,
};
const ALL: Permissions = { [AGENT.id]: ["*"], [conn.id]: ["*"] };

let gateway: Gateway;
let direct: Client;
const clients: Client[] = [];

beforeAll(async () => {
  gateway = new Gateway({
    sessionIdleMs: 60_000,
    maxSessions: 100,
    stderrLines: 50,
    maxBodyBytes: 4 << 20,
    logger: silentLogger,
    lookup: async (id) => (id === conn.id ? conn : null),
    lookupAgent: async (id) => (id === AGENT.id ? AGENT : null),
  });
  await gateway.refresh(conn.id);
  direct = new Client({ name: "direct", version: "1" });
  await direct.connect(new StdioClientTransport({ command: process.execPath, args: [FIXTURE], env: { ...process.env, FIXTURE_NAME: "answers" } as Record<string, string> }));
});

afterAll(async () => {
  await Promise.all([direct, ...clients].map((c) => c.close().catch(() => {})));
  await gateway.close();
});

/** Serves one request to the agent's endpoint or the connection's, as `permissions`. */
function fetcher(target: "agent" | "connection", permissions: Permissions): (url: string | URL, init?: RequestInit) => Promise<Response> {
  const caller = makeCaller(permissions);
  return async (url, init) => {
    const request = new Request(url, init);
    return target === "agent" ? gateway.handleAgent(request, AGENT, caller) : gateway.handle(request, (await gateway.runtime(conn.id))!, caller);
  };
}

async function connect(target: "agent" | "connection", permissions: Permissions = ALL): Promise<Client> {
  const client = new Client({ name: "answers", version: "1" });
  clients.push(client);
  const path = target === "agent" ? `/mcp/agent/${AGENT.id}` : `/mcp/${conn.id}`;
  await client.connect(new StreamableHTTPClientTransport(new URL(`http://localhost${path}`), { fetch: fetcher(target, permissions) }));
  return client;
}

/** One raw tools/call in a fresh session, and the JSON-RPC answer to it (result or error). */
async function rawCall(target: "agent" | "connection", params: Record<string, unknown>, permissions: Permissions = ALL): Promise<{ result?: Record<string, unknown>; error?: RpcError }> {
  const send = fetcher(target, permissions);
  const url = "http://localhost/mcp";
  const headers: Record<string, string> = { "content-type": "application/json", accept: "application/json, text/event-stream" };
  const init = await send(url, {
    method: "POST",
    headers,
    body: JSON.stringify({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "raw", version: "1" } } }),
  });
  const session = init.headers.get("mcp-session-id")!;
  await init.body?.cancel();
  const inSession = { ...headers, "mcp-session-id": session, "mcp-protocol-version": PROTOCOL_VERSION };
  await (await send(url, { method: "POST", headers: inSession, body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) })).body?.cancel();
  const response = await send(url, { method: "POST", headers: inSession, body: JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tools/call", params }) });
  const answer = (await rpcMessages(response)).find((m) => "id" in m && m.id === 7);
  if (!answer) throw new Error("no answer to the call");
  return answer as { result?: Record<string, unknown>; error?: RpcError };
}

describe("an agent answers as its upstream would", () => {
  test("an unknown tool gets the upstream's own answer: the SDK's tool error result, not a JSON-RPC error", async () => {
    const upstream = await direct.callTool({ name: "no_such_tool", arguments: {} });
    // What the SDK's McpServer answers (the ground truth this test holds the agent to).
    expect(upstream).toEqual({ content: [{ type: "text", text: "MCP error -32602: Tool no_such_tool not found" }], isError: true });
    expect(await (await connect("connection")).callTool({ name: "no_such_tool", arguments: {} })).toEqual(upstream);
    expect(await (await connect("agent")).callTool({ name: "no_such_tool", arguments: {} })).toEqual(upstream);
    // On the wire: a result, never an error object.
    const raw = await rawCall("agent", { name: "no_such_tool", arguments: {} });
    expect(raw.error).toBeUndefined();
    expect(raw.result).toEqual(upstream as Record<string, unknown>);
  });

  test("a tool the key may not call reads exactly like one that does not exist, and never reaches the upstream", async () => {
    const narrow = await connect("agent", { [AGENT.id]: ["echo"] });
    const refused = await narrow.callTool({ name: "add_tool", arguments: { name: "smuggled" } });
    expect(refused).toEqual({ content: [{ type: "text", text: "MCP error -32602: Tool add_tool not found" }], isError: true });
    const missing = await narrow.callTool({ name: "no_such_tool", arguments: {} });
    expect(JSON.stringify(missing).replace("no_such_tool", "add_tool")).toBe(JSON.stringify(refused));
    // add_tool would have registered "smuggled" in the connection's (shared) process: it is not there.
    expect((await (await connect("connection")).listTools()).tools.map((t) => t.name)).not.toContain("smuggled");
    // The narrow key still calls what it was granted.
    expect(await narrow.callTool({ name: "echo", arguments: { text: "granted" } })).toEqual({ content: [{ type: "text", text: "granted" }] });
  });

  test("a tools/call without a tool name is a protocol error (-32602), as the SDK's Server gives", async () => {
    const raw = await rawCall("agent", { arguments: {} });
    expect(raw.result).toBeUndefined();
    expect(raw.error?.code).toBe(-32602);
    expect(raw.error?.message).toContain("Invalid tools/call request");
  });

  test("an upstream tool error result passes through the agent unchanged", async () => {
    // The fixture's McpServer answers arguments that fail the tool's schema with a tool error result.
    const upstream = await direct.callTool({ name: "echo", arguments: { text: 5 } });
    expect(upstream.isError).toBe(true);
    expect(await (await connect("agent")).callTool({ name: "echo", arguments: { text: 5 } })).toEqual(upstream);
    const raw = await rawCall("agent", { name: "echo", arguments: { text: 5 } });
    expect(raw.error).toBeUndefined();
    expect(raw.result).toEqual(upstream as Record<string, unknown>);
  });

  test("an upstream JSON-RPC error keeps its code, message and data through the agent", async () => {
    const upstream = (await rejectionOf(direct.callTool({ name: "fail", arguments: {} }))) as RpcError;
    expect(upstream.code).toBe(-32042);
    const viaAgent = (await rejectionOf((await connect("agent")).callTool({ name: "fail", arguments: {} }))) as RpcError;
    expect({ code: viaAgent.code, message: viaAgent.message, data: viaAgent.data }).toEqual({ code: upstream.code, message: upstream.message, data: upstream.data });
    const raw = await rawCall("agent", { name: "fail", arguments: {} });
    expect(raw.result).toBeUndefined();
    expect(raw.error).toEqual({ code: -32042, message: "MCP error -32042: the fixture refuses", data: { reason: "asked to fail" } });
  });
});

describe("an agent's unknown prompt", () => {
  test("prompts/get and completion/complete of a prompt it does not have: the upstream's error, word for word", async () => {
    const errorOf = async (p: Promise<unknown>) => {
      const err = (await rejectionOf(p)) as RpcError;
      return { code: err.code, message: err.message };
    };
    const agent = await connect("agent");
    const get = { name: "no_such_prompt", arguments: {} };
    const upstreamGet = await errorOf(direct.getPrompt(get));
    expect(upstreamGet).toEqual({ code: -32602, message: "MCP error -32602: MCP error -32602: Prompt no_such_prompt not found" });
    expect(await errorOf(agent.getPrompt(get))).toEqual(upstreamGet);
    const complete = { ref: { type: "ref/prompt" as const, name: "no_such_prompt" }, argument: { name: "who", value: "A" } };
    // The fixture offers no completions; an McpServer that does answers this, as server-everything does.
    expect(await errorOf(agent.complete(complete))).toEqual(upstreamGet);
    // A key without "*" on the agent sees no prompt at all: the same error, not a hint that one exists.
    const narrow = await connect("agent", { [AGENT.id]: ["echo"] });
    expect(await errorOf(narrow.getPrompt({ name: "greet", arguments: { who: "A" } }))).toEqual({ code: -32602, message: "MCP error -32602: MCP error -32602: Prompt greet not found" });
  });
});

describe("serverInfo", () => {
  test("through a connection: everything the upstream gave (title, description, websiteUrl, icons)", async () => {
    const upstream = direct.getServerVersion()!;
    expect(upstream.title).toBe("The answers fixture");
    expect(upstream.icons).toHaveLength(1);
    expect((await connect("connection")).getServerVersion()).toEqual(upstream);
  });

  test("through an agent: the agent's own name, title and description, none of its upstream's", async () => {
    const info = (await connect("agent")).getServerVersion()!;
    expect(info).toEqual({ name: AGENT.slug, title: AGENT.title, description: AGENT.description, version: VERSION });
    for (const upstreamText of ["The answers fixture", "fixture.invalid", "1.0.0"]) expect(JSON.stringify(info)).not.toContain(upstreamText);
  });
});
