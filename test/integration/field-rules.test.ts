// Bounds and text rules on every face: connection timeouts past their maximum (a timer past ~24.8
// days fires at once) and control characters, NUL and bidi overrides in names and titles are refused
// with a field error over REST (400 VALIDATION_FAILED naming the field), over MCP (a tool error naming
// it) and in the admin forms (re-rendered with the field's error), and nothing is saved; multi-line
// fields keep their line breaks and tabs; the largest allowed session_ttl still signs people in.
import { describe, expect, test } from "bun:test";
import { listApiKeys } from "../../src/domain/access/api-keys.ts";
import { listAgents } from "../../src/domain/agents/agents.ts";
import { listConnections } from "../../src/domain/connections/connections.ts";
import { connectionStore } from "../../src/operations/connections.ts";
import { useTestApp } from "../support/app.ts";
import { useConnectionHarness, type ConnectionHarness } from "../support/connection-harness.ts";
import { apiRequest, mcpCall, mintKey } from "../support/key-harness.ts";

const harness = useConnectionHarness();
const testApp = useTestApp();
const FORM = { "content-type": "application/x-www-form-urlencoded", "sec-fetch-site": "same-origin" };
const HTTP = { slug: "remote", transport: "http", url: "https://mcp.example.com/mcp" };

/** Text a single-line field refuses: each kind the rule names. */
const BAD_SINGLE_LINE: [string, string][] = [
  ["a line feed", "two\nlines"],
  ["a tab", "a\tb"],
  ["NUL", "nul\u0000byte"],
  ["an escape sequence", "\u001b[31mred"],
  ["DEL", "del\u007f"],
  ["a C1 control", "next\u0085line"],
  ["a right-to-left override", "invoice\u202egpj.exe"],
  ["a left-to-right isolate", "a\u2066b\u2069"],
  ["a right-to-left mark", "a\u200fb"],
  ["an Arabic letter mark", "a\u061cb"],
];

async function setup(): Promise<{ h: ConnectionHarness; token: string }> {
  const h = await harness();
  return { h, token: (await mintKey(h.deps, h.admin, { self: ["*"], "*": ["*"] })).token };
}

async function refusal(res: Response): Promise<{ code: string; fields: Record<string, string> }> {
  expect(res.status).toBe(400);
  return ((await res.json()) as { error: { code: string; fields: Record<string, string> } }).error;
}

/** A management tool called over /mcp/self: its error text (the call must fail). */
async function toolError(h: ConnectionHarness, token: string, name: string, args: Record<string, unknown>): Promise<string> {
  const answer = await mcpCall(h.app, token, "tools/call", { name, arguments: args });
  const result = answer.result as { isError?: boolean; content: { text: string }[] } | undefined;
  expect(result?.isError).toBe(true);
  return result!.content[0]!.text;
}

describe("connection timeouts have a maximum", () => {
  test("REST refuses a call or connect timeout past its maximum, naming the field; nothing is saved", async () => {
    const { h, token } = await setup();
    const call = await refusal(await apiRequest(h.app, "POST", "/connections", { token, json: { ...HTTP, call_timeout_ms: 2 ** 31 } }));
    expect(call.code).toBe("VALIDATION_FAILED");
    expect(call.fields.call_timeout_ms).toBe("expected at most 86400000 ms (24h)");
    const connect = await refusal(await apiRequest(h.app, "POST", "/connections", { token, json: { ...HTTP, connect_timeout_ms: 3_600_000 } }));
    expect(connect.fields.connect_timeout_ms).toBe("expected at most 600000 ms (10m)");
    // JSON's 1e400 is Infinity once parsed: refused like any other number too large.
    const infinite = await refusal(await apiRequest(h.app, "POST", "/connections", { token, body: JSON.stringify(HTTP).replace("}", ',"call_timeout_ms":1e400}'), headers: { "content-type": "application/json" } }));
    expect(Object.keys(infinite.fields)).toEqual(["call_timeout_ms"]);
    expect(await listConnections(connectionStore(h.deps))).toEqual([]);
  });

  test("REST accepts the maximum and refuses one millisecond more on update", async () => {
    const { h, token } = await setup();
    const made = await apiRequest(h.app, "POST", "/connections", { token, json: { ...HTTP, call_timeout_ms: 86_400_000, connect_timeout_ms: 600_000 } });
    expect(made.status).toBe(201);
    const patch = await refusal(await apiRequest(h.app, "PATCH", "/connections/remote", { token, json: { call_timeout_ms: 86_400_001 } }));
    expect(Object.keys(patch.fields)).toEqual(["call_timeout_ms"]);
    expect((await listConnections(connectionStore(h.deps)))[0]!.callTimeoutMs).toBe(86_400_000);
  });

  test("MCP refuses it with a tool error naming the field", async () => {
    const { h, token } = await setup();
    const text = await toolError(h, token, "CONNECTION_CREATE", { ...HTTP, call_timeout_ms: 30 * 86_400_000 });
    expect(text).toContain("call_timeout_ms: expected at most 86400000 ms (24h)");
    expect(await listConnections(connectionStore(h.deps))).toEqual([]);
  });

  test("the admin form shows the field's error for a timeout too long or too large to read, never a 500", async () => {
    const { h } = await setup();
    const cookie = await h.cookieFor(h.admin);
    for (const value of ["25d", `${"9".repeat(400)}s`]) {
      const res = await h.request("/admin/connections", { method: "POST", headers: { ...FORM, cookie }, body: new URLSearchParams({ ...HTTP, call_timeout: value }).toString() });
      expect(res.status).toBe(400);
      const html = await res.text();
      expect(html).toMatch(/<div class="field-error" role="alert">call_timeout: expected (at most 86400000 ms \(24h\)|a duration)/);
    }
    expect(await listConnections(connectionStore(h.deps))).toEqual([]);
  });
});

describe("the largest allowed session_ttl", () => {
  test("365d signs people in, with a cookie that lasts that long", async () => {
    const t = await testApp({ security: { session_ttl: "365d" } });
    await t.createUser("long@example.com", "admin");
    const res = await t.request("/admin/login", { method: "POST", headers: FORM, body: new URLSearchParams({ email: "long@example.com", password: "correct horse battery" }).toString() });
    expect(res.status).toBe(303);
    expect(res.headers.get("set-cookie")).toContain(`Max-Age=${365 * 86_400}`);
    const cookie = res.headers.get("set-cookie")!.split(";")[0]!;
    expect((await t.request("/admin/keys", { headers: { cookie } })).status).toBe(200);
  });
});

describe("names and titles refuse control characters and bidi overrides", () => {
  for (const [what, text] of BAD_SINGLE_LINE) {
    test(`REST refuses ${what} in a connection title, an agent title and a key name`, async () => {
      const { h, token } = await setup();
      const conn = await refusal(await apiRequest(h.app, "POST", "/connections", { token, json: { ...HTTP, title: text } }));
      expect(conn.code).toBe("VALIDATION_FAILED");
      expect(conn.fields.title).toContain("cannot contain control characters");
      const agent = await refusal(await apiRequest(h.app, "POST", "/agents", { token, json: { slug: "a", title: text, connections: [] } }));
      expect(Object.keys(agent.fields)).toEqual(["title"]);
      const key = await refusal(await apiRequest(h.app, "POST", "/keys", { token, json: { name: text, permissions: { self: ["WHOAMI"] } } }));
      expect(Object.keys(key.fields)).toEqual(["name"]);
      expect(await listConnections(connectionStore(h.deps))).toEqual([]);
      expect(await listAgents(h.deps.db)).toEqual([]);
      expect((await listApiKeys(h.deps.db)).map((k) => k.name)).toEqual(["test key"]);
    });
  }

  test("multi-line fields keep line breaks and tabs but refuse the rest", async () => {
    const { h, token } = await setup();
    const ok = await apiRequest(h.app, "POST", "/connections", { token, json: { ...HTTP, title: "Remote (EU)", description: "Line one\r\nline two\n\tindented" } });
    expect(ok.status).toBe(201);
    const agentOk = await apiRequest(h.app, "POST", "/agents", { token, json: { slug: "a", instructions: "Step 1.\nStep 2.", connections: [] } });
    expect(agentOk.status).toBe(201);
    const bad: [string, string, Record<string, unknown>][] = [
      ["/connections/remote", "description", { description: "nul\u0000" }],
      ["/connections/remote", "description", { description: "lone\rreturn" }],
      ["/agents/a", "instructions", { instructions: "\u001b]0;owned\u0007" }],
      ["/agents/a", "description", { description: "a\u202eb" }],
      ["/agents/a", "connections.0.tools.0.description", { connections: [{ connection: "remote", tools: [{ name: "x", description: "a\u2067b" }] }] }],
    ];
    for (const [path, field, body] of bad) {
      const error = await refusal(await apiRequest(h.app, "PATCH", path, { token, json: body }));
      expect(error.fields[field]).toContain("cannot contain control characters other than line breaks and tabs");
    }
    expect((await listConnections(connectionStore(h.deps)))[0]!.description).toBe("Line one\r\nline two\n\tindented");
  });

  test("MCP refuses them with a tool error naming the field", async () => {
    const { h, token } = await setup();
    expect(await toolError(h, token, "CONNECTION_CREATE", { ...HTTP, title: "evil\u202eexe" })).toContain("title: cannot contain control characters");
    expect(await toolError(h, token, "API_KEY_CREATE", { name: "ci\nbot", permissions: { self: ["WHOAMI"] } })).toContain("name: cannot contain control characters");
    expect(await toolError(h, token, "AGENT_CREATE", { slug: "a", instructions: "\u0000", connections: [] })).toContain("instructions: cannot contain");
  });

  test("the admin forms are re-rendered with the field's error, and nothing is saved", async () => {
    const { h } = await setup();
    const cookie = await h.cookieFor(h.admin);
    const post = (path: string, fields: [string, string][]) => h.request(path, { method: "POST", headers: { ...FORM, cookie }, body: new URLSearchParams(fields).toString() });

    const conn = await post("/admin/connections", Object.entries({ ...HTTP, title: "evil\u202eexe" }));
    expect(conn.status).toBe(400);
    const connHtml = await conn.text();
    expect(connHtml).toContain('<div class="field-error" role="alert">title: cannot contain control characters');
    expect(connHtml).toContain('name="slug"'); // the form again, with what was typed

    const agent = await post("/admin/agents", [["slug", "helper"], ["title", "a\u2066b"], ["description", ""], ["instructions", ""]]);
    expect(agent.status).toBe(400);
    expect(await agent.text()).toContain('<div class="field-error" role="alert">cannot contain control characters');

    const key = await post("/admin/keys", [["name", "ci\u0085bot"], ["self", "WHOAMI"]]);
    const keyHtml = await key.text();
    expect(key.status).toBe(400);
    expect(keyHtml).toContain("name: cannot contain control characters");
    expect(keyHtml).not.toContain('id="token-dialog"');

    expect(await listConnections(connectionStore(h.deps))).toEqual([]);
    expect(await listAgents(h.deps.db)).toEqual([]);
    expect((await listApiKeys(h.deps.db)).map((k) => k.name)).toEqual(["test key"]);
  });
});
