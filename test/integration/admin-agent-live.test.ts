// An agent declared in the config, over the real gateway and a real stdio upstream (the fixture
// server): its admin page lists the discovered tools with their schema, "Try it" reaches the upstream
// by the agent's exposed name as the signed-in user, and a client with a key granted the agent sees
// the same tools at /mcp/agent/<slug>.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { join } from "node:path";
import { configConnectionId } from "../../src/domain/connections/config.ts";
import { configAgentId } from "../../src/domain/agents/config.ts";
import { createTestApp } from "../support/app.ts";
import { mintKey } from "../support/key-harness.ts";
import { insertUser, sessionCookieFor } from "../support/users.ts";
import { bundledFixture } from "../support/fixture-bundle.ts";

const FIXTURE = await bundledFixture(join(import.meta.dir, "../fixtures/upstream-server.ts"));
const t = await createTestApp({
  overrides: {
    connections: [{ slug: "fixture", command: process.execPath, args: [FIXTURE] }],
    agents: [{ slug: "demo", connections: [{ connection: "fixture", tools: [{ name: "add", alias: "sum", description: "Adds" }, "echo"] }] }],
  },
});
const { deps, app } = t;
const agentId = configAgentId("demo");
let cookie = "";

beforeAll(async () => {
  const member = await insertUser(deps, "member");
  cookie = await sessionCookieFor(deps, member, 60_000);
  await deps.gateway.refresh(configConnectionId("fixture"));
});

afterAll(async () => {
  await deps.gateway.close();
  t.close();
});

function tryIt(tool: string, args: string): Promise<string> {
  const headers = { cookie, "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "same-origin", "hx-request": "true" };
  return Promise.resolve(app.request(`/admin/agents/${agentId}/try`, { method: "POST", headers, body: new URLSearchParams({ tool, arguments: args }).toString() })).then((r) => r.text());
}

describe("an agent over a real upstream", () => {
  test("its page lists the exposed tools with the upstream's input schema", async () => {
    const html = await (await app.request(`/admin/agents/${agentId}`, { headers: { cookie } })).text();
    expect(html).toContain("Tools (2)");
    expect(html).toContain("<code>fixture/add</code>");
    expect(html).toContain('<input type="hidden" name="tool" value="sum"/>');
    expect(html).toContain("&quot;a&quot;: {");
    expect(html).not.toContain("missing</span>");
  });

  test("Try it calls the upstream's tool by the agent's name for it", async () => {
    const sum = await tryIt("sum", '{"a": 2, "b": 40}');
    expect(sum).toContain('class="alert ok try-outcome"');
    expect(sum).toContain('<pre class="try-text">42</pre>');
    expect(await tryIt("echo", '{"text": "hello through the agent"}')).toContain("hello through the agent");
  });

  test("a name the agent does not expose is refused, even when the upstream has it", async () => {
    const refused = await tryIt("add", '{"a": 1, "b": 1}');
    expect(refused).toContain('class="alert error try-outcome"');
    expect(refused).not.toContain('<pre class="try-text">2</pre>');
    expect(await tryIt("whoami", "{}")).toContain('class="alert error try-outcome"');
  });
});

test("a client with a key granted the agent lists and calls its tools at /mcp/agent/<slug>", async () => {
  const owner = await insertUser(deps, "member");
  const { token } = await mintKey(deps, owner, { [agentId]: ["*"] });
  const transport = new StreamableHTTPClientTransport(new URL("http://switchboard.test/mcp/agent/demo"), {
    fetch: (url, init) => Promise.resolve(app.request(String(url), init)),
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  const client = new Client({ name: "agent-live-test", version: "1.0.0" });
  await client.connect(transport);
  try {
    const { tools } = await client.listTools();
    expect(tools.map((t) => [t.name, t.description])).toEqual([["sum", "Adds"], ["echo", "Echo the text back"]]);
    expect(await client.callTool({ name: "sum", arguments: { a: 20, b: 22 } })).toMatchObject({ content: [{ type: "text", text: "42" }] });
  } finally {
    await client.close();
  }
});
