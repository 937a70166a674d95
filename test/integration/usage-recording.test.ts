// Every MCP request to a connection or agent is recorded once, with its outcome, names, caller, client,
// address, session and sizes: an in-memory sink behind the real gateway and the fixture upstream, over
// the connection path and the agent path, the hot path (direct answers) and the SDK's transport.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { AgentSpec } from "../../src/domain/agents/tools.ts";
import type { ConnectionSpec } from "../../src/domain/connections/spec.ts";
import type { UsageRecord, UsageSink } from "../../src/domain/monitoring/types.ts";
import { listUsage } from "../../src/domain/monitoring/usage.ts";
import { createTestApp, type TestApp } from "../support/app.ts";
import { FIXTURE, GatewayHarness, makeCaller, rpcMessages, stdioSpec, waitUntil, type GatewayCaller } from "../support/gateway-harness.ts";
import { mintKey } from "../support/key-harness.ts";
import { insertUser } from "../support/users.ts";

class MemorySink implements UsageSink {
  records: UsageRecord[] = [];
  record(record: UsageRecord): void {
    this.records.push(record);
  }
  /** The records of `method` (and `name`), in order. */
  of(method: string, name?: string): UsageRecord[] {
    return this.records.filter((r) => r.method === method && (name === undefined || r.name === name));
  }
}

const SECRET_TOKEN = "fixture-secret-token-0123456789";
const CONNECTION_TOKEN = "conn-bearer-token-abcdefghij";
const ADDRESS = "198.51.100.23";

const sink = new MemorySink();
// Recorded without payloads; the call timeout short so `slow` times out.
const conn: ConnectionSpec = stdioSpec({ slug: "rec-conn", callTimeoutMs: 400 });
// Records payloads; its token and env hold secrets the fixture can be made to echo.
const payloadConn: ConnectionSpec = stdioSpec({ slug: "rec-payload", recordPayloads: true, token: CONNECTION_TOKEN, env: { API_TOKEN: SECRET_TOKEN } });
const agent: AgentSpec = {
  id: "agent_00000000-0000-4000-8000-000000000a13",
  slug: "rec-agent",
  title: "Recording agent",
  description: "",
  instructions: "",
  enabled: true,
  prefixTools: false,
  connections: [{ connectionId: conn.id, tools: [{ name: "echo", alias: "say" }, { name: "fail" }, { name: "slow" }, { name: "add" }, { name: "big" }], resources: "all", prompts: "all" }],
  fromConfig: false,
};

let harness: GatewayHarness;
const all: GatewayCaller = makeCaller({ "*": ["*"], [agent.id]: ["*"] }, "key_all");
// Only echo on the connection, only `say` on the agent: no resources.
const narrow: GatewayCaller = makeCaller({ [conn.id]: ["echo"], [agent.id]: ["say"] }, "key_narrow");

beforeAll(() => {
  harness = new GatewayHarness([conn, payloadConn], {
    agents: [agent],
    address: ADDRESS,
    usage: { sink, payloadMaxBytes: 300, redactPatterns: ["pattern-[0-9]+"] },
  });
});
afterAll(async () => {
  await harness.close();
});
beforeEach(() => {
  sink.records = [];
});

/** Connects an SDK client to the connection or the agent as `caller`. */
function open(target: "connection" | "agent", caller: GatewayCaller = all): Promise<Client> {
  return target === "connection" ? harness.connect(conn.id, { caller }) : harness.connectAgent(agent.id, { caller });
}

/** The one record of `method`/`name` (fails on none or more than one). */
function only(method: string, name?: string): UsageRecord {
  const found = sink.of(method, name);
  expect(found).toHaveLength(1);
  return found[0]!;
}

describe.each(["connection", "agent"] as const)("through the %s path", (path) => {
  const exposed = path === "agent" ? "say" : "echo";
  const targetId = path === "agent" ? agent.id : conn.id;

  test("an ok call: names, target, caller, client, address, session, sizes, no payload", async () => {
    const client = await open(path);
    const result = await client.callTool({ name: exposed, arguments: { text: "hello" } });
    expect(result.isError).toBeFalsy();
    const r = only("tools/call", exposed);
    expect(r.outcome).toBe("ok");
    expect(r.face).toBe("mcp");
    expect(r.target).toEqual({ kind: path, id: targetId, slug: path === "agent" ? "rec-agent" : "rec-conn" });
    // The alias resolved to the upstream's name, and the connection that served it.
    expect(r.upstreamName).toBe("echo");
    expect(r.connectionId).toBe(conn.id);
    expect(r.actor).toEqual({ userId: "user_1", credentialKind: "api_key", credentialId: "key_all" });
    expect(r.client).toEqual({ name: "gateway-test", version: "1.0.0" });
    expect(r.address).toBe(ADDRESS);
    expect(r.sessionId).toBeTruthy();
    expect(r.requestBytes).toBeGreaterThan(40);
    expect(r.responseBytes).toBeGreaterThan(20);
    expect(r.errorCode).toBeNull();
    expect(r.payload).toBeNull();
    // initialize was recorded too, in the same session.
    const init = only("initialize");
    expect(init.outcome).toBe("ok");
    expect(init.sessionId).toBe(r.sessionId);
    expect(init.client.name).toBe("gateway-test");
  });

  test("a JSON-RPC error keeps its code; a long answer's size is counted", async () => {
    const client = await open(path);
    await expect(client.callTool({ name: "fail", arguments: {} }, undefined)).rejects.toThrow();
    const failed = only("tools/call", "fail");
    expect(failed.outcome).toBe("error");
    expect(failed.errorCode).toBe("-32042");
    expect(failed.errorMessage).toContain("the fixture refuses");
    await client.callTool({ name: "big", arguments: { bytes: 20_000 } });
    expect(only("tools/call", "big").responseBytes).toBeGreaterThan(20_000);
  });

  test("a tool error (isError) is tool_error", async () => {
    const client = await open(path);
    // The upstream's own input validation answers with isError.
    const result = await client.callTool({ name: "add", arguments: { a: "not a number", b: 1 } });
    expect(result.isError).toBe(true);
    expect(only("tools/call", "add").outcome).toBe("tool_error");
  });

  test("refused: a tool the key may not call, and a tool that does not exist", async () => {
    const client = await open(path, narrow);
    const refused = await client.callTool({ name: "add", arguments: { a: 1, b: 2 } }).catch((err: unknown) => err);
    expect(refused).toBeDefined();
    const r = only("tools/call", "add");
    expect(r.outcome).toBe("refused");
    // Never forwarded: no upstream name.
    expect(r.upstreamName).toBeNull();
    expect(r.actor.credentialId).toBe("key_narrow");
    await client.callTool({ name: "no_such_tool", arguments: {} }).catch(() => {});
    expect(only("tools/call", "no_such_tool").outcome).toBe("refused");
    // Resources without "*": refused too.
    await client.listResources().catch(() => {});
    expect(only("resources/list").outcome).toBe("refused");
  });

  test("timeout: the call timeout, and a cancellation by the client", async () => {
    const client = await open(path);
    await expect(client.callTool({ name: "slow", arguments: { ms: 5000, steps: 1 } })).rejects.toThrow();
    const timedOut = await waitUntil(() => sink.of("tools/call", "slow")[0], "the timed-out call's record");
    expect(timedOut.outcome).toBe("timeout");
    const controller = new AbortController();
    const call = client.callTool({ name: "slow", arguments: { ms: 5000, steps: 1 } }, undefined, { signal: controller.signal });
    await waitUntil(async () => (await harness.runtime(conn.id)).sessions.size > 0, "the call under way");
    await Bun.sleep(50); // bounded: lets the request reach the upstream before it is cancelled
    controller.abort("changed my mind");
    await call.catch(() => {});
    const cancelled = await waitUntil(() => sink.of("tools/call", "slow")[1], "the cancelled call's record");
    expect(cancelled.outcome).toBe("timeout");
    expect(sink.of("tools/call", "slow")).toHaveLength(2);
  });

  test("list, read, get and complete are recorded with their names; one record per request", async () => {
    const client = await open(path);
    await client.listTools();
    await client.readResource({ uri: "fixture://counter" });
    await client.getPrompt({ name: "greet", arguments: { who: "Ada" } });
    await client.complete({ ref: { type: "ref/prompt", name: "greet" }, argument: { name: "who", value: "A" } }).catch(() => {});
    await client.setLoggingLevel("debug");
    await client.ping();
    expect(only("tools/list").name).toBeNull();
    expect(only("resources/read").name).toBe("fixture://counter");
    expect(only("resources/read").outcome).toBe("ok");
    expect(only("prompts/get").name).toBe("greet");
    expect(only("prompts/get").connectionId).toBe(conn.id);
    expect(only("completion/complete").name).toBe("greet");
    expect(only("logging/setLevel").outcome).toBe("ok");
    expect(only("ping").outcome).toBe("ok");
    // Notifications (initialized) are not requests: never recorded.
    expect(sink.records.some((r) => r.method.startsWith("notifications/"))).toBe(false);
    const ids = sink.records.map((r) => `${r.method} ${r.name}`);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe("the SDK's transport path and batches", () => {
  test("a batch is one record per request in it, never two", async () => {
    const sessionId = await harness.openRawSession(conn.id, all);
    sink.records = [];
    const response = await harness.post(
      conn.id,
      all,
      [
        { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "echo", arguments: { text: "a" } } },
        { jsonrpc: "2.0", id: 2, method: "tools/list", params: {} },
        { jsonrpc: "2.0", method: "notifications/roots/list_changed" },
      ],
      sessionId,
    );
    expect((await rpcMessages(response)).length).toBe(2);
    await waitUntil(() => sink.records.length >= 2, "two records");
    expect(sink.records).toHaveLength(2);
    expect(only("tools/call", "echo").outcome).toBe("ok");
    expect(only("tools/list").sessionId).toBe(sessionId);
    // The raw session's client said who it was in its initialize.
    expect(only("tools/list").client).toEqual({ name: "raw", version: "1" });
  });

  test("a method the gateway does not serve is refused, and never reaches the upstream", async () => {
    const sessionId = await harness.openRawSession(conn.id, all);
    sink.records = [];
    const response = await harness.post(conn.id, all, { jsonrpc: "2.0", id: 7, method: "secret/extension", params: {} }, sessionId);
    const [answer] = (await rpcMessages(response)) as { error?: { code: number } }[];
    expect(answer?.error?.code).toBe(-32601);
    const r = only("secret/extension");
    expect(r.outcome).toBe("refused");
    expect(r.errorCode).toBe("-32601");
  });
});

describe("payloads", () => {
  test("off: the record holds no arguments anywhere", async () => {
    const client = await open("connection");
    await client.callTool({ name: "echo", arguments: { text: "do-not-keep-this" } });
    const r = only("tools/call", "echo");
    expect(r.payload).toBeNull();
    expect(JSON.stringify(r)).not.toContain("do-not-keep-this");
  });

  test("on: arguments and result kept, cut to the cap, the connection's secrets and the patterns masked", async () => {
    const client = await harness.connect(payloadConn.id, { caller: all });
    // The fixture echoes what it is sent: the connection's own secret and a configured pattern.
    await client.callTool({ name: "echo", arguments: { text: `token ${CONNECTION_TOKEN}, env ${SECRET_TOKEN} and pattern-12345` } });
    const r = only("tools/call", "echo");
    const text = JSON.stringify(r);
    expect(text).not.toContain(CONNECTION_TOKEN);
    expect(text).not.toContain(SECRET_TOKEN);
    expect(text).not.toContain("pattern-12345");
    expect(String(r.payload?.arguments)).toContain("[redacted]");
    expect(String(r.payload?.result)).toContain("[redacted]");
    expect(r.payload?.truncated).toBe(false);
    await client.callTool({ name: "big", arguments: { bytes: 5000 } });
    const big = only("tools/call", "big");
    expect(big.payload?.truncated).toBe(true);
    expect(Buffer.byteLength(String(big.payload?.result))).toBeLessThanOrEqual(300);
    expect(big.responseBytes).toBeGreaterThan(5000);
  });
});

describe("through the HTTP routes", () => {
  const routeSink = new MemorySink();
  let app: TestApp;
  let connId: string;
  const tokens: Record<string, string> = {};
  let refusedKeyId = "";
  const post = (path: string, token: string | null, body: unknown): Promise<Response> =>
    Promise.resolve(
      app.app.request(path, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(body),
      }),
    );
  const INIT = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "edge", version: "2" } } };

  beforeAll(async () => {
    app = await createTestApp({ usage: routeSink });
    const admin = await insertUser(app.deps, "admin", "admin@example.com");
    tokens.manage = (await mintKey(app.deps, admin, { self: ["*"] })).token;
    const created = await app.app.request("/api/v1/connections", {
      method: "POST",
      headers: { authorization: `Bearer ${tokens.manage}`, "content-type": "application/json" },
      body: JSON.stringify({ slug: "rec-edge", transport: "stdio", command: process.execPath, args: [FIXTURE] }),
    });
    connId = ((await created.json()) as { id: string }).id;
    tokens.conn = (await mintKey(app.deps, admin, { [connId]: ["*"] })).token;
    const refusedKey = await mintKey(app.deps, admin, { self: ["WHOAMI"] });
    tokens.none = refusedKey.token;
    refusedKeyId = refusedKey.key.id;
  });
  afterAll(async () => {
    await app.deps.gateway.close();
    app.close();
  });
  beforeEach(() => {
    routeSink.records = [];
  });

  test("a 401 is not recorded (no credential, or a wrong one)", async () => {
    expect((await post("/mcp/rec-edge", null, INIT)).status).toBe(401);
    expect((await post("/mcp/rec-edge", "mcp_key_wrong", INIT)).status).toBe(401);
    expect(routeSink.records).toEqual([]);
  });

  test("a 403 (no grant on the connection or agent) is recorded as refused, once, naming the caller", async () => {
    const response = await post("/mcp/rec-edge", tokens.none!, { jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "echo", arguments: { text: "x" } } });
    expect(response.status).toBe(403);
    expect(routeSink.records).toHaveLength(1);
    const r = routeSink.records[0]!;
    expect(r.outcome).toBe("refused");
    expect(r.method).toBe("tools/call");
    expect(r.name).toBe("echo");
    expect(r.upstreamName).toBeNull();
    expect(r.target).toEqual({ kind: "connection", id: connId, slug: "rec-edge" });
    expect(r.actor.credentialId).toBe(refusedKeyId);
    expect(r.errorCode).toBe("FORBIDDEN");
    expect(r.payload).toBeNull();
    expect((await post("/mcp/agent/nope", tokens.none!, INIT)).status).toBe(403);
    expect(routeSink.records).toHaveLength(2);
    expect(routeSink.records[1]!.target.kind).toBe("agent");
    expect(routeSink.records[1]!.method).toBe("initialize");
  });

  test("an initialize through the route carries the client address and the client's name", async () => {
    const response = await post("/mcp/rec-edge", tokens.conn!, INIT);
    expect(response.status).toBe(200);
    await response.body?.cancel();
    const r = await waitUntil(() => routeSink.records.find((x) => x.method === "initialize"), "the initialize record");
    expect(r.outcome).toBe("ok");
    expect(r.client).toEqual({ name: "edge", version: "2" });
    // app.request has no socket: clientIp's answer for that (a real server gives the peer's address).
    expect(r.address).toBe("unknown");
    expect(r.sessionId).toBe(response.headers.get("mcp-session-id"));
  });
});

describe("the real recorder", () => {
  test("a server's gateway writes its MCP requests through the usage recorder to the database", async () => {
    const app = await createTestApp();
    try {
      const admin = await insertUser(app.deps, "admin", "admin@example.com");
      const manage = (await mintKey(app.deps, admin, { self: ["*"] })).token;
      const created = await app.app.request("/api/v1/connections", {
        method: "POST",
        headers: { authorization: `Bearer ${manage}`, "content-type": "application/json" },
        body: JSON.stringify({ slug: "rec-db", transport: "stdio", command: process.execPath, args: [FIXTURE] }),
      });
      const connId = ((await created.json()) as { id: string }).id;
      const { key, token } = await mintKey(app.deps, admin, { [connId]: ["*"] });
      const response = await app.app.request("/mcp/rec-db", {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream", authorization: `Bearer ${token}` },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "db", version: "1" } } }),
      });
      expect(response.status).toBe(200);
      await response.body?.cancel();
      await waitUntil(() => app.deps.usageRecorder.counters.recorded > 0, "the record queued");
      await app.deps.usageRecorder.flush();
      const { rows } = await listUsage(app.deps.db, { from: new Date(Date.now() - 60_000), to: new Date(Date.now() + 60_000), credentialId: key.id }, { limit: 10 });
      expect(rows.map((r) => [r.method, r.outcome, r.target.slug, r.client.name])).toEqual([["initialize", "ok", "rec-db", "db"]]);
    } finally {
      await app.deps.gateway.close();
      app.close();
    }
  });
});


describe("requests no session takes", () => {
  test("an initialize past max_sessions is recorded as refused (with the client's name); one the upstream cannot serve, as an error", async () => {
    const capped = new MemorySink();
    const unreachable = stdioSpec({ slug: "rec-broken", command: "/nonexistent/switchboard-test-binary", args: [], connectTimeoutMs: 2000 });
    const small = new GatewayHarness([conn, unreachable], { maxSessions: 1, usage: { sink: capped, payloadMaxBytes: 300, redactPatterns: [] } });
    try {
      await small.openRawSession(conn.id, all);
      const refused = await small.post(conn.id, all, { jsonrpc: "2.0", id: 9, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "late", version: "3" } } });
      expect(refused.status).toBe(503);
      const r = capped.records.find((x) => x.client.name === "late");
      expect(r?.outcome).toBe("refused");
      expect(r?.method).toBe("initialize");
      expect(r?.errorCode).toBe("-32000");
      expect(capped.records.filter((x) => x.client.name === "late")).toHaveLength(1);
    } finally {
      await small.close();
    }
    const failing = new MemorySink();
    const broken = new GatewayHarness([unreachable], { usage: { sink: failing, payloadMaxBytes: 300, redactPatterns: [] } });
    try {
      const response = await broken.post(unreachable.id, all, { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "b", version: "1" } } });
      expect(response.status).toBe(502);
      expect(failing.records).toHaveLength(1);
      expect(failing.records[0]!.outcome).toBe("error");
      expect(failing.records[0]!.errorCode).toBe("-32603");
    } finally {
      await broken.close();
    }
  });
});
