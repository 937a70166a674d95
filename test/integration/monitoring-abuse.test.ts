// Monitoring against abuse (found in review): what the transport refuses is recorded when it answers, names and
// labels are bounded, a refused input cannot park a megabyte in the audit log, secrets in odd shapes are masked, and a
// management call refused through MCP is recorded like one refused through REST.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { UsageRecord, UsageSink } from "../../src/domain/monitoring/types.ts";
import { maskSecrets } from "../../src/domain/monitoring/mask.ts";
import { listAudit } from "../../src/domain/monitoring/audit.ts";
import { createTestApp, type TestApp } from "../support/app.ts";
import { FIXTURE, GatewayHarness, makeCaller, PROTOCOL_VERSION, stdioSpec } from "../support/gateway-harness.ts";
import { mintKey } from "../support/key-harness.ts";
import { insertUser } from "../support/users.ts";

class MemorySink implements UsageSink {
  records: UsageRecord[] = [];
  record(record: UsageRecord): void {
    this.records.push(record);
  }
}

describe("gateway capture", () => {
  const sink = new MemorySink();
  const conn = stdioSpec({ slug: "rev-conn", recordPayloads: true });
  let harness: GatewayHarness;
  const all = makeCaller({ "*": ["*"] }, "key_all");
  const narrow = makeCaller({ [conn.id]: ["echo"] }, "key_narrow");
  beforeAll(async () => {
    harness = new GatewayHarness([conn], { usage: { sink, payloadMaxBytes: 16384, redactPatterns: [] } });
  });
  afterAll(async () => {
    await harness.close();
  });

  test("a request the transport rejects (no jsonrpc field) is recorded once, when it is answered, not left pending", async () => {
    const sessionId = await harness.openRawSession(conn.id, all);
    sink.records = [];
    // requestsIn() accepts {id, method} without "jsonrpc": begin() runs, the SDK answers 400, answered() never runs.
    const big = "A".repeat(1 << 20);
    for (let i = 0; i < 5; i++) {
      const response = await harness.post(conn.id, all, { id: 1000 + i, method: "tools/call", params: { name: "echo", arguments: { text: big } } }, sessionId);
      expect(response.status).toBeGreaterThanOrEqual(400);
    }
    // Each of the five requests was answered (400): five records now, not five pending entries each
    // holding 1 MiB of arguments until the session closes.
    expect(sink.records.filter((r) => r.method === "tools/call")).toHaveLength(5);
  });

  test("a tool name is bounded in what is stored (the filter accepts at most 512 characters)", async () => {
    const sessionId = await harness.openRawSession(conn.id, narrow);
    sink.records = [];
    const name = "x".repeat(200_000);
    const response = await harness.post(conn.id, narrow, { jsonrpc: "2.0", id: 5, method: "tools/call", params: { name, arguments: {} } }, sessionId);
    await response.text();
    const r = sink.records.find((x) => x.method === "tools/call");
    expect(r?.outcome).toBe("refused");
    expect(r!.name!.length).toBeLessThanOrEqual(512);
  });
});

describe("route-level refusals and /metrics", () => {
  let app: TestApp;
  let connId = "";
  const tokens: Record<string, string> = {};
  const post = (path: string, token: string, body: unknown) =>
    Promise.resolve(
      app.app.request(path, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream", authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
      }),
    );
  const INIT = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "x", version: "1" } } };

  beforeAll(async () => {
    app = await createTestApp();
    const admin = await insertUser(app.deps, "admin", "admin@example.com");
    const member = await insertUser(app.deps, "member", "member@example.com");
    tokens.manage = (await mintKey(app.deps, admin, { self: ["*"] })).token;
    // A member's key with no grant on any connection: only WHOAMI.
    tokens.none = (await mintKey(app.deps, member, { self: ["WHOAMI"] })).token;
    const created = await app.app.request("/api/v1/connections", {
      method: "POST",
      headers: { authorization: `Bearer ${tokens.manage}`, "content-type": "application/json" },
      body: JSON.stringify({ slug: "rev-later", transport: "stdio", command: process.execPath, args: [FIXTURE] }),
    });
    connId = ((await created.json()) as { id: string }).id;
    tokens.conn = (await mintKey(app.deps, admin, { [connId]: ["*"] })).token;
  });
  afterAll(async () => {
    await app.deps.gateway.close();
    app.close();
  });

  test("a key with no grant cannot fill /metrics' target labels with its own text (a real connection is then 'other')", async () => {
    for (let i = 0; i < 1000; i++) expect((await post(`/mcp/junk-${i}-${"z".repeat(2000)}`, tokens.none!, INIT)).status).toBe(403);
    const ok = await post("/mcp/rev-later", tokens.conn!, INIT);
    expect(ok.status).toBe(200);
    await ok.body?.cancel();
    const series = app.deps.callMetrics.callSeries();
    // No label is the caller's 2 KB of text, and the real connection keeps its own label.
    expect(series.filter((s) => s.method === "initialize" && s.outcome === "ok").map((s) => s.target)).toEqual(["rev-later"]);
    expect(series.filter((s) => s.target.startsWith("junk-")).length).toBe(0);
  });
});

describe("audit masking", () => {
  test("headers sent as a list of pairs (an invalid input, stored raw) are masked", () => {
    const raw = { slug: "gh", transport: "http", url: "https://x.example", headers: [["Authorization", "Bearer ghp_supersecretvalue123"]] };
    expect(JSON.stringify(maskSecrets(raw))).not.toContain("ghp_supersecretvalue123");
  });
});

describe("operations' rows", () => {
  let app: TestApp;
  let connOnly = "";
  let whoami = "";
  beforeAll(async () => {
    app = await createTestApp();
    const member = await insertUser(app.deps, "member", "m2@example.com");
    // A script's key: one connection, no management permission at all.
    connOnly = (await mintKey(app.deps, member, { "*": ["*"] })).token;
    whoami = (await mintKey(app.deps, member, { self: ["WHOAMI"] })).token;
  });
  afterAll(async () => {
    await app.deps.gateway.close();
    app.close();
  });

  test("a key with no management permission cannot store a megabyte in the audit log (kept 365 days) per request", async () => {
    const response = await app.request("/api/v1/connections", {
      method: "POST",
      headers: { authorization: `Bearer ${connOnly}`, "content-type": "application/json" },
      body: JSON.stringify({ slug: "x", transport: "http", url: "https://example.com/mcp", description: "D".repeat(1 << 20) }),
    });
    expect(response.status).toBe(403);
    const { rows } = await listAudit(app.deps.db, {}, { limit: 10 });
    const stored = rows.map((r) => JSON.stringify(r.change).length);
    expect(stored.length).toBe(1);
    expect(stored[0]!).toBeLessThan(64 * 1024);
  });

  test("a management call refused through /mcp/self is recorded like the same call refused through REST", async () => {
    const before = (await listAudit(app.deps.db, { action: "CONNECTION_DELETE" }, { limit: 10 })).rows.length;
    const rest = await app.request("/api/v1/connections/conn_00000000-0000-4000-8000-000000000001", { method: "DELETE", headers: { authorization: `Bearer ${whoami}` } });
    expect(rest.status).toBe(403);
    const afterRest = (await listAudit(app.deps.db, { action: "CONNECTION_DELETE" }, { limit: 10 })).rows.length;
    expect(afterRest).toBe(before + 1);
    const mcp = await app.request("/mcp/self", {
      method: "POST",
      headers: { authorization: `Bearer ${whoami}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "CONNECTION_DELETE", arguments: { id: "conn_00000000-0000-4000-8000-000000000001" } } }),
    });
    expect(mcp.status).toBe(200);
    expect((await listAudit(app.deps.db, { action: "CONNECTION_DELETE" }, { limit: 10 })).rows.length).toBe(afterRest + 1);
  });
});
