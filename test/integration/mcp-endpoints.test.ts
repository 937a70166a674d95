// The HTTP edge of /mcp/:connection and /mcp/agent/:agent, through the real app: no credentials,
// wrong and unknown tokens, keys without a grant, unknown targets, foreign Host/Origin, bad bodies and
// session ids — each a clear status and JSON-RPC error, never a 500 — and the happy initialize.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { generateToken } from "../../src/domain/access/api-keys.ts";
import { PUBLIC_URL } from "../support/app.ts";
import { createHarness, MCP_ACCEPT, mintKey, type Harness } from "../support/key-harness.ts";
import { bundledFixture } from "../support/fixture-bundle.ts";

const FIXTURE = await bundledFixture(join(import.meta.dir, "../fixtures/upstream-server.ts"));
const INIT = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "edge", version: "1" } },
});

let h: Harness;
let connId: string;
let agentId: string;
const tokens: Record<string, string> = {};

async function api(method: string, path: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await h.app.request(path, { method, headers: { authorization: `Bearer ${tokens.manage}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  const json = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

beforeAll(async () => {
  h = await createHarness();
  tokens.manage = (await mintKey(h.deps, h.admin, { self: ["*"] })).token;
  connId = (await api("POST", "/api/v1/connections", { slug: "edge", transport: "stdio", command: process.execPath, args: [FIXTURE] })).id as string;
  agentId = (await api("POST", "/api/v1/agents", { slug: "edge-agent", connections: [{ connection: "edge", tools: ["echo"] }] })).id as string;
  tokens.conn = (await mintKey(h.deps, h.admin, { [connId]: ["*"] })).token;
  tokens.agent = (await mintKey(h.deps, h.admin, { [agentId]: ["*"] })).token;
  tokens.any = (await mintKey(h.deps, h.admin, { "*": ["*"] })).token;
  tokens.selfOnly = (await mintKey(h.deps, h.admin, { self: ["WHOAMI"] })).token;
});

afterAll(async () => {
  await h.deps.gateway.close();
  h.close();
});

type Row = {
  name: string;
  path: () => string;
  token?: keyof typeof tokens | "malformed" | "unknown";
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  status: number;
  contains?: string[];
  notContains?: string[];
  wwwAuthenticate?: RegExp;
};

function tokenOf(row: Row): string | undefined {
  if (row.token === "malformed") return "mcp_key_not-a-token";
  if (row.token === "unknown") return generateToken();
  return row.token ? tokens[row.token] : undefined;
}

const conn = () => `/mcp/${connId}`;
const agent = () => `/mcp/agent/${agentId}`;

const ROWS: Row[] = [
  { name: "connection, no credentials", path: conn, status: 401, wwwAuthenticate: /^Bearer resource_metadata="http:\/\/switchboard\.test\/\.well-known\/oauth-protected-resource\/mcp\/conn_/, notContains: ["echo"] },
  { name: "agent, no credentials", path: agent, status: 401, wwwAuthenticate: /oauth-protected-resource\/mcp\/agent\/agent_/ },
  { name: "connection, malformed token", path: conn, token: "malformed", status: 401, wwwAuthenticate: /error="invalid_token"/ },
  { name: "connection, well-formed unknown token", path: conn, token: "unknown", status: 401, wwwAuthenticate: /error="invalid_token"/ },
  { name: "connection, key without a grant on it", path: conn, token: "selfOnly", status: 403, contains: ['"jsonrpc":"2.0"'], notContains: ["echo", "fixture"] },
  { name: "agent, key without a grant on it", path: agent, token: "selfOnly", status: 403, notContains: ["echo"] },
  { name: "agent, key granting only the connection reaches the agent", path: agent, token: "conn", status: 200, contains: ['"serverInfo"'] },
  { name: "connection, key granting only the agent", path: conn, token: "agent", status: 403 },
  { name: "unknown connection without a grant: 403, like an existing one", path: () => "/mcp/conn_00000000-0000-4000-8000-000000000000", token: "conn", status: 403 },
  { name: "unknown connection with a grant on every connection: 404", path: () => "/mcp/conn_00000000-0000-4000-8000-000000000000", token: "any", status: 404 },
  { name: "unknown agent with a grant on every connection: 404", path: () => "/mcp/agent/nope", token: "any", status: 404 },
  { name: "connection by slug", path: () => "/mcp/edge", token: "conn", status: 200, contains: ['"name":"fixture"'] },
  { name: "agent by slug", path: () => "/mcp/agent/edge-agent", token: "agent", status: 200, contains: ['"name":"edge-agent"'] },
  { name: "foreign Host (DNS rebinding)", path: conn, token: "conn", headers: { host: "evil.example" }, status: 403, notContains: ["fixture"] },
  { name: "foreign Origin", path: conn, token: "conn", headers: { origin: "https://evil.example" }, status: 403 },
  { name: "invalid JSON", path: conn, token: "conn", body: "{not json", status: 400, contains: ["-32700"] },
  { name: "no session id on a non-initialize POST", path: conn, token: "conn", body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }), status: 400, contains: ["Mcp-Session-Id"] },
  { name: "unknown session id", path: conn, token: "conn", headers: { "mcp-session-id": "00000000-0000-0000-0000-000000000000" }, body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }), status: 404, contains: ["Session not found"] },
  { name: "GET without a session", path: conn, token: "conn", method: "GET", status: 400 },
  { name: "connection, happy initialize", path: conn, token: "conn", status: 200, contains: ['"protocolVersion"', '"name":"fixture"'] },
];

describe("the MCP proxy endpoints at the HTTP edge", () => {
  for (const row of ROWS) {
    test(row.name, async () => {
      const token = tokenOf(row);
      const method = row.method ?? "POST";
      const res = await h.app.request(`${PUBLIC_URL}${row.path()}`, {
        method,
        headers: { "content-type": "application/json", accept: MCP_ACCEPT, ...(token ? { authorization: `Bearer ${token}` } : {}), ...row.headers },
        body: method === "POST" ? (row.body ?? INIT) : undefined,
      });
      const text = await res.text();
      expect({ status: res.status, body: text.slice(0, 300) }).toMatchObject({ status: row.status });
      if (row.wwwAuthenticate) expect(res.headers.get("www-authenticate") ?? "").toMatch(row.wwwAuthenticate);
      for (const s of row.contains ?? []) expect(text).toContain(s);
      for (const s of row.notContains ?? []) expect(text).not.toContain(s);
      expect(text).not.toContain("at /"); // no stack trace
    });
  }
});
