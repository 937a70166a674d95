// A connection's and an agent's record_payloads, from every way it is set (REST, config file, admin
// forms) to the gateway: on, a call's usage record holds its arguments and result; off (the default),
// nothing of them.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import type { UsageRecord, UsageSink } from "../../src/domain/monitoring/types.ts";
import { agentDraftFromForm } from "../../src/http/agent-form.ts";
import { connectionInputFromForm } from "../../src/http/connection-form.ts";
import { createTestApp, type TestApp } from "../support/app.ts";
import { FIXTURE, waitUntil } from "../support/gateway-harness.ts";
import { mintKey } from "../support/key-harness.ts";
import { insertUser } from "../support/users.ts";

const records: UsageRecord[] = [];
const sink: UsageSink = { record: (r) => void records.push(r) };
const ACCEPT = "application/json, text/event-stream";

let t: TestApp;
let manage: string;
let caller: string;

async function api(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await t.app.request(path, { method, headers: { authorization: `Bearer ${manage}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

async function mcp(path: string, body: unknown, sessionId?: string): Promise<Response> {
  const headers: Record<string, string> = { authorization: `Bearer ${caller}`, "content-type": "application/json", accept: ACCEPT };
  if (sessionId) headers["mcp-session-id"] = sessionId;
  return t.app.request(path, { method: "POST", headers, body: JSON.stringify(body) });
}

/** Opens a session on `path`; returns its id. */
async function openSession(path: string): Promise<string> {
  const init = await mcp(path, { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "p", version: "1" } } });
  const sessionId = init.headers.get("mcp-session-id")!;
  await init.body?.cancel();
  await (await mcp(path, { jsonrpc: "2.0", method: "notifications/initialized" }, sessionId)).body?.cancel();
  return sessionId;
}

/** Calls echo with `text` (in a new session, or `sessionId`'s), and returns the call's usage record. */
async function echoRecord(path: string, text: string, sessionId?: string): Promise<UsageRecord> {
  sessionId ??= await openSession(path);
  records.length = 0;
  const call = await mcp(path, { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "echo", arguments: { text } } }, sessionId);
  expect(await call.text()).toContain(text);
  return waitUntil(() => records.find((r) => r.method === "tools/call"), "the call's record");
}

beforeAll(async () => {
  t = await createTestApp({
    usage: sink,
    overrides: {
      connections: [{ slug: "declared", command: process.execPath, args: [FIXTURE], record_payloads: true }],
      agents: [{ slug: "declared-agent", tools: { declared: ["echo"] }, record_payloads: true }],
    },
  });
  const admin = await insertUser(t.deps, "admin", "admin@example.com");
  manage = (await mintKey(t.deps, admin, { self: ["*"] })).token;
  caller = (await mintKey(t.deps, admin, { "*": ["*"] })).token;
});
afterAll(async () => {
  await t.deps.gateway.close();
  t.close();
});
beforeEach(() => {
  records.length = 0;
});

describe("a connection", () => {
  test("defaults to off: shown false, and its records keep nothing of the arguments", async () => {
    const created = await api("POST", "/api/v1/connections", { slug: "plain", transport: "stdio", command: process.execPath, args: [FIXTURE] });
    expect(created.record_payloads).toBe(false);
    const r = await echoRecord("/mcp/plain", "keep-me-not");
    expect(r.payload).toBeNull();
    expect(JSON.stringify(r)).not.toContain("keep-me-not");
  });

  test("turned on by CONNECTION_UPDATE: the gateway records the payload; off again: null", async () => {
    const created = await api("POST", "/api/v1/connections", { slug: "toggled", transport: "stdio", command: process.execPath, args: [FIXTURE] });
    const updated = await api("PATCH", `/api/v1/connections/${created.id as string}`, { record_payloads: true });
    expect(updated.record_payloads).toBe(true);
    expect((await api("GET", `/api/v1/connections/${created.id as string}`)).record_payloads).toBe(true);
    const on = await echoRecord("/mcp/toggled", "keep-me");
    expect(String(on.payload?.arguments)).toContain("keep-me");
    expect(String(on.payload?.result)).toContain("keep-me");
    await api("PATCH", `/api/v1/connections/${created.id as string}`, { record_payloads: false });
    const off = await echoRecord("/mcp/toggled", "forget-me");
    expect(off.payload).toBeNull();
  });

  test("declared in the config file with record_payloads = true", async () => {
    const listed = (await api("GET", "/api/v1/connections")) as { connections: { slug: string; record_payloads: boolean }[] };
    const declared = listed.connections.find((c) => c.slug === "declared");
    expect(declared?.record_payloads).toBe(true);
    const r = await echoRecord("/mcp/declared", "from-config");
    expect(String(r.payload?.arguments)).toContain("from-config");
  });
});

describe("an agent", () => {
  test("created with record_payloads: shown, and its calls' records hold the payload", async () => {
    const agent = await api("POST", "/api/v1/agents", { slug: "rec-agent", record_payloads: true, connections: [{ connection: "plain", tools: ["echo"] }] });
    expect(agent.record_payloads).toBe(true);
    const r = await echoRecord("/mcp/agent/rec-agent", "agent-args");
    expect(String(r.payload?.arguments)).toContain("agent-args");
  });

  test("without it (the default), its records keep nothing, even over a connection that records", async () => {
    const agent = await api("POST", "/api/v1/agents", { slug: "quiet-agent", connections: [{ connection: "declared", tools: ["echo"] }] });
    expect(agent.record_payloads).toBe(false);
    const r = await echoRecord("/mcp/agent/quiet-agent", "agent-quiet");
    expect(r.payload).toBeNull();
  });

  test("turned off while a session is open: that session's next call keeps nothing", async () => {
    const agent = await api("POST", "/api/v1/agents", { slug: "switch-agent", record_payloads: true, connections: [{ connection: "plain", tools: ["echo"] }] });
    const sessionId = await openSession("/mcp/agent/switch-agent");
    expect((await echoRecord("/mcp/agent/switch-agent", "before-off", sessionId)).payload).not.toBeNull();
    await api("PATCH", `/api/v1/agents/${agent.id as string}`, { record_payloads: false });
    const after = await echoRecord("/mcp/agent/switch-agent", "after-off", sessionId);
    expect(after.sessionId).toBe(sessionId);
    expect(after.payload).toBeNull();
  });

  test("declared in the config file with record_payloads = true", async () => {
    const r = await echoRecord("/mcp/agent/declared-agent", "declared-agent-args");
    expect(String(r.payload?.arguments)).toContain("declared-agent-args");
  });
});

describe("the admin forms", () => {
  test("the connection form's box: ticked is true, unticked (with its marker) is false, absent leaves it", () => {
    expect(connectionInputFromForm({ slug: "a", record_payloads_shown: "1", record_payloads: "1" }).input.record_payloads).toBe(true);
    expect(connectionInputFromForm({ slug: "a", record_payloads_shown: "1" }).input.record_payloads).toBe(false);
    expect(connectionInputFromForm({ slug: "a" }).input.record_payloads).toBeUndefined();
  });

  test("the agent editor's box", () => {
    expect(agentDraftFromForm({ slug: "a", record_payloads: "1" }).record_payloads).toBe(true);
    expect(agentDraftFromForm({ slug: "a" }).record_payloads).toBe(false);
  });
});
